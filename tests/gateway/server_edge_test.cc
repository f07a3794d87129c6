// The edge over real sockets: Transfer-Encoding and Host rules (no request smuggling), CORS
// for listed origins, X-Forwarded-For from trusted proxies only, and the paginated list.
#include <gtest/gtest.h>

#include "http_client.h"

namespace hotdeal::gateway::testing {
namespace {

constexpr std::string_view kCoupon = R"({"id": "bf", "kind": "coupon", "name": "n", "stock": 10})";
constexpr std::string_view kOrigin = "https://shop.example";

class EdgeTest : public GatewayTest {
 protected:
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body = {},
                    std::string_view headers = {}) {
    auto response = HttpClient(port()).Send(method, target, body, headers);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }
  // Writes `raw` on one connection; answers the responses read until the server closes.
  std::vector<HttpResponse> Raw(std::string_view raw) {
    HttpClient client(port());
    EXPECT_TRUE(client.Write(raw));
    std::vector<HttpResponse> responses;
    while (auto response = client.Read())
      responses.push_back(*response);
    return responses;
  }
  std::string Metrics() { return Send("GET", "/metrics").body; }
};

TEST_F(EdgeTest, OnlyALoneChunkedTransferEncodingIsRead) {
  StartServer();
  CreateCampaign(kCoupon);
  // Behind a proxy that reads these bodies otherwise, the claim inside would run as a second
  // request: each is a 400 and the connection closes without running it.
  constexpr std::string_view kSmuggled =
      "POST /v1/campaigns/bf/claims HTTP/1.1\r\nHost: t\r\n"
      "Content-Length: 18\r\n\r\n{\"user_id\":\"u-1\"}";
  for (std::string_view encoding :
       {"Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, identity\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"}) {
    std::string raw = "POST /v1/campaigns/bf/claims HTTP/1.1\r\nHost: t\r\n" +
                      std::string(encoding) + "\r\n" + std::string(kSmuggled);
    std::vector<HttpResponse> responses = Raw(raw);
    ASSERT_EQ(responses.size(), 1u) << encoding;
    EXPECT_EQ(responses[0].status, 400) << encoding;
    // Beast refuses a second chunked itself, as malformed; the others we name.
    bool repeated = encoding.find("\r\nTransfer-Encoding") != std::string_view::npos;
    EXPECT_EQ(
        JsonString(responses[0].body, "message").find("Transfer-Encoding") == std::string::npos,
        repeated)
        << responses[0].body;
  }
  EXPECT_EQ(JsonInt(Send("GET", "/v1/campaigns/bf").body, "remaining"), 10);
  EXPECT_NE(Metrics().find(R"(hotdeal_http_edge_refused_total{reason="head"} 2)"),
            std::string::npos);
}

TEST_F(EdgeTest, AnHttp11RequestNeedsExactlyOneHost) {
  StartServer();
  for (std::string_view raw :
       {"GET /healthz HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}) {
    std::vector<HttpResponse> responses = Raw(raw);
    ASSERT_EQ(responses.size(), 1u) << raw;
    EXPECT_EQ(responses[0].status, 400) << raw;
    EXPECT_NE(JsonString(responses[0].body, "message").find("Host"), std::string::npos);
  }
  // HTTP/1.0 had no Host.
  std::vector<HttpResponse> old = Raw("GET /healthz HTTP/1.0\r\n\r\n");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].status, 200);
}

