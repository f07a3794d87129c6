// Every route of API.md over real sockets: statuses, error codes and bodies.
#include <gtest/gtest.h>

#include <thread>

#include "http_client.h"
#include "time_text.h"

namespace hotdeal::gateway::testing {
namespace {

constexpr std::string_view kCoupon =
    R"({"id": "bf", "kind": "coupon", "name": "10% \"off\" \u20ac", "stock": 2})";
constexpr std::string_view kSale =
    R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 5, "per_user_limit": 2,
        "price": 9900, "hold_seconds": 300})";

class ApiTest : public GatewayTest {
 protected:
  void SetUp() override { StartServer(); }

  HttpResponse Must(std::optional<HttpResponse> response) {
    EXPECT_TRUE(response.has_value());
    if (!response) return {};
    EXPECT_TRUE(IsJson(response->body) || response->headers["content-type"].starts_with("text/"))
        << response->body;
    return *response;
  }
  HttpResponse Get(std::string_view target, std::string_view headers = {}) {
    return Must(HttpClient(port()).Send("GET", target, {}, headers));
  }
  HttpResponse Post(std::string_view target, std::string_view body, std::string_view headers = {}) {
    return Must(HttpClient(port()).Send("POST", target, body, headers));
  }
  HttpResponse Patch(std::string_view target, std::string_view body,
                     std::string_view headers = kAdminHeader) {
    return Must(HttpClient(port()).Send("PATCH", target, body, headers));
  }
  HttpResponse Delete(std::string_view target, std::string_view body = {},
                      std::string_view headers = kAdminHeader) {
    return Must(HttpClient(port()).Send("DELETE", target, body, headers));
  }
  std::int64_t Remaining(std::string_view id) {
    return JsonInt(Get("/v1/campaigns/" + std::string(id)).body, "remaining");
  }
};

void ExpectError(const HttpResponse& response, int status, std::string_view code) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(JsonString(response.body, "error"), code) << response.body;
  EXPECT_NE(JsonString(response.body, "message"), "<missing message>") << response.body;
  EXPECT_EQ(response.header("content-type"), "application/json");
}

TEST_F(ApiTest, CreatesGetsAndListsACampaign) {
  HttpResponse created = Post("/v1/campaigns", kCoupon, kAdminHeader);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(JsonString(created.body, "id"), "bf");
  EXPECT_EQ(JsonString(created.body, "kind"), "coupon");
  EXPECT_EQ(JsonString(created.body, "name"), "10% \"off\" \xE2\x82\xAC");
  EXPECT_EQ(JsonInt(created.body, "stock"), 2);
  EXPECT_EQ(JsonInt(created.body, "remaining"), 2);
  EXPECT_EQ(JsonInt(created.body, "per_user_limit"), 1);
  EXPECT_EQ(JsonString(created.body, "status"), "live");

  HttpResponse got = Get("/v1/campaigns/bf");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, created.body);
  HttpResponse list = Get("/v1/campaigns");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, R"({"campaigns":[)" + created.body + R"(],"next_after":null})");

  ExpectError(Post("/v1/campaigns", kCoupon, kAdminHeader), 409, "conflict");
  ExpectError(Get("/v1/campaigns/nope"), 404, "not_found");
  ExpectError(Get("/v1/campaigns/bad%20id"), 400, "bad_request");
}

TEST_F(ApiTest, AdminRoutesNeedTheBearerToken) {
  ExpectError(Post("/v1/campaigns", kCoupon), 401, "unauthorized");
  ExpectError(Post("/v1/campaigns", kCoupon, "Authorization: Bearer wrong\r\n"), 401,
              "unauthorized");
  ExpectError(Post("/v1/campaigns", kCoupon, "Authorization: Bearer test-admin-token-x\r\n"), 401,
              "unauthorized");
  ExpectError(Post("/v1/campaigns", kCoupon, "Authorization: Basic test-admin-token\r\n"), 401,
              "unauthorized");
  ExpectError(Post("/v1/campaigns", kCoupon, "Authorization: Bearer \r\n"), 401, "unauthorized");
  EXPECT_EQ(Get("/v1/campaigns").body,
            R"({"campaigns":[],"next_after":null})");  // nothing was created
  EXPECT_EQ(Post("/v1/campaigns", kCoupon, "authorization: bearer test-admin-token\r\n").status,
            201);
  ExpectError(Post("/v1/campaigns/bf/close", ""), 401, "unauthorized");
}

