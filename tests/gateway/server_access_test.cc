// Who may do what (API.md v1.1) over real sockets, with user tokens off and on: confirm and
// refunds are the service's, a reservation's cancel is its user's or the service's, and reads of
// an order or claim are its user's, the service's or the admin's; anyone else hears the 404 an
// unknown id gets, byte for byte.
#include <gtest/gtest.h>

#include "base64url.h"
#include "hmac_sha256.h"
#include "hotdeal/gateway/user_token.h"
#include "http_client.h"
#include "reply.h"

namespace hotdeal::gateway::testing {
namespace {

const std::string kKey(40, 'k');
constexpr std::string_view kCoupon = R"({"id": "bf", "kind": "coupon", "name": "n", "stock": 10})";
constexpr std::string_view kSale =
    R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 10, "per_user_limit": 10,
        "price": 100, "hold_seconds": 300})";

enum class Tokens { kOff, kHmac, kJwt };
const std::string kJwtKey(36, 'j');

// An HS256 JWT for `user`, as an identity provider would mint it (the PyJWT-minted ones are in
// server_jwt_test.cc).
std::string MintJwt(std::string_view user, std::int64_t expiry) {
  std::string input =
      Base64Url(R"({"alg":"HS256","typ":"JWT"})") + "." +
      Base64Url(R"({"sub":")" + std::string(user) + R"(","exp":)" + std::to_string(expiry) + "}");
  HmacSha256::Digest mac = HmacSha256(kJwtKey).Mac({input});
  return input + "." + Base64Url({reinterpret_cast<const char*>(mac.data()), mac.size()});
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The body of the engine's 404 for an id it does not know.
std::string UnknownIdBody() {
  Reply reply;
  OutcomeReply mapped = MapOutcome(engine::Outcome::kNotFound);
  SetError(reply, mapped.error, mapped.message);
  return reply.body;
}

class AccessTest : public GatewayTest, public ::testing::WithParamInterface<Tokens> {
 protected:
  void SetUp() override {
    if (GetParam() == Tokens::kJwt) options_.jwt.hs256_key = kJwtKey;
    if (GetParam() == Tokens::kHmac) {
      options_.user_token_key = kKey;
      std::string error;
      key_ = UserTokenKey::Make(kKey, error);
      ASSERT_TRUE(key_) << error;
    }
    StartServer();
    CreateCampaign(kCoupon);
    CreateCampaign(kSale);
  }

  bool tokens() const { return GetParam() != Tokens::kOff; }
  // What proves `user` in this mode: a token (tokens on) or nothing (the body names them).
  std::string As(std::string_view user) const {
    if (!tokens()) return {};
    std::string token = GetParam() == Tokens::kJwt ? MintJwt(user, NowSeconds() + 60)
                                                   : key_->Mint(user, NowSeconds() + 60);
    return "Authorization: Bearer " + token + "\r\n";
  }
  static std::string UserBody(std::string_view user) {
    return R"({"user_id": ")" + std::string(user) + "\"}";
  }
  // GET of an order as `user`: by token, or (tokens off) by the user_id query parameter.
  HttpResponse ReadOrder(const std::string& id, std::string_view user) {
    std::string target = "/v1/orders/" + id;
    if (!tokens()) target += "?user_id=" + std::string(user);
    return Send("GET", target, {}, As(user));
  }
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view headers) {
    auto response = HttpClient(port()).Send(method, target, body, headers);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }
  std::string Order(std::string_view user) {
    HttpResponse order =
        Send("POST", "/v1/campaigns/tv/orders",
             R"({"quantity": 2, "user_id": ")" + std::string(user) + "\"}", As(user));
    EXPECT_EQ(order.status, 201) << order.body;
    return JsonString(order.body, "order_id");
  }
  std::int64_t Remaining(std::string_view id) {
    return JsonInt(Send("GET", "/v1/campaigns/" + std::string(id), {}, {}).body, "remaining");
  }
  std::string Metrics() { return Send("GET", "/metrics", {}, {}).body; }

  std::optional<UserTokenKey> key_;
};

