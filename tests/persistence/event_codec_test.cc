// Event codec: every type survives a round trip field for field with its owner's epoch, v1
// documents (before epochs) still decode, and every way a document can be wrong comes back as
// an error value.
#include "hotdeal/persistence/event_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "hotdeal/engine/names.h"

namespace hotdeal::persistence {
namespace {

using engine::Event;
using engine::EventType;

constexpr std::uint64_t kEpoch = 18'446'744'073'709'551'614ull;  // past 2^53 on purpose

template <class Id>
Id MakeId(std::string_view text) {
  return *Id::Parse(text);
}

engine::TimePoint At(std::int64_t us) {
  return engine::TimePoint{std::chrono::microseconds{us}};
}

// An event of `type` with every field its type carries set to a distinctive value.
Event Sample(EventType type) {
  Event e;
  e.type = type;
  e.seq = 18'446'744'073'709'551'615ull;  // the full range must survive (JSON numbers > 2^53)
  e.at = At(1'795'000'000'123'456);
  e.campaign = MakeId<engine::CampaignId>("black-friday_2026");
  switch (type) {
    case EventType::kCampaignCreated:
      e.spec.id = e.campaign;
      e.spec.kind = engine::CampaignKind::kSale;
      e.spec.name = "10% off \"quoted\" \\ tab\t \xc3\xa9t\xc3\xa9";
      e.spec.stock = 4'000'000'000u;
      e.spec.stock_max = 4'000'001'024u;
      e.spec.per_user_limit = 3;
      e.spec.starts_at = At(-5);
      e.spec.ends_at = At(1'795'000'100'000'000);
      e.spec.price = -9900;
      e.spec.hold_seconds = 300;
      e.campaign_index = 1023;
      e.id_key = {18'446'744'073'709'551'615ull, 0x0123'4567'89ab'cdefull};
      e.spec.terms = {engine::DiscountKind::kAmount, 500, 2'000, 0, At(1'795'000'200'000'000)};
      break;
    case EventType::kCampaignChanged:  // the keys a change moves, and its stock delta
      e.spec.id = e.campaign;
      e.spec.name = "last call \"50%\"";
      e.spec.stock = 1'500;
      e.spec.ends_at = At(1'795'000'100'000'000);
      e.amount = -500;
      break;
    case EventType::kCampaignClosed:
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
      break;
    case EventType::kCampaignArchived:
      e.campaign_index = 1'048'575;  // the last index a campaign can have
      break;
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
      e.order_ref = MakeId<engine::OrderRef>("order_77-b");
      e.use = 67'108'863;  // the largest count a coupon keeps
      [[fallthrough]];
    case EventType::kClaimGranted:
      std::memcpy(e.coupon_code.text.data(), "00ZY0123456789ABCDEF", 20);
      e.coupon_code.size = 20;
      if (type == EventType::kClaimGranted)
        e.idempotency_key = MakeId<engine::IdempotencyKey>("key-claim_1");
      [[fallthrough]];
    case EventType::kClaimVoided:
      e.user = MakeId<engine::UserId>("u-1842");
      e.claim_id.value = 0xfedc'ba98'7654'3210ull;
      break;
    case EventType::kOrderReserved:
      e.amount = 19800;
      e.idempotency_key = MakeId<engine::IdempotencyKey>("key-order_1");
      e.expires_at = At(1'795'000'000'423'456);
      [[fallthrough]];
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
    case EventType::kOrderVoided:
      e.user = MakeId<engine::UserId>("u-1842");
      e.order_id.value = 77;
      e.quantity = 2;
      break;
  }
  return e;
}

void ExpectSame(const Event& a, const Event& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.campaign, b.campaign);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.claim_id, b.claim_id);
  EXPECT_EQ(a.order_id, b.order_id);
  EXPECT_EQ(a.coupon_code, b.coupon_code);
  EXPECT_EQ(a.quantity, b.quantity);
  EXPECT_EQ(a.amount, b.amount);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.spec.id, b.spec.id);
  EXPECT_EQ(a.spec.kind, b.spec.kind);
  EXPECT_EQ(a.spec.name, b.spec.name);
  EXPECT_EQ(a.spec.stock, b.spec.stock);
  EXPECT_EQ(a.spec.stock_max, b.spec.stock_max);
  EXPECT_EQ(a.spec.per_user_limit, b.spec.per_user_limit);
  EXPECT_EQ(a.spec.starts_at, b.spec.starts_at);
  EXPECT_EQ(a.spec.ends_at, b.spec.ends_at);
  EXPECT_EQ(a.spec.price, b.spec.price);
  EXPECT_EQ(a.spec.hold_seconds, b.spec.hold_seconds);
  EXPECT_EQ(a.campaign_index, b.campaign_index);
  EXPECT_EQ(a.id_key, b.id_key);
  EXPECT_EQ(a.spec.terms, b.spec.terms);
  EXPECT_EQ(a.idempotency_key, b.idempotency_key);
  EXPECT_EQ(a.order_ref, b.order_ref);
  EXPECT_EQ(a.use, b.use);
}

constexpr EventType kAllTypes[] = {
    EventType::kCampaignCreated, EventType::kCampaignClosed,  EventType::kClaimGranted,
    EventType::kClaimVoided,     EventType::kOrderReserved,   EventType::kOrderConfirmed,
    EventType::kOrderCancelled,  EventType::kOrderExpired,    EventType::kOrderVoided,
    EventType::kCampaignPaused,  EventType::kCampaignResumed, EventType::kCouponRedeemed,
    EventType::kCouponRestored,  EventType::kCampaignChanged, EventType::kCampaignArchived,
};
static_assert(std::size(kAllTypes) == static_cast<std::size_t>(engine::kLastEventType) + 1);

// What every writer before v2 put in the log: the same document without "epoch".
std::string AsVersion1(std::string_view v2) {
  std::string text(v2);
  const std::string epoch = ",\"epoch\":" + std::to_string(kEpoch);
  const std::size_t at = text.find(epoch);
  EXPECT_NE(at, std::string::npos) << text;
  text.erase(at, epoch.size());
  EXPECT_TRUE(text.starts_with(R"({"v":2,)")) << text;
  text[5] = '1';
  return text;
}

TEST(EventCodec, EveryTypeRoundTripsWithItsEpochAndItsVersion1FormStillDecodes) {
  EventDecoder decoder;
  for (EventType type : kAllTypes) {
    SCOPED_TRACE(std::string(engine::Name(type)));
    const Event original = Sample(type);
    EventBuffer buffer;
    Encoded encoded = EncodeEvent(original, kEpoch, buffer);
    ASSERT_EQ(encoded.error, CodecError::kOk);
    LogRecord decoded;
    ASSERT_EQ(decoder.Decode(encoded.text, decoded), CodecError::kOk) << encoded.text;
    ExpectSame(original, decoded.event);
    EXPECT_EQ(decoded.epoch, kEpoch);
    EXPECT_FALSE(decoded.fence);

    const std::string v1 = AsVersion1(encoded.text);
    ASSERT_EQ(decoder.Decode(v1, decoded), CodecError::kOk) << v1;
    ExpectSame(original, decoded.event);
    EXPECT_EQ(decoded.epoch, 0u);
    EXPECT_FALSE(decoded.fence);
  }
  // The epoch is exactly what v2 added: v1 may not carry one, v2 must.
  LogRecord out;
  EXPECT_EQ(decoder.Decode(R"({"v":1,"epoch":3,"type":"campaign_closed","seq":1,"at_us":2,)"
                           R"("campaign":"c"})",
                           out),
            CodecError::kUnknownField);
  EXPECT_EQ(
      decoder.Decode(R"({"v":2,"type":"campaign_closed","seq":1,"at_us":2,"campaign":"c"})", out),
      CodecError::kMissingField);
  EXPECT_EQ(decoder.Decode(R"({"v":2,"epoch":-1,"type":"campaign_closed","seq":1,"at_us":2,)"
                           R"("campaign":"c"})",
                           out),
            CodecError::kBadValue);
}

TEST(EventCodec, FenceRoundTripsAndCarriesNoEvent) {
  EventBuffer buffer;
  const Encoded encoded = EncodeFence(9, At(1'795'000'000'000'001), buffer);
  ASSERT_EQ(encoded.error, CodecError::kOk);
  EXPECT_EQ(encoded.text, R"({"v":2,"epoch":9,"type":"owner_fence","at_us":1795000000000001})");
  EventDecoder decoder;
  LogRecord decoded;
  decoded.event.campaign = MakeId<engine::CampaignId>("left-over");
  ASSERT_EQ(decoder.Decode(encoded.text, decoded), CodecError::kOk);
  EXPECT_TRUE(decoded.fence);
  EXPECT_EQ(decoded.epoch, 9u);
  EXPECT_EQ(decoded.event.at, At(1'795'000'000'000'001));
  EXPECT_TRUE(decoded.event.campaign.empty());
  // A fence has exactly its four keys, and v1 had no fences.
  EXPECT_EQ(
      decoder.Decode(R"({"v":2,"epoch":9,"type":"owner_fence","at_us":1,"campaign":"c"})", decoded),
      CodecError::kUnknownField);
  EXPECT_EQ(decoder.Decode(R"({"v":2,"epoch":9,"type":"owner_fence"})", decoded),
            CodecError::kMissingField);
  EXPECT_EQ(decoder.Decode(R"({"v":1,"type":"owner_fence","at_us":1})", decoded),
            CodecError::kUnknownType);
}

TEST(EventCodec, OpenEndedCampaignWritesNull) {
  Event e = Sample(EventType::kCampaignCreated);
  e.spec.ends_at.reset();
  EventBuffer buffer;
  Encoded encoded = EncodeEvent(e, kEpoch, buffer);
  ASSERT_EQ(encoded.error, CodecError::kOk);
  EXPECT_NE(encoded.text.find("\"ends_at_us\":null"), std::string_view::npos);
  LogRecord decoded;
  EventDecoder decoder;
  ASSERT_EQ(decoder.Decode(encoded.text, decoded), CodecError::kOk);
  EXPECT_FALSE(decoded.event.spec.ends_at.has_value());
}

TEST(EventCodec, DocumentIsTheDocumentedShape) {
  EventBuffer buffer;
  Encoded encoded = EncodeEvent(Sample(EventType::kClaimVoided), kEpoch, buffer);
  EXPECT_EQ(encoded.text,
            R"({"v":2,"epoch":18446744073709551614,"type":"claim_voided",)"
            R"("seq":18446744073709551615,"at_us":1795000000123456,)"
            R"("campaign":"black-friday_2026","user":"u-1842","claim_id":18364758544493064720})");
}

// A campaign's id key is an array of its two words; a creation logged before id keys existed
// still decodes, as a campaign with key {0, 0} (its ids are not tagged).
TEST(EventCodec, IdKeyIsTwoWordsAndCreationsWithoutOneStillDecode) {
  const Event created = Sample(EventType::kCampaignCreated);
  EventBuffer buffer;
  Encoded encoded = EncodeEvent(created, kEpoch, buffer);
  ASSERT_EQ(encoded.error, CodecError::kOk);
  const std::string key = R"(,"id_key":[18446744073709551615,81985529216486895])";
  const std::string text(encoded.text);
  const std::size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos) << text;
  EventDecoder decoder;
  LogRecord decoded;
  std::string without = text;
  without.erase(at, key.size());
  ASSERT_EQ(decoder.Decode(without, decoded), CodecError::kOk) << without;
  EXPECT_EQ(decoded.event.id_key, (engine::IdKey{0, 0}));
  EXPECT_EQ(decoded.event.campaign_index, created.campaign_index);
  for (std::string_view bad : {R"([1])", R"([1,2,3])", R"([1,-2])", R"("12")", R"([1,2.5])"}) {
    std::string wrong = text;
    wrong.replace(at, key.size(), R"(,"id_key":)" + std::string(bad));
    EXPECT_EQ(decoder.Decode(wrong, decoded), CodecError::kBadValue) << wrong;
  }
  // Only a campaign's creation carries one.
  EXPECT_EQ(decoder.Decode(R"({"v":2,"epoch":1,"type":"campaign_closed","seq":1,"at_us":2,)"
                           R"("campaign":"c","id_key":[1,2]})",
                           decoded),
            CodecError::kUnknownField);
}

// A creation logged before top-ups has no stock_max and decodes with 0 (replay reads it as the
// stock); only a creation carries one.
TEST(EventCodec, StockMaxIsOptionalAtCreationOnly) {
  const Event created = Sample(EventType::kCampaignCreated);
  EventBuffer buffer;
  Encoded encoded = EncodeEvent(created, kEpoch, buffer);
  ASSERT_EQ(encoded.error, CodecError::kOk);
  const std::string key = R"(,"stock_max":4000001024)";
  std::string text(encoded.text);
  const std::size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos) << text;
  text.erase(at, key.size());
  EventDecoder decoder;
  LogRecord decoded;
  ASSERT_EQ(decoder.Decode(text, decoded), CodecError::kOk) << text;
  EXPECT_EQ(decoded.event.spec.stock_max, 0u);
  EXPECT_EQ(decoded.event.spec.stock, created.spec.stock);
  EXPECT_EQ(decoder.Decode(R"({"v":2,"epoch":1,"type":"campaign_changed","seq":1,"at_us":2,)"
                           R"("campaign":"c","amount":1,"name":"n","stock":2,"stock_max":9,)"
                           R"("ends_at_us":null})",
                           decoded),
            CodecError::kUnknownField);
}

// A coupon's terms are five keys of campaign_created; a creation logged before terms decodes as
// a coupon without them, and a discount kind outside the three is refused.
TEST(EventCodec, TermsRoundTripAndCreationsWithoutThemStillDecode) {
  Event created = Sample(EventType::kCampaignCreated);
  created.spec.terms = {engine::DiscountKind::kPercent, 15, 0, 86'400, std::nullopt};
  EventBuffer buffer;
  Encoded encoded = EncodeEvent(created, kEpoch, buffer);
  ASSERT_EQ(encoded.error, CodecError::kOk);
  std::string text(encoded.text);
  const std::string terms =
      R"(,"discount":"percent","discount_value":15,"min_spend":0,"valid_seconds":86400,)"
      R"("valid_until_us":null)";
  const std::size_t at = text.find(terms);
  ASSERT_NE(at, std::string::npos) << text;
  EventDecoder decoder;
  LogRecord decoded;
  ASSERT_EQ(decoder.Decode(text, decoded), CodecError::kOk);
  EXPECT_EQ(decoded.event.spec.terms, created.spec.terms);
  std::string without = text;
  without.erase(at, terms.size());
  ASSERT_EQ(decoder.Decode(without, decoded), CodecError::kOk) << without;
  EXPECT_EQ(decoded.event.spec.terms, engine::CouponTerms{});
  std::string wrong = text;
  wrong.replace(text.find("\"percent\""), 9, "\"half\"");
  EXPECT_EQ(decoder.Decode(wrong, decoded), CodecError::kBadValue) << wrong;
}

TEST(EventCodec, IdempotencyKeyIsWrittenOnlyWhenSent) {
  EventDecoder decoder;
  for (EventType type : {EventType::kClaimGranted, EventType::kOrderReserved,
                         EventType::kClaimVoided, EventType::kOrderVoided}) {
    SCOPED_TRACE(std::string(engine::Name(type)));
    Event with_key = Sample(type);
    with_key.idempotency_key = MakeId<engine::IdempotencyKey>("key-7");
    EventBuffer buffer;
    Encoded encoded = EncodeEvent(with_key, kEpoch, buffer);
    ASSERT_EQ(encoded.error, CodecError::kOk);
    EXPECT_NE(encoded.text.find(R"("idempotency_key":"key-)"), std::string_view::npos);

    Event without_key = Sample(type);
    without_key.idempotency_key.reset();
    encoded = EncodeEvent(without_key, kEpoch, buffer);
    ASSERT_EQ(encoded.error, CodecError::kOk);
    EXPECT_EQ(encoded.text.find("idempotency_key"), std::string_view::npos) << encoded.text;
    LogRecord decoded;
    ASSERT_EQ(decoder.Decode(encoded.text, decoded), CodecError::kOk) << encoded.text;
    EXPECT_FALSE(decoded.event.idempotency_key.has_value());
  }
  // Only the types that answer a client's key, or free it again, may carry one; a bad key is
  // a bad value.
  LogRecord decoded;
  EXPECT_EQ(decoder.Decode(R"({"v":1,"type":"order_cancelled","seq":1,"at_us":1,"campaign":"c",)"
                           R"("user":"u","order_id":1,"quantity":1,"idempotency_key":"k"})",
                           decoded),
            CodecError::kUnknownField);
  EXPECT_EQ(decoder.Decode(R"({"v":1,"type":"claim_granted","seq":1,"at_us":1,"campaign":"c",)"
                           R"("user":"u","claim_id":1,"coupon_code":"0123456789ABCDEF",)"
                           R"("idempotency_key":"not a key"})",
                           decoded),
            CodecError::kBadValue);
}

TEST(EventCodec, EncoderRefusesWhatTheDecoderWouldReject) {
  EventBuffer buffer;
  Event no_user = Sample(EventType::kOrderConfirmed);
  no_user.user = {};
  EXPECT_EQ(EncodeEvent(no_user, kEpoch, buffer).error, CodecError::kMissingField);

  Event bad_code = Sample(EventType::kClaimGranted);
  bad_code.coupon_code.text[3] = 'u';
  EXPECT_EQ(EncodeEvent(bad_code, kEpoch, buffer).error, CodecError::kBadValue);

  Event bad_name = Sample(EventType::kCampaignCreated);
  bad_name.spec.name = "\xff\xfe";
  EXPECT_EQ(EncodeEvent(bad_name, kEpoch, buffer).error, CodecError::kBadValue);

  Event huge = Sample(EventType::kCampaignCreated);
  huge.spec.name.assign(kEventBytesMax, 'x');
  EXPECT_EQ(EncodeEvent(huge, kEpoch, buffer).error, CodecError::kTooLarge);
}

CodecError DecodeText(std::string_view text) {
  EventDecoder decoder;
  LogRecord out;
  return decoder.Decode(text, out);
}

TEST(EventCodec, StrictDecoding) {
  const std::string ok = R"({"v":1,"type":"campaign_closed","seq":1,"at_us":2,"campaign":"c"})";
  EXPECT_EQ(DecodeText(ok), CodecError::kOk);
  // Field order is free.
  EXPECT_EQ(DecodeText(R"({"campaign":"c","at_us":2,"seq":1,"type":"campaign_closed","v":1})"),
            CodecError::kOk);
  EXPECT_EQ(DecodeText(R"({"v":3,"epoch":1,"type":"campaign_closed","seq":1,"at_us":2,)"
                       R"("campaign":"c"})"),
            CodecError::kUnknownVersion);
  EXPECT_EQ(DecodeText(R"({"v":0,"type":"campaign_closed","seq":1,"at_us":2,"campaign":"c"})"),
            CodecError::kUnknownVersion);
  EXPECT_EQ(DecodeText(R"({"type":"campaign_closed","seq":1,"at_us":2,"campaign":"c"})"),
            CodecError::kUnknownVersion);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"claim_lost","seq":1,"at_us":2,"campaign":"c"})"),
            CodecError::kUnknownType);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":1,"at_us":2,"campaign":"c",)"
                       R"("extra":0})"),
            CodecError::kUnknownField);
  // A key defined for another type is just as unknown here.
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":1,"at_us":2,"campaign":"c",)"
                       R"("user":"u"})"),
            CodecError::kUnknownField);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":1,"campaign":"c"})"),
            CodecError::kMissingField);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":1,"seq":1,"at_us":2,)"
                       R"("campaign":"c"})"),
            CodecError::kMalformed);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":-1,"at_us":2,"campaign":"c"})"),
            CodecError::kBadValue);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":1,"at_us":2,"campaign":"a b"})"),
            CodecError::kBadValue);
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"campaign_closed","seq":1,"at_us":"2","campaign":"c"})"),
            CodecError::kBadValue);
  EXPECT_EQ(DecodeText(ok + " x"), CodecError::kMalformed);
  EXPECT_EQ(DecodeText(ok.substr(0, ok.size() - 1)), CodecError::kMalformed);
  EXPECT_EQ(DecodeText("[1]"), CodecError::kMalformed);
  EXPECT_EQ(DecodeText(""), CodecError::kMalformed);
  EXPECT_EQ(DecodeText(std::string(kEventBytesMax + 1, ' ')), CodecError::kTooLarge);
}

TEST(EventCodec, OverflowingNumbersAreBadValues) {
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"order_confirmed","seq":1,"at_us":2,"campaign":"c",)"
                       R"("user":"u","order_id":1,"quantity":4294967296})"),
            CodecError::kBadValue);
  // Past 64 bits the JSON parser itself refuses the number.
  EXPECT_EQ(DecodeText(R"({"v":1,"type":"claim_voided","seq":1,"at_us":2,"campaign":"c",)"
                       R"("user":"u","claim_id":18446744073709551616})"),
            CodecError::kMalformed);
}

}  // namespace
}  // namespace hotdeal::persistence
