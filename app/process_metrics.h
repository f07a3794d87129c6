// What this process is and how it started, for /metrics of both `serve` and `persist`:
// hotdeal_build_info, the standard process_* family (read from /proc at scrape time) and, for
// `serve`, how long recovery took. Scraping reads a few /proc files; nothing here is on a
// request's path.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hotdeal::app {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  // `role`: the subcommand ("serve", "persist"), a label of hotdeal_build_info.
  explicit ProcessMetrics(std::string role);

  // Once, after recovery (serve --log kafka): before it, the recovery gauges read 0.
  void SetRecovered(std::chrono::nanoseconds duration, std::uint64_t events_replayed) noexcept;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string role_;
  std::atomic<double> recovery_seconds_{0};
  std::atomic<std::uint64_t> recovery_events_replayed_{0};
};

}  // namespace hotdeal::app
