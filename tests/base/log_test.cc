// The stderr log line: its text and JSON shapes, the level filter, escaping, and the cut of a
// message too long for one line.
#include "hotdeal/base/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace hotdeal::base {
namespace {

// What one Log call wrote to stderr.
template <class... Args>
std::string Logged(LogLevel level, const char* format, Args... args) {
  ::testing::internal::CaptureStderr();
  Log(level, "test", format, args...);
  return ::testing::internal::GetCapturedStderr();
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetLogFormat(LogFormat::kText);
    SetLogLevel(LogLevel::kInfo);
  }
};

TEST_F(LogTest, TextLineHasTimeLevelComponentAndMessage) {
  std::string line = Logged(LogLevel::kWarn, "broker %s down for %d s", "b1", 3);
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn  hotdeal test: broker b1 )"
                       R"(down for 3 s\n)")))
      << line;
}

TEST_F(LogTest, JsonLineEscapesWhatWouldBreakIt) {
  SetLogFormat(LogFormat::kJson);
  std::string line = Logged(LogLevel::kError, "%s", "a \"quoted\" \\ path\tand\x01");
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\{"time":"[-0-9T:.]+Z","level":"error","component":"test",)"
                       R"("msg":"a \\"quoted\\" \\\\ path\\u0009and\\u0001"\}\n)")))
      << line;
}

TEST_F(LogTest, LinesBelowTheLevelAreNotWritten) {
  SetLogLevel(LogLevel::kWarn);
  EXPECT_EQ(Logged(LogLevel::kInfo, "quiet"), "");
  EXPECT_NE(Logged(LogLevel::kWarn, "loud"), "");
  EXPECT_EQ(Logged(LogLevel::kDebug, "quiet"), "");
}

TEST_F(LogTest, ATrailingNewlineIsNotDoubledAndALongMessageIsCut) {
  std::string line = Logged(LogLevel::kInfo, "done\n");
  EXPECT_TRUE(line.ends_with("hotdeal test: done\n")) << line;
  std::string long_message(10'000, 'x');
  line = Logged(LogLevel::kInfo, "%s", long_message.c_str());
  EXPECT_LT(line.size(), 4096u + 64u);
  EXPECT_EQ(line.back(), '\n');
}

}  // namespace
}  // namespace hotdeal::base
