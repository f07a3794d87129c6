// Metric families: names are listed in gateway/README.md and used by grafana/ as they are here.
#include "metrics.h"

#include <prometheus/gauge.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>

#include "edge_metrics.h"
#include "hotdeal/engine/names.h"
#include "reply.h"

namespace hotdeal::gateway {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

ClientMetric Counter(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  return metric;
}

ClientMetric Gauge(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

// A family of one unlabelled metric.
void AddOne(std::vector<MetricFamily>& out, std::string name, std::string help, MetricType type,
            double value) {
  auto family = Family(std::move(name), std::move(help), type);
  family.metric.push_back(type == MetricType::Counter ? Counter(value) : Gauge(value));
  out.push_back(std::move(family));
}

template <class Read>
std::uint64_t Sum(std::span<const WorkerStats> workers, Read read) {
  std::uint64_t total = 0;
  for (const WorkerStats& stats : workers)
    total += read(stats);
  return total;
}

// One unlabelled counter: `read` summed over the workers.
template <class Read>
void AddCounter(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out,
                std::string name, std::string help, Read read) {
  AddOne(out, std::move(name), std::move(help), MetricType::Counter,
         static_cast<double>(Sum(workers, read)));
}

// A gauge of what is open now: `opened` minus `closed`, both summed over the workers. The two
// are read at slightly different moments; it never reports a negative count.
template <class Opened, class Closed>
void AddOpenGauge(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out,
                  std::string name, std::string help, Opened opened, Closed closed) {
  const std::uint64_t opened_count = Sum(workers, opened);
  const std::uint64_t closed_count = Sum(workers, closed);
  AddOne(out, std::move(name), std::move(help), MetricType::Gauge,
         opened_count > closed_count ? static_cast<double>(opened_count - closed_count) : 0.0);
}

// Every route and status from the first scrape on, zeros included, so rate() and increase()
// see a series start at 0 instead of appearing at its first request (the bounds are fixed:
// docs/metrics.md counts them).
void AddRequests(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out) {
  auto family = Family("hotdeal_http_requests_total", "HTTP requests answered, by route and status",
                       MetricType::Counter);
  for (std::size_t route = 0; route < kRouteCount; ++route) {
    for (std::size_t status = 0; status < kStatuses.size(); ++status) {
      std::uint64_t count =
          Sum(workers, [&](const WorkerStats& s) { return s.requests[route][status].Load(); });
      family.metric.push_back(
          Counter(static_cast<double>(count),
                  {{"route", std::string(RouteName(static_cast<RouteId>(route)))},
                   {"status", std::to_string(kStatuses[status])}}));
    }
  }
  out.push_back(std::move(family));
}

void AddLatency(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out) {
  auto family = Family("hotdeal_http_request_duration_seconds",
                       "From a whole request parsed to its reply ready (with durable acks, "
                       "including the wait for Kafka), by route",
                       MetricType::Histogram);
  for (std::size_t route = 0; route < kRouteCount; ++route) {
    ClientMetric metric;
    metric.label = {{"route", std::string(RouteName(static_cast<RouteId>(route)))}};
    std::uint64_t cumulative = 0;
    for (std::size_t bucket = 0; bucket <= kLatencyBoundsMicros.size(); ++bucket) {
      cumulative += Sum(
          workers, [&](const WorkerStats& s) { return s.latencies[route].buckets[bucket].Load(); });
      ClientMetric::Bucket entry;
      entry.cumulative_count = cumulative;
      entry.upper_bound = bucket < kLatencyBoundsMicros.size()
                              ? static_cast<double>(kLatencyBoundsMicros[bucket]) / 1e6
                              : std::numeric_limits<double>::infinity();
      metric.histogram.bucket.push_back(entry);
    }
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum =
        static_cast<double>(Sum(
            workers, [&](const WorkerStats& s) { return s.latencies[route].micros_sum.Load(); })) /
        1e6;
    family.metric.push_back(std::move(metric));
  }
  out.push_back(std::move(family));
}

void AddConnections(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out) {
  AddOpenGauge(
      workers, out, "hotdeal_http_connections_open", "Connections open now",
      [](const WorkerStats& s) { return s.connections_opened.Load(); },
      [](const WorkerStats& s) { return s.connections_closed.Load(); });

  AddCounter(workers, out, "hotdeal_http_connections_rejected_total",
             "Connections refused with 503 because the connection cap was reached",
             [](const WorkerStats& s) { return s.connections_rejected.Load(); });
  AddCounter(workers, out, "hotdeal_http_parse_errors_total",
             "Requests refused as malformed HTTP or over a size limit before routing",
             [](const WorkerStats& s) { return s.parse_errors.Load(); });
  AddCounter(workers, out, "hotdeal_http_timeouts_total",
             "Connections closed by the idle or slow-request deadline",
             [](const WorkerStats& s) { return s.timeouts.Load(); });

  AddOpenGauge(
      workers, out, "hotdeal_http_streams_open",
      "Event streams (GET /v1/campaigns/{id}/stream) open now; each is also an open connection",
      [](const WorkerStats& s) { return s.streams_opened.Load(); },
      [](const WorkerStats& s) { return s.streams_closed.Load(); });
  AddCounter(workers, out, "hotdeal_http_stream_events_total",
             "Events written to event streams (keep-alive comments not counted)",
             [](const WorkerStats& s) { return s.stream_events.Load(); });
  AddCounter(workers, out, "hotdeal_http_streams_dropped_total",
             "Event streams closed because their reader took no write within the write deadline",
             [](const WorkerStats& s) { return s.streams_dropped.Load(); });
}

void AddRateLimits(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out) {
  auto add_family = [&](std::string name, std::string help, auto read) {
    auto family = Family(std::move(name), std::move(help), MetricType::Counter);
    for (std::size_t kind = 0; kind < kRateLimitKinds; ++kind) {
      std::uint64_t count = Sum(workers, [&](const WorkerStats& s) { return read(s, kind); });
      family.metric.push_back(
          Counter(static_cast<double>(count),
                  {{"limit", std::string(RateLimitName(static_cast<RateLimitKind>(kind)))}}));
    }
    out.push_back(std::move(family));
  };
  add_family("hotdeal_http_rate_limited_total", "Requests answered 429 rate_limited, by limit",
             [](const WorkerStats& s, std::size_t kind) { return s.rate_limited[kind].Load(); });
  add_family(
      "hotdeal_http_rate_limit_evictions_total",
      "Idle (full) buckets handed to another key; harmless, shows table churn",
      [](const WorkerStats& s, std::size_t kind) { return s.rate_limit_evictions[kind].Load(); });
  add_family(
      "hotdeal_http_rate_limit_table_full_total",
      "Requests let through unlimited because every bucket of their set was in use "
      "(the limit failed open; raise --rate-limit-slots)",
      [](const WorkerStats& s, std::size_t kind) { return s.rate_limit_table_full[kind].Load(); });
}

void AddUserTokens(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out) {
  auto family = Family("hotdeal_http_user_tokens_refused_total",
                       "User-route requests answered 401 for their user token, by reason",
                       MetricType::Counter);
  for (std::size_t check = 0; check < kTokenChecks; ++check) {
    if (static_cast<TokenCheck>(check) == TokenCheck::kValid) continue;
    std::uint64_t count =
        Sum(workers, [&](const WorkerStats& s) { return s.user_tokens_refused[check].Load(); });
    family.metric.push_back(
        Counter(static_cast<double>(count),
                {{"reason", std::string(TokenCheckName(static_cast<TokenCheck>(check)))}}));
  }
  out.push_back(std::move(family));
}

void AddPendingWaits(std::span<const WorkerStats> workers, std::vector<MetricFamily>& out) {
  AddCounter(workers, out, "hotdeal_http_pending_waits_started_total",
             "Requests that reached a decision the durable log had not answered and waited for "
             "its answer",
             [](const WorkerStats& s) { return s.pending_waits_started.Load(); });
  auto ended = Family("hotdeal_http_pending_waits_total",
                      "Waits for the durable log's answer, by how they ended: answered, "
                      "timed_out (503 pending), abandoned (connection closed)",
                      MetricType::Counter);
  for (std::size_t end = 0; end < kPendingWaitEnds; ++end) {
    std::uint64_t count =
        Sum(workers, [&](const WorkerStats& s) { return s.pending_waits_ended[end].Load(); });
    ended.metric.push_back(
        Counter(static_cast<double>(count),
                {{"result", std::string(PendingWaitEndName(static_cast<PendingWaitEnd>(end)))}}));
  }
  out.push_back(std::move(ended));
  AddCounter(workers, out, "hotdeal_http_ack_waits_timed_out_total",
             "Decisions whose own reply waited for the durable log past --ack-wait-ms and was "
             "answered 503 pending (the log settles the decision later)",
             [](const WorkerStats& s) { return s.ack_waits_timed_out.Load(); });
}

std::string_view OperationName(engine::Operation operation) {
  switch (operation) {
    case engine::Operation::kClaim:
      return "claim";
    case engine::Operation::kPlaceOrder:
      return "place_order";
    case engine::Operation::kConfirmOrder:
      return "confirm_order";
    case engine::Operation::kCancelOrder:
      return "cancel_order";
    case engine::Operation::kRedeemCoupon:
      return "redeem_coupon";
    case engine::Operation::kRestoreCoupon:
      return "restore_coupon";
  }
  return "unknown";
}

// The engine's own per-worker decision counters, summed by Engine::Stats().
void AddEngineStats(const engine::Engine& engine, std::vector<MetricFamily>& out) {
  engine::EngineStats stats = engine.Stats();
  // Every operation and outcome, zeros included (as AddRequests).
  auto family =
      Family("hotdeal_engine_outcomes_total",
             "Data-plane decisions of the engine, by operation and outcome", MetricType::Counter);
  for (std::size_t op = 0; op < engine::kOperationCount; ++op) {
    auto operation = static_cast<engine::Operation>(op);
    for (std::size_t i = 0; i < engine::kOutcomeCount; ++i) {
      auto outcome = static_cast<engine::Outcome>(i);
      std::uint64_t count = stats.count(operation, outcome);
      family.metric.push_back(Counter(static_cast<double>(count),
                                      {{"operation", std::string(OperationName(operation))},
                                       {"outcome", std::string(MapOutcome(outcome).name)}}));
    }
  }
  out.push_back(std::move(family));
  AddOne(out, "hotdeal_engine_orders_expired_total",
         "Reservations that expired and returned their units to stock", MetricType::Counter,
         static_cast<double>(stats.orders_expired));
  AddOne(out, "hotdeal_engine_orphan_events_total",
         "Logged order moves or voids that recovery found nothing to act on", MetricType::Counter,
         static_cast<double>(stats.orphan_events));
  // Not counters: recovery counts the archived ids again from the log, a restart keeps them.
  AddOne(out, "hotdeal_campaigns_archived",
         "Campaigns archived: out of memory and of --campaigns-max, their ids never given again, "
         "their rows kept in MySQL",
         MetricType::Gauge, static_cast<double>(stats.campaigns_archived));
  AddOne(out, "hotdeal_campaigns_retiring",
         "Archived campaigns whose memory waits for every worker to pass a tick", MetricType::Gauge,
         static_cast<double>(stats.campaigns_retiring));
}

void AddCampaigns(const engine::Engine& engine, std::vector<MetricFamily>& out) {
  auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  auto stock =
      Family("hotdeal_campaign_stock", "Units a campaign was created with", MetricType::Gauge);
  auto remaining =
      Family("hotdeal_campaign_remaining", "Units not claimed and not held by a live reservation",
             MetricType::Gauge);
  auto status =
      Family("hotdeal_campaign_status",
             "1 for the campaign's current status (scheduled, live, sold_out, ended, paused)",
             MetricType::Gauge);
  // Invariant 6, live: stock - remaining - in_doubt == claimed + held + confirmed, and the
  // persister's rows must match claimed + held + confirmed once it has caught up.
  auto units =
      Family("hotdeal_campaign_units",
             "Units taken by state: claimed, held (live reservations), confirmed, in_doubt",
             MetricType::Gauge);
  auto redeemed = Family("hotdeal_campaign_coupons_redeemed",
                         "A coupon campaign's coupons redeemed on an order now (not restored)",
                         MetricType::Gauge);
  auto restores =
      Family("hotdeal_campaign_coupon_restores_total",
             "A coupon campaign's restores (coupons made usable again)", MetricType::Counter);
  // Every status, zeros included, so a panel's series never vanish; archived ones are not
  // listed (hotdeal_campaigns_archived counts them).
  constexpr std::array kStatuses = {engine::CampaignStatus::kScheduled,
                                    engine::CampaignStatus::kLive, engine::CampaignStatus::kPaused,
                                    engine::CampaignStatus::kSoldOut,
                                    engine::CampaignStatus::kEnded};
  std::array<std::uint64_t, kStatuses.size()> by_status{};
  const std::vector<engine::CampaignView> views = engine.ListCampaigns(now);
  for (const engine::CampaignView& view : views) {
    ++by_status[std::find(kStatuses.begin(), kStatuses.end(), view.status) - kStatuses.begin()];
  }
  auto counts = Family("hotdeal_campaigns",
                       "Campaigns held in memory, by status (scheduled, live, paused, sold_out, "
                       "ended)",
                       MetricType::Gauge);
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    counts.metric.push_back(Gauge(static_cast<double>(by_status[i]),
                                  {{"status", std::string(engine::Name(kStatuses[i]))}}));
  }
  out.push_back(std::move(counts));
  for (const engine::CampaignView& view : views) {
    std::string id(view.spec.id.view());
    stock.metric.push_back(Gauge(view.spec.stock, {{"campaign", id}}));
    remaining.metric.push_back(Gauge(view.remaining, {{"campaign", id}}));
    status.metric.push_back(
        Gauge(1.0, {{"campaign", id}, {"status", std::string(engine::Name(view.status))}}));
    if (std::optional<engine::CampaignBooks> books = engine.Books(view.spec.id)) {
      for (auto [state, count] : {std::pair{"claimed", books->claimed},
                                  {"held", books->held},
                                  {"confirmed", books->confirmed},
                                  {"in_doubt", books->in_doubt}}) {
        units.metric.push_back(
            Gauge(static_cast<double>(count), {{"campaign", id}, {"state", state}}));
      }
      if (view.spec.kind == engine::CampaignKind::kCoupon) {
        redeemed.metric.push_back(Gauge(static_cast<double>(books->redeemed), {{"campaign", id}}));
        restores.metric.push_back(
            Counter(static_cast<double>(books->restored), {{"campaign", id}}));
      }
    }
  }
  out.push_back(std::move(stock));
  out.push_back(std::move(remaining));
  out.push_back(std::move(status));
  out.push_back(std::move(units));
  out.push_back(std::move(redeemed));
  out.push_back(std::move(restores));
}

}  // namespace

