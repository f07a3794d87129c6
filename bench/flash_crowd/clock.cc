// Clocks and RFC 3339 conversion.
#include "clock.h"

#include <time.h>

#include <charconv>
#include <chrono>
#include <cstdio>

namespace hotdeal::bench {
namespace {

int64_t ReadClockNs(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<int64_t>(now.tv_sec) * kNsPerSecond + now.tv_nsec;
}

// Reads exactly `digits` decimal digits at text[at]; nullopt if any is not a digit.
std::optional<int> Digits(std::string_view text, std::size_t at, std::size_t digits) {
  if (at + digits > text.size()) return std::nullopt;
  int value = 0;
  const auto parsed = std::from_chars(text.data() + at, text.data() + at + digits, value);
  if (parsed.ec != std::errc{} || parsed.ptr != text.data() + at + digits) return std::nullopt;
  return value;
}

}  // namespace

int64_t SteadyNowNs() {
  return ReadClockNs(CLOCK_MONOTONIC);
}
int64_t WallNowNs() {
  return ReadClockNs(CLOCK_REALTIME);
}

int64_t WallToSteadyNs(int64_t wall_ns) {
  // Read the pair twice closer together than any interval we care about (sub-microsecond).
  const int64_t steady_ns = SteadyNowNs();
  const int64_t now_wall_ns = WallNowNs();
  return steady_ns + (wall_ns - now_wall_ns);
}

std::string FormatRfc3339(int64_t wall_ns) {
  using namespace std::chrono;
  const sys_seconds at{seconds{wall_ns / kNsPerSecond}};
  const sys_days day = floor<days>(at);
  const year_month_day date{day};
  const hh_mm_ss time{at - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

std::optional<int64_t> ParseRfc3339Ns(std::string_view text) {
  using namespace std::chrono;
  const auto year = Digits(text, 0, 4);
  const auto month = Digits(text, 5, 2);
  const auto day = Digits(text, 8, 2);
  const auto hour = Digits(text, 11, 2);
  const auto minute = Digits(text, 14, 2);
  const auto second = Digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const year_month_day date{std::chrono::year{*year}, std::chrono::month(*month),
                            std::chrono::day(*day)};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  int64_t ns = (sys_days{date}.time_since_epoch().count() * int64_t{86400} + *hour * 3600 +
                *minute * 60 + *second) *
               kNsPerSecond;
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    int64_t scale = kNsPerSecond / 10;
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10) {
      ns += (text[at] - '0') * scale;
    }
  }
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z') && at + 1 == text.size()) return ns;
  const auto offset_hours = Digits(text, at + 1, 2);
  const auto offset_minutes = Digits(text, at + 4, 2);
  if (at + 6 != text.size() || (text[at] != '+' && text[at] != '-') || text[at + 3] != ':' ||
      !offset_hours || !offset_minutes) {
    return std::nullopt;
  }
  const int64_t offset_ns = (*offset_hours * 3600 + *offset_minutes * 60) * kNsPerSecond;
  return text[at] == '+' ? ns - offset_ns : ns + offset_ns;
}

}  // namespace hotdeal::bench
