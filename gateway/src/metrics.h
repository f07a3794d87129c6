// The gateway's part of /metrics: a Collectable that sums every worker's WorkerStats and reads
// the engine's campaigns at scrape time, registered in the process's base::MetricsRegistry.
// Scraping allocates and may take the engine's control-plane lock; it must never be on a claim's
// path and never write to a WorkerStats.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/gateway/server.h"
#include "worker_stats.h"

namespace hotdeal::gateway {

class GatewayMetrics final : public prometheus::Collectable {
 public:
  GatewayMetrics(std::span<const WorkerStats> workers, const engine::Engine& engine,
                 const GatewayOptions& options);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::span<const WorkerStats> workers_;
  const engine::Engine& engine_;
  prometheus::Registry registry_;  // the gauges set once at construction
};

}  // namespace hotdeal::gateway