void ExpectStatus(const HttpResponse& response, int status, std::string_view code) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(JsonString(response.body, "error"), code) << response.body;
}

void ExpectNotOwner(const HttpResponse& response) {
  EXPECT_EQ(response.status, 404) << response.body;
  EXPECT_EQ(response.body, UnknownIdBody());
}

void ExpectChallenge(const HttpResponse& response) {
  EXPECT_EQ(response.status, 401) << response.body;
  EXPECT_TRUE(response.header("www-authenticate").starts_with(R"(Bearer realm="hotdeal")"))
      << response.header("www-authenticate");
}

TEST_P(AccessTest, ConfirmIsTheServicesAlone) {
  std::string confirm = "/v1/orders/" + Order("u-1") + "/confirm";
  // The order's own user, proven, cannot say the payment went through; nor can the admin.
  ExpectChallenge(Send("POST", confirm, UserBody("u-1"), As("u-1")));
  ExpectChallenge(Send("POST", confirm, UserBody("u-1"), kAdminHeader));
  ExpectChallenge(Send("POST", confirm, {}, {}));
  EXPECT_EQ(Send("POST", confirm, UserBody("u-1"), {}).header("www-authenticate"),
            R"(Bearer realm="hotdeal")");
  EXPECT_EQ(Send("POST", confirm, {}, "Authorization: Bearer nope\r\n").header("www-authenticate"),
            R"(Bearer realm="hotdeal", error="invalid_token")");
  HttpResponse confirmed = Send("POST", confirm, {}, kServiceHeader);
  EXPECT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(JsonString(confirmed.body, "status"), "confirmed");
  EXPECT_NE(Metrics().find(R"(hotdeal_http_access_refused_total{reason="service_only"} 5)"),
            std::string::npos);
}

TEST_P(AccessTest, AServiceConfirmNamingAnotherUserIsNotFound) {
  std::string confirm = "/v1/orders/" + Order("u-1") + "/confirm";
  ExpectNotOwner(Send("POST", confirm, UserBody("u-2"), kServiceHeader));
  EXPECT_EQ(Send("POST", confirm, UserBody("u-1"), kServiceHeader).status, 200);
}

TEST_P(AccessTest, AReservationIsCancelledByItsUserOrTheService) {
  std::string first = "/v1/orders/" + Order("u-1") + "/cancel";
  std::string second = "/v1/orders/" + Order("u-1") + "/cancel";
  EXPECT_EQ(Remaining("tv"), 6);
  // Another user gets the unknown id's 404; with tokens on, even one who names u-1 in the body
  // (with tokens off, naming u-1 is being u-1: the gateway in front vouches for the body).
  ExpectNotOwner(Send("POST", first, UserBody("u-2"), As("u-2")));
  if (tokens()) ExpectNotOwner(Send("POST", first, UserBody("u-1"), As("u-2")));
  EXPECT_EQ(Remaining("tv"), 6);
  EXPECT_EQ(Send("POST", first, UserBody("u-1"), As("u-1")).status, 200);
  HttpResponse by_service = Send("POST", second, {}, kServiceHeader);
  EXPECT_EQ(by_service.status, 200) << by_service.body;
  EXPECT_EQ(JsonString(by_service.body, "status"), "cancelled");
  EXPECT_EQ(Remaining("tv"), 10);
  std::string refused = tokens() ? R"(hotdeal_http_access_refused_total{reason="not_owner"} 2)"
                                 : R"(hotdeal_http_access_refused_total{reason="not_owner"} 1)";
  EXPECT_NE(Metrics().find(refused), std::string::npos);
}

