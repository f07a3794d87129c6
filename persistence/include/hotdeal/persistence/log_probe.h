// KafkaLog's metrics, in one place: per-worker counters written by one thread each and summed
// only when scraped, so counting costs nothing shared on the hot path.
//
// Must never: take a lock or allocate when counting (Collect, at scrape time, may allocate).
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "hotdeal/engine/log.h"
#include "hotdeal/engine/types.h"
#include "hotdeal/persistence/histogram.h"

namespace hotdeal::persistence {

struct LogCounters {
  std::uint64_t appended = 0;  // events accepted for the log
  std::uint64_t refused = 0;   // Append answered nullopt (full, unhealthy, invalid)
  std::uint64_t persisted = 0;
  std::uint64_t not_persisted = 0;       // each one reverted in the engine
  std::uint64_t possibly_persisted = 0;  // in doubt
  std::uint64_t fatal_errors = 0;
  std::uint64_t producer_recreations = 0;
  std::uint64_t in_flight = 0;  // appended and not yet settled: the queue depth
  bool healthy = false;
};

class LogProbe final : public prometheus::Collectable {
 public:
  explicit LogProbe(std::uint32_t workers);

  // Worker threads, each with its own WorkerId.
  void Appended(engine::WorkerId worker) noexcept { Cell(worker).appended.fetch_add(1, kRelaxed); }
  void Refused(engine::WorkerId worker) noexcept { Cell(worker).refused.fetch_add(1, kRelaxed); }

  // The log's poll thread only. `waited`: from the first Append of the event to this report
  // (re-appends included), observed into hotdeal_log_ack_duration_seconds when persisted.
  void Settled(engine::Durability durability, std::chrono::steady_clock::duration waited) noexcept;
  void FatalError() noexcept { fatal_errors_.fetch_add(1, kRelaxed); }
  void Recreated() noexcept { producer_recreations_.fetch_add(1, kRelaxed); }
  void SetHealthy(bool healthy) noexcept { healthy_.store(healthy, kRelaxed); }

  // Any thread.
  LogCounters Snapshot() const noexcept;
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  // One cache line per worker, so two workers never write the same line.
  struct alignas(64) WorkerCells {
    std::atomic<std::uint64_t> appended{0};
    std::atomic<std::uint64_t> refused{0};
  };
  WorkerCells& Cell(engine::WorkerId worker) noexcept {
    // An out-of-range id would be an engine bug; folding it in keeps the count right.
    return workers_[worker.value < workers_count_ ? worker.value : 0];
  }

  std::uint32_t workers_count_;
  std::unique_ptr<WorkerCells[]> workers_;
  std::atomic<std::uint64_t> persisted_{0};
  std::atomic<std::uint64_t> not_persisted_{0};
  std::atomic<std::uint64_t> possibly_persisted_{0};
  std::atomic<std::uint64_t> fatal_errors_{0};
  std::atomic<std::uint64_t> producer_recreations_{0};
  std::atomic<bool> healthy_{false};
  SingleWriterHistogram<kDurationBoundsSeconds.size()> ack_seconds_{kDurationBoundsSeconds};
};

}  // namespace hotdeal::persistence
