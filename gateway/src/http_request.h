// The request side of one HTTP/1.1 exchange: a Beast basic_parser that keeps only what the API
// reads (method, target, the headers it reads, the body) in buffers owned by the connection and
// reused for its whole life. Must never keep a header the API does not read, and never let the body
// grow past the configured limit (Beast's body_limit enforces it before on_body is called).
#pragma once

#include <array>
#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "request_body.h"

namespace hotdeal::gateway {

// A header value of bounded size; longer values are remembered as "too long", not truncated.
template <std::size_t N>
class BoundedText {
 public:
  void Assign(std::string_view text) {
    present_ = true;
    too_long_ = text.size() > N;
    size_ = too_long_ ? 0 : text.size();
    if (!too_long_) text.copy(bytes_.data(), size_);
  }
  void Clear() {
    present_ = false;
    too_long_ = false;
    size_ = 0;
  }
  bool present() const { return present_; }
  bool too_long() const { return too_long_; }
  std::string_view view() const { return {bytes_.data(), size_}; }

 private:
  std::array<char, N> bytes_{};
  std::size_t size_ = 0;
  bool present_ = false;
  bool too_long_ = false;
};

// What the API sees of a request. Reused: Clear() between requests keeps capacity.
struct RequestData {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  unsigned version = 11;
  std::string target;               // capacity bounded by the header limit
  BoundedText<2048> authorization;  // a JWT signed RS256 with a 4096-bit key fits
  BoundedText<128> idempotency_key;
  bool duplicate_header = false;  // Authorization or Idempotency-Key sent twice
  bool expect_continue = false;   // `Expect: 100-continue`: the client waits before its body
  // Why the head is refused (400) although Beast could parse it: a Transfer-Encoding other
  // than one `chunked` (read as no body, its bytes would run as the next request behind a
  // proxy that reads it otherwise: request smuggling), a missing or repeated Host. Static text.
  std::string_view head_error;
  BoundedText<256> origin;  // CORS: the browser page's origin
  // X-Forwarded-For, the last one sent (only a trusted proxy's is read; it appends the peer).
  BoundedText<256> forwarded_for;
  // Last-Event-ID: what an event stream's client heard last (a browser's EventSource sends it
  // when it reconnects).
  BoundedText<24> last_event_id;
  // The connection's key in the per-address rate limit (Api::ClientKey); set once per
  // connection, kept by Clear().
  std::uint64_t client_key = 0;
  bool peer_trusted = false;  // the peer is a trusted proxy; set once per connection, kept
  // The body with SIMDJSON_PADDING bytes of capacity after it (ensured by PadBody()).
  std::string body;

  void Clear();
  // Makes body's capacity >= size + SIMDJSON_PADDING; allocates only when the body is larger
  // than any before it on this connection.
  PaddedBody PadBody();
};

// One parameter of a request target's query string ("/path?a=1&b=2"), raw: no
// percent-decoding, since what the API reads there (ids, numbers) has no escapes in its grammar.
struct QueryValue {
  bool present = false;
  bool repeated = false;  // named more than once: refused, as a repeated body field is
  std::string_view text;  // the first value
};
QueryValue FindQuery(std::string_view target, std::string_view name);

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  RequestParser(RequestData& data, std::uint32_t header_bytes_max, std::uint32_t body_bytes_max);

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb method, string_view method_text, string_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_text, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  RequestData& data_;
  unsigned hosts_ = 0;
  unsigned transfer_encodings_ = 0;
  bool chunked_only_ = true;
};

}  // namespace hotdeal::gateway
