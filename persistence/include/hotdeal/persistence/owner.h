// One owner across boxes, the cross-box half of ARCHITECTURE invariant 7 (the one-box half is
// app/owner_lock.h). A serving engine takes an epoch from MySQL at start, every event its log
// appends carries that epoch (Options::owner_epoch), and the persister and recovery never apply
// an event of an epoch older than one already seen in its partition (partition_epochs.h).
// OwnerWatch is the stale engine's own half: it notices a newer owner and says so, so the process
// stops selling. Ownership is the whole deployment (topic and database) today; per campaign is the
// planned unit (ARCHITECTURE "Scale past one machine").
//
// Must never: hand out an epoch twice (one transaction per take), or let an owner serve before
// its fence is in every partition (events of the previous owner behind it would still count).
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence {

// Start-up only, before recovery; throws std::runtime_error. Migrates the schema, takes
// epoch = previous + 1 for options.kafka_topic in one transaction (recording this host, pid and
// time in `owners`), then appends an owner_fence of that epoch to every partition of the topic
// and waits until Kafka has persisted them all. Answers the epoch.
std::uint64_t TakeOwnership(const Options& options);

// `hotdeal_owner_*`: this process's epoch, whether a newer owner took over, failed checks.
class OwnerProbe final : public prometheus::Collectable {
 public:
  explicit OwnerProbe(std::uint64_t epoch) : epoch_(epoch) {}
  void Fenced() noexcept { fenced_.store(true, std::memory_order_relaxed); }
  void CheckFailed() noexcept { check_errors_.fetch_add(1, std::memory_order_relaxed); }
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::uint64_t epoch_;
  std::atomic<bool> fenced_{false};
  std::atomic<std::uint64_t> check_errors_{0};
};

// Reads the `owners` row every options.owner_check_interval on its own thread and connection.
// A MySQL error only counts (hotdeal_owner_check_errors_total) and retries next time: while
// MySQL cannot be read, a replaced engine cannot know (docs/durability.md says what that costs).
class OwnerWatch {
 public:
  // Called once, on the watch's thread, with what the newer owner's row says.
  using OnFenced = std::function<void(const std::string& why)>;

  // options.owner_epoch is the epoch this process owns.
  explicit OwnerWatch(Options options);
  ~OwnerWatch();
  OwnerWatch(const OwnerWatch&) = delete;
  OwnerWatch& operator=(const OwnerWatch&) = delete;

  void Start(OnFenced on_fenced);
  void Stop();  // idempotent; returns within the MySQL I/O timeout
  bool fenced() const noexcept { return fenced_.load(); }
  std::shared_ptr<OwnerProbe> probe() const noexcept { return probe_; }

 private:
  void Run(const OnFenced& on_fenced);

  const Options options_;
  std::shared_ptr<OwnerProbe> probe_;
  std::atomic<bool> fenced_{false};
  std::mutex mutex_;  // guards stopping_ for the interruptible wait
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hotdeal::persistence
