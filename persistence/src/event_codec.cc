// Event codec implementation: a hand-rolled writer into a fixed buffer (no allocation) and a
// strict simdjson DOM reader (it validates the whole document, trailing bytes included). The field
// set of each type lives in one table, kFieldsOf, used by both directions so encoder and decoder
// cannot drift apart.
#include "hotdeal/persistence/event_codec.h"

#include <simdjson.h>

#include <charconv>
#include <cstring>

#include "hotdeal/engine/names.h"

namespace hotdeal::persistence {
namespace {

using engine::Event;
using engine::EventType;

// One bit per JSON key. The order here is the order the encoder writes, but for `epoch` (added
// by v2), which it writes right after `v`.
enum Field : std::uint32_t {
  kV = 1u << 0,
  kType = 1u << 1,
  kSeq = 1u << 2,
  kAtUs = 1u << 3,
  kCampaign = 1u << 4,
  kUser = 1u << 5,
  kClaimId = 1u << 6,
  kOrderId = 1u << 7,
  kCouponCode = 1u << 8,
  kQuantity = 1u << 9,
  kAmount = 1u << 10,
  kExpiresAtUs = 1u << 11,
  kKind = 1u << 12,
  kName = 1u << 13,
  kStock = 1u << 14,
  kPerUserLimit = 1u << 15,
  kStartsAtUs = 1u << 16,
  kEndsAtUs = 1u << 17,
  kPrice = 1u << 18,
  kHoldSeconds = 1u << 19,
  kCampaignIndex = 1u << 20,
  kIdempotencyKey = 1u << 21,
  kEpoch = 1u << 22,
  kIdKey = 1u << 23,
  kDiscount = 1u << 24,
  kDiscountValue = 1u << 25,
  kMinSpend = 1u << 26,
  kValidSeconds = 1u << 27,
  kValidUntilUs = 1u << 28,
  kOrderRef = 1u << 29,
  kUse = 1u << 30,
  kStockMax = 1u << 31,
};
// A coupon campaign's terms (campaign_created): absent from events logged before terms, which
// read as no terms.
constexpr std::uint32_t kTerms =
    kDiscount | kDiscountValue | kMinSpend | kValidSeconds | kValidUntilUs;

// Keys a type may carry or leave out: the Idempotency-Key is there only if the client sent one,
// and campaign_created events logged before id tags have no id key (it reads as {0, 0}: the
// campaign's ids are not tagged), nor terms. The encoder always writes them.
// campaign_created events logged before top-ups have no stock_max (it reads as 0: the stock).
constexpr std::uint32_t kOptional = kIdempotencyKey | kIdKey | kTerms | kStockMax;

// v2 keys. A v1 document has the same ones without kEpoch.
constexpr std::uint32_t kBase = kV | kType | kEpoch | kSeq | kAtUs | kCampaign;
// An owner's fence is no engine event: it names only its owner and when it took over.
constexpr std::uint32_t kFenceFields = kV | kType | kEpoch | kAtUs;
constexpr std::string_view kFenceTypeName = "owner_fence";
constexpr std::uint32_t kFirstVersionWithEpoch = 2;
constexpr std::uint32_t kOrderBase = kBase | kUser | kOrderId | kQuantity;

// Exactly the keys each type carries (docs/events.md), kOptional ones included. A document
// missing one that is not optional is kMissingField, one with others kUnknownField.
constexpr std::uint32_t FieldsOf(EventType type) noexcept {
  switch (type) {
    case EventType::kCampaignCreated:
      return kBase | kKind | kName | kStock | kStockMax | kPerUserLimit | kStartsAtUs | kEndsAtUs |
             kPrice | kHoldSeconds | kCampaignIndex | kIdKey | kTerms;
    case EventType::kCampaignChanged:  // what a change may move, as it stands after it
      return kBase | kAmount | kName | kStock | kEndsAtUs;
    case EventType::kCampaignClosed:
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
      return kBase;
    case EventType::kCampaignArchived:  // the index: recovery never gives it again
      return kBase | kCampaignIndex;
    case EventType::kClaimGranted:
      return kBase | kUser | kClaimId | kCouponCode | kIdempotencyKey;
    case EventType::kClaimVoided:
      return kBase | kUser | kClaimId | kIdempotencyKey;
    case EventType::kOrderReserved:
      return kOrderBase | kAmount | kExpiresAtUs | kIdempotencyKey;
    case EventType::kOrderVoided:
      return kOrderBase | kIdempotencyKey;
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
      return kOrderBase;
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
      return kBase | kUser | kClaimId | kCouponCode | kOrderRef | kUse;
  }
  return 0;
}

constexpr std::array<std::pair<Field, std::string_view>, 32> kFieldNames{{
    {kV, "v"},
    {kType, "type"},
    {kSeq, "seq"},
    {kAtUs, "at_us"},
    {kCampaign, "campaign"},
    {kUser, "user"},
    {kClaimId, "claim_id"},
    {kOrderId, "order_id"},
    {kCouponCode, "coupon_code"},
    {kQuantity, "quantity"},
    {kAmount, "amount"},
    {kExpiresAtUs, "expires_at_us"},
    {kKind, "kind"},
    {kName, "name"},
    {kStock, "stock"},
    {kStockMax, "stock_max"},
    {kPerUserLimit, "per_user_limit"},
    {kStartsAtUs, "starts_at_us"},
    {kEndsAtUs, "ends_at_us"},
    {kPrice, "price"},
    {kHoldSeconds, "hold_seconds"},
    {kCampaignIndex, "campaign_index"},
    {kIdempotencyKey, "idempotency_key"},
    {kEpoch, "epoch"},
    {kIdKey, "id_key"},
    {kDiscount, "discount"},
    {kDiscountValue, "discount_value"},
    {kMinSpend, "min_spend"},
    {kValidSeconds, "valid_seconds"},
    {kValidUntilUs, "valid_until_us"},
    {kOrderRef, "order_ref"},
    {kUse, "use"},
}};

std::optional<Field> FieldNamed(std::string_view key) noexcept {
  for (const auto& [field, name] : kFieldNames) {
    if (name == key) return field;
  }
  return std::nullopt;
}

std::optional<EventType> TypeNamed(std::string_view name) noexcept {
  // Every type, named as engine::Name names it (the one table of event type names).
  for (auto raw = std::uint8_t{0}; raw <= static_cast<std::uint8_t>(engine::kLastEventType);
       ++raw) {
    if (engine::Name(static_cast<EventType>(raw)) == name) return static_cast<EventType>(raw);
  }
  return std::nullopt;
}

// Crockford base32 alphabet: what a coupon code may contain.
bool IsCouponChar(char c) noexcept {
  return (c >= '0' && c <= '9') ||
         (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U');
}

// A code with its campaign prefix, or one made before prefixes (the 16 characters alone).
bool IsCouponCode(std::string_view text) noexcept {
  if (!engine::CouponCode::OfLength(text)) return false;
  for (char c : text) {
    if (!IsCouponChar(c)) return false;
  }
  return true;
}

std::int64_t Micros(engine::TimePoint t) noexcept {
  return t.time_since_epoch().count();
}
engine::TimePoint FromMicros(std::int64_t us) noexcept {
  return engine::TimePoint{std::chrono::microseconds{us}};
}

// Appends to a fixed buffer; once full it stays full and the result is discarded.
class Writer {
 public:
  explicit Writer(EventBuffer& out)
      : begin_(out.data()), pos_(out.data()), end_(pos_ + out.size()) {}

  bool overflow() const noexcept { return overflow_; }
  std::string_view text() const noexcept {
    return {begin_, static_cast<std::size_t>(pos_ - begin_)};
  }

  void Raw(std::string_view s) noexcept {
    if (overflow_ || static_cast<std::size_t>(end_ - pos_) < s.size()) {
      overflow_ = true;
      return;
    }
    std::memcpy(pos_, s.data(), s.size());
    pos_ += s.size();
  }
  void Key(Field field) noexcept {
    Raw(pos_ == begin_ + 1 ? "\"" : ",\"");
    for (const auto& [f, name] : kFieldNames) {
      if (f == field) Raw(name);
    }
    Raw("\":");
  }
  template <class Int>
  void Number(Int value) noexcept {
    if (overflow_) return;
    auto [ptr, ec] = std::to_chars(pos_, end_, value);
    if (ec != std::errc{}) {
      overflow_ = true;
      return;
    }
    pos_ = ptr;
  }
  // Microseconds, or null for no time.
  void Time(const std::optional<engine::TimePoint>& time) noexcept {
    if (time) {
      Number(Micros(*time));
    } else {
      Raw("null");
    }
  }
  // Escapes what JSON requires; bytes >= 0x80 pass through (the caller checked UTF-8).
  void String(std::string_view s) noexcept {
    Raw("\"");
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        const char escaped[2] = {'\\', c};
        Raw({escaped, 2});
      } else if (u < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
        Raw({escaped, 6});
      } else {
        Raw({&c, 1});
      }
    }
    Raw("\"");
  }

