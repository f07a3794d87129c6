// One-value Prometheus metric families, for the probes' Collect(). Internal.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>

namespace hotdeal::persistence {

inline prometheus::MetricFamily CounterFamily(std::string name, std::string help,
                                              std::uint64_t value) {
  prometheus::ClientMetric metric;
  metric.counter.value = static_cast<double>(value);
  return {std::move(name), std::move(help), prometheus::MetricType::Counter, {std::move(metric)}};
}

inline prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value) {
  prometheus::ClientMetric metric;
  metric.gauge.value = value;
  return {std::move(name), std::move(help), prometheus::MetricType::Gauge, {std::move(metric)}};
}

}  // namespace hotdeal::persistence
