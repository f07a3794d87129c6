// HTTP/1.1 response framing: status line, the three headers that matter, Content-Length body.
#include "http_response.h"

#include <charconv>

namespace hotdeal::bench {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ContainsTokenNoCase(std::string_view list, std::string_view token) {
  for (std::size_t i = 0; i + token.size() <= list.size(); ++i) {
    if (EqualsNoCase(list.substr(i, token.size()), token)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

ParsedResponse Fail(std::string_view why) {
  ParsedResponse result;
  result.parse_status = ParseStatus::kError;
  result.error = why;
  return result;
}

}  // namespace

ParsedResponse ParseResponse(std::string_view buffer) {
  const std::size_t header_end = buffer.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    if (buffer.size() > kResponseHeaderBytesMax) return Fail("response header too large");
    return {};
  }
  std::string_view head = buffer.substr(0, header_end);
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.x NNN reason": the version decides the keep-alive default.
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ') {
    return Fail("bad status line");
  }
  ParsedResponse result;
  const bool http10 = status_line[7] == '0';
  if (std::from_chars(status_line.data() + 9, status_line.data() + 12, result.status_code).ec !=
          std::errc{} ||
      result.status_code < 100) {
    return Fail("bad status code");
  }
  bool has_length = false;
  bool keep_alive = !http10;
  std::size_t content_length = 0;
  head = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!head.empty()) {
    const std::size_t end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head = end == std::string_view::npos ? std::string_view{} : head.substr(end + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Fail("bad header line");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsNoCase(name, "content-length")) {
      const auto parsed =
          std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (parsed.ec != std::errc{} || parsed.ptr != value.data() + value.size()) {
        return Fail("bad Content-Length");
      }
      has_length = true;
    } else if (EqualsNoCase(name, "transfer-encoding")) {
      return Fail("Transfer-Encoding is not supported (the server must send Content-Length)");
    } else if (EqualsNoCase(name, "retry-after")) {
      int seconds = 0;
      const auto parsed = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (parsed.ec == std::errc{} && parsed.ptr == value.data() + value.size() && seconds >= 0) {
        result.retry_after_s = seconds;
      }
    } else if (EqualsNoCase(name, "connection")) {
      if (ContainsTokenNoCase(value, "close")) keep_alive = false;
      if (ContainsTokenNoCase(value, "keep-alive")) keep_alive = true;
    }
  }
  // 1xx, 204 and 304 have no body by definition; every other response here must say its length.
  const bool bodiless =
      result.status_code < 200 || result.status_code == 204 || result.status_code == 304;
  if (!has_length && !bodiless) return Fail("response without Content-Length");
  const std::size_t body_start = header_end + 4;
  if (buffer.size() - body_start < content_length) return {};
  result.parse_status = ParseStatus::kComplete;
  result.body = buffer.substr(body_start, content_length);
  result.size_bytes = body_start + content_length;
  result.close = !keep_alive;
  return result;
}

}  // namespace hotdeal::bench
