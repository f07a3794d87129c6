// Time for flash_crowd: a monotonic nanosecond clock for the load loop, and RFC 3339 UTC
// text for talking to the server (campaign starts_at, /v1/time). The two meet only through
// WallToSteadyNs(), so a wall-clock step during a run cannot bend a measured latency.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hotdeal::bench {

inline constexpr int64_t kNsPerSecond = 1'000'000'000;

// CLOCK_MONOTONIC in ns: every interval in the load loop is measured on it.
int64_t SteadyNowNs();
// CLOCK_REALTIME in ns since the Unix epoch.
int64_t WallNowNs();
// The steady-clock reading at which the wall clock will read `wall_ns`.
int64_t WallToSteadyNs(int64_t wall_ns);

// "2026-11-21T10:00:00Z"; whole seconds, because that is what API.md shows and every
// RFC 3339 reader takes.
std::string FormatRfc3339(int64_t wall_ns);
// Accepts "YYYY-MM-DDTHH:MM:SS", an optional fraction, then "Z" or "+hh:mm"/"-hh:mm".
std::optional<int64_t> ParseRfc3339Ns(std::string_view text);

}  // namespace hotdeal::bench
