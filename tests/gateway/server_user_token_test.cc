// User tokens over real sockets: off by default; when a key is set, the user routes need a
// token proving the body's or path's user_id, and a refused request changes nothing.
#include <gtest/gtest.h>

#include "hotdeal/gateway/user_token.h"
#include "http_client.h"

namespace hotdeal::gateway::testing {
namespace {

const std::string kKey(40, 'k');
constexpr std::string_view kCoupon = R"({"id": "bf", "kind": "coupon", "name": "n", "stock": 10})";
constexpr std::string_view kSale =
    R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 10, "per_user_limit": 10,
        "price": 100, "hold_seconds": 300})";

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class UserTokenServerTest : public GatewayTest {
 protected:
  void StartWithTokens() {
    options_.user_token_key = kKey;
    StartServer();
    std::string error;
    key_ = UserTokenKey::Make(kKey, error);
    ASSERT_TRUE(key_) << error;
  }
  std::string Bearer(std::string_view user, std::int64_t ttl_seconds = 60) {
    return "Authorization: Bearer " + key_->Mint(user, NowSeconds() + ttl_seconds) + "\r\n";
  }
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view headers) {
    auto response = HttpClient(port()).Send(method, target, body, headers);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }
  std::int64_t Remaining(std::string_view id) {
    return JsonInt(Send("GET", "/v1/campaigns/" + std::string(id), {}, {}).body, "remaining");
  }

  std::optional<UserTokenKey> key_;
};

void ExpectUnauthorized(const HttpResponse& response, std::string_view message_part) {
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_EQ(JsonString(response.body, "error"), "unauthorized") << response.body;
  EXPECT_NE(JsonString(response.body, "message").find(message_part), std::string::npos)
      << response.body;
}

TEST_F(UserTokenServerTest, OffByDefault) {
  StartServer();
  CreateCampaign(kCoupon);
  EXPECT_EQ(Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u-1"})", {}).status, 201);
  EXPECT_EQ(Send("GET", "/v1/campaigns/bf/claims/u-1", {}, {}).status, 200);
}

TEST_F(UserTokenServerTest, ClaimNeedsATokenForTheBodysUser) {
  StartWithTokens();
  CreateCampaign(kCoupon);
  constexpr std::string_view kClaims = "/v1/campaigns/bf/claims";
  constexpr std::string_view kBody = R"({"user_id": "u-1"})";
  ExpectUnauthorized(Send("POST", kClaims, kBody, {}), "Bearer");
  ExpectUnauthorized(Send("POST", kClaims, kBody, Bearer("u-2")), "does not prove this user_id");
  ExpectUnauthorized(Send("POST", kClaims, kBody, Bearer("u-1", -1)), "expired");
  ExpectUnauthorized(Send("POST", kClaims, kBody, "Authorization: Bearer 123.abc\r\n"),
                     "not a user token");
  ExpectUnauthorized(Send("POST", kClaims, kBody, kAdminHeader), "not a user token");
  EXPECT_EQ(Remaining("bf"), 10);
  HttpResponse claimed = Send("POST", kClaims, kBody, Bearer("u-1"));
  EXPECT_EQ(claimed.status, 201) << claimed.body;
  EXPECT_EQ(Remaining("bf"), 9);
  // Reading a claim needs the token of the user in the path; another's answers as no claim.
  EXPECT_EQ(Send("GET", "/v1/campaigns/bf/claims/u-1", {}, Bearer("u-2")).status, 404);
  EXPECT_EQ(Send("GET", "/v1/campaigns/bf/claims/u-1", {}, Bearer("u-1")).status, 200);
  // Public and admin routes are untouched.
  EXPECT_EQ(Send("GET", "/v1/campaigns/bf", {}, {}).status, 200);

  HttpResponse metrics = Send("GET", "/metrics", {}, {});
  for (std::string_view expected :
       {R"(hotdeal_http_user_tokens_refused_total{reason="missing"} 1)",
        R"(hotdeal_http_user_tokens_refused_total{reason="invalid"} 1)",
        R"(hotdeal_http_user_tokens_refused_total{reason="expired"} 1)",
        R"(hotdeal_http_user_tokens_refused_total{reason="malformed"} 2)"}) {
    EXPECT_NE(metrics.body.find(expected), std::string::npos) << expected << "\n" << metrics.body;
  }
}

TEST_F(UserTokenServerTest, OrdersAndCancelNeedTheOrdersUser) {
  StartWithTokens();
  CreateCampaign(kSale);
  ExpectUnauthorized(
      Send("POST", "/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 1})", {}),
      "Bearer");
  HttpResponse order = Send("POST", "/v1/campaigns/tv/orders",
                            R"({"user_id": "u-1", "quantity": 2})", Bearer("u-1"));
  ASSERT_EQ(order.status, 201) << order.body;
  std::string id = JsonString(order.body, "order_id");
  EXPECT_EQ(
      Send("POST", "/v1/orders/" + id + "/cancel", R"({"user_id": "u-1"})", Bearer("u-2")).status,
      404);
  ExpectUnauthorized(Send("POST", "/v1/orders/" + id + "/cancel", R"({"user_id": "u-1"})", {}),
                     "Bearer");
  ExpectUnauthorized(Send("POST", "/v1/orders/" + id + "/cancel", {}, Bearer("u-1", -1)),
                     "expired");
  EXPECT_EQ(Remaining("tv"), 8);
  // With tokens on the token names the user: the body may leave user_id out.
  EXPECT_EQ(Send("POST", "/v1/orders/" + id + "/cancel", {}, Bearer("u-1")).status, 200);
  EXPECT_EQ(Remaining("tv"), 10);
}

TEST_F(UserTokenServerTest, AShortKeyIsRefusedAtStart) {
  options_.user_token_key = std::string(31, 'k');
  EXPECT_THROW(StartServer(), std::invalid_argument);
}

}  // namespace
}  // namespace hotdeal::gateway::testing
