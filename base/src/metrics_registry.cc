// MetricsRegistry; see metrics_registry.h.
#include "hotdeal/base/metrics_registry.h"

#include <prometheus/text_serializer.h>

#include <utility>

namespace hotdeal::base {

void MetricsRegistry::Register(std::shared_ptr<const prometheus::Collectable> component) {
  std::lock_guard lock(mutex_);
  components_.push_back(std::move(component));
}

std::vector<prometheus::MetricFamily> MetricsRegistry::Collect() const {
  std::vector<std::shared_ptr<const prometheus::Collectable>> components;
  {
    // A component's Collect may read an engine or take its own locks: not under ours.
    std::lock_guard lock(mutex_);
    components = components_;
  }
  std::vector<prometheus::MetricFamily> families;
  for (const auto& component : components) {
    for (prometheus::MetricFamily& family : component->Collect())
      families.push_back(std::move(family));
  }
  return families;
}

std::string MetricsRegistry::Scrape() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

}  // namespace hotdeal::base
