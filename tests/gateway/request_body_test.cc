// Strict body decoding: each way a body can be wrong is refused with the right kind and field,
// and the valid forms decode to exact values.
#include "request_body.h"

#include <gtest/gtest.h>

#include <string>

namespace hotdeal::gateway {
namespace {

class RequestBodyTest : public ::testing::Test {
 protected:
  // Copies `text` into a buffer with simdjson's padding, as the connection does.
  PaddedBody Pad(std::string_view text) {
    buffer_.assign(text);
    buffer_.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    return {buffer_.data(), buffer_.size(), buffer_.capacity()};
  }
  BodyError User(std::string_view text) {
    UserBody body;
    return DecodeUserBody(parser_, Pad(text), body);
  }
  BodyError Order(std::string_view text, OrderBody& body) {
    return DecodeOrderBody(parser_, Pad(text), body);
  }
  BodyError Campaign(std::string_view text, engine::CampaignSpec& spec) {
    return DecodeCampaignBody(parser_, Pad(text), now_, spec);
  }

  simdjson::ondemand::parser parser_;
  std::string buffer_;
  engine::TimePoint now_{std::chrono::seconds{1'795'255'200}};
};

TEST_F(RequestBodyTest, DecodesAUserBody) {
  UserBody body;
  ASSERT_FALSE(DecodeUserBody(parser_, Pad(R"( {"user_id" : "u-1842"} )"), body));
  EXPECT_EQ(body.user.view(), "u-1842");
}

TEST_F(RequestBodyTest, RefusesBodiesThatAreNotOneJsonObject) {
  EXPECT_EQ(User("").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User("   ").kind, BodyErrorKind::kNotJson);
  // simdjson sees an unquoted atom where the object should start: not an object either way.
  BodyErrorKind form = User("user_id=u1").kind;
  EXPECT_TRUE(form == BodyErrorKind::kNotJson || form == BodyErrorKind::kNotObject);
  EXPECT_EQ(User(R"({"user_id": "u1")").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"({"user_id": "u1",})").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"({"user_id": "u1"} x)").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"({"user_id": "u1"}{"user_id": "u2"})").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"({"user_id": "u1"}})").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"(["u1"])").kind, BodyErrorKind::kNotObject);
  EXPECT_EQ(User(R"("u1")").kind, BodyErrorKind::kNotObject);
}

TEST_F(RequestBodyTest, RefusesInvalidUtf8AndBadEscapes) {
  EXPECT_EQ(User("{\"user_id\": \"u\xff\"}").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User("{\"user_id\": \"\xC0\xAF\"}").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"({"user_id": "\ud800"})").kind, BodyErrorKind::kNotJson);
  EXPECT_EQ(User(R"({"user_id": "\q"})").kind, BodyErrorKind::kNotJson);
}

TEST_F(RequestBodyTest, RefusesUnknownDuplicateAndMissingFields) {
  EXPECT_EQ(User(R"({"user_id": "u1", "admin": true})").kind, BodyErrorKind::kUnknownField);
  BodyError duplicate = User(R"({"user_id": "u1", "user_id": "u2"})");
  EXPECT_EQ(duplicate.kind, BodyErrorKind::kDuplicateField);
  EXPECT_EQ(duplicate.field, "user_id");
  // An escaped key is the same key.
  EXPECT_EQ(User(R"({"user_id": "u1", "user\u005fid": "u2"})").kind,
            BodyErrorKind::kDuplicateField);
  BodyError missing = User("{}");
  EXPECT_EQ(missing.kind, BodyErrorKind::kMissingField);
  EXPECT_EQ(missing.field, "user_id");
}

TEST_F(RequestBodyTest, RefusesWrongTypesAndBadIds) {
  EXPECT_EQ(User(R"({"user_id": 42})").kind, BodyErrorKind::kWrongType);
  EXPECT_EQ(User(R"({"user_id": null})").kind, BodyErrorKind::kWrongType);
  EXPECT_EQ(User(R"({"user_id": ["u1"]})").kind, BodyErrorKind::kWrongType);
  EXPECT_EQ(User(R"({"user_id": ""})").kind, BodyErrorKind::kBadId);
  EXPECT_EQ(User(R"({"user_id": "u 1"})").kind, BodyErrorKind::kBadId);
  EXPECT_EQ(User(R"({"user_id": "ü"})").kind, BodyErrorKind::kBadId);
  EXPECT_EQ(User(R"({"user_id": ")" + std::string(65, 'a') + "\"}").kind, BodyErrorKind::kBadId);
  EXPECT_FALSE(User(R"({"user_id": ")" + std::string(64, 'a') + "\"}"));
}

