// The API of /work/shared/design/API.md over the engine: routing, admin auth, request decoding
// and replies for one parsed request. Runs on a gateway worker thread; must never block, never
// throw per request and never hold state between requests (all of it lives in the engine or
// the caller's WorkerContext).
#pragma once

#include <simdjson.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "control_thread.h"
#include "edge.h"
#include "hotdeal/base/metrics_registry.h"
#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/log.h"
#include "hotdeal/gateway/routes.h"
#include "hotdeal/gateway/server.h"
#include "http_request.h"
#include "rate_limiter.h"
#include "reply.h"
#include "user_auth.h"
#include "worker_stats.h"

namespace hotdeal::gateway {

// What one worker thread owns; only that thread touches it.
struct WorkerContext {
  explicit WorkerContext(std::uint32_t index, WorkerStats& worker_stats)
      : id{index}, stats(worker_stats) {}

  engine::WorkerId id;
  simdjson::ondemand::parser json;  // reused for every body this thread decodes
  engine::TimePoint now{};          // the cached clock: refreshed once per read batch
  std::chrono::steady_clock::time_point steady_now{};  // read with `now`; for deadlines, rates
  WorkerStats& stats;
  // Set while Api::Recheck decides a request again: it was admitted (user token, user rate)
  // the first time.
  bool rechecking = false;
};

// kDone: the reply is complete when Handle returns. kPending: the reply (a 201) holds
// `reply.ticket`, which the caller must await on the durable log before sending it
// (gateway/README.md, "Durable acks"). kControl: POST /v1/campaigns or DELETE /v1/campaigns/{id},
// whose engine call runs off the event loop: the caller hands the request to RunControl. kWait: the
// request reached a decision the log has not answered yet (Reply::undecided); the caller decides it
// again with Recheck after a short backoff, until Recheck answers something else or the wait's
// bound (GatewayOptions::pending_wait_max) passes, then sends the reply as it stands (503 pending).
// For both kControl and kWait the caller decides no later request of the connection before
// this one, and keeps `request` as it is until then.
enum class Completion : std::uint8_t { kDone, kPending, kControl, kWait };

// What finishes a reply whose engine call ran off the event loop: run it on the connection's
// worker thread, and go on as its Completion says (kDone or kPending).
using FinishReply = std::function<Completion(Reply&)>;

// Who sent a request, by its bearer token: the admin, the shop's service, or anyone else (a
// user, whose token each route matches against the user it acts for).
enum class Caller : std::uint8_t { kUser, kService, kAdmin };

class Api {
 public:
  // `log` is null with `--log none` (no decision then carries a ticket). The rate-limit
  // tables are allocated here, once.
  Api(engine::Engine& engine, const GatewayOptions& options, const std::atomic<bool>& ready,
      const base::MetricsRegistry& metrics, engine::DurableLog* log);

  // Answers `request` into `reply`; `route` is set for metrics.
  Completion Handle(WorkerContext& worker, RequestData& request, Reply& reply, RouteId& route);

  // `Expect: 100-continue`: whether the request, judged by its head alone (route, method,
  // admin or service token), may send its body. false: `reply` is the final answer. Changes
  // nothing but refusal counters and takes no rate-limit token (Handle does that once the
  // body is here).
  bool AcceptsBody(WorkerContext& worker, const RequestData& request, Reply& reply,
                   RouteId& route) const;

  // Completion::kControl (a creation or an archive): decodes `request` on this thread and
  // queues its engine call on the control thread. kDone: `reply` is the answer already (400, or
  // 503 when the queue is full). kControl: `resume` is called once, on the control thread, with
  // what finishes the reply; the caller posts it back to its own worker thread to run it there.
  Completion RunControl(WorkerContext& worker, RequestData& request, Reply& reply,
                        std::function<void(FinishReply)> resume);

  // Completion::kWait: makes the request's engine call again, without taking its rate-limit
  // tokens again; answers as Handle does.
  Completion Recheck(WorkerContext& worker, RequestData& request, Reply& reply);

  // The per-address rate limit's key for a client address (0 when that limit is off). Once
  // per connection for its peer; per request for a trusted proxy's X-Forwarded-For.
  std::uint64_t ClientKey(const AddressBytes& address) const;
  // Whether the peer is in --trusted-proxies. Once per connection.
  bool TrustsPeer(const boost::asio::ip::address& address) const;

  // A new connection from `address` (not a trusted proxy): counted, and whether it is within
  // connections_per_address_max (else it may only ask the probes). ReleaseConnection(counter)
  // when it closes; counter kNoCounter when the cap is off.
  static constexpr std::uint32_t kNoCounter = ~0u;
  struct ConnectionAdmission {
    std::uint32_t counter = kNoCounter;
    bool within = true;
  };
  ConnectionAdmission AdmitConnection(const AddressBytes& address);
  void ReleaseConnection(std::uint32_t counter);