TEST_F(ApiTest, ClaimsACouponOncePerUserUntilSoldOut) {
  CreateCampaign(kCoupon);
  HttpResponse first = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(JsonString(first.body, "campaign_id"), "bf");
  EXPECT_EQ(JsonString(first.body, "user_id"), "u-1");
  EXPECT_EQ(JsonString(first.body, "coupon_code").size(), 20u);
  std::string claim_id = JsonString(first.body, "claim_id");
  EXPECT_FALSE(claim_id.empty());

  HttpResponse again = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})");
  ExpectError(again, 409, "already_claimed");
  EXPECT_EQ(JsonString(again.body, "claim_id"), claim_id);

  HttpResponse fetched = Get("/v1/campaigns/bf/claims/u-1");
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.body, first.body);
  ExpectError(Get("/v1/campaigns/bf/claims/u-2"), 404, "not_found");

  EXPECT_EQ(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-2"})").status, 201);
  ExpectError(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-3"})"), 409, "sold_out");
  EXPECT_EQ(Remaining("bf"), 0);
  EXPECT_EQ(JsonString(Get("/v1/campaigns/bf").body, "status"), "sold_out");
  ExpectError(Post("/v1/campaigns/nope/claims", R"({"user_id": "u-1"})"), 404, "not_found");
}

TEST_F(ApiTest, IdempotencyKeyReplaysTheFirstAnswer) {
  CreateCampaign(kCoupon);
  std::string_view key = "Idempotency-Key: retry-7\r\n";
  HttpResponse first = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})", key);
  HttpResponse retry = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})", key);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(retry.status, 201) << retry.body;
  EXPECT_EQ(JsonString(retry.body, "claim_id"), JsonString(first.body, "claim_id"));
  EXPECT_EQ(Remaining("bf"), 1);
  ExpectError(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-2"})", "Idempotency-Key: a b\r\n"),
              400, "bad_request");
  ExpectError(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-2"})",
                   "Idempotency-Key: k1\r\nIdempotency-Key: k2\r\n"),
              400, "bad_request");
  EXPECT_EQ(Remaining("bf"), 1);
}

TEST_F(ApiTest, OutsideTheWindowIsForbidden) {
  CreateCampaign(R"({"id": "later", "kind": "coupon", "name": "n", "stock": 1,
                     "starts_at": "2999-01-01T00:00:00Z"})");
  CreateCampaign(R"({"id": "past", "kind": "coupon", "name": "n", "stock": 1,
                     "starts_at": "2001-01-01T00:00:00Z", "ends_at": "2001-01-02T00:00:00Z"})");
  CreateCampaign(kCoupon);
  ExpectError(Post("/v1/campaigns/later/claims", R"({"user_id": "u-1"})"), 403, "not_started");
  EXPECT_EQ(JsonString(Get("/v1/campaigns/later").body, "status"), "scheduled");
  ExpectError(Post("/v1/campaigns/past/claims", R"({"user_id": "u-1"})"), 403, "ended");

  HttpResponse closed = Post("/v1/campaigns/bf/close", "", kAdminHeader);
  EXPECT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(JsonString(closed.body, "status"), "ended");
  ExpectError(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})"), 403, "ended");
  ExpectError(Post("/v1/campaigns/nope/close", "{}", kAdminHeader), 404, "not_found");
  ExpectError(Post("/v1/campaigns/bf/close", R"({"now": true})", kAdminHeader), 400, "bad_request");
}

TEST_F(ApiTest, APausedSaleRefuses403PausedUntilResumedAndItsOrdersGoOn) {
  CreateCampaign(kSale);
  HttpResponse order = Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 1})");
  ASSERT_EQ(order.status, 201) << order.body;
  const std::string order_id = JsonString(order.body, "order_id");
  ExpectError(Post("/v1/campaigns/tv/pause", ""), 401, "unauthorized");

  HttpResponse paused = Post("/v1/campaigns/tv/pause", "", kAdminHeader);
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(JsonString(paused.body, "status"), "paused");
  EXPECT_EQ(JsonString(Get("/v1/campaigns/tv").body, "status"), "paused");
  HttpResponse refused = Post("/v1/campaigns/tv/orders", R"({"user_id": "u-2", "quantity": 1})");
  ExpectError(refused, 403, "paused");
  EXPECT_NE(JsonString(refused.body, "message").find("paused"), std::string::npos);
  EXPECT_EQ(Remaining("tv"), 4);
  // Orders placed before go on: the service confirms, the buyer reads.
  EXPECT_EQ(
      Post("/v1/orders/" + order_id + "/confirm", R"({"user_id": "u-1"})", kServiceHeader).status,
      200);
  EXPECT_EQ(Post("/v1/campaigns/tv/pause", "", kAdminHeader).status, 200);  // already: as it is

  HttpResponse resumed = Post("/v1/campaigns/tv/resume", "", kAdminHeader);
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(JsonString(resumed.body, "status"), "live");
  EXPECT_EQ(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-2", "quantity": 1})").status, 201);
  ExpectError(Post("/v1/campaigns/nope/pause", "", kAdminHeader), 404, "not_found");
  ExpectError(Post("/v1/campaigns/tv/resume", R"({"now": 1})", kAdminHeader), 400, "bad_request");
  ExpectError(Get("/v1/campaigns/tv/pause"), 405, "method_not_allowed");
}