TEST_F(RequestBodyTest, OrderQuantityMustBeAPositiveIntegerInRange) {
  OrderBody body;
  ASSERT_FALSE(Order(R"({"user_id": "u1", "quantity": 2})", body));
  EXPECT_EQ(body.quantity, 2);
  for (std::string_view bad : {"0", "-1", "1000001", "99999999999999999999"}) {
    std::string text = R"({"user_id": "u1", "quantity": )" + std::string(bad) + "}";
    EXPECT_EQ(Order(text, body).kind, BodyErrorKind::kOutOfRange) << text;
  }
  for (std::string_view bad : {"1.5", "1e2", "\"2\"", "true", "null"}) {
    std::string text = R"({"user_id": "u1", "quantity": )" + std::string(bad) + "}";
    EXPECT_EQ(Order(text, body).kind, BodyErrorKind::kWrongType) << text;
  }
  BodyError missing = Order(R"({"user_id": "u1"})", body);
  EXPECT_EQ(missing.kind, BodyErrorKind::kMissingField);
  EXPECT_EQ(missing.field, "quantity");
}

TEST_F(RequestBodyTest, DecodesACouponCampaignWithDefaults) {
  engine::CampaignSpec spec;
  ASSERT_FALSE(
      Campaign(R"({"id": "bf", "kind": "coupon", "name": "10% \"off\"", "stock": 3})", spec));
  EXPECT_EQ(spec.id.view(), "bf");
  EXPECT_EQ(spec.kind, engine::CampaignKind::kCoupon);
  EXPECT_EQ(spec.name, "10% \"off\"");
  EXPECT_EQ(spec.stock, 3u);
  EXPECT_EQ(spec.per_user_limit, 1u);
  EXPECT_EQ(spec.starts_at, now_);
  EXPECT_FALSE(spec.ends_at.has_value());
}

TEST_F(RequestBodyTest, DecodesASaleCampaign) {
  engine::CampaignSpec spec;
  ASSERT_FALSE(Campaign(R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 10,
      "per_user_limit": 2, "price": 9900, "hold_seconds": 300,
      "starts_at": "2026-11-27T00:00:00Z", "ends_at": "2026-11-28T00:00:00Z"})",
                        spec));
  EXPECT_EQ(spec.kind, engine::CampaignKind::kSale);
  EXPECT_EQ(spec.per_user_limit, 2u);
  EXPECT_EQ(spec.price, 9900);
  EXPECT_EQ(spec.hold_seconds, 300u);
  ASSERT_TRUE(spec.ends_at.has_value());
  EXPECT_EQ(*spec.ends_at - spec.starts_at, std::chrono::hours{24});
}

TEST_F(RequestBodyTest, RefusesCampaignsThatContradictThemselves) {
  engine::CampaignSpec spec;
  auto kind_of = [&](std::string_view text) { return Campaign(text, spec); };
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "raffle", "name": "n", "stock": 1})").kind,
            BodyErrorKind::kBadValue);
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 0})").kind,
            BodyErrorKind::kOutOfRange);
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 4294967296})").kind,
            BodyErrorKind::kOutOfRange);
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "", "stock": 1})").kind,
            BodyErrorKind::kOutOfRange);
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 1, "price": 5})").field,
            "price");
  EXPECT_EQ(
      kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 1, "per_user_limit": 2})")
          .field,
      "per_user_limit");
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "sale", "name": "n", "stock": 1, "price": 5})").field,
            "hold_seconds");
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 1,
      "starts_at": "2026-11-28T00:00:00Z", "ends_at": "2026-11-27T00:00:00Z"})")
                .field,
            "ends_at");
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 1,
      "starts_at": "tomorrow"})")
                .kind,
            BodyErrorKind::kBadTime);
  EXPECT_EQ(kind_of(R"({"kind": "coupon", "name": "n", "stock": 1})").field, "id");
  EXPECT_EQ(kind_of(R"({"id": "x", "kind": "coupon", "name": "n", "stock": 1,
      "ends_at": null})")
                .kind,
            BodyErrorKind::kNone);
}

TEST_F(RequestBodyTest, EmptyBodyRouteTakesNothingOrAnEmptyObject) {
  EXPECT_FALSE(DecodeEmptyBody(parser_, Pad("")));
  EXPECT_FALSE(DecodeEmptyBody(parser_, Pad("{}")));
  EXPECT_EQ(DecodeEmptyBody(parser_, Pad(R"({"force": true})")).kind, BodyErrorKind::kUnknownField);
}

}  // namespace
}  // namespace hotdeal::gateway
