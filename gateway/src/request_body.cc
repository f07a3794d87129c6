// Request body decoding: one generic walk over the object's fields (unknown and duplicate
// fields refused there), then per-route typed readers.
#include "request_body.h"

#include <array>
#include <limits>

#include "hotdeal/engine/names.h"
#include "time_text.h"

namespace hotdeal::gateway {
namespace {

namespace ondemand = simdjson::ondemand;

constexpr std::int64_t kPriceMax = 1'000'000'000'000;  // price * kQuantityMax fits in int64
static_assert(kPriceMax <= std::numeric_limits<std::int64_t>::max() / kQuantityMax);

// Walks the single object in `body`, calling on_field(index, value) for each field whose key
// is names[index]. `seen` gets bit i set for each field present. Every field's value must be
// consumed by on_field, which the typed readers below always do or fail.
template <std::size_t N, class OnField>
BodyError ForEachField(ondemand::parser& parser, PaddedBody body,
                       const std::array<std::string_view, N>& names, std::uint32_t& seen,
                       OnField on_field) {
  static_assert(N <= 32, "seen is a 32-bit mask");
  simdjson::padded_string_view view(body.data, body.size, body.capacity);
  ondemand::document document;
  if (parser.iterate(view).get(document) != simdjson::SUCCESS) {
    return {BodyErrorKind::kNotJson, {}};
  }
  ondemand::object object;
  auto error = document.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) return {BodyErrorKind::kNotObject, {}};
  if (error != simdjson::SUCCESS) return {BodyErrorKind::kNotJson, {}};
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return {BodyErrorKind::kNotJson, {}};
    std::size_t index = 0;
    while (index < N && names[index] != key)
      ++index;
    if (index == N) return {BodyErrorKind::kUnknownField, key};
    std::uint32_t bit = 1u << index;
    if ((seen & bit) != 0) return {BodyErrorKind::kDuplicateField, names[index]};
    seen |= bit;
    ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) return {BodyErrorKind::kNotJson, {}};
    if (BodyError field_error = on_field(index, value)) return field_error;
  }
  // Catches both trailing bytes ("{} x") and a document simdjson stopped reading early.
  // simdjson 3.0 has no document::at_end(); at the end, current_location() is out of bounds.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return {BodyErrorKind::kNotJson, {}};
  }
  return {};
}

BodyError ReadString(ondemand::value value, std::string_view name, std::string_view& out) {
  auto error = value.get_string().get(out);
  if (error == simdjson::INCORRECT_TYPE) return {BodyErrorKind::kWrongType, name};
  if (error != simdjson::SUCCESS) return {BodyErrorKind::kNotJson, name};
  return {};
}

template <class Tag>
BodyError ReadId(ondemand::value value, std::string_view name, engine::ShortId<Tag>& out) {
  std::string_view text;
  if (BodyError error = ReadString(value, name, text)) return error;
  auto id = engine::ShortId<Tag>::Parse(text);
  if (!id) return {BodyErrorKind::kBadId, name};
  out = *id;
  return {};
}

BodyError ReadInt(ondemand::value value, std::string_view name, std::int64_t min, std::int64_t max,
                  std::int64_t& out) {
  // The token text tells "too big for int64" (all digits) from "not an integer" (fraction,
  // exponent, string, ...): simdjson reports both as a failed get_int64().
  std::string_view token = value.raw_json_token();
  auto error = value.get_int64().get(out);
  if (error != simdjson::SUCCESS) {
    std::string_view digits = token.substr(0, token.find_first_of(" \t\r\n,}]"));
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
    bool integer =
        !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (!integer) return {BodyErrorKind::kWrongType, name, "must be a whole number"};
    return {BodyErrorKind::kOutOfRange, name, {}, min, max};
  }
  if (out < min || out > max) return {BodyErrorKind::kOutOfRange, name, {}, min, max};
  return {};
}

BodyError ReadTime(ondemand::value value, std::string_view name, engine::TimePoint& out) {
  std::string_view text;
  if (BodyError error = ReadString(value, name, text)) return error;
  auto time = ParseTime(text);
  if (!time) return {BodyErrorKind::kBadTime, name};
  out = *time;
  return {};
}

