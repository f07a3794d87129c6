// Status and Result: success and failure are told apart, the code and message survive, and a
// Result never hands out a value it does not have.
#include "hotdeal/base/status.h"

#include <gtest/gtest.h>

#include <string>

namespace hotdeal::base {
namespace {

TEST(StatusTest, DefaultIsSuccessAndErrorsKeepCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().message(), "");
  const Status error = Status::Error("Duplicate entry", 1062);
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.code(), 1062);
  EXPECT_EQ(error.message(), "Duplicate entry");
}

Result<std::string> Parse(bool good) {
  if (!good) return Status::Error("not a number");
  return std::string("42");
}

TEST(ResultTest, HoldsAValueOrTheErrorThatSaysWhyNot) {
  Result<std::string> good = Parse(true);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(*good, "42");
  EXPECT_EQ(good->size(), 2u);
  const Result<std::string> bad = Parse(false);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "not a number");
}

TEST(ResultDeathTest, AValueItDoesNotHaveStopsTheProcess) {
  EXPECT_DEATH((void)Parse(false).value(), "assertion failed");
  EXPECT_DEATH((void)Result<int>(Status()), "assertion failed");
}

}  // namespace
}  // namespace hotdeal::base