 private:
  char* begin_;
  char* pos_;
  char* end_;
  bool overflow_ = false;
};

void WriteFields(const Event& e, std::uint64_t epoch, std::uint32_t fields, Writer& w) noexcept {
  // Keys in kFieldNames order, each written only if the type carries it.
  auto has = [fields](Field f) { return (fields & f) != 0; };
  w.Key(kV), w.Number(kEventVersion);
  w.Key(kEpoch), w.Number(epoch);
  w.Key(kType), w.String(engine::Name(e.type));
  w.Key(kSeq), w.Number(e.seq);
  w.Key(kAtUs), w.Number(Micros(e.at));
  w.Key(kCampaign), w.String(e.campaign.view());
  if (has(kUser)) w.Key(kUser), w.String(e.user.view());
  if (has(kClaimId)) w.Key(kClaimId), w.Number(e.claim_id.value);
  if (has(kOrderId)) w.Key(kOrderId), w.Number(e.order_id.value);
  if (has(kCouponCode)) w.Key(kCouponCode), w.String(e.coupon_code.view());
  if (has(kQuantity)) w.Key(kQuantity), w.Number(e.quantity);
  if (has(kAmount)) w.Key(kAmount), w.Number(e.amount);
  if (has(kExpiresAtUs)) w.Key(kExpiresAtUs), w.Number(Micros(e.expires_at));
  if (has(kIdempotencyKey) && e.idempotency_key)
    w.Key(kIdempotencyKey), w.String(e.idempotency_key->view());
  if (has(kOrderRef)) w.Key(kOrderRef), w.String(e.order_ref.view());
  if (has(kUse)) w.Key(kUse), w.Number(e.use);
  if (has(kCampaignIndex)) w.Key(kCampaignIndex), w.Number(e.campaign_index);
  const engine::CampaignSpec& s = e.spec;
  if (has(kKind)) w.Key(kKind), w.String(engine::Name(s.kind));
  if (has(kName)) w.Key(kName), w.String(s.name);
  if (has(kStock)) w.Key(kStock), w.Number(s.stock);
  if (has(kStockMax)) w.Key(kStockMax), w.Number(s.stock_max);
  if (has(kPerUserLimit)) w.Key(kPerUserLimit), w.Number(s.per_user_limit);
  if (has(kStartsAtUs)) w.Key(kStartsAtUs), w.Number(Micros(s.starts_at));
  if (has(kEndsAtUs)) w.Key(kEndsAtUs), w.Time(s.ends_at);
  if (!has(kKind)) return;  // the rest only at creation
  w.Key(kPrice), w.Number(s.price);
  w.Key(kHoldSeconds), w.Number(s.hold_seconds);
  w.Key(kIdKey), w.Raw("["), w.Number(e.id_key[0]), w.Raw(","), w.Number(e.id_key[1]), w.Raw("]");
  const engine::CouponTerms& t = s.terms;
  w.Key(kDiscount), w.String(engine::Name(t.discount));
  w.Key(kDiscountValue), w.Number(t.discount_value);
  w.Key(kMinSpend), w.Number(t.min_spend);
  w.Key(kValidSeconds), w.Number(t.valid_seconds);
  w.Key(kValidUntilUs), w.Time(t.valid_until);
}

// The encoder checks what the decoder will check, so a bad event is refused before it is
// logged rather than found unreadable at replay.
CodecError CheckBeforeEncode(const Event& e, std::uint32_t fields) noexcept {
  if (e.campaign.empty()) return CodecError::kMissingField;
  if ((fields & kUser) && e.user.empty()) return CodecError::kMissingField;
  if ((fields & kOrderRef) && e.order_ref.empty()) return CodecError::kMissingField;
  if ((fields & kCouponCode) && !IsCouponCode(e.coupon_code.view())) return CodecError::kBadValue;
  if (fields & kName) {
    if (e.spec.id.view() != e.campaign.view()) return CodecError::kBadValue;
    if (!simdjson::validate_utf8(e.spec.name.data(), e.spec.name.size()))
      return CodecError::kBadValue;
  }
  return CodecError::kOk;
}

}  // namespace

