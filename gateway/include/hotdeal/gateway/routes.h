// The HTTP route table: every path and method the gateway serves, in one place, so that the
// router, the metrics labels and the OpenAPI test all read the same list. Matching never
// allocates and never decodes path parameters beyond splitting on '/'.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace hotdeal::gateway {

enum class RouteId : std::uint8_t {
  kListCampaigns,
  kCreateCampaign,
  kGetCampaign,
  kChangeCampaign,
  kArchiveCampaign,
  kCloseCampaign,
  kPauseCampaign,
  kResumeCampaign,
  kStreamCampaign,
  kCreateClaim,
  kGetClaim,
  kCreateOrder,
  kGetOrder,
  kConfirmOrder,
  kCancelOrder,
  kGetCoupon,
  kRedeemCoupon,
  kRestoreCoupon,
  kTime,
  kHealth,
  kReady,
  kMetrics,
  kDemo,
  kUnmatched,  // no route: 404 or 405; a metrics label, never in the table
};
inline constexpr std::size_t kRouteCount = static_cast<std::size_t>(RouteId::kUnmatched) + 1;

enum class Method : std::uint8_t { kGet, kPost, kPatch, kDelete };
inline constexpr std::size_t kMethodCount = 4;

// The method's name as HTTP spells it ("GET").
std::string_view MethodName(Method method);

// Who may call a route (API.md, "who may do what"). The admin and service tokens are checked
// from the head alone; user tokens are checked once the route knows which user it acts for.
enum class Access : std::uint8_t {
  kAnyone,   // campaigns' reads and stream, time, probes, metrics, the demo page
  kUser,     // acts for the body's user_id: claims, orders
  kOwner,    // reads an order, claim or coupon: its user, the service or the admin
  kCancel,   // a reserved order: its user or the service; a confirmed one (refund): service
  kService,  // the shop's backend states a fact users must not: confirm, redeem, restore
  kAdmin,    // runs campaigns
};

struct Route {
  RouteId id;
  Method method;
  std::string_view path;  // OpenAPI form: "/v1/campaigns/{id}/claims"
  std::string_view name;  // metrics label
  Access access;
};

// Every served route, in the order the router tries them.
std::span<const Route> Routes();

// The label `hotdeal_http_requests_total{route=...}` uses for `id`.
std::string_view RouteName(RouteId id);

// Up to two path parameters ({id}, {user_id}, {order_id}, {code}), as raw path segments.
struct RouteMatch {
  const Route* route = nullptr;              // null: no route for this method and path
  std::array<std::string_view, 2> params{};  // in path order
  std::string_view allow;  // when route is null but the path exists: "GET, POST", ...
};

// `path` is the request target without the query string. No `method` (a verb no route takes)
// matches no route but still fills `allow` for a path that exists.
RouteMatch MatchRoute(std::optional<Method> method, std::string_view path);

}  // namespace hotdeal::gateway