// A time or null (null: never, as for a campaign's ends_at).
BodyError ReadTimeOrNull(ondemand::value value, std::string_view name,
                         std::optional<engine::TimePoint>& out) {
  bool is_null = false;
  if (value.is_null().get(is_null) != simdjson::SUCCESS) return {BodyErrorKind::kNotJson, name};
  if (is_null) {
    out.reset();
    return {};
  }
  engine::TimePoint time;
  if (BodyError error = ReadTime(value, name, time)) return error;
  out = time;
  return {};
}

BodyError ReadCampaignName(ondemand::value value, std::string_view name, std::string& out) {
  std::string_view text;
  if (BodyError error = ReadString(value, name, text)) return error;
  if (text.empty() || text.size() > kCampaignNameBytesMax) {
    return {BodyErrorKind::kOutOfRange, name,
            "must be 1 to 200 bytes of UTF-8 (an accented letter takes 2, most CJK 3)"};
  }
  out.assign(text);
  return {};
}

constexpr std::uint32_t Bit(std::size_t index) {
  return 1u << index;
}

constexpr std::int64_t kUint32Max = std::numeric_limits<std::uint32_t>::max();

}  // namespace

std::string_view Describe(BodyErrorKind kind) {
  switch (kind) {
    case BodyErrorKind::kNone:
      return "ok";
    case BodyErrorKind::kNotJson:
      return "body is not a single valid JSON value in UTF-8";
    case BodyErrorKind::kNotObject:
      return "body must be a JSON object";
    case BodyErrorKind::kUnknownField:
      return "body has a field this route does not take";
    case BodyErrorKind::kDuplicateField:
      return "field appears more than once";
    case BodyErrorKind::kMissingField:
      return "field is required";
    case BodyErrorKind::kWrongType:
      return "field has the wrong type";
    case BodyErrorKind::kOutOfRange:
      return "number is out of range";
    case BodyErrorKind::kBadId:
      return "id must match [A-Za-z0-9_-]{1,64}";
    case BodyErrorKind::kBadTime:
      return "time must be RFC 3339, e.g. 2026-11-27T00:00:00Z";
    case BodyErrorKind::kBadValue:
      return "value is not allowed here";
  }
  return "invalid body";
}

BodyError DecodeEmptyBody(ondemand::parser& parser, PaddedBody body) {
  if (body.size == 0) return {};
  static constexpr std::array<std::string_view, 0> kNames = {};
  std::uint32_t seen = 0;
  return ForEachField(parser, body, kNames, seen,
                      [](std::size_t, ondemand::value) { return BodyError{}; });
}

BodyError DecodeUserBody(ondemand::parser& parser, PaddedBody body, UserBody& out) {
  static constexpr std::array<std::string_view, 1> kNames = {"user_id"};
  std::uint32_t seen = 0;
  BodyError error = ForEachField(parser, body, kNames, seen, [&](std::size_t, auto value) {
    return ReadId(value, kNames[0], out.user);
  });
  if (error) return error;
  if (seen != Bit(0)) return {BodyErrorKind::kMissingField, kNames[0]};
  return {};
}

BodyError DecodeMoveBody(ondemand::parser& parser, PaddedBody body, MoveBody& out) {
  out.user.reset();
  if (body.size == 0) return {};
  static constexpr std::array<std::string_view, 1> kNames = {"user_id"};
  std::uint32_t seen = 0;
  return ForEachField(parser, body, kNames, seen, [&](std::size_t, auto value) {
    engine::UserId user;
    BodyError error = ReadId(value, kNames[0], user);
    if (!error) out.user = user;
    return error;
  });
}

namespace {
// The first of `names` missing from `seen`, as a kMissingField error; none if all are there.
template <std::size_t N>
BodyError AllPresent(const std::array<std::string_view, N>& names, std::uint32_t seen) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if ((seen & Bit(i)) == 0) return {BodyErrorKind::kMissingField, names[i]};
  }
  return {};
}
}  // namespace

BodyError DecodeOrderBody(ondemand::parser& parser, PaddedBody body, OrderBody& out) {
  static constexpr std::array<std::string_view, 2> kNames = {"user_id", "quantity"};
  std::uint32_t seen = 0;
  BodyError error = ForEachField(parser, body, kNames, seen, [&](std::size_t index, auto value) {
    if (index == 0) return ReadId(value, kNames[0], out.user);
    return ReadInt(value, kNames[1], 1, kQuantityMax, out.quantity);
  });
  return error ? error : AllPresent(kNames, seen);
}

