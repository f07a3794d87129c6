// The process's one set of metrics. Each component that exports metrics registers its
// collectable here once; whatever serves /metrics (the gateway's route in `serve`, the exposer
// of `persist`) scrapes the registry, never the components one by one. Scraping allocates and
// takes a lock: it is never on a decision's path.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hotdeal::base {

class MetricsRegistry final : public prometheus::Collectable {
 public:
  // May come after scraping began (a component started late shows from the next scrape).
  void Register(std::shared_ptr<const prometheus::Collectable> component);

  // Every registered component's families, in registration order.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Collect in the text exposition format.
  std::string Scrape() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> components_;
};

}  // namespace hotdeal::base
