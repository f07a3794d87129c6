// The always-on check: it stops the process with a line naming the condition and where, in
// every build type, and lets a true condition pass without evaluating it twice.
#include "hotdeal/base/check.h"

#include <gtest/gtest.h>

namespace hotdeal::base {
namespace {

TEST(CheckDeathTest, AFalseConditionAbortsNamingItAndWhere) {
  int units = 3;
  EXPECT_DEATH(HOTDEAL_ASSERT(units == 4), "assertion failed: units == 4 \\(.*check_test.cc:");
  EXPECT_DEATH(HOTDEAL_UNREACHABLE(), "unreachable code reached");
}

TEST(CheckTest, ATrueConditionPassesAndIsEvaluatedOnce) {
  int evaluated = 0;
  HOTDEAL_ASSERT(++evaluated == 1);
  EXPECT_EQ(evaluated, 1);
}

}  // namespace
}  // namespace hotdeal::base
