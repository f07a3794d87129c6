// WorkerStats recording: index look-ups only, no allocation.
#include "worker_stats.h"

#include <algorithm>

namespace hotdeal::gateway {

std::size_t StatusIndex(unsigned status) {
  auto it = std::find(kStatuses.begin(), kStatuses.end(), status);
  // Every reply status comes from reply.cc's fixed set; an unknown one is a programming error,
  // counted as 503 rather than writing out of bounds.
  if (it == kStatuses.end()) return kStatuses.size() - 1;
  return static_cast<std::size_t>(it - kStatuses.begin());
}

std::string_view RateLimitName(RateLimitKind kind) {
  switch (kind) {
    case RateLimitKind::kUser:
      return "user";
    case RateLimitKind::kIp:
      return "ip";
  }
  return "unknown";
}

std::string_view PendingWaitEndName(PendingWaitEnd end) {
  switch (end) {
    case PendingWaitEnd::kAnswered:
      return "answered";
    case PendingWaitEnd::kTimedOut:
      return "timed_out";
    case PendingWaitEnd::kAbandoned:
      return "abandoned";
  }
  return "unknown";
}

std::string_view AccessRefusalName(AccessRefusal refusal) {
  switch (refusal) {
    case AccessRefusal::kServiceOnly:
      return "service_only";
    case AccessRefusal::kRefundServiceOnly:
      return "refund_service_only";
    case AccessRefusal::kNotOwner:
      return "not_owner";
  }
  return "unknown";
}

std::string_view EdgeRefusalName(EdgeRefusal refusal) {
  switch (refusal) {
    case EdgeRefusal::kForwardedUntrusted:
      return "forwarded_untrusted";
    case EdgeRefusal::kForwardedMalformed:
      return "forwarded_malformed";
    case EdgeRefusal::kCorsOrigin:
      return "cors_origin";
    case EdgeRefusal::kHead:
      return "head";
    case EdgeRefusal::kConnectionsPerAddress:
      return "connections_per_address";
  }
  return "unknown";
}

void WorkerStats::RecordRequest(RouteId route, unsigned status, std::chrono::nanoseconds latency) {
  requests[static_cast<std::size_t>(route)][StatusIndex(status)].Add();
  auto micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
  auto bucket = std::lower_bound(kLatencyBoundsMicros.begin(), kLatencyBoundsMicros.end(), micros);
  LatencyCounters& route_latency = latencies[static_cast<std::size_t>(route)];
  route_latency.buckets[static_cast<std::size_t>(bucket - kLatencyBoundsMicros.begin())].Add();
  route_latency.micros_sum.Add(micros);
}

}  // namespace hotdeal::gateway