TEST_P(AccessTest, ARefundIsTheServicesAlone) {
  std::string id = Order("u-1");
  ASSERT_EQ(Send("POST", "/v1/orders/" + id + "/confirm", {}, kServiceHeader).status, 200);
  std::string cancel = "/v1/orders/" + id + "/cancel";
  ExpectStatus(Send("POST", cancel, UserBody("u-1"), As("u-1")), 403, "forbidden");
  ExpectNotOwner(Send("POST", cancel, UserBody("u-2"), As("u-2")));
  EXPECT_EQ(JsonString(ReadOrder(id, "u-1").body, "status"), "confirmed");
  EXPECT_EQ(Remaining("tv"), 8);
  HttpResponse refunded = Send("POST", cancel, {}, kServiceHeader);
  EXPECT_EQ(refunded.status, 200) << refunded.body;
  EXPECT_EQ(Remaining("tv"), 10);
  EXPECT_NE(Metrics().find(R"(hotdeal_http_access_refused_total{reason="refund_service_only"} 1)"),
            std::string::npos);
}

TEST_P(AccessTest, AnOrderIsReadByItsUserTheServiceOrTheAdmin) {
  std::string id = Order("u-1");
  HttpResponse own = ReadOrder(id, "u-1");
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(JsonString(own.body, "user_id"), "u-1");
  ExpectNotOwner(ReadOrder(id, "u-2"));
  EXPECT_EQ(Send("GET", "/v1/orders/" + id, {}, kServiceHeader).body, own.body);
  EXPECT_EQ(Send("GET", "/v1/orders/" + id, {}, kAdminHeader).body, own.body);
  // A user_id query that is not the order's user is refused in both modes.
  ExpectNotOwner(Send("GET", "/v1/orders/" + id + "?user_id=u-2", {}, As("u-1")));
  if (tokens()) {
    ExpectChallenge(Send("GET", "/v1/orders/" + id + "?user_id=u-1", {}, {}));
  } else {
    ExpectStatus(Send("GET", "/v1/orders/" + id, {}, {}), 400, "bad_request");
    ExpectStatus(Send("GET", "/v1/orders/" + id + "?user_id=u-1&user_id=u-1", {}, {}), 400,
                 "bad_request");
  }
}

// Found by schemathesis: the service's read took any ?user_id=, malformed or someone else's.
TEST_P(AccessTest, AServiceOrAdminReadNamingAUserChecksIt) {
  std::string id = Order("u-1");
  for (std::string_view header : {kServiceHeader, kAdminHeader}) {
    std::string headers(header);
    EXPECT_EQ(Send("GET", "/v1/orders/" + id + "?user_id=u-1", {}, headers).status, 200);
    ExpectNotOwner(Send("GET", "/v1/orders/" + id + "?user_id=u-2", {}, headers));
    ExpectStatus(Send("GET", "/v1/orders/" + id + "?user_id=%C3%A9", {}, headers), 400,
                 "bad_request");
  }
}

TEST_P(AccessTest, AClaimIsReadByItsUserTheServiceOrTheAdmin) {
  HttpResponse claimed = Send("POST", "/v1/campaigns/bf/claims", UserBody("u-1"), As("u-1"));
  ASSERT_EQ(claimed.status, 201) << claimed.body;
  constexpr std::string_view kPath = "/v1/campaigns/bf/claims/u-1";
  HttpResponse own = Send("GET", kPath, {}, As("u-1"));
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(Send("GET", kPath, {}, kServiceHeader).body, own.body);
  EXPECT_EQ(Send("GET", kPath, {}, kAdminHeader).body, own.body);
  // A user without a claim and someone else reading u-1's claim hear the same 404.
  HttpResponse none = Send("GET", "/v1/campaigns/bf/claims/u-3", {}, As("u-3"));
  EXPECT_EQ(none.status, 404);
  if (tokens()) {
    HttpResponse other = Send("GET", kPath, {}, As("u-2"));
    ExpectNotOwner(other);
    EXPECT_EQ(other.body, none.body);
    ExpectChallenge(Send("GET", kPath, {}, {}));
  }
}

INSTANTIATE_TEST_SUITE_P(TokenModes, AccessTest,
                         ::testing::Values(Tokens::kOff, Tokens::kHmac, Tokens::kJwt),
                         [](const ::testing::TestParamInfo<Tokens>& mode) {
                           return mode.param == Tokens::kOff    ? "TokensOff"
                                  : mode.param == Tokens::kHmac ? "HmacTokens"
                                                                : "Jwts";
                         });

}  // namespace
}  // namespace hotdeal::gateway::testing