TEST_F(EdgeTest, ListedOriginsGetCorsAndOthersNothing) {
  options_.cors_allow_origins = {std::string(kOrigin), "https://m.shop.example"};
  StartServer();
  CreateCampaign(kCoupon);
  std::string origin = "Origin: " + std::string(kOrigin) + "\r\n";
  HttpResponse read = Send("GET", "/v1/campaigns/bf", {}, origin);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.header("access-control-allow-origin"), kOrigin);
  EXPECT_EQ(read.header("vary"), "Origin");
  HttpResponse preflight = Send("OPTIONS", "/v1/campaigns/bf/claims", {},
                                origin + "Access-Control-Request-Method: POST\r\n");
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("access-control-allow-origin"), kOrigin);
  EXPECT_EQ(preflight.header("access-control-allow-methods"), "GET, POST");
  EXPECT_NE(preflight.header("access-control-allow-headers").find("Authorization"),
            std::string::npos);
  EXPECT_EQ(preflight.header("content-length"), "");

  // Another origin, the admin's routes and the service's get no CORS headers at all.
  HttpResponse other = Send("GET", "/v1/campaigns/bf", {}, "Origin: https://evil.example\r\n");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.header("access-control-allow-origin"), "");
  EXPECT_EQ(Send("OPTIONS", "/v1/campaigns/bf", {}, "Origin: https://evil.example\r\n").status,
            405);
  EXPECT_EQ(Send("OPTIONS", "/v1/campaigns/bf/close", {}, origin).status, 405);
  EXPECT_EQ(Send("POST", "/v1/campaigns/bf/close", {}, origin + std::string(kAdminHeader))
                .header("access-control-allow-origin"),
            "");
  EXPECT_NE(Metrics().find(R"(hotdeal_http_edge_refused_total{reason="cors_origin"} 2)"),
            std::string::npos);
}

TEST_F(EdgeTest, ATrustedProxysForwardedForNamesTheClient) {
  options_.ip_rate_limit = {.per_second = 1, .burst = 1};
  options_.trusted_proxies = {"127.0.0.0/8", "10.0.0.0/8"};
  StartServer();
  auto from = [&](std::string_view chain) {
    return Send("GET", "/v1/time", {}, "X-Forwarded-For: " + std::string(chain) + "\r\n").status;
  };
  EXPECT_EQ(from("203.0.113.1"), 200);
  EXPECT_EQ(from("203.0.113.2"), 200);
  EXPECT_EQ(from("203.0.113.1"), 429);
  // The right-most entry that is not a trusted proxy is the client; what it wrote left of
  // that is its own to forge.
  EXPECT_EQ(from("198.51.100.9, 203.0.113.2, 10.1.2.3"), 429);
  EXPECT_EQ(from("2001:db8::1"), 200);
  // No address: the peer (127.0.0.1) is the key.
  EXPECT_EQ(from("not-an-address"), 200);
  EXPECT_NE(Metrics().find(R"(hotdeal_http_edge_refused_total{reason="forwarded_malformed"} 1)"),
            std::string::npos);
}

TEST_F(EdgeTest, ATrustedProxysProxyLineNamesTheClient) {
  options_.ip_rate_limit = {.per_second = 1, .burst = 1};
  options_.trusted_proxies = {"127.0.0.1"};
  StartServer();
  auto via_proxy = [&](std::string_view line) {
    HttpClient client(port());
    EXPECT_TRUE(client.Write(std::string(line) + BuildRequest("GET", "/v1/time", {})));
    auto response = client.Read();
    return response ? response->status : 0;
  };
  EXPECT_EQ(via_proxy("PROXY TCP4 203.0.113.1 10.0.0.1 51000 8080\r\n"), 200);
  EXPECT_EQ(via_proxy("PROXY TCP6 2001:db8::7 2001:db8::1 51000 8080\r\n"), 200);
  EXPECT_EQ(via_proxy("PROXY TCP4 203.0.113.1 10.0.0.1 51001 8080\r\n"), 429);
  // No line, or UNKNOWN (the proxy's own health check): the peer is the client.
  EXPECT_EQ(via_proxy(""), 200);
  EXPECT_EQ(via_proxy("PROXY UNKNOWN\r\n"), 429);
  EXPECT_EQ(via_proxy("PROXY TCP4 not-an-address 10.0.0.1 1 2\r\n"), 400);
}

