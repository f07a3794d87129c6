// The log line every module writes to stderr: a UTC time to the millisecond, a level, the
// component and the message,
//
//   2026-12-02T15:04:05.123Z warn  hotdeal persister: ALARM conflict at ...
//
// or, for log shippers, one JSON object a line:
//
//   {"time":"2026-12-02T15:04:05.123Z","level":"warn","component":"persister","msg":"ALARM ..."}
//
// Each line is one write(2), so lines of concurrent threads never interleave. Never on the data
// plane: decisions are counted in metrics, not logged.
#pragma once

#include <string_view>

namespace hotdeal::base {

enum class LogLevel : unsigned char { kDebug, kInfo, kWarn, kError };
enum class LogFormat : unsigned char { kText, kJson };

// Process-wide; set once at start, before other threads run. Default: text, info and above.
void SetLogFormat(LogFormat format);
void SetLogLevel(LogLevel lowest);

// One line if `level` is at least the lowest set; `component` is the part of hotdeal speaking
// ("serve", "persister", "log"), `format` a printf format. Never throws; a message past 4 KiB is
// cut.
[[gnu::format(printf, 3, 4)]] void Log(LogLevel level, std::string_view component,
                                       const char* format, ...) noexcept;

}  // namespace hotdeal::base