GatewayMetrics::GatewayMetrics(std::span<const WorkerStats> workers, const engine::Engine& engine,
                               const GatewayOptions& options)
    : workers_(workers), engine_(engine) {
  prometheus::BuildGauge()
      .Name("hotdeal_http_connections_max")
      .Help("The connection cap (--connections-max)")
      .Register(registry_)
      .Add({})
      .Set(options.connections_max);
  auto& per_second = prometheus::BuildGauge()
                         .Name("hotdeal_http_rate_limit_per_second")
                         .Help("Tokens a rate limit gives back per second (0: off)")
                         .Register(registry_);
  auto& burst = prometheus::BuildGauge()
                    .Name("hotdeal_http_rate_limit_burst")
                    .Help("Tokens a rate limit's bucket holds at most")
                    .Register(registry_);
  for (auto [kind, limit] : {std::pair{RateLimitKind::kUser, options.user_rate_limit},
                             {RateLimitKind::kIp, options.ip_rate_limit}}) {
    std::string name(RateLimitName(kind));
    per_second.Add({{"limit", name}}).Set(limit.per_second);
    burst.Add({{"limit", name}}).Set(limit.burst);
  }
  prometheus::BuildGauge()
      .Name("hotdeal_http_workers")
      .Help("Gateway worker threads, each with its own io_context and acceptor")
      .Register(registry_)
      .Add({})
      .Set(static_cast<double>(workers.size()));
}

std::vector<MetricFamily> GatewayMetrics::Collect() const {
  std::vector<MetricFamily> families = registry_.Collect();
  AddRequests(workers_, families);
  AddLatency(workers_, families);
  AddConnections(workers_, families);
  AddRateLimits(workers_, families);
  AddUserTokens(workers_, families);
  AddPendingWaits(workers_, families);
  AddEdgeMetrics(workers_, families);  // edge_metrics.cc: access refusals, proxies, CORS
  AddEngineStats(engine_, families);
  AddCampaigns(engine_, families);
  return families;
}

}  // namespace hotdeal::gateway
