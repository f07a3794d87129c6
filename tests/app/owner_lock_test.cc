// OwnerLock: one owner per data dir (ARCHITECTURE invariant 7, one box).
#include "owner_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace hotdeal::app {
namespace {

class OwnerLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hotdeal-owner-lock-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(OwnerLockTest, CreatesTheDataDirAndRefusesASecondOwner) {
  std::string error;
  std::optional<OwnerLock> first = OwnerLock::Acquire(dir_ / "nested", error);
  ASSERT_TRUE(first.has_value()) << error;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "nested" / "owner.lock"));

  // flock belongs to the open file, so a second open in this process conflicts like another
  // process would.
  std::optional<OwnerLock> second = OwnerLock::Acquire(dir_ / "nested", error);
  EXPECT_FALSE(second.has_value());
  EXPECT_NE(error.find("another hotdeal process owns"), std::string::npos) << error;
}

TEST_F(OwnerLockTest, ReleasedWhenTheOwnerGoes) {
  std::string error;
  {
    std::optional<OwnerLock> first = OwnerLock::Acquire(dir_, error);
    ASSERT_TRUE(first.has_value()) << error;
    std::optional<OwnerLock> moved(std::move(*first));
    first.reset();  // a moved-from lock must not release the one it handed over
    EXPECT_FALSE(OwnerLock::Acquire(dir_, error).has_value());
  }
  EXPECT_TRUE(OwnerLock::Acquire(dir_, error).has_value()) << error;
}

TEST_F(OwnerLockTest, UnusableDirIsAnError) {
  std::filesystem::create_directories(dir_);
  std::filesystem::path file = dir_ / "file";
  { std::ofstream(file) << "x"; }
  std::string error;
  EXPECT_FALSE(OwnerLock::Acquire(file / "sub", error).has_value());
  EXPECT_NE(error.find("cannot create data dir"), std::string::npos) << error;
}

}  // namespace
}  // namespace hotdeal::app
