// RFC 3339 parsing and formatting on std::chrono's civil calendar.
#include "time_text.h"

#include <chrono>

namespace hotdeal::gateway {
namespace {

// Reads exactly `count` decimal digits at text[at]; nullopt on anything else.
std::optional<int> Digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

bool CharAt(std::string_view text, std::size_t at, char lower, char upper) {
  return at < text.size() && (text[at] == lower || text[at] == upper);
}

void PutDigits(TimeText& out, long value, int count) {
  for (int i = count - 1; i >= 0; --i) {
    out.bytes[out.size + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.size += static_cast<std::size_t>(count);
}

void PutChar(TimeText& out, char c) {
  out.bytes[out.size++] = c;
}

}  // namespace

std::optional<engine::TimePoint> ParseTime(std::string_view text) {
  using namespace std::chrono;
  auto year = Digits(text, 0, 4);
  auto month = Digits(text, 5, 2);
  auto day = Digits(text, 8, 2);
  auto hour = Digits(text, 11, 2);
  auto minute = Digits(text, 14, 2);
  auto second = Digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (!CharAt(text, 4, '-', '-') || !CharAt(text, 7, '-', '-') || !CharAt(text, 10, 't', 'T') ||
      !CharAt(text, 13, ':', ':') || !CharAt(text, 16, ':', ':')) {
    return std::nullopt;
  }
  // RFC 3339 allows a leap second (60); the engine's clock has none, so it is refused.
  if (*year < 1970 || *hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  year_month_day date{std::chrono::year{*year}, std::chrono::month{static_cast<unsigned>(*month)},
                      std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;

  std::size_t at = 19;
  long micros = 0;
  if (CharAt(text, at, '.', '.')) {
    ++at;
    std::size_t digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 6; ++i)
      micros *= 10;
  }

  minutes offset{0};
  if (CharAt(text, at, 'z', 'Z')) {
    ++at;
  } else if (CharAt(text, at, '+', '-')) {
    bool negative = text[at] == '-';
    auto offset_hours = Digits(text, at + 1, 2);
    auto offset_minutes = Digits(text, at + 4, 2);
    if (!offset_hours || !offset_minutes || !CharAt(text, at + 3, ':', ':') || *offset_hours > 23 ||
        *offset_minutes > 59) {
      return std::nullopt;
    }
    offset = hours{*offset_hours} + minutes{*offset_minutes};
    if (negative) offset = -offset;
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;

  auto local = sys_days{date} + hours{*hour} + minutes{*minute} + seconds{*second};
  auto utc = local - offset;
  if (utc < sys_days{year_month_day{std::chrono::year{1970}, January, std::chrono::day{1}}}) {
    return std::nullopt;
  }
  return engine::TimePoint{duration_cast<microseconds>(utc.time_since_epoch()) +
                           microseconds{micros}};
}

TimeText FormatTime(engine::TimePoint time) {
  using namespace std::chrono;
  auto day_start = floor<days>(time);
  year_month_day date{day_start};
  hh_mm_ss<microseconds> clock{time - day_start};
  TimeText out;
  PutDigits(out, static_cast<int>(date.year()), 4);
  PutChar(out, '-');
  PutDigits(out, static_cast<unsigned>(date.month()), 2);
  PutChar(out, '-');
  PutDigits(out, static_cast<unsigned>(date.day()), 2);
  PutChar(out, 'T');
  PutDigits(out, clock.hours().count(), 2);
  PutChar(out, ':');
  PutDigits(out, clock.minutes().count(), 2);
  PutChar(out, ':');
  PutDigits(out, clock.seconds().count(), 2);
  if (clock.subseconds().count() != 0) {
    PutChar(out, '.');
    PutDigits(out, clock.subseconds().count(), 6);
  }
  PutChar(out, 'Z');
  return out;
}

}  // namespace hotdeal::gateway
