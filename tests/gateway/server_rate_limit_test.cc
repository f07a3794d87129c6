// The two rate limits over real sockets: 429 rate_limited with Retry-After, nothing decided for
// a refused request, probes never limited, and the metrics ops watch.
#include <gtest/gtest.h>

#include "http_client.h"

namespace hotdeal::gateway::testing {
namespace {

constexpr std::string_view kCoupon = R"({"id": "bf", "kind": "coupon", "name": "n", "stock": 100})";
constexpr std::string_view kSale =
    R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 10, "per_user_limit": 10,
        "price": 100, "hold_seconds": 300})";

class RateLimitTest : public GatewayTest {
 protected:
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body = {},
                    std::string_view headers = {}) {
    auto response = HttpClient(port()).Send(method, target, body, headers);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }
  std::int64_t Remaining(std::string_view id) {
    return JsonInt(Send("GET", "/v1/campaigns/" + std::string(id)).body, "remaining");
  }
};

void ExpectRateLimited(const HttpResponse& response) {
  EXPECT_EQ(response.status, 429) << response.body;
  EXPECT_EQ(JsonString(response.body, "error"), "rate_limited") << response.body;
  EXPECT_EQ(response.header("retry-after"), "1");
}

// A 1/s rate: every test sends its few requests well within the second a token takes.
TEST_F(RateLimitTest, UserOverItsBurstGets429AndTheEngineDecidesNothing) {
  options_.user_rate_limit = {.per_second = 1, .burst = 3};
  StartServer();
  CreateCampaign(kSale);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        Send("POST", "/v1/campaigns/tv/orders", R"({"user_id": "bot", "quantity": 1})").status,
        201);
  }
  ExpectRateLimited(
      Send("POST", "/v1/campaigns/tv/orders", R"({"user_id": "bot", "quantity": 1})"));
  EXPECT_EQ(Remaining("tv"), 7);
  // Other users, and reads of the limited user's data, are untouched.
  EXPECT_EQ(
      Send("POST", "/v1/campaigns/tv/orders", R"({"user_id": "human", "quantity": 1})").status,
      201);
  EXPECT_EQ(Remaining("tv"), 6);
  // Bad input is still a 400 first: the limit is checked on a decoded body.
  EXPECT_EQ(Send("POST", "/v1/campaigns/tv/orders", R"({"user_id": "bot"})").status, 400);
}

TEST_F(RateLimitTest, ClaimsOrdersAndCancelShareTheUsersBucket) {
  options_.user_rate_limit = {.per_second = 1, .burst = 2};
  StartServer();
  CreateCampaign(kCoupon);
  CreateCampaign(kSale);
  EXPECT_EQ(Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u-1"})").status, 201);
  HttpResponse order =
      Send("POST", "/v1/campaigns/tv/orders", R"({"user_id": "u-1", "quantity": 1})");
  ASSERT_EQ(order.status, 201) << order.body;
  std::string cancel = "/v1/orders/" + JsonString(order.body, "order_id") + "/cancel";
  ExpectRateLimited(Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u-1"})"));
  ExpectRateLimited(Send("POST", cancel, R"({"user_id": "u-1"})"));
  // The service's calls are not the user's: they do not spend the user's rate.
  EXPECT_EQ(Send("POST", cancel, "", kServiceHeader).status, 200);
  // GET of a claim decides nothing and is not limited per user.
  EXPECT_EQ(Send("GET", "/v1/campaigns/bf/claims/u-1").status, 200);
}

TEST_F(RateLimitTest, UserLimitOffLetsEveryRequestThrough) {
  options_.user_rate_limit = {.per_second = 0, .burst = 1};
  StartServer();
  CreateCampaign(kCoupon);
  for (int i = 0; i < 30; ++i)
    EXPECT_NE(Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u-1"})").status, 429);
}

TEST_F(RateLimitTest, AddressLimitCoversRoutesButNotProbes) {
  options_.ip_rate_limit = {.per_second = 1, .burst = 2};
  StartServer();
  // One connection or many: the bucket is the address's, shared by every worker.
  HttpClient client(port());
  EXPECT_EQ(client.Send("GET", "/v1/time")->status, 200);
  EXPECT_EQ(Send("GET", "/v1/campaigns").status, 200);
  ExpectRateLimited(Send("GET", "/v1/time"));
  ExpectRateLimited(*client.Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u-1"})"));
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  EXPECT_EQ(Send("GET", "/readyz").status, 200);
  HttpResponse metrics = Send("GET", "/metrics");
  for (std::string_view expected : {R"(hotdeal_http_rate_limited_total{limit="ip"} 2)",
                                    R"(hotdeal_http_rate_limited_total{limit="user"} 0)",
                                    R"(hotdeal_http_requests_total{route="time",status="429"} 1)",
                                    R"(hotdeal_http_rate_limit_table_full_total{limit="ip"} 0)",
                                    R"(hotdeal_http_rate_limit_per_second{limit="ip"} 1)",
                                    R"(hotdeal_http_rate_limit_burst{limit="user"} 20)"}) {
    EXPECT_NE(metrics.body.find(expected), std::string::npos) << expected << "\n" << metrics.body;
  }
}

}  // namespace
}  // namespace hotdeal::gateway::testing
