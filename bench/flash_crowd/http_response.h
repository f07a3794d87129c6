// Minimal HTTP/1.1 response framing for flash_crowd's client side: finds one complete response
// at the front of a receive buffer and says where its body is. It reads only what a load
// generator needs (status, Content-Length, Connection, Retry-After) and never allocates; anything
// it does not understand (chunked bodies, missing length) is a protocol error, never a guess.
#pragma once

#include <cstddef>
#include <string_view>

namespace hotdeal::bench {

enum class ParseStatus {
  kNeedMore,  // the buffer holds only a prefix of a response
  kComplete,  // a whole response is at the front of the buffer
  kError,     // the bytes are not a response this client can frame
};

struct ParsedResponse {
  ParseStatus parse_status = ParseStatus::kNeedMore;
  int status_code = 0;
  // Bytes from the buffer's start to the end of this response (headers and body).
  std::size_t size_bytes = 0;
  std::string_view body;
  // The server will close after this response (Connection: close, or HTTP/1.0 without
  // keep-alive), so the connection must not be reused.
  bool close = false;
  // Retry-After in whole seconds (503 and 429 carry it); -1 when absent or not a number.
  int retry_after_s = -1;
  // Why a kError happened, for the report.
  std::string_view error;
};

// Response header blocks larger than this are refused: ours are a few hundred bytes.
inline constexpr std::size_t kResponseHeaderBytesMax = 8192;

ParsedResponse ParseResponse(std::string_view buffer);

}  // namespace hotdeal::bench
