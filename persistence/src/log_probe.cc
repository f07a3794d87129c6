// LogProbe: sums per-worker counters at scrape time and names them for Prometheus. The metric
// names here are the ones grafana/ dashboards use.
#include "hotdeal/persistence/log_probe.h"

#include "metric_family.h"

namespace hotdeal::persistence {

LogProbe::LogProbe(std::uint32_t workers)
    : workers_count_(workers == 0 ? 1 : workers),
      workers_(std::make_unique<WorkerCells[]>(workers_count_)) {}

void LogProbe::Settled(engine::Durability durability,
                       std::chrono::steady_clock::duration waited) noexcept {
  switch (durability) {
    case engine::Durability::kPersisted:
      persisted_.fetch_add(1, kRelaxed);
      ack_seconds_.Observe(std::chrono::duration<double>(waited).count());
      return;
    case engine::Durability::kNotPersisted:
      not_persisted_.fetch_add(1, kRelaxed);
      return;
    case engine::Durability::kPossiblyPersisted:
      possibly_persisted_.fetch_add(1, kRelaxed);
      return;
  }
}

LogCounters LogProbe::Snapshot() const noexcept {
  LogCounters c;
  for (std::uint32_t i = 0; i < workers_count_; ++i) {
    c.appended += workers_[i].appended.load(kRelaxed);
    c.refused += workers_[i].refused.load(kRelaxed);
  }
  c.persisted = persisted_.load(kRelaxed);
  c.not_persisted = not_persisted_.load(kRelaxed);
  c.possibly_persisted = possibly_persisted_.load(kRelaxed);
  c.fatal_errors = fatal_errors_.load(kRelaxed);
  c.producer_recreations = producer_recreations_.load(kRelaxed);
  const std::uint64_t settled = c.persisted + c.not_persisted + c.possibly_persisted;
  // Read without one snapshot lock, so a settle may be counted before its append.
  c.in_flight = c.appended > settled ? c.appended - settled : 0;
  c.healthy = healthy_.load(kRelaxed);
  return c;
}

std::vector<prometheus::MetricFamily> LogProbe::Collect() const {
  const LogCounters c = Snapshot();
  auto counter = [](const char* name, const char* help, std::uint64_t v) {
    return CounterFamily(name, help, v);
  };
  auto gauge = [](const char* name, const char* help, std::uint64_t v) {
    return GaugeFamily(name, help, static_cast<double>(v));
  };
  return {
      counter("hotdeal_log_appended_total", "Events accepted by the durable log", c.appended),
      counter("hotdeal_log_refused_total", "Events the durable log refused (503)", c.refused),
      counter("hotdeal_log_persisted_total", "Events Kafka acknowledged", c.persisted),
      counter("hotdeal_log_not_persisted_total", "Events certainly lost; decision reverted",
              c.not_persisted),
      counter("hotdeal_log_possibly_persisted_total", "Events in doubt (possibly persisted)",
              c.possibly_persisted),
      counter("hotdeal_log_fatal_errors_total", "Fatal producer errors", c.fatal_errors),
      counter("hotdeal_log_producer_recreations_total", "Producers recreated after fatal errors",
              c.producer_recreations),
      gauge("hotdeal_log_in_flight", "Events appended and not yet settled", c.in_flight),
      gauge("hotdeal_log_healthy", "1 when the durable log takes writes", c.healthy ? 1 : 0),
      ack_seconds_.Family("hotdeal_log_ack_duration_seconds",
                          "From an event's append to Kafka's acknowledgement (acks=all), for "
                          "events Kafka persisted"),
  };
}

}  // namespace hotdeal::persistence