BodyError DecodeCouponUseBody(ondemand::parser& parser, PaddedBody body, CouponUseBody& out) {
  static constexpr std::array<std::string_view, 2> kNames = {"user_id", "order_ref"};
  std::uint32_t seen = 0;
  BodyError error = ForEachField(parser, body, kNames, seen, [&](std::size_t index, auto value) {
    if (index == 0) return ReadId(value, kNames[0], out.user);
    return ReadId(value, kNames[1], out.order);
  });
  return error ? error : AllPresent(kNames, seen);
}

namespace {

enum CampaignField : std::size_t {
  kId,
  kKind,
  kName,
  kStock,
  kStockMax,
  kPerUserLimit,
  kStartsAt,
  kEndsAt,
  kPrice,
  kHoldSeconds,
  kDiscount,
  kMinSpend,
  kValidSeconds,
  kValidUntil,
  kCampaignFieldCount,
};
constexpr std::array<std::string_view, kCampaignFieldCount> kCampaignNames = {
    "id",      "kind",  "name",         "stock",    "stock_max", "per_user_limit", "starts_at",
    "ends_at", "price", "hold_seconds", "discount", "min_spend", "valid_seconds",  "valid_until"};

// "discount": {"percent": 1..100} or {"amount": minor units > 0}, exactly one of the two.
BodyError ReadDiscount(ondemand::value value, engine::CouponTerms& out) {
  constexpr std::string_view kName = "discount";
  constexpr std::string_view kRule = R"(must be {"percent": 1..100} or {"amount": <minor units>})";
  ondemand::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return {BodyErrorKind::kBadValue, kName, kRule};
  }
  int fields = 0;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS)
      return {BodyErrorKind::kNotJson, kName};
    ondemand::value number;
    if (field.value().get(number) != simdjson::SUCCESS) return {BodyErrorKind::kNotJson, kName};
    if (++fields > 1) return {BodyErrorKind::kBadValue, kName, kRule};
    if (key == "percent") {
      out.discount = engine::DiscountKind::kPercent;
      if (BodyError error = ReadInt(number, "discount.percent", 1, 100, out.discount_value))
        return error;
    } else if (key == "amount") {
      out.discount = engine::DiscountKind::kAmount;
      if (BodyError error = ReadInt(number, "discount.amount", 1, kPriceMax, out.discount_value))
        return error;
    } else {
      return {BodyErrorKind::kBadValue, kName, kRule};
    }
  }
  if (fields == 0) return {BodyErrorKind::kBadValue, kName, kRule};
  return {};
}

BodyError ReadCampaignField(std::size_t index, ondemand::value value, engine::CampaignSpec& out) {
  std::string_view name = kCampaignNames[index];
  std::int64_t number = 0;
  BodyError error;
  switch (static_cast<CampaignField>(index)) {
    case kId:
      return ReadId(value, name, out.id);
    case kKind: {
      std::string_view text;
      if ((error = ReadString(value, name, text))) return error;
      std::optional<engine::CampaignKind> kind = engine::ParseCampaignKind(text);
      if (!kind) return {BodyErrorKind::kBadValue, name, "must be \"coupon\" or \"sale\""};
      out.kind = *kind;
      return {};
    }
    case kName:
      return ReadCampaignName(value, name, out.name);
    case kStock:
      error = ReadInt(value, name, 1, kUint32Max, number);
      out.stock = static_cast<std::uint32_t>(number);
      return error;
    case kStockMax:
      error = ReadInt(value, name, 1, kUint32Max, number);
      out.stock_max = static_cast<std::uint32_t>(number);
      return error;
    case kPerUserLimit:
      error = ReadInt(value, name, 1, kUint32Max, number);
      out.per_user_limit = static_cast<std::uint32_t>(number);
      return error;
    case kStartsAt:
      return ReadTime(value, name, out.starts_at);
    case kEndsAt:
      return ReadTimeOrNull(value, name, out.ends_at);
    case kPrice:
      return ReadInt(value, name, 0, kPriceMax, out.price);
    case kHoldSeconds:
      error = ReadInt(value, name, 1, kHoldSecondsMax, number);
      out.hold_seconds = static_cast<std::uint32_t>(number);
      return error;
    case kDiscount:
      return ReadDiscount(value, out.terms);
    case kMinSpend:
      return ReadInt(value, name, 0, kPriceMax, out.terms.min_spend);
    case kValidSeconds:
      error = ReadInt(value, name, 1, kUint32Max, number);
      out.terms.valid_seconds = static_cast<std::uint32_t>(number);
      return error;
    case kValidUntil: {
      engine::TimePoint until;
      if ((error = ReadTime(value, name, until))) return error;
      out.terms.valid_until = until;
      return {};
    }
    case kCampaignFieldCount:
      break;
  }
  return {BodyErrorKind::kUnknownField, {}};
}

