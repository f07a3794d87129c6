// SingleWriterHistogram: a Prometheus histogram for the probes (LogProbe, PersisterProbe), with
// fixed bounds and one writing thread, so observing costs a few relaxed loads and stores.
//
// Must never: be observed from two threads at once (counts would be lost, not corrupted).
#pragma once

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

namespace hotdeal::persistence {

// `N` fixed upper bounds (and +Inf). Observe from one thread; Family from any thread, which
// may see a sum one observation ahead of its buckets.
template <std::size_t N>
class SingleWriterHistogram {
 public:
  explicit constexpr SingleWriterHistogram(std::array<double, N> bounds) : bounds_(bounds) {}

  void Observe(double value) noexcept {
    std::size_t bucket = 0;
    while (bucket < N && value > bounds_[bucket])
      ++bucket;
    buckets_[bucket].store(buckets_[bucket].load(kRelaxed) + 1, kRelaxed);
    sum_.store(sum_.load(kRelaxed) + value, kRelaxed);
  }

  prometheus::MetricFamily Family(std::string name, std::string help) const {
    prometheus::ClientMetric metric;
    std::uint64_t cumulative = 0;
    for (std::size_t bucket = 0; bucket <= N; ++bucket) {
      cumulative += buckets_[bucket].load(kRelaxed);
      prometheus::ClientMetric::Bucket entry;
      entry.cumulative_count = cumulative;
      entry.upper_bound = bucket < N ? bounds_[bucket] : std::numeric_limits<double>::infinity();
      metric.histogram.bucket.push_back(entry);
    }
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = sum_.load(kRelaxed);
    return {
        std::move(name), std::move(help), prometheus::MetricType::Histogram, {std::move(metric)}};
  }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  const std::array<double, N> bounds_;
  std::array<std::atomic<std::uint64_t>, N + 1> buckets_{};
  std::atomic<double> sum_{0};
};

// Seconds, from 100 us to 10 s: Kafka acknowledgements and MySQL commits.
inline constexpr std::array<double, 14> kDurationBoundsSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 10};

}  // namespace hotdeal::persistence