TEST_F(ApiTest, APatchTopsUpTakesBackRenamesAndMovesTheEnd) {
  CreateCampaign(R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 5, "stock_max": 8,
                     "price": 9900, "hold_seconds": 300, "starts_at": "2001-01-01T00:00:00Z"})");
  EXPECT_EQ(JsonInt(Get("/v1/campaigns/tv").body, "stock_max"), 8);
  ExpectError(Patch("/v1/campaigns/tv", R"({"stock_add": 1})", {}), 401, "unauthorized");
  ExpectError(Patch("/v1/campaigns/tv", R"({"stock_add": 1})", kServiceHeader), 401,
              "unauthorized");
  ExpectError(Patch("/v1/campaigns/nope", R"({"stock_add": 1})"), 404, "not_found");

  HttpResponse topped = Patch("/v1/campaigns/tv", R"({"stock_add": 3, "name": "TV 55\""})");
  ASSERT_EQ(topped.status, 200) << topped.body;
  EXPECT_EQ(JsonInt(topped.body, "stock"), 8);
  EXPECT_EQ(JsonInt(topped.body, "remaining"), 8);
  EXPECT_EQ(JsonString(topped.body, "name"), "TV 55\"");
  EXPECT_EQ(Get("/v1/campaigns/tv").body, topped.body);

  HttpResponse over = Patch("/v1/campaigns/tv", R"({"stock_add": 1})");
  ExpectError(over, 409, "capacity");
  EXPECT_NE(JsonString(over.body, "message").find("stock 9 is over this campaign's stock_max 8"),
            std::string::npos)
      << over.body;

  // Two held units stay: of 8, 6 are free to take back, and a campaign keeps 1 unit.
  for (std::string_view user : {"u-1", "u-2"}) {
    ASSERT_EQ(Post("/v1/campaigns/tv/orders",
                   R"({"user_id": ")" + std::string(user) + R"(", "quantity": 1})")
                  .status,
              201);
  }
  HttpResponse greedy = Patch("/v1/campaigns/tv", R"({"stock_add": -7})");
  ExpectError(greedy, 409, "conflict");
  EXPECT_NE(JsonString(greedy.body, "message").find("only 6 units are free"), std::string::npos)
      << greedy.body;
  HttpResponse emptied = Patch("/v1/campaigns/tv", R"({"stock_add": -8})");
  ExpectError(emptied, 409, "conflict");
  EXPECT_NE(JsonString(emptied.body, "message").find("keeps at least 1 unit"), std::string::npos)
      << emptied.body;
  EXPECT_EQ(Remaining("tv"), 6);
  HttpResponse back = Patch("/v1/campaigns/tv", R"({"stock_add": -5})");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(JsonInt(back.body, "stock"), 3);
  EXPECT_EQ(JsonInt(back.body, "remaining"), 1);

  // Moving the end to the past ends the sale; before its start conflicts with the campaign.
  const std::string past(FormatTime(std::chrono::time_point_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now()) -
                                    std::chrono::milliseconds(1))
                             .view());
  HttpResponse early = Patch("/v1/campaigns/tv", R"({"ends_at": "1970-01-01T00:00:00Z"})");
  ExpectError(early, 409, "conflict");
  EXPECT_NE(JsonString(early.body, "message").find("ends_at"), std::string::npos) << early.body;
  HttpResponse ended = Patch("/v1/campaigns/tv", R"({"ends_at": ")" + past + R"("})");
  ASSERT_EQ(ended.status, 200) << ended.body;
  EXPECT_EQ(JsonString(ended.body, "status"), "ended");
  ExpectError(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-3", "quantity": 1})"), 403,
              "ended");
  HttpResponse reopened = Patch("/v1/campaigns/tv", R"({"ends_at": null})");
  ASSERT_EQ(reopened.status, 200) << reopened.body;
  EXPECT_EQ(JsonString(reopened.body, "status"), "live");
}

void ExpectMessage(const HttpResponse& response, std::string_view part) {
  EXPECT_NE(JsonString(response.body, "message").find(part), std::string::npos) << response.body;
}

