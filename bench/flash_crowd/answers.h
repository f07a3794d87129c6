// Reads the JSON bodies flash_crowd cares about (claim answers, errors, campaigns, the server
// clock) with simdjson On Demand. One reader per load thread: its buffers are sized once and
// reused, so reading an answer does not allocate. Views it returns live until the next Read*.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace hotdeal::bench {

// A claim or order answer (201/200, or an error body; 409 already_claimed carries the existing
// claim_id). Missing fields stay empty.
struct ClaimFields {
  std::string_view error;
  std::string_view claim_id;
  std::string_view coupon_code;
  std::string_view user_id;
  std::string_view order_id;
  std::string_view status;  // an order's: reserved, confirmed, cancelled, expired
};

struct CampaignFields {
  int64_t stock = -1;
  int64_t remaining = -1;
  std::string_view status;
  std::string_view starts_at;
};

class AnswerReader {
 public:
  // Bodies larger than this are not read (ours are a few hundred bytes).
  static constexpr std::size_t kBodyBytesMax = 16 * 1024;

  AnswerReader();

  // false if the body is not a JSON object.
  bool ReadClaim(std::string_view body, ClaimFields& fields);
  bool ReadCampaign(std::string_view body, CampaignFields& fields);
  // The server's wall clock from GET /v1/time: {"now": "<RFC 3339>"} or {"unix_ms": <int>}.
  std::optional<int64_t> ReadServerTimeNs(std::string_view body);

 private:
  // Copies the body into padded_ (simdjson reads up to SIMDJSON_PADDING bytes past the end).
  bool Load(std::string_view body, simdjson::ondemand::object& object);

  std::unique_ptr<char[]> padded_;
  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document document_;
};

}  // namespace hotdeal::bench
