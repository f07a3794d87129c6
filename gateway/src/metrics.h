// /metrics: a prometheus-cpp Registry for process-level gauges plus a Collectable that sums
// every worker's WorkerStats and reads the engine's campaigns at scrape time. Scraping
// allocates and may take the engine's control-plane lock; it must never be on a claim's path
// and never write to a WorkerStats.
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

  // Another component's metrics (the durable log, the persister), scraped with ours.
  // Before the workers start only: Scrape reads the list without a lock.
  void Add(std::shared_ptr<prometheus::Collectable> collectable);

  // The text exposition format of the registry, this collectable and the added ones.
  std::string Scrape() const;

 private:
  std::span<const WorkerStats> workers_;
  const engine::Engine& engine_;
  prometheus::Registry registry_;
  std::vector<std::shared_ptr<prometheus::Collectable>> others_;
};

}  // namespace hotdeal::gateway