// DELETE archives only an ended campaign with nothing in play; the 409 names what holds it and
// changes nothing. Once archived every route of it is 404, its id stays taken, and it counts.
TEST_F(ApiTest, ADeleteArchivesOnlyAnEndedCampaignWithNothingInPlay) {
  CreateCampaign(kSale);
  ExpectError(Delete("/v1/campaigns/tv", {}, {}), 401, "unauthorized");
  ExpectError(Delete("/v1/campaigns/tv", {}, kServiceHeader), 401, "unauthorized");
  ExpectError(Delete("/v1/campaigns/nope"), 404, "not_found");
  ExpectError(Delete("/v1/campaigns/bad%20id"), 400, "bad_request");
  ExpectError(Delete("/v1/campaigns/tv", "x"), 400, "bad_request");
  HttpResponse live = Delete("/v1/campaigns/tv");
  ExpectError(live, 409, "conflict");
  ExpectMessage(live, "has not ended (it is live)");

  HttpResponse order = Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 2})");
  ASSERT_EQ(order.status, 201) << order.body;
  ASSERT_EQ(Post("/v1/campaigns/tv/close", "", kAdminHeader).status, 200);
  const std::string before = Get("/v1/campaigns/tv").body;
  HttpResponse held = Delete("/v1/campaigns/tv", "{}");
  ExpectError(held, 409, "conflict");
  ExpectMessage(held, "2 units are still held");
  EXPECT_EQ(Get("/v1/campaigns/tv").body, before);

  const std::string cancel = "/v1/orders/" + JsonString(order.body, "order_id") + "/cancel";
  ASSERT_EQ(Post(cancel, "", kServiceHeader).status, 200);
  HttpResponse archived = Delete("/v1/campaigns/tv");
  ASSERT_EQ(archived.status, 200) << archived.body;
  EXPECT_EQ(JsonString(archived.body, "id"), "tv");
  EXPECT_EQ(JsonString(archived.body, "status"), "ended");
  ExpectError(Get("/v1/campaigns/tv"), 404, "not_found");
  ExpectError(Get("/v1/campaigns/tv/stream"), 404, "not_found");
  ExpectError(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-2", "quantity": 1})"), 404,
              "not_found");
  ExpectError(Patch("/v1/campaigns/tv", R"({"name": "again"})"), 404, "not_found");
  ExpectError(Delete("/v1/campaigns/tv"), 404, "not_found");
  EXPECT_EQ(Get("/v1/campaigns").body, R"({"campaigns":[],"next_after":null})");
  HttpResponse reused = Post("/v1/campaigns", kSale, kAdminHeader);
  ExpectError(reused, 409, "conflict");
  ExpectMessage(reused, "already exists or was archived");

  const std::string metrics = Get("/metrics").body;
  for (std::string_view expected : {"hotdeal_campaigns_archived 1", "hotdeal_campaigns_retiring",
                                    R"(hotdeal_campaigns{status="ended"} 0)",
                                    R"(hotdeal_http_requests_total{route="archive_campaign",)"
                                    R"(status="200"} 1)"}) {
    EXPECT_NE(metrics.find(expected), std::string::npos) << expected << "\n" << metrics;
  }
}

// A coupon issued and not redeemed may still be used at checkout: its campaign stays until the
// coupon is redeemed or expires, and the 409 says until when.
TEST_F(ApiTest, ACouponCampaignIsArchivedOnlyOnceNoCouponCanBeRedeemed) {
  ASSERT_EQ(Post("/v1/campaigns",
                 R"({"id": "bf", "kind": "coupon", "name": "n", "stock": 3,
                     "valid_until": "2999-01-01T00:00:00Z"})",
                 kAdminHeader)
                .status,
            201);
  HttpResponse claim = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})");
  ASSERT_EQ(claim.status, 201) << claim.body;
  ASSERT_EQ(Post("/v1/campaigns/bf/close", "", kAdminHeader).status, 200);
  HttpResponse redeemable = Delete("/v1/campaigns/bf");
  ExpectError(redeemable, 409, "conflict");
  ExpectMessage(redeemable, "1 coupons issued from it may still be redeemed until 2999-01-01");
  const std::string code = JsonString(claim.body, "coupon_code");
  ASSERT_EQ(Post("/v1/coupons/" + code + "/redeem", R"({"user_id": "u-1", "order_ref": "o-1"})",
                 kServiceHeader)
                .status,
            200);
  ASSERT_EQ(Delete("/v1/campaigns/bf").status, 200);
  ExpectError(Get("/v1/coupons/" + code + "?user_id=u-1", kServiceHeader), 404, "not_found");
}