std::string_view CodecErrorName(CodecError error) noexcept {
  switch (error) {
    case CodecError::kOk:
      return "ok";
    case CodecError::kTooLarge:
      return "too_large";
    case CodecError::kMalformed:
      return "malformed";
    case CodecError::kUnknownVersion:
      return "unknown_version";
    case CodecError::kUnknownType:
      return "unknown_type";
    case CodecError::kUnknownField:
      return "unknown_field";
    case CodecError::kMissingField:
      return "missing_field";
    case CodecError::kBadValue:
      return "bad_value";
  }
  return "?";
}

Encoded EncodeEvent(const Event& event, std::uint64_t epoch, EventBuffer& out) noexcept {
  const std::uint32_t fields = FieldsOf(event.type);
  if (fields == 0) return {CodecError::kUnknownType, {}};
  if (CodecError error = CheckBeforeEncode(event, fields); error != CodecError::kOk) {
    return {error, {}};
  }
  Writer w(out);
  w.Raw("{");
  WriteFields(event, epoch, fields, w);
  w.Raw("}");
  if (w.overflow()) return {CodecError::kTooLarge, {}};
  return {CodecError::kOk, w.text()};
}

Encoded EncodeFence(std::uint64_t epoch, engine::TimePoint at, EventBuffer& out) noexcept {
  Writer w(out);
  w.Raw("{");
  w.Key(kV), w.Number(kEventVersion);
  w.Key(kEpoch), w.Number(epoch);
  w.Key(kType), w.String(kFenceTypeName);
  w.Key(kAtUs), w.Number(Micros(at));
  w.Raw("}");
  return {CodecError::kOk, w.text()};  // a few dozen bytes: cannot overflow
}

