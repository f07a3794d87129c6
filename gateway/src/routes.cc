// Route table and matcher. A linear scan over a dozen routes beats any index at this size and
// keeps the table readable.
#include "hotdeal/gateway/routes.h"

#include <algorithm>
#include <string>

namespace hotdeal::gateway {
namespace {

constexpr std::array<Route, kRouteCount - 1> kRoutes = {{
    {RouteId::kListCampaigns, Method::kGet, "/v1/campaigns", "list_campaigns", Access::kAnyone},
    {RouteId::kCreateCampaign, Method::kPost, "/v1/campaigns", "create_campaign", Access::kAdmin},
    {RouteId::kGetCampaign, Method::kGet, "/v1/campaigns/{id}", "get_campaign", Access::kAnyone},
    {RouteId::kChangeCampaign, Method::kPatch, "/v1/campaigns/{id}", "change_campaign",
     Access::kAdmin},
    {RouteId::kArchiveCampaign, Method::kDelete, "/v1/campaigns/{id}", "archive_campaign",
     Access::kAdmin},
    {RouteId::kCloseCampaign, Method::kPost, "/v1/campaigns/{id}/close", "close_campaign",
     Access::kAdmin},
    {RouteId::kPauseCampaign, Method::kPost, "/v1/campaigns/{id}/pause", "pause_campaign",
     Access::kAdmin},
    {RouteId::kResumeCampaign, Method::kPost, "/v1/campaigns/{id}/resume", "resume_campaign",
     Access::kAdmin},
    {RouteId::kStreamCampaign, Method::kGet, "/v1/campaigns/{id}/stream", "stream_campaign",
     Access::kAnyone},
    {RouteId::kCreateClaim, Method::kPost, "/v1/campaigns/{id}/claims", "create_claim",
     Access::kUser},
    {RouteId::kGetClaim, Method::kGet, "/v1/campaigns/{id}/claims/{user_id}", "get_claim",
     Access::kOwner},
    {RouteId::kCreateOrder, Method::kPost, "/v1/campaigns/{id}/orders", "create_order",
     Access::kUser},
    {RouteId::kGetOrder, Method::kGet, "/v1/orders/{order_id}", "get_order", Access::kOwner},
    {RouteId::kConfirmOrder, Method::kPost, "/v1/orders/{order_id}/confirm", "confirm_order",
     Access::kService},
    {RouteId::kCancelOrder, Method::kPost, "/v1/orders/{order_id}/cancel", "cancel_order",
     Access::kCancel},
    {RouteId::kGetCoupon, Method::kGet, "/v1/coupons/{code}", "get_coupon", Access::kOwner},
    {RouteId::kRedeemCoupon, Method::kPost, "/v1/coupons/{code}/redeem", "redeem_coupon",
     Access::kService},
    {RouteId::kRestoreCoupon, Method::kPost, "/v1/coupons/{code}/restore", "restore_coupon",
     Access::kService},
    {RouteId::kTime, Method::kGet, "/v1/time", "time", Access::kAnyone},
    {RouteId::kHealth, Method::kGet, "/healthz", "healthz", Access::kAnyone},
    {RouteId::kReady, Method::kGet, "/readyz", "readyz", Access::kAnyone},
    {RouteId::kMetrics, Method::kGet, "/metrics", "metrics", Access::kAnyone},
    {RouteId::kDemo, Method::kGet, "/demo/", "demo", Access::kAnyone},
}};

// Matches `path` against `pattern` segment by segment; a "{name}" segment takes any non-empty
// segment. A trailing slash is a different path ("/v1/campaigns/" matches nothing).
bool MatchPath(std::string_view pattern, std::string_view path,
               std::array<std::string_view, 2>& params) {
  if (path.empty() || path.front() != '/') return false;
  std::size_t pattern_at = 1;
  std::size_t path_at = 1;
  std::size_t param_count = 0;
  while (true) {
    std::size_t pattern_end = std::min(pattern.find('/', pattern_at), pattern.size());
    std::size_t path_end = std::min(path.find('/', path_at), path.size());
    std::string_view expected = pattern.substr(pattern_at, pattern_end - pattern_at);
    std::string_view actual = path.substr(path_at, path_end - path_at);
    if (expected.starts_with('{')) {
      if (actual.empty() || param_count == params.size()) return false;
      params[param_count++] = actual;
    } else if (expected != actual) {
      return false;
    }
    bool pattern_last = pattern_end == pattern.size();
    bool path_last = path_end == path.size();
    if (pattern_last || path_last) return pattern_last && path_last;
    pattern_at = pattern_end + 1;
    path_at = path_end + 1;
  }
}

// The Allow header for each set of methods (bit i: Method i), in Method order.
const std::array<std::string, 1u << kMethodCount>& AllowTexts() {
  static const std::array<std::string, 1u << kMethodCount> texts = [] {
    std::array<std::string, 1u << kMethodCount> all;
    for (std::uint32_t mask = 0; mask < all.size(); ++mask) {
      for (std::uint32_t bit = 0; bit < kMethodCount; ++bit) {
        if ((mask & (1u << bit)) == 0) continue;
        if (!all[mask].empty()) all[mask] += ", ";
        all[mask] += MethodName(static_cast<Method>(bit));
      }
    }
    return all;
  }();
  return texts;
}

}  // namespace

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
  }
  return "GET";
}

std::span<const Route> Routes() {
  return kRoutes;
}

std::string_view RouteName(RouteId id) {
  for (const Route& route : kRoutes) {
    if (route.id == id) return route.name;
  }
  return "unmatched";
}

RouteMatch MatchRoute(std::optional<Method> method, std::string_view path) {
  RouteMatch match;
  std::uint32_t allowed = 0;
  for (const Route& route : kRoutes) {
    std::array<std::string_view, 2> params{};
    if (!MatchPath(route.path, path, params)) continue;
    if (route.method == method) {
      match.route = &route;
      match.params = params;
      return match;
    }
    allowed |= 1u << static_cast<std::uint32_t>(route.method);
  }
  match.allow = AllowTexts()[allowed];
  return match;
}

}  // namespace hotdeal::gateway