TEST_F(ApiTest, APatchThatChangesNothingOrBreaksAFieldIs400) {
  CreateCampaign(kSale);
  const std::string before = Get("/v1/campaigns/tv").body;
  for (std::string_view body :
       {R"()", R"({})", R"({"stock_add": 0})", R"({"stock_add": 1.5})", R"({"stock_add": "1"})",
        R"({"stock_add": 4294967296})", R"({"name": ""})", R"({"name": 7})",
        R"({"ends_at": "tomorrow"})", R"({"stock": 9})", R"({"stock_add": 1} x)", R"([1])"}) {
    HttpResponse refused = Patch("/v1/campaigns/tv", body);
    ExpectError(refused, 400, "bad_request");
    EXPECT_EQ(Get("/v1/campaigns/tv").body, before) << body;
  }
  ExpectError(Patch("/v1/campaigns/bad%20id", R"({"stock_add": 1})"), 400, "bad_request");
}

TEST_F(ApiTest, AStockMaxOverTheServersLimitIs409Capacity) {
  HttpResponse refused =
      Post("/v1/campaigns",
           R"({"id": "x", "kind": "coupon", "name": "x", "stock": 1, "stock_max": 4000000000})",
           kAdminHeader);
  ExpectError(refused, 409, "capacity");
  EXPECT_NE(JsonString(refused.body, "message").find("stock_max 4000000000"), std::string::npos)
      << refused.body;
  ExpectError(Post("/v1/campaigns",
                   R"({"id": "y", "kind": "coupon", "name": "y", "stock": 5, "stock_max": 4})",
                   kAdminHeader),
              400, "bad_request");
}

TEST_F(ApiTest, CouponTermsShowOnTheCampaignAndOnEachClaimWithItsExpiry) {
  HttpResponse made = Post("/v1/campaigns",
                           R"({"id": "ten", "kind": "coupon", "name": "10% off", "stock": 5,
                               "discount": {"percent": 10}, "min_spend": 5000,
                               "valid_seconds": 3600})",
                           kAdminHeader);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_NE(made.body.find(R"("discount":{"percent":10},"min_spend":5000,"valid_seconds":3600)"),
            std::string::npos)
      << made.body;
  HttpResponse claim = Post("/v1/campaigns/ten/claims", R"({"user_id": "u-1"})");
  ASSERT_EQ(claim.status, 201) << claim.body;
  EXPECT_NE(claim.body.find(R"("discount":{"percent":10},"min_spend":5000)"), std::string::npos)
      << claim.body;
  auto created = ParseTime(JsonString(claim.body, "created_at"));
  auto expires = ParseTime(JsonString(claim.body, "expires_at"));
  ASSERT_TRUE(created && expires) << claim.body;
  EXPECT_EQ(*expires - *created, std::chrono::seconds{3600});
  // Without terms: no discount, min_spend 0, a coupon that never expires.
  CreateCampaign(kCoupon);
  HttpResponse plain = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})");
  EXPECT_NE(plain.body.find(R"("min_spend":0,"expires_at":null)"), std::string::npos) << plain.body;

  auto refused = [&](std::string_view terms, std::string_view field) {
    HttpResponse r = Post(
        "/v1/campaigns",
        R"({"id": "bad", "kind": "coupon", "name": "n", "stock": 1, )" + std::string(terms) + "}",
        kAdminHeader);
    ExpectError(r, 400, "bad_request");
    EXPECT_NE(JsonString(r.body, "message").find(field), std::string::npos) << r.body;
  };
  refused(R"("discount": {"percent": 0})", "discount.percent");
  refused(R"("discount": {"percent": 10, "amount": 5})", "discount");
  refused(R"("discount": {"half": 1})", "discount");
  refused(R"("discount": 10)", "discount");
  refused(R"("discount": {"amount": -5})", "discount.amount");
  refused(R"("min_spend": -1)", "min_spend");
  refused(R"("valid_seconds": 60, "valid_until": "2999-01-01T00:00:00Z")", "valid_until");
  refused(R"("valid_until": "2001-01-01T00:00:00Z")", "valid_until");
  HttpResponse sale = Post("/v1/campaigns",
                           R"({"id": "s2", "kind": "sale", "name": "n", "stock": 1, "price": 1,
                               "hold_seconds": 60, "discount": {"amount": 5}})",
                           kAdminHeader);
  ExpectError(sale, 400, "bad_request");
}

TEST_F(ApiTest, APausedCouponRefusesClaims) {
  CreateCampaign(kCoupon);
  ASSERT_EQ(Post("/v1/campaigns/bf/pause", "", kAdminHeader).status, 200);
  ExpectError(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})"), 403, "paused");
  ASSERT_EQ(Post("/v1/campaigns/bf/resume", "", kAdminHeader).status, 200);
  EXPECT_EQ(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})").status, 201);
}