// ---------------------------------------------------------------------------------------------

class EventDecoder::Impl {
 public:
  CodecError Decode(std::string_view bytes, LogRecord& out) noexcept;

 private:
  CodecError ReadField(Field field, simdjson::dom::element value, LogRecord& record) noexcept;

  simdjson::dom::parser parser_{kEventBytesMax};
  // Kafka payloads are not padded; each is copied here first. Fixed size: kEventBytesMax bounds
  // what is read, and the padding is what simdjson may over-read.
  std::array<char, kEventBytesMax + simdjson::SIMDJSON_PADDING> padded_{};
  std::uint32_t version_ = 0;
};

namespace {

template <class T>
bool ReadUnsigned(simdjson::dom::element v, T& out) noexcept {
  std::uint64_t x = 0;
  if (v.get_uint64().get(x) != simdjson::SUCCESS) return false;
  if (x > std::numeric_limits<T>::max()) return false;
  out = static_cast<T>(x);
  return true;
}

bool ReadSigned(simdjson::dom::element v, std::int64_t& out) noexcept {
  return v.get_int64().get(out) == simdjson::SUCCESS;
}

bool ReadTime(simdjson::dom::element v, engine::TimePoint& out) noexcept {
  std::int64_t us = 0;
  if (!ReadSigned(v, us)) return false;
  out = FromMicros(us);
  return true;
}

// A time or null (ends_at_us, valid_until_us).
bool ReadTime(simdjson::dom::element v, std::optional<engine::TimePoint>& out) noexcept {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  engine::TimePoint t;
  if (!ReadTime(v, t)) return false;
  out = t;
  return true;
}

template <class Id>
bool ReadId(simdjson::dom::element v, Id& out) noexcept {
  std::string_view text;
  if (v.get_string().get(text) != simdjson::SUCCESS) return false;
  auto id = Id::Parse(text);
  if (!id) return false;
  out = *id;
  return true;
}

}  // namespace