// Rules that span fields: which fields each kind requires or forbids, and the window's order.
BodyError CheckCampaign(std::uint32_t seen, const engine::CampaignSpec& spec) {
  for (CampaignField required : {kId, kKind, kName, kStock}) {
    if ((seen & Bit(required)) == 0)
      return {BodyErrorKind::kMissingField, kCampaignNames[required]};
  }
  bool sale = spec.kind == engine::CampaignKind::kSale;
  for (CampaignField sale_only : {kPrice, kHoldSeconds}) {
    bool present = (seen & Bit(sale_only)) != 0;
    if (sale && !present) {
      return {BodyErrorKind::kMissingField, kCampaignNames[sale_only], "a sale requires it"};
    }
    if (!sale && present) {
      return {BodyErrorKind::kBadValue, kCampaignNames[sale_only], "only a sale takes it"};
    }
  }
  for (CampaignField coupon_only : {kDiscount, kMinSpend, kValidSeconds, kValidUntil}) {
    if (sale && (seen & Bit(coupon_only)) != 0) {
      return {BodyErrorKind::kBadValue, kCampaignNames[coupon_only], "only a coupon takes it"};
    }
  }
  if ((seen & Bit(kValidSeconds)) != 0 && (seen & Bit(kValidUntil)) != 0) {
    return {BodyErrorKind::kBadValue, "valid_until", "give valid_seconds or valid_until, not both"};
  }
  if (spec.terms.valid_until && *spec.terms.valid_until <= spec.starts_at) {
    return {BodyErrorKind::kBadValue, "valid_until", "must be after starts_at"};
  }
  // A coupon is one per user by definition; another limit would be a different product.
  if (!sale && spec.per_user_limit != 1) {
    return {BodyErrorKind::kBadValue, "per_user_limit",
            "a coupon is one per user: leave it out or send 1"};
  }
  if (spec.ends_at && *spec.ends_at <= spec.starts_at) {
    return {BodyErrorKind::kBadValue, "ends_at", "must be after starts_at"};
  }
  if ((seen & Bit(kStockMax)) != 0 && spec.stock_max < spec.stock) {
    return {BodyErrorKind::kBadValue, "stock_max", "must be at least stock"};
  }
  return {};
}

}  // namespace

BodyError DecodeCampaignBody(ondemand::parser& parser, PaddedBody body, engine::TimePoint now,
                             engine::CampaignSpec& out) {
  out = engine::CampaignSpec{};
  out.starts_at = now;
  std::uint32_t seen = 0;
  BodyError error = ForEachField(parser, body, kCampaignNames, seen,
                                 [&](std::size_t index, ondemand::value value) {
                                   return ReadCampaignField(index, value, out);
                                 });
  if (error) return error;
  return CheckCampaign(seen, out);
}

BodyError DecodeChangeBody(ondemand::parser& parser, PaddedBody body, engine::CampaignChange& out) {
  out = engine::CampaignChange{};
  static constexpr std::array<std::string_view, 3> kNames = {"stock_add", "ends_at", "name"};
  constexpr std::string_view kNothing = "nothing to change: give stock_add, ends_at or name";
  if (body.size == 0) return {BodyErrorKind::kMissingField, {}, kNothing};
  std::uint32_t seen = 0;
  BodyError error = ForEachField(parser, body, kNames, seen, [&](std::size_t index, auto value) {
    if (index == 0) {
      std::int64_t add = 0;
      BodyError add_error = ReadInt(value, kNames[0], -kUint32Max, kUint32Max, add);
      if (!add_error && add == 0) {
        return BodyError{BodyErrorKind::kBadValue, kNames[0],
                         "must not be 0: a top-up is positive, a take-back negative"};
      }
      out.stock_add = add;
      return add_error;
    }
    if (index == 1) return ReadTimeOrNull(value, kNames[1], out.ends_at.emplace());
    return ReadCampaignName(value, kNames[2], out.name.emplace());
  });
  if (error) return error;
  if (out.empty()) return {BodyErrorKind::kMissingField, {}, kNothing};
  return {};
}

}  // namespace hotdeal::gateway