TEST_F(EdgeTest, AnUntrustedPeersProxyLineIsMalformedHttp) {
  options_.trusted_proxies = {"10.0.0.0/8"};
  StartServer();
  HttpClient client(port());
  ASSERT_TRUE(client.Write("PROXY TCP4 203.0.113.1 10.0.0.1 51000 8080\r\n" +
                           BuildRequest("GET", "/v1/time", {})));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
}

TEST_F(EdgeTest, AnUntrustedPeersForwardedForIsIgnored) {
  options_.ip_rate_limit = {.per_second = 1, .burst = 1};
  options_.trusted_proxies = {"10.0.0.0/8"};
  StartServer();
  EXPECT_EQ(Send("GET", "/v1/time", {}, "X-Forwarded-For: 203.0.113.1\r\n").status, 200);
  EXPECT_EQ(Send("GET", "/v1/time", {}, "X-Forwarded-For: 203.0.113.2\r\n").status, 429);
  EXPECT_NE(Metrics().find(R"(hotdeal_http_edge_refused_total{reason="forwarded_untrusted"} 2)"),
            std::string::npos);
}

TEST_F(EdgeTest, BadTrustedProxiesAreRefusedAtStart) {
  options_.trusted_proxies = {"10.0.0.0/33"};
  EXPECT_THROW(StartServer(), std::invalid_argument);
  EXPECT_TRUE(Server::CheckOptions(options_).has_value());
}

TEST_F(EdgeTest, OneAddressCannotTakeEveryConnection) {
  options_.connections_per_address_max = 2;
  StartServer();
  HttpClient first(port());
  std::optional<HttpClient> second(std::in_place, port());
  ASSERT_TRUE(first.Send("GET", "/v1/time").has_value());
  ASSERT_TRUE(second->Send("GET", "/v1/time").has_value());
  // A third from the same address: probes are still answered, anything else is 503 and closed.
  HttpClient third(port());
  auto probe = third.Send("GET", "/healthz");
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(probe->status, 200);
  EXPECT_EQ(HttpClient(port()).Send("GET", "/readyz")->status, 200);
  auto refused = third.Send("GET", "/v1/time");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_TRUE(third.WaitClosed(std::chrono::seconds{2}));
  // The two first ones are served as before; once one closes, a new one is too.
  EXPECT_EQ(first.Send("GET", "/v1/time")->status, 200);
  second.reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    status = HttpClient(port()).Send("GET", "/v1/time")->status;
  }
  EXPECT_EQ(status, 200);
  // At least the one refusal above (the loop may add some while the close travels).
  std::string metrics = first.Send("GET", "/metrics")->body;
  EXPECT_NE(metrics.find(R"(hotdeal_http_edge_refused_total{reason="connections_per_address"})"),
            std::string::npos);
  EXPECT_EQ(metrics.find(R"(hotdeal_http_edge_refused_total{reason="connections_per_address"} 0)"),
            std::string::npos);
}

TEST_F(EdgeTest, TheCampaignListIsPaged) {
  StartServer();
  for (std::string id : {"a", "b", "c"}) {
    CreateCampaign(R"({"id": ")" + id + R"(", "kind": "coupon", "name": "n", "stock": 1})");
  }
  HttpResponse first = Send("GET", "/v1/campaigns?limit=2");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(JsonString(first.body, "next_after"), "b");
  HttpResponse second = Send("GET", "/v1/campaigns?limit=2&after=b");
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find(R"("id":"c")"), std::string::npos);
  EXPECT_EQ(second.body.find(R"("id":"a")"), std::string::npos);
  EXPECT_NE(second.body.find(R"("next_after":null)"), std::string::npos);
  for (std::string_view bad : {"?limit=0", "?limit=1001", "?limit=x", "?after=zz", "?after=%20"}) {
    EXPECT_EQ(Send("GET", "/v1/campaigns" + std::string(bad)).status, 400) << bad;
  }
}

}  // namespace
}  // namespace hotdeal::gateway::testing
