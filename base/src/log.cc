// The log line (log.h) and the check that ends in one (check.h).
#include "hotdeal/base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "hotdeal/base/check.h"

namespace hotdeal::base {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};
std::atomic<LogLevel> g_lowest{LogLevel::kInfo};

constexpr std::size_t kMessageMax = 4096;

std::string_view NameOf(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

// 2026-12-02T15:04:05.123Z
std::string Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::size_t size = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + size, sizeof(text) - size, ".%03dZ", static_cast<int>(millis.count()));
  return text;
}

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
}

void WriteLine(LogLevel level, std::string_view component, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 96);
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    line += "{\"time\":\"" + Now() + "\",\"level\":\"";
    line += NameOf(level);
    line += "\",\"component\":";
    AppendJsonString(line, component);
    line += ",\"msg\":";
    AppendJsonString(line, message);
    line += "}\n";
  } else {
    line += Now();
    line += ' ';
    std::string_view name = NameOf(level);
    line += name;
    line.append(6 - name.size(), ' ');
    line += "hotdeal ";
    line += component;
    line += ": ";
    line += message;
    line += '\n';
  }
  // One write: a line is whole even when threads log at once. A short write to a pipe of a
  // line this small does not happen; an error has nowhere to go.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void SetLogFormat(LogFormat format) {
  g_format.store(format, std::memory_order_relaxed);
}

void SetLogLevel(LogLevel lowest) {
  g_lowest.store(lowest, std::memory_order_relaxed);
}

void Log(LogLevel level, std::string_view component, const char* format, ...) noexcept {
  if (level < g_lowest.load(std::memory_order_relaxed)) return;
  char message[kMessageMax];
  va_list args;
  va_start(args, format);
  int size = std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  if (size < 0) return;
  std::size_t length =
      static_cast<std::size_t>(size) < sizeof(message) ? size : sizeof(message) - 1;
  // Messages end without a newline; one written with it would leave a blank line.
  while (length > 0 && message[length - 1] == '\n')
    --length;
  try {
    WriteLine(level, component, {message, length});
  } catch (...) {
    // Out of memory for a log line: the line is lost, the caller goes on.
  }
}

void CheckFailed(const char* what, const char* condition, const char* file, int line) {
  Log(LogLevel::kError, "check", "%s: %s (%s:%d)", what, condition, file, line);
  std::abort();
}

}  // namespace hotdeal::base