CodecError EventDecoder::Impl::ReadField(Field field, simdjson::dom::element v,
                                         LogRecord& record) noexcept {
  Event& out = record.event;
  bool ok = false;
  std::string_view text;
  switch (field) {
    case kV:
      ok = ReadUnsigned(v, version_);
      if (ok && (version_ < 1 || version_ > kEventVersion)) return CodecError::kUnknownVersion;
      break;
    case kEpoch:
      ok = ReadUnsigned(v, record.epoch);
      break;
    case kType:
      if (v.get_string().get(text) != simdjson::SUCCESS) return CodecError::kMalformed;
      if (text == kFenceTypeName) {
        record.fence = true;
        return CodecError::kOk;
      }
      if (auto type = TypeNamed(text)) {
        out.type = *type;
        return CodecError::kOk;
      }
      return CodecError::kUnknownType;
    case kSeq:
      ok = ReadUnsigned(v, out.seq);
      break;
    case kAtUs:
      ok = ReadTime(v, out.at);
      break;
    case kCampaign:
      ok = ReadId(v, out.campaign);
      break;
    case kUser:
      ok = ReadId(v, out.user);
      break;
    case kClaimId:
      ok = ReadUnsigned(v, out.claim_id.value);
      break;
    case kOrderId:
      ok = ReadUnsigned(v, out.order_id.value);
      break;
    case kCouponCode:
      ok = v.get_string().get(text) == simdjson::SUCCESS && IsCouponCode(text);
      if (ok) out.coupon_code = *engine::CouponCode::OfLength(text);
      break;
    case kQuantity:
      ok = ReadUnsigned(v, out.quantity);
      break;
    case kAmount:
      ok = ReadSigned(v, out.amount);
      break;
    case kExpiresAtUs:
      ok = ReadTime(v, out.expires_at);
      break;
    case kKind:
      ok = v.get_string().get(text) == simdjson::SUCCESS;
      if (ok) {
        std::optional<engine::CampaignKind> kind = engine::ParseCampaignKind(text);
        ok = kind.has_value();
        if (ok) out.spec.kind = *kind;
      }
      break;
    case kName:
      ok = v.get_string().get(text) == simdjson::SUCCESS;
      if (ok) out.spec.name.assign(text);
      break;
    case kStock:
      ok = ReadUnsigned(v, out.spec.stock);
      break;
    case kStockMax:
      ok = ReadUnsigned(v, out.spec.stock_max);
      break;
    case kPerUserLimit:
      ok = ReadUnsigned(v, out.spec.per_user_limit);
      break;
    case kStartsAtUs:
      ok = ReadTime(v, out.spec.starts_at);
      break;
    case kEndsAtUs:
      ok = ReadTime(v, out.spec.ends_at);
      break;
    case kPrice:
      ok = ReadSigned(v, out.spec.price);
      break;
    case kHoldSeconds:
      ok = ReadUnsigned(v, out.spec.hold_seconds);
      break;
    case kCampaignIndex:
      ok = ReadUnsigned(v, out.campaign_index);
      break;
    case kIdKey: {
      simdjson::dom::array words;
      if (v.get_array().get(words) != simdjson::SUCCESS || words.size() != out.id_key.size()) break;
      ok = true;
      std::size_t i = 0;
      for (simdjson::dom::element word : words) {
        ok = ok && ReadUnsigned(word, out.id_key[i++]);
      }
      break;
    }
    case kDiscount:
      ok = v.get_string().get(text) == simdjson::SUCCESS;
      if (ok) {
        std::optional<engine::DiscountKind> kind = engine::ParseDiscountKind(text);
        ok = kind.has_value();
        if (ok) out.spec.terms.discount = *kind;
      }
      break;
    case kDiscountValue:
      ok = ReadSigned(v, out.spec.terms.discount_value);
      break;
    case kMinSpend:
      ok = ReadSigned(v, out.spec.terms.min_spend);
      break;
    case kValidSeconds:
      ok = ReadUnsigned(v, out.spec.terms.valid_seconds);
      break;
    case kValidUntilUs:
      ok = ReadTime(v, out.spec.terms.valid_until);
      break;
    case kOrderRef:
      ok = ReadId(v, out.order_ref);
      break;
    case kUse:
      ok = ReadUnsigned(v, out.use);
      break;
    case kIdempotencyKey: {
      engine::IdempotencyKey key;
      ok = ReadId(v, key);
      if (ok) out.idempotency_key = key;
      break;
    }
  }
  return ok ? CodecError::kOk : CodecError::kBadValue;
}

