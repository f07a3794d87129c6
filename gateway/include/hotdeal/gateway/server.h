// The HTTP/1.1 server in front of the engine: N worker threads, each with its own io_context,
// its own SO_REUSEPORT acceptor on the same port and its own engine WorkerId (shared-nothing;
// no strand and no lock on a request's path). Must never call into persistence/ and never
// hold a request longer than its deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotdeal/base/metrics_registry.h"
#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/log.h"

namespace hotdeal::gateway {

// A token bucket: `per_second` tokens come back each second, up to `burst` held; a request
// takes one or is answered 429 rate_limited. per_second == 0 turns the limit off.
struct RateLimit {
  std::uint32_t per_second = 0;
  std::uint32_t burst = 1;
};

// The engine's limits on creating a campaign (EngineOptions), which `409 capacity` names; the
// app passes the values it gave the engine.
struct CampaignLimits {
  std::uint32_t stock_max = 10'000'000;
  std::uint32_t campaigns_max = 1024;
  std::uint64_t memory_budget_bytes = 0;  // 0: none
};

// JWT user tokens from the shop's identity provider, beside the project's own HMAC tokens.
struct JwtOptions {
  std::string hs256_key;            // empty: no HS256; else at least 32 bytes
  std::string public_keys_file;     // PEM public keys (RS256/ES256) or a JWKS file; empty: none
  std::chrono::seconds leeway{30};  // clock skew allowed on exp and nbf
  std::string audience;             // non-empty: `aud` must hold it; empty: `aud` must be absent
  std::string issuer;               // non-empty: `iss` must be it
  bool enabled() const { return !hs256_key.empty() || !public_keys_file.empty(); }
};

// How a decision's reply waits for the durable log (engine::DurableLog).
enum class AckMode : std::uint8_t {
  kDurable,  // 201 once the log persisted the event; 503 + Retry-After otherwise
  kMemory,   // answer at once and forget the ticket (what a crash can lose: docs/durability.md)
};

struct GatewayOptions {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;  // 0: the kernel picks one; see Server::port()
  std::uint32_t threads = 1;      // the engine must have been built with workers >= threads
  std::uint32_t connections_max = 10'000;  // over it, a new connection gets 503 and is closed
  // Open connections per client address (trusted proxies exempt) before more from it are
  // served only /healthz and /readyz (anything else: 503 and closed), so one client cannot
  // take every connections_max slot. 0: off (a load test from one box needs many).
  std::uint32_t connections_per_address_max = 0;
  std::uint32_t header_bytes_max = 8 * 1024;          // request line + headers; over it: 413
  std::uint32_t body_bytes_max = 16 * 1024;           // after de-chunking; over it: 413
  std::chrono::milliseconds idle_timeout{30'000};     // keep-alive with no request started
  std::chrono::milliseconds request_timeout{10'000};  // first byte to whole request; and a
                                                      // reply's write to a slow reader
  // How often each worker runs its timer: reservation expiry and connection deadlines. A
  // deadline is enforced within one tick of passing.
  std::chrono::milliseconds tick_interval{20};
  // GET /v1/campaigns/{id}/stream: how often each worker reads the campaigns its streams
  // watch and sends what changed (so at most this many events a second per stream), and how
  // long a stream with nothing new stays silent before a keep-alive comment. A stream's
  // reader that has not taken a write within request_timeout is dropped.
  std::chrono::milliseconds stream_interval{250};
  std::chrono::milliseconds stream_keepalive{15'000};
  std::string admin_token;  // empty: admin routes always answer 401
  // The shop's own backend (payment, checkout): confirms and refunds orders, reads any order
  // or claim. Empty: confirm and refund always answer 401.
  std::string service_token;
  // Empty: user routes need no token and trust the user_id the request names. Otherwise (at
  // least UserTokenKey::kKeyBytesMin bytes) claims, orders, cancel and reads of an order or
  // claim need `Authorization: Bearer <token>` proving the user (user_token.h), unless the
  // service or admin token is sent where the route allows it.
  std::string user_token_key;
  // JWTs as user tokens (either format is then accepted). Start throws std::invalid_argument
  // for an unusable key or key file.
  JwtOptions jwt;
  AckMode ack = AckMode::kDurable;  // only matters with an engine::DurableLog
  // Replies waiting for the log, per worker; when all are taken a new decision is answered
  // 503 + Retry-After at once (its retry with the same Idempotency-Key finds the decision).
  std::uint32_t pending_acks_max = 4096;
  // Durable acks: how long a decision's own reply waits for the log. Past it the reply is 503
  // pending + Retry-After (the decision stands or falls as the log later says; a retry with the
  // same Idempotency-Key learns which), so no client waits on a broker that is away. 0: no bound.
  std::chrono::milliseconds ack_wait_max{5'000};
  // Durable acks: how long a request that reached a decision the log has not answered yet (a
  // double click, a retry with the same Idempotency-Key, a read of it) waits for the log before
  // it answers 503 pending. Its connection decides nothing else meanwhile. 0: no wait.
  std::chrono::milliseconds pending_wait_max{2'000};
  // POST /v1/campaigns runs its engine call on one control thread, off the event loops (a
  // campaign of millions of units takes seconds to build); creations waiting beyond this many
  // answer 503 + Retry-After.
  std::uint32_t control_queue_max = 8;
  CampaignLimits campaign_limits;
  // Per user id on the routes that decide (claims, orders, confirm, cancel). A person pressing
  // "claim" again and again, plus their client's retries on 503, stays far below 10/s with a
  // burst of 20; a script firing hundreds a second for one id does not.
  RateLimit user_rate_limit{10, 20};
  // Per client address on every route but /healthz, /readyz and /metrics. Off by default:
  // shops behind one proxy, and load tests from one address, would all share one bucket.
  RateLimit ip_rate_limit{0, 100};
  // Buckets per enabled limit, rounded up to a power of two (8 bytes each, allocated at
  // start). A bucket is in use only while its key is below its burst: 10/s, burst 20 keeps a
  // user's bucket at most 2 s after their last request.
  std::uint32_t rate_limit_slots = 1 << 18;
  // Peers (CIDRs or addresses) whose X-Forwarded-For names the client for the per-address
  // limit: the load balancers in front. Everyone else's X-Forwarded-For is ignored.
  std::vector<std::string> trusted_proxies;
  // Origins ("https://shop.example") whose pages may call the public and user routes from a
  // browser (CORS). Empty: no CORS headers at all.
  std::vector<std::string> cors_allow_origins;
};

class Server {
 public:
  // `log` (null for `--log none`) must outlive the server and settle every awaited ticket
  // before the server is destroyed (the app stops the log after Shutdown). `metrics` is the
  // process's registry (null: the server makes its own): the server registers its metrics in it
  // and /metrics serves all of it. The server's metrics read its counters, so the registry is
  // scraped only while the server lives. Throws std::invalid_argument for a user_token_key
  // shorter than UserTokenKey::kKeyBytesMin.
  Server(GatewayOptions options, engine::Engine& engine, engine::DurableLog* log = nullptr,
         std::shared_ptr<base::MetricsRegistry> metrics = nullptr);
  ~Server();  // Shutdown(0) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every acceptor and starts the worker threads. Throws boost::system::system_error
  // (a std::runtime_error) if the address cannot be bound, including a port another process
  // already listens on (start-up only; nothing on the request path throws).
  void Start();

  // The bound port, valid after Start().
  std::uint16_t port() const;

  // /readyz and the data-plane routes answer 503 until this is set; /readyz also asks the log.
  void SetReady(bool ready);

  // Why `options` cannot serve (a short token key, an unusable JWT key file, ...), or nullopt.
  // Start-up only: the constructor throws std::invalid_argument for the same reasons.
  static std::optional<std::string> CheckOptions(const GatewayOptions& options);

  // Stops accepting, closes idle connections, lets requests in flight finish for up to
  // `grace`, then closes whatever is left and joins the threads. Safe to call more than once.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotdeal::gateway
