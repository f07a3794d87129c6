// Edge and access metric families, summed over the workers' counters at scrape time.
#include "edge_metrics.h"

#include <string>

namespace hotdeal::gateway {
namespace {

// One counter family with a `reason` label per entry of `counters` (a WorkerStats array).
template <std::size_t N, class Name>
void AddReasons(std::span<const WorkerStats> workers, std::string name, std::string help,
                std::array<RelaxedCounter, N> WorkerStats::*counters, Name reason_name,
                std::vector<prometheus::MetricFamily>& out) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Counter;
  for (std::size_t i = 0; i < N; ++i) {
    std::uint64_t total = 0;
    for (const WorkerStats& stats : workers)
      total += (stats.*counters)[i].Load();
    prometheus::ClientMetric metric;
    metric.label = {{"reason", std::string(reason_name(i))}};
    metric.counter.value = static_cast<double>(total);
    family.metric.push_back(std::move(metric));
  }
  out.push_back(std::move(family));
}

}  // namespace

void AddEdgeMetrics(std::span<const WorkerStats> workers,
                    std::vector<prometheus::MetricFamily>& out) {
  AddReasons(
      workers, "hotdeal_http_access_refused_total",
      "Requests refused by who may do what: confirm without the service token (401), a user's "
      "refund (403), someone else's order or claim (404)",
      &WorkerStats::access_refused,
      [](std::size_t i) { return AccessRefusalName(static_cast<AccessRefusal>(i)); }, out);
  AddReasons(
      workers, "hotdeal_http_edge_refused_total",
      "Requests whose X-Forwarded-For was ignored (untrusted peer, or naming no address), whose "
      "Origin got no CORS headers, or whose head was refused (Transfer-Encoding, Host)",
      &WorkerStats::edge_refused,
      [](std::size_t i) { return EdgeRefusalName(static_cast<EdgeRefusal>(i)); }, out);
}

}  // namespace hotdeal::gateway
