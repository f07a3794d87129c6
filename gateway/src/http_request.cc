// RequestParser: copies the request line, the headers the API reads and the body into the
// connection's RequestData as Beast parses them.
#include "http_request.h"

#include <simdjson.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

namespace hotdeal::gateway {

namespace http = boost::beast::http;

void RequestData::Clear() {
  method = http::verb::unknown;
  version = 11;
  target.clear();
  authorization.Clear();
  idempotency_key.Clear();
  duplicate_header = false;
  expect_continue = false;
  head_error = {};
  origin.Clear();
  forwarded_for.Clear();
  last_event_id.Clear();
  body.clear();
}

PaddedBody RequestData::PadBody() {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  return {body.data(), body.size(), body.capacity()};
}

QueryValue FindQuery(std::string_view target, std::string_view name) {
  QueryValue found;
  std::size_t question = target.find('?');
  if (question == std::string_view::npos) return found;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) != name) continue;
    if (found.present) {
      found.repeated = true;
      break;
    }
    found.present = true;
    found.text = equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
  }
  return found;
}

RequestParser::RequestParser(RequestData& data, std::uint32_t header_bytes_max,
                             std::uint32_t body_bytes_max)
    : data_(data) {
  header_limit(header_bytes_max);
  body_limit(body_bytes_max);
  // Parse the body in the same put() as the header when the bytes are already here.
  eager(true);
}

void RequestParser::on_request_impl(http::verb method, string_view, string_view target, int version,
                                    error_code&) {
  data_.Clear();
  hosts_ = 0;
  transfer_encodings_ = 0;
  chunked_only_ = true;
  data_.method = method;
  data_.version = static_cast<unsigned>(version);
  data_.target.assign(target.data(), target.size());
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  // Unreachable for a request parser; Beast requires the override.
  ec = http::error::bad_method;
}

void RequestParser::on_field_impl(http::field name, string_view name_text, string_view value,
                                  error_code&) {
  std::string_view text(value.data(), value.size());
  if (name == http::field::authorization) {
    data_.duplicate_header |= data_.authorization.present();
    data_.authorization.Assign(text);
  } else if (name == http::field::expect) {
    data_.expect_continue = boost::beast::iequals(value, "100-continue");
  } else if (name == http::field::host) {
    ++hosts_;
  } else if (name == http::field::transfer_encoding) {
    ++transfer_encodings_;
    chunked_only_ = chunked_only_ && boost::beast::iequals(value, "chunked");
  } else if (name == http::field::origin) {
    data_.origin.Assign(text);
  } else if (name == http::field::unknown) {
    // Beast has no enum value for these, so only unknown names pay for the compares.
    if (boost::beast::iequals(name_text, "idempotency-key")) {
      data_.duplicate_header |= data_.idempotency_key.present();
      data_.idempotency_key.Assign(text);
    } else if (boost::beast::iequals(name_text, "x-forwarded-for")) {
      data_.forwarded_for.Assign(text);
    } else if (boost::beast::iequals(name_text, "last-event-id")) {
      data_.last_event_id.Assign(text);
    }
  }
}

void RequestParser::on_header_impl(error_code& ec) {
  if (transfer_encodings_ > 1 || !chunked_only_) {
    data_.head_error = "Transfer-Encoding must be absent or exactly one 'chunked'";
  } else if (hosts_ > 1 || (hosts_ == 0 && data_.version >= 11)) {
    data_.head_error = "an HTTP/1.1 request needs exactly one Host header";
  }
  if (!data_.head_error.empty()) ec = http::error::bad_field;
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
  // body_limit has already refused a larger Content-Length, so this reserve is bounded.
  if (content_length) data_.body.reserve(*content_length + simdjson::SIMDJSON_PADDING);
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
  data_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  data_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(error_code&) {}

}  // namespace hotdeal::gateway
