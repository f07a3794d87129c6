// RFC 3339 parsing and formatting: exact values, offsets, fractions, and refusals.
#include "time_text.h"

#include <gtest/gtest.h>

namespace hotdeal::gateway {
namespace {

using std::chrono::microseconds;

engine::TimePoint At(std::int64_t unix_micros) {
  return engine::TimePoint{microseconds{unix_micros}};
}

TEST(TimeText, ParsesUtcAndOffsets) {
  // 2026-11-21T10:00:00Z is 1795255200 seconds after the epoch.
  constexpr std::int64_t kSeconds = 1'795'255'200;
  EXPECT_EQ(ParseTime("2026-11-21T10:00:00Z"), At(kSeconds * 1'000'000));
  EXPECT_EQ(ParseTime("2026-11-21t10:00:00z"), At(kSeconds * 1'000'000));
  EXPECT_EQ(ParseTime("2026-11-21T19:00:00+09:00"), At(kSeconds * 1'000'000));
  EXPECT_EQ(ParseTime("2026-11-21T05:30:00-04:30"), At(kSeconds * 1'000'000));
  EXPECT_EQ(ParseTime("2026-11-21T10:00:00.5Z"), At(kSeconds * 1'000'000 + 500'000));
  EXPECT_EQ(ParseTime("2026-11-21T10:00:00.123456789Z"), At(kSeconds * 1'000'000 + 123'456));
}

TEST(TimeText, RefusesMalformedOrImpossibleTimes) {
  for (std::string_view bad :
       {"", "2026-11-21", "2026-11-21T10:00:00", "2026-11-21 10:00:00Z", "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T10:60:00Z",
        "2026-11-21T10:00:60Z", "2026-11-21T10:00:00.Z", "2026-11-21T10:00:00Zjunk",
        "2026-11-21T10:00:00+0900", "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00",
        "２026-11-21T10:00:00Z", "+2026-11-21T10:00:00Z"}) {
    EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
  }
}

TEST(TimeText, FormatsWholeSecondsWithoutFraction) {
  EXPECT_EQ(FormatTime(At(1'795'255'200LL * 1'000'000)).view(), "2026-11-21T10:00:00Z");
  EXPECT_EQ(FormatTime(At(0)).view(), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(At(1'795'255'200LL * 1'000'000 + 7)).view(), "2026-11-21T10:00:00.000007Z");
}

TEST(TimeText, FormatThenParseRoundTrips) {
  for (std::int64_t micros : {0LL, 1LL, 951'782'400'123'456LL, 4'102'444'799'999'999LL}) {
    auto text = FormatTime(At(micros));
    EXPECT_EQ(ParseTime(text.view()), At(micros)) << text.view();
  }
}

}  // namespace
}  // namespace hotdeal::gateway
