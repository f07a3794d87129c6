// /metrics: a prometheus-cpp Registry for process-level gauges plus a Collectable that sums
// every worker's WorkerStats and reads the engine's campaigns at scrape time. Scraping
// allocates and may take the engine's control-plane lock; it must never be on a claim's path
// and never write to a WorkerStats.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include <span>
#include <string>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "worker_stats.h"

namespace hotdeal::gateway {

class GatewayMetrics final : public prometheus::Collectable {
 public:
  GatewayMetrics(std::span<const WorkerStats> workers, const engine::Engine& engine,
                 std::uint32_t connections_max);

  std::vector<prometheus::MetricFamily> Collect() const override;

  // The text exposition format of the registry and this collectable together.
  std::string Scrape() const;

 private:
  std::span<const WorkerStats> workers_;
  const engine::Engine& engine_;
  prometheus::Registry registry_;
};

}  // namespace hotdeal::gateway
