// Node: members stop newest first, at the end and on every early return; a failed start pushes
// nothing and says why; a stop deferred before later members runs after theirs.
#include "node.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace hotdeal::app {
namespace {

TEST(NodeTest, StopsRunNewestFirstOnceAtTheEndOrOnDestruction) {
  std::vector<std::string> done;
  {
    Node node("test");
    ASSERT_TRUE(node.Start(
        "start a", [&] { done.push_back("start a"); }, [&] { done.push_back("stop a"); }));
    ASSERT_TRUE(node.Start("recover", [&] { done.push_back("recover"); }));
    ASSERT_TRUE(node.Start(
        "start b", [&] { done.push_back("start b"); }, [&] { done.push_back("stop b"); }));
    node.StopAll();
    node.StopAll();
  }
  EXPECT_EQ(done, (std::vector<std::string>{"start a", "recover", "start b", "stop b", "stop a"}));
  done.clear();
  {
    Node node("test");
    ASSERT_TRUE(node.Start(
        "start a", [] {}, [&] { done.push_back("stop a"); }));
  }  // an early return
  EXPECT_EQ(done, (std::vector<std::string>{"stop a"}));
}

TEST(NodeTest, AFailedStartPushesNothingAndSaysWhy) {
  std::vector<std::string> done;
  ::testing::internal::CaptureStderr();
  {
    Node node("test");
    ASSERT_TRUE(node.Start(
        "start a", [] {}, [&] { done.push_back("stop a"); }));
    EXPECT_FALSE(node.Start(
        "start b on broker x", [] { throw std::runtime_error("connection refused"); },
        [&] { done.push_back("stop b"); }));
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(done, (std::vector<std::string>{"stop a"}));
  EXPECT_NE(err.find("hotdeal test: cannot start b on broker x: connection refused"),
            std::string::npos)
      << err;
}

TEST(NodeTest, AStopDeferredBeforeLaterMembersRunsAfterTheirs) {
  std::vector<std::string> done;
  {
    Node node("test");
    node.StopAfterWhatFollows([&] { done.push_back("stop persister"); });
    ASSERT_TRUE(node.Start(
        "start log", [] {}, [&] { done.push_back("stop log"); }));
    ASSERT_TRUE(node.Start(
        "start settler", [] {}, [&] { done.push_back("stop settler"); }));
  }
  EXPECT_EQ(done, (std::vector<std::string>{"stop settler", "stop log", "stop persister"}));
}

}  // namespace
}  // namespace hotdeal::app
