// Strict decoding of request bodies with simdjson On-Demand. Every body must be one JSON
// object holding only the fields its route documents, each once, each of the right type and
// range; anything else is a BodyError and the engine is never called. Must never parse from a
// buffer without SIMDJSON_PADDING bytes of room after the input (simdjson reads past the end).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "hotdeal/engine/types.h"

namespace hotdeal::gateway {

enum class BodyErrorKind : std::uint8_t {
  kNone,
  kNotJson,         // not JSON, invalid UTF-8, or trailing bytes after the value
  kNotObject,       // valid JSON but not an object
  kUnknownField,    // a field the route does not document (unknown fields are refused, not
                    // ignored: a typo such as "per_user_limt" must not silently fall back)
  kDuplicateField,  // the same field twice: which one would win is not obvious to a client
  kMissingField,
  kWrongType,
  kOutOfRange,
  kBadId,
  kBadTime,
  kBadValue,  // a string outside its enumeration, or fields that contradict each other
};

struct BodyError {
  constexpr BodyError() = default;
  constexpr BodyError(BodyErrorKind error_kind, std::string_view error_field,
                      std::string_view error_rule = {}, std::int64_t range_min = 0,
                      std::int64_t range_max = 0)
      : kind(error_kind), field(error_field), rule(error_rule), min(range_min), max(range_max) {}

  BodyErrorKind kind = BodyErrorKind::kNone;
  // The field's name, empty for document-level errors. Static text, except for
  // kUnknownField, where it is the key sent (valid until the parser's next document).
  std::string_view field;
  // Static text naming the rule broken, when Describe(kind) would be vague ("must be after
  // starts_at"); empty otherwise.
  std::string_view rule;
  // kOutOfRange of an integer: the range allowed.
  std::int64_t min = 0;
  std::int64_t max = 0;

  explicit operator bool() const { return kind != BodyErrorKind::kNone; }
};

// The human text for an error kind, e.g. "must be an integer".
std::string_view Describe(BodyErrorKind kind);

// `{"user_id": "..."}`: claims.
struct UserBody {
  engine::UserId user;
};

// No body, `{}` or `{"user_id": "..."}`: confirm and cancel, whose order names its user; a
// user_id sent must be the order's.
struct MoveBody {
  std::optional<engine::UserId> user;
};

// `{"user_id": "...", "order_ref": "..."}`: a coupon's redeem or restore, both required.
struct CouponUseBody {
  engine::UserId user;
  engine::OrderRef order;
};

// `{"user_id": "...", "quantity": n}`.
struct OrderBody {
  engine::UserId user;
  std::int64_t quantity = 0;
};

// A view over the request bytes that simdjson may read up to SIMDJSON_PADDING bytes beyond.
// The caller guarantees `capacity >= size + SIMDJSON_PADDING`.
struct PaddedBody {
  const char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
};

// No body, or `{}`: routes whose path says everything (close).
BodyError DecodeEmptyBody(simdjson::ondemand::parser& parser, PaddedBody body);
BodyError DecodeUserBody(simdjson::ondemand::parser& parser, PaddedBody body, UserBody& out);
BodyError DecodeMoveBody(simdjson::ondemand::parser& parser, PaddedBody body, MoveBody& out);
BodyError DecodeOrderBody(simdjson::ondemand::parser& parser, PaddedBody body, OrderBody& out);
BodyError DecodeCouponUseBody(simdjson::ondemand::parser& parser, PaddedBody body,
                              CouponUseBody& out);
// `now` is the default for starts_at. The spec's name is copied (control plane only).
BodyError DecodeCampaignBody(simdjson::ondemand::parser& parser, PaddedBody body,
                             engine::TimePoint now, engine::CampaignSpec& out);

// `{"stock_add": n, "ends_at": <time> or null, "name": "..."}`, at least one: a live change.
// stock_add is a top-up (> 0) or a take-back (< 0), never 0.
BodyError DecodeChangeBody(simdjson::ondemand::parser& parser, PaddedBody body,
                           engine::CampaignChange& out);

// Bounds the decoder enforces beyond the engine's own checks.
inline constexpr std::size_t kCampaignNameBytesMax = 200;
inline constexpr std::int64_t kQuantityMax = 1'000'000;
inline constexpr std::int64_t kHoldSecondsMax = 7 * 24 * 3600;

}  // namespace hotdeal::gateway
