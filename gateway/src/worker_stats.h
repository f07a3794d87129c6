// Counters one gateway worker thread keeps about its own traffic. Written only by the owning
// thread (plain load + store, no read-modify-write), read by whoever scrapes /metrics; nothing
// on the hot path writes memory another thread writes. Must never be written from two threads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "hotdeal/gateway/routes.h"
#include "hotdeal/gateway/user_token.h"

namespace hotdeal::gateway {

class RelaxedCounter {
 public:
  // Single writer: a relaxed load and store is enough and avoids a locked instruction.
  void Add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t Load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// The statuses the gateway can send, as metric label values; index = position.
inline constexpr std::array<unsigned, 12> kStatuses = {200, 201, 204, 400, 401, 403,
                                                       404, 405, 409, 413, 429, 503};
std::size_t StatusIndex(unsigned status);

// The two rate limits (GatewayOptions::user_rate_limit, ip_rate_limit); index = value.
enum class RateLimitKind : std::uint8_t { kUser, kIp };
inline constexpr std::size_t kRateLimitKinds = 2;
// The `limit` label of the rate-limit metrics.
std::string_view RateLimitName(RateLimitKind kind);

// How a request's wait for a decision the durable log had not answered ended: answered
// (anything but kPending came back), timed out (503 pending after pending_wait_max), or
// abandoned (its connection closed first).
enum class PendingWaitEnd : std::uint8_t { kAnswered, kTimedOut, kAbandoned };
inline constexpr std::size_t kPendingWaitEnds = 3;
// The `result` label of hotdeal_http_pending_waits_total.
std::string_view PendingWaitEndName(PendingWaitEnd end);

// Upper bounds of the latency histogram, in microseconds; the last bucket is +Inf.
inline constexpr std::array<std::uint64_t, 13> kLatencyBoundsMicros = {
    25, 50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 1'000'000};

// One route's latency histogram; buckets not cumulative (the scrape sums them up).
struct LatencyCounters {
  std::array<RelaxedCounter, kLatencyBoundsMicros.size() + 1> buckets;
  RelaxedCounter micros_sum;
};
// Requests refused by who may do what (API.md), other than for their user token; index = value.
enum class AccessRefusal : std::uint8_t {
  kServiceOnly,        // 401: confirm without the service token
  kRefundServiceOnly,  // 403: the order's user cancelling a confirmed order (a refund)
  kNotOwner,           // 404: someone else's order or claim, answered as an unknown one
};
inline constexpr std::size_t kAccessRefusals = 3;
// The `reason` label of hotdeal_http_access_refused_total.
std::string_view AccessRefusalName(AccessRefusal refusal);

// What the edge ignored or refused; index = value.
enum class EdgeRefusal : std::uint8_t {
  kForwardedUntrusted,     // X-Forwarded-For from a peer not in --trusted-proxies: ignored
  kForwardedMalformed,     // a trusted proxy's X-Forwarded-For that names no address: peer used
  kCorsOrigin,             // an Origin not in --cors-allow-origin: no CORS headers
  kHead,                   // a Transfer-Encoding other than one chunked, a missing or second Host
  kConnectionsPerAddress,  // a request on a connection over connections_per_address_max: 503
};
inline constexpr std::size_t kEdgeRefusals = 5;
std::string_view EdgeRefusalName(EdgeRefusal refusal);

struct alignas(64) WorkerStats {
  std::array<std::array<RelaxedCounter, kStatuses.size()>, kRouteCount> requests;
  std::array<LatencyCounters, kRouteCount> latencies;  // per RouteId
  RelaxedCounter connections_opened;
  RelaxedCounter connections_closed;
  RelaxedCounter connections_rejected;  // over the connection cap
  RelaxedCounter parse_errors;          // requests refused before routing (malformed HTTP)
  RelaxedCounter timeouts;              // connections closed by the idle or request deadline
  // Event streams (GET /v1/campaigns/{id}/stream): opened and closed (the gauge is the
  // difference), events written, and streams dropped because their reader did not take a
  // write within the write deadline.
  RelaxedCounter streams_opened;
  RelaxedCounter streams_closed;
  RelaxedCounter stream_events;
  RelaxedCounter streams_dropped;
  // Per RateLimitKind: requests answered 429; idle buckets handed to another key; requests let
  // through because their key's set had no free bucket (the limit failed open).
  std::array<RelaxedCounter, kRateLimitKinds> rate_limited;
  std::array<RelaxedCounter, kRateLimitKinds> rate_limit_evictions;
  std::array<RelaxedCounter, kRateLimitKinds> rate_limit_table_full;
  // Per TokenCheck: user-route requests answered 401 for their token (kValid stays 0).
  std::array<RelaxedCounter, kTokenChecks> user_tokens_refused;
  // Requests that waited for the log's answer to a decision (Completion::kWait), and how each
  // wait ended, per PendingWaitEnd.
  RelaxedCounter pending_waits_started;
  std::array<RelaxedCounter, kPendingWaitEnds> pending_waits_ended;
  // Decisions whose own reply waited for the log past ack_wait_max (answered 503 pending).
  RelaxedCounter ack_waits_timed_out;
  std::array<RelaxedCounter, kAccessRefusals> access_refused;
  std::array<RelaxedCounter, kEdgeRefusals> edge_refused;

  void RecordRequest(RouteId route, unsigned status, std::chrono::nanoseconds latency);
};

}  // namespace hotdeal::gateway
