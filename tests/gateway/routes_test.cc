// Route matching: parameters, 405 Allow sets, and paths that must not match.
#include "hotdeal/gateway/routes.h"

#include <gtest/gtest.h>

namespace hotdeal::gateway {
namespace {

TEST(Routes, MatchesEveryRouteByItsOwnPattern) {
  for (const Route& route : Routes()) {
    std::string path(route.path);
    // Fill each {param} with a sample segment.
    for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{')) {
      path.replace(open, path.find('}', open) - open + 1, "p1");
    }
    RouteMatch match = MatchRoute(route.method, path);
    ASSERT_NE(match.route, nullptr) << path;
    EXPECT_EQ(match.route->id, route.id) << path;
  }
}

TEST(Routes, ExtractsParametersInPathOrder) {
  RouteMatch match = MatchRoute(Method::kGet, "/v1/campaigns/bf-2026/claims/u-1842");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->id, RouteId::kGetClaim);
  EXPECT_EQ(match.params[0], "bf-2026");
  EXPECT_EQ(match.params[1], "u-1842");
}

TEST(Routes, WrongMethodOnAKnownPathGivesTheAllowedOnes) {
  RouteMatch campaigns = MatchRoute(Method::kPost, "/v1/campaigns/bf");
  EXPECT_EQ(campaigns.route, nullptr);
  EXPECT_EQ(campaigns.allow, "GET, PATCH, DELETE");
  RouteMatch unknown_verb = MatchRoute(std::nullopt, "/v1/campaigns");
  EXPECT_EQ(unknown_verb.route, nullptr);
  EXPECT_EQ(unknown_verb.allow, "GET, POST");
  RouteMatch claims = MatchRoute(Method::kGet, "/v1/campaigns/bf/claims");
  EXPECT_EQ(claims.route, nullptr);
  EXPECT_EQ(claims.allow, "POST");
}

TEST(Routes, UnknownPathsMatchNothing) {
  for (std::string_view path :
       {"", "/", "v1/campaigns", "/v1/campaigns/", "/v1/campaigns//claims", "/v1/campaign",
        "/v1/campaigns/bf/claims/u1/extra", "/v2/campaigns", "/healthz/", "/metricsx"}) {
    RouteMatch match = MatchRoute(Method::kGet, path);
    EXPECT_EQ(match.route, nullptr) << path;
    RouteMatch post = MatchRoute(Method::kPost, path);
    EXPECT_EQ(post.route, nullptr) << path;
    EXPECT_TRUE(match.allow.empty()) << path;
  }
}

TEST(Routes, EveryRouteHasADistinctMetricsName) {
  auto routes = Routes();
  for (std::size_t i = 0; i < routes.size(); ++i) {
    EXPECT_EQ(RouteName(routes[i].id), routes[i].name);
    for (std::size_t j = i + 1; j < routes.size(); ++j)
      EXPECT_NE(routes[i].name, routes[j].name);
  }
  EXPECT_EQ(RouteName(RouteId::kUnmatched), "unmatched");
}

}  // namespace
}  // namespace hotdeal::gateway
