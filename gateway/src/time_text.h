// RFC 3339 times for the API: parsing client text into engine::TimePoint and formatting
// engine::TimePoint as UTC text. Pure functions over fixed buffers; never allocates, never
// reads a clock.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "hotdeal/engine/types.h"

namespace hotdeal::gateway {

// "2026-11-21T10:00:00Z", "2026-11-21T10:00:00.123456Z", "2026-11-21T19:00:00+09:00".
// Fractions past microseconds are truncated. Years 1970..9999 only: the API has no use for
// times before the epoch, and rejecting them keeps arithmetic in range.
std::optional<engine::TimePoint> ParseTime(std::string_view text);

// UTC with a 'Z'; whole seconds print without a fraction, otherwise six fraction digits.
// The longest form, "YYYY-MM-DDTHH:MM:SS.ffffffZ", is 27 characters.
struct TimeText {
  std::array<char, 32> bytes{};
  std::size_t size = 0;
  std::string_view view() const { return {bytes.data(), size}; }
};
TimeText FormatTime(engine::TimePoint time);

}  // namespace hotdeal::gateway