CodecError EventDecoder::Impl::Decode(std::string_view bytes, LogRecord& out) noexcept {
  if (bytes.size() > kEventBytesMax) return CodecError::kTooLarge;
  std::memcpy(padded_.data(), bytes.data(), bytes.size());
  out = LogRecord{};
  version_ = 0;
  simdjson::dom::object object;
  if (parser_.parse(padded_.data(), bytes.size(), false).get(object) != simdjson::SUCCESS)
    return CodecError::kMalformed;
  std::uint32_t seen = 0;
  for (auto [key, value] : object) {
    auto field = FieldNamed(key);
    if (!field) return CodecError::kUnknownField;
    if (seen & *field) return CodecError::kMalformed;
    seen |= *field;
    if (CodecError error = ReadField(*field, value, out); error != CodecError::kOk) return error;
  }
  if (!(seen & kV)) return CodecError::kUnknownVersion;
  if (!(seen & kType)) return CodecError::kMissingField;
  const bool has_epoch = version_ >= kFirstVersionWithEpoch;
  if (out.fence && !has_epoch) return CodecError::kUnknownType;
  std::uint32_t fields = out.fence ? kFenceFields : FieldsOf(out.event.type);
  if (!has_epoch) fields &= ~kEpoch;  // v1: written before owners had epochs; reads as 0
  if (seen & ~fields) return CodecError::kUnknownField;
  if ((seen | (fields & kOptional)) != fields) return CodecError::kMissingField;
  if (fields & kName) out.event.spec.id = out.event.campaign;
  return CodecError::kOk;
}

EventDecoder::EventDecoder() : impl_(std::make_unique<Impl>()) {}
EventDecoder::~EventDecoder() = default;

CodecError EventDecoder::Decode(std::string_view bytes, LogRecord& out) noexcept {
  return impl_->Decode(bytes, out);
}

}  // namespace hotdeal::persistence