// A coupon's life over HTTP: claimed (issued), redeemed once (the same order again: the same
// 200; another: 409 already_redeemed), restored by that order only, redeemed again; the service
// alone uses it, and only its user finds it.
TEST_F(ApiTest, ACouponIsRedeemedOnceRestoredAndRedeemedAgain) {
  CreateCampaign(kCoupon);
  HttpResponse claim = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})");
  ASSERT_EQ(claim.status, 201) << claim.body;
  EXPECT_EQ(JsonString(claim.body, "status"), "issued");
  const std::string code = JsonString(claim.body, "coupon_code");
  const std::string path = "/v1/coupons/" + code;
  const std::string order_1 = R"({"user_id": "u-1", "order_ref": "order-1"})";

  HttpResponse read = Get(path + "?user_id=u-1", kServiceHeader);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(JsonString(read.body, "claim_id"), JsonString(claim.body, "claim_id"));
  EXPECT_EQ(JsonString(read.body, "status"), "issued");
  ExpectError(Get(path + "?user_id=u-2", kServiceHeader), 404, "not_found");
  ExpectError(Get(path, kServiceHeader), 400, "bad_request");

  EXPECT_EQ(Post(path + "/redeem", order_1).status, 401);  // the service's alone
  HttpResponse redeemed = Post(path + "/redeem", order_1, kServiceHeader);
  ASSERT_EQ(redeemed.status, 200) << redeemed.body;
  EXPECT_EQ(JsonString(redeemed.body, "status"), "redeemed");
  EXPECT_EQ(Post(path + "/redeem", order_1, kServiceHeader).body, redeemed.body);
  ExpectError(
      Post(path + "/redeem", R"({"user_id": "u-1", "order_ref": "order-2"})", kServiceHeader), 409,
      "already_redeemed");
  ExpectError(
      Post(path + "/redeem", R"({"user_id": "u-2", "order_ref": "order-1"})", kServiceHeader), 404,
      "not_found");
  ExpectError(
      Post(path + "/restore", R"({"user_id": "u-1", "order_ref": "order-2"})", kServiceHeader), 409,
      "conflict");
  HttpResponse restored = Post(path + "/restore", order_1, kServiceHeader);
  ASSERT_EQ(restored.status, 200) << restored.body;
  EXPECT_EQ(JsonString(restored.body, "status"), "issued");
  EXPECT_EQ(Post(path + "/restore", order_1, kServiceHeader).status, 200);
  HttpResponse again =
      Post(path + "/redeem", R"({"user_id": "u-1", "order_ref": "order-3"})", kServiceHeader);
  EXPECT_EQ(JsonString(again.body, "status"), "redeemed");
  const std::string metrics = Get("/metrics").body;
  EXPECT_NE(metrics.find(R"(hotdeal_campaign_coupons_redeemed{campaign="bf"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(hotdeal_campaign_coupon_restores_total{campaign="bf"} 1)"),
            std::string::npos);
  EXPECT_NE(
      metrics.find(R"(hotdeal_engine_outcomes_total{operation="redeem_coupon",outcome="ok"} 3)"),
      std::string::npos);

  ExpectError(Post(path + "/redeem", R"({"user_id": "u-1"})", kServiceHeader), 400, "bad_request");
  ExpectError(
      Post(path + "/redeem", R"({"user_id": "u-1", "order_ref": "x", "extra": 1})", kServiceHeader),
      400, "bad_request");
  ExpectError(Post("/v1/coupons/NOTACODE/redeem", order_1, kServiceHeader), 404, "not_found");
}

TEST_F(ApiTest, OrdersReserveConfirmAndCancel) {
  CreateCampaign(kSale);
  HttpResponse order = Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 2})");
  ASSERT_EQ(order.status, 201) << order.body;
  EXPECT_EQ(JsonInt(order.body, "quantity"), 2);
  EXPECT_EQ(JsonInt(order.body, "amount"), 19800);
  EXPECT_EQ(JsonString(order.body, "status"), "reserved");
  EXPECT_NE(JsonString(order.body, "expires_at"), "<missing expires_at>");
  std::string id = JsonString(order.body, "order_id");
  EXPECT_EQ(Remaining("tv"), 3);

  ExpectError(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 1})"), 409,
              "limit_exceeded");
  EXPECT_EQ(Get("/v1/orders/" + id + "?user_id=u-1").status, 200);
  ExpectError(Post("/v1/orders/" + id + "/confirm", R"({"user_id": "u-2"})", kServiceHeader), 404,
              "not_found");
  // The id's last digit changed: its tag no longer matches, so it names no order, even to its
  // owner (engine/README.md, "Ids").
  std::string tampered = id;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  ExpectError(Get("/v1/orders/" + tampered + "?user_id=u-1"), 404, "not_found");
  ExpectError(Post("/v1/orders/" + tampered + "/confirm", R"({"user_id": "u-1"})", kServiceHeader),
              404, "not_found");
  HttpResponse confirmed =
      Post("/v1/orders/" + id + "/confirm", R"({"user_id": "u-1"})", kServiceHeader);
  EXPECT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(JsonString(confirmed.body, "status"), "confirmed");
  // A refund: the service's, with or without the user_id.
  HttpResponse cancelled = Post("/v1/orders/" + id + "/cancel", "", kServiceHeader);
  EXPECT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(JsonString(cancelled.body, "status"), "cancelled");
  EXPECT_EQ(Remaining("tv"), 5);
  ExpectError(Post("/v1/orders/" + id + "/confirm", "{}", kServiceHeader), 409, "conflict");

  ExpectError(Get("/v1/orders/not-an-order?user_id=u-1"), 404, "not_found");
  ExpectError(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 0})"), 400,
              "bad_request");
  ExpectError(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-9", "quantity": 6})"), 409,
              "limit_exceeded");
}