 private:
  void Dispatch(WorkerContext& worker, const Route& route, const RouteMatch& match,
                RequestData& request, Reply& reply);
  // How a reply goes on once the route answered: kWait, kPending or kDone.
  Completion CompletionOf(Reply& reply);
  // The 409 capacity message for a creation the engine refused: which limit, and its flag.
  std::string CapacityMessage(const engine::CampaignSpec& spec, engine::TimePoint now) const;
  void ListCampaigns(WorkerContext& worker, const RequestData& request, Reply& reply);
  // The per-address limit's key: the peer's, or the client a trusted proxy names.
  std::uint64_t ClientKeyOf(WorkerContext& worker, const RequestData& request) const;
  // The listed origin the request's Origin is, or empty (counted when an Origin was sent).
  std::string_view AllowedOrigin(WorkerContext& worker, const RequestData& request) const;
  // A CORS preflight (OPTIONS from a listed origin to a path browsers may call): true and
  // `reply` is its 204; false: the request goes on as any other.
  bool Preflight(WorkerContext& worker, const RequestData& request, Reply& reply,
                 RouteId& route) const;
  void GetCampaign(WorkerContext& worker, std::string_view id_text, Reply& reply);
  // The head of an event stream (200 text/event-stream) for a known campaign, else the error;
  // the connection hands itself to its worker's StreamHub once the head is written.
  void StreamCampaign(WorkerContext& worker, std::string_view id_text, Reply& reply);
  // Close, pause or resume (an empty body; 200 with the campaign as it is after).
  using Control = engine::Decision<engine::CampaignView> (engine::Engine::*)(
      const engine::CampaignId&, engine::TimePoint);
  void ControlCampaign(WorkerContext& worker, std::string_view id_text, RequestData& request,
                       Reply& reply, Control control);
  // RunControl's jobs; empty: `reply` is the answer already (a bad body or id).
  std::function<void()> CreateJob(WorkerContext& worker, RequestData& request, Reply& reply,
                                  std::function<void(FinishReply)>& resume);
  std::function<void()> ArchiveJob(WorkerContext& worker, std::string_view id_text,
                                   RequestData& request, Reply& reply,
                                   std::function<void(FinishReply)>& resume);
  // Why an archive answered kConflict, in the words of the rule that held it.
  std::string ArchiveRefusal(const engine::CampaignView& view) const;
  // PATCH: stock_add, ends_at, name (200 with the campaign as it is after).
  void ChangeCampaign(WorkerContext& worker, std::string_view id_text, RequestData& request,
                      Reply& reply);
  void CreateClaim(WorkerContext& worker, std::string_view id_text, RequestData& request,
                   Reply& reply);
  void GetClaim(WorkerContext& worker, std::string_view id_text, std::string_view user_text,
                const RequestData& request, Reply& reply);
  void CreateOrder(WorkerContext& worker, std::string_view id_text, RequestData& request,
                   Reply& reply);
  // GET /v1/coupons/{code}?user_id=..., and redeem or restore (`route`) with their body.
  void GetCoupon(WorkerContext& worker, std::string_view code, const RequestData& request,
                 Reply& reply);
  void UseCoupon(WorkerContext& worker, RouteId route, std::string_view code, RequestData& request,
                 Reply& reply);
  void MoveOrder(WorkerContext& worker, RouteId route, std::string_view order_text,
                 RequestData& request, Reply& reply);
  void GetOrder(WorkerContext& worker, std::string_view order_text, const RequestData& request,
                Reply& reply);
  void Time(WorkerContext& worker, Reply& reply);
  void Ready(Reply& reply);
  void Metrics(Reply& reply);

  // Method and path to a route; false: `reply` is 404 or 405.
  bool MatchRequest(const RequestData& request, RouteMatch& match, Reply& reply,
                    RouteId& route) const;
  // What the head must satisfy before any body is read: the admin or service token where the
  // route needs it, no repeated header.
  bool HeadAcceptable(WorkerContext& worker, const RequestData& request, const Route& route,
                      Reply& reply) const;
  Caller CallerOf(const RequestData& request) const;
  // false: `reply` is 429 rate_limited and the request stops here. Counts in worker.stats.
  bool WithinRate(WorkerContext& worker, RateLimitKind kind, std::uint64_t key_hash, Reply& reply);
  // With user tokens on: the bearer token, read before anything is looked up; false: `reply`
  // is 401 (no token, or one that proves nobody). With them off: always true.
  bool ReadUserToken(WorkerContext& worker, const RequestData& request, TokenRead& read,
                     Reply& reply);
  // Whether the caller speaks for `owner`: with user tokens on, `read` must prove it; with
  // them off, `named` (the user the request names) must be it. false: `reply` is 401 (an
  // expired token of the owner) or the engine's own 404 (anyone else: an id leaks nothing).
  bool IsOwner(WorkerContext& worker, const TokenRead& read,
               const std::optional<engine::UserId>& named, const engine::UserId& owner,
               Reply& reply);
  // 401 for a user token `check` other than kValid; counted by reason.
  void RefuseToken(WorkerContext& worker, TokenCheck check, Reply& reply);
  // What every route that decides for `user` named in its body checks after the body is
  // decoded and before the engine is called: the user's token, then the user's rate.
  bool AdmitUser(WorkerContext& worker, const RequestData& request, const engine::UserId& user,
                 Reply& reply);

  engine::Engine& engine_;
  const std::string admin_token_;
  const std::string service_token_;
  const std::atomic<bool>& ready_;
  const base::MetricsRegistry& metrics_;
  engine::DurableLog* const log_;
  const AckMode ack_;
  const bool waits_;  // pending_wait_max > 0
  const CampaignLimits limits_;
  // Shared by every worker (a per-worker table would give a user `threads` times the rate).
  RateLimiter user_limiter_;
  RateLimiter ip_limiter_;
  const UserAuth user_auth_;
  const TrustedProxies proxies_;
  // Open connections per address, by the address's seeded hash: a fixed table shared by the
  // workers (two addresses that share a counter are capped together).
  static constexpr std::size_t kAddressCounters = 1 << 16;  // 256 KiB
  const std::uint32_t connections_per_address_max_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> address_connections_;
  const std::vector<std::string> cors_origins_;
  ControlThread control_;  // last: its jobs use the members above
};

}  // namespace hotdeal::gateway