TEST_F(ApiTest, WorkerTicksExpireUnconfirmedReservations) {
  CreateCampaign(
      R"({"id": "flash", "kind": "sale", "name": "n", "stock": 3, "price": 100, "per_user_limit": 3,
                     "hold_seconds": 1})");
  HttpResponse order = Post("/v1/campaigns/flash/orders", R"({"user_id": "u-1", "quantity": 3})");
  ASSERT_EQ(order.status, 201) << order.body;
  EXPECT_EQ(Remaining("flash"), 0);
  std::string id = JsonString(order.body, "order_id");
  // No request touches the order: only the workers' periodic ExpireDue can return the units.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (Remaining("flash") != 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  EXPECT_EQ(Remaining("flash"), 3);
  EXPECT_EQ(JsonString(Get("/v1/orders/" + id + "?user_id=u-1").body, "status"), "expired");
  ExpectError(Post("/v1/orders/" + id + "/confirm", "", kServiceHeader), 409, "conflict");
}

TEST_F(ApiTest, ErrorsNameTheFieldTheRuleOrTheState) {
  auto message = [](const HttpResponse& response) { return JsonString(response.body, "message"); };
  std::string accented;
  for (int i = 0; i < 150; ++i)
    accented += "\xC3\xA9";  // é: 2 bytes each
  EXPECT_EQ(message(Post("/v1/campaigns",
                         R"({"id": "w", "kind": "coupon", "name": "n", "stock": 1,
                             "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"})",
                         kAdminHeader)),
            "ends_at: must be after starts_at");
  EXPECT_NE(
      message(Post("/v1/campaigns",
                   R"({"id": "w", "kind": "coupon", "name": ")" + accented + R"(", "stock": 1})",
                   kAdminHeader))
          .find("name: must be 1 to 200 bytes of UTF-8"),
      std::string::npos);
  EXPECT_EQ(message(Post("/v1/campaigns",
                         R"({"id": "w", "kind": "coupon", "name": "n", "stock": 1,
                             "per_user_limt": 1})",
                         kAdminHeader)),
            R"(unknown field "per_user_limt": this route does not take it)");
  CreateCampaign(kSale);
  EXPECT_EQ(message(Post("/v1/campaigns", kSale, kAdminHeader)),
            R"(campaign "tv" already exists or was archived)");
  EXPECT_EQ(message(Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 0})")),
            "quantity: must be a whole number from 1 to 1000000");
  HttpResponse order = Post("/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 1})");
  std::string id = JsonString(order.body, "order_id");
  ASSERT_EQ(Post("/v1/orders/" + id + "/cancel", R"({"user_id": "u-1"})").status, 200);
  HttpResponse confirm = Post("/v1/orders/" + id + "/confirm", "", kServiceHeader);
  ExpectError(confirm, 409, "conflict");
  EXPECT_EQ(message(confirm), "order is cancelled: only a reserved order confirms");
}

TEST_F(ApiTest, WrongCampaignKindIsAConflict) {
  CreateCampaign(kCoupon);
  CreateCampaign(kSale);
  ExpectError(Post("/v1/campaigns/tv/claims", R"({"user_id": "u-1"})"), 409, "conflict");
  ExpectError(Post("/v1/campaigns/bf/orders", R"({"user_id": "u-1", "quantity": 1})"), 409,
              "conflict");
}

TEST_F(ApiTest, BadBodiesAre400AndChangeNothing) {
  CreateCampaign(kCoupon);
  for (std::string_view body :
       {"", "not json", R"({"user_id": "u-1")", R"({"user_id": "u-1"} trailing)",
        R"({"user_id": 7})", R"({"user_id": "u 1"})", R"({"user_id": "u-1", "x": 1})",
        R"({"user_id": "u-1", "user_id": "u-2"})", "{\"user_id\": \"u-\xff\"}", "[]", "null",
        R"({"user_id": "u-1",})"}) {
    HttpResponse response = Post("/v1/campaigns/bf/claims", body);
    ExpectError(response, 400, "bad_request");
  }
  EXPECT_EQ(Remaining("bf"), 2);
  EXPECT_EQ(Get("/v1/campaigns/bf/claims/u-1").status, 404);
  ExpectError(Post("/v1/campaigns", R"({"id": "x", "kind": "coupon", "stock": 1})", kAdminHeader),
              400, "bad_request");
  ExpectError(Get("/v1/campaigns/x"), 404, "not_found");
}

TEST_F(ApiTest, UnknownRoutesAre404AndWrongMethods405WithAllow) {
  ExpectError(Get("/nope"), 404, "not_found");
  ExpectError(Get("/v1/campaigns/bf/claims/u-1/more"), 404, "not_found");
  HttpResponse wrong = Post("/v1/campaigns/bf", "{}");
  ExpectError(wrong, 405, "method_not_allowed");
  EXPECT_EQ(wrong.header("allow"), "GET, PATCH, DELETE");
  HttpResponse put = Must(HttpClient(port()).Send("PUT", "/v1/campaigns", "{}"));
  ExpectError(put, 405, "method_not_allowed");
  EXPECT_EQ(put.header("allow"), "GET, POST");
  HttpResponse del = Must(HttpClient(port()).Send("DELETE", "/v1/campaigns/bf/claims"));
  EXPECT_EQ(del.header("allow"), "POST");
}

TEST_F(ApiTest, OperationsRoutes) {
  HttpResponse health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
  HttpResponse time = Get("/v1/time");
  EXPECT_EQ(time.status, 200);
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_LT(std::abs(JsonInt(time.body, "unix_ms") - now_ms), 2000);
  auto now = ParseTime(JsonString(time.body, "now"));
  ASSERT_TRUE(now.has_value()) << time.body;
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(now->time_since_epoch()).count(),
            JsonInt(time.body, "unix_ms"));
  EXPECT_EQ(Get("/v1/time?tz=utc").status, 200);  // the query string does not change the route
}

TEST_F(ApiTest, NotReadyAnswers503WithRetryAfter) {
  CreateCampaign(kCoupon);
  server_->SetReady(false);
  HttpResponse ready = Get("/readyz");
  ExpectError(ready, 503, "unavailable");
  EXPECT_EQ(ready.header("retry-after"), "1");
  HttpResponse claim = Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})");
  ExpectError(claim, 503, "unavailable");
  EXPECT_EQ(claim.header("retry-after"), "1");
  EXPECT_EQ(Get("/healthz").status, 200);
  server_->SetReady(true);
  EXPECT_EQ(Remaining("bf"), 2);
}

TEST_F(ApiTest, MetricsExposeRequestsConnectionsAndCampaigns) {
  CreateCampaign(kCoupon);
  EXPECT_EQ(Post("/v1/campaigns/bf/claims", R"({"user_id": "u-1"})").status, 201);
  EXPECT_EQ(Get("/nope").status, 404);
  HttpResponse metrics = Must(HttpClient(port()).Send("GET", "/metrics"));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_TRUE(metrics.header("content-type").starts_with("text/plain; version=0.0.4"));
  for (std::string_view expected :
       {R"(hotdeal_http_requests_total{route="create_claim",status="201"} 1)",
        R"(hotdeal_http_requests_total{route="unmatched",status="404"} 1)",
        R"(hotdeal_campaign_stock{campaign="bf"} 2)",
        R"(hotdeal_campaign_remaining{campaign="bf"} 1)",
        R"(hotdeal_campaign_status{campaign="bf",status="live"} 1)",
        R"(hotdeal_campaign_units{campaign="bf",state="claimed"} 1)",
        R"(hotdeal_campaign_units{campaign="bf",state="in_doubt"} 0)",
        "hotdeal_engine_orphan_events_total 0",
        // Per route, and every counter from the start, zeros included.
        R"(hotdeal_http_request_duration_seconds_count{route="create_claim"} 1)",
        R"(hotdeal_http_request_duration_seconds_count{route="cancel_order"} 0)",
        R"(hotdeal_http_requests_total{route="cancel_order",status="409"} 0)",
        R"(hotdeal_engine_outcomes_total{operation="cancel_order",outcome="sold_out"} 0)",
        "hotdeal_http_connections_open", "hotdeal_http_connections_rejected_total",
        "hotdeal_http_parse_errors_total", "hotdeal_http_timeouts_total",
        "hotdeal_http_connections_max 10000",
        R"(hotdeal_engine_outcomes_total{operation="claim",outcome="created"} 1)"}) {
    EXPECT_NE(metrics.body.find(expected), std::string::npos) << expected << "\n" << metrics.body;
  }
}

}  // namespace
}  // namespace hotdeal::gateway::testing
