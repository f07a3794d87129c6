// InDoubtSettler: settles decisions the log reported as possibly persisted (claim_granted,
// order_reserved marked in doubt in the engine), on one thread of its own, by asking the log,
// which is the judge: a decision found in its partition stands; one that is not there is voided
// by logging a void event, and its units go back to stock only once Kafka acknowledged that void.
// docs/durability.md, "In doubt", argues why each step is safe.
//
// Must never: restock before a void is persisted, conclude "not in the log" while the event could
// still land after the void, or buffer without bound (a full queue leaves a decision in doubt
// until the next restart, whose recovery decides it from the log: under-sell, never oversell).
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hotdeal/engine/event.h"
#include "hotdeal/engine/log.h"
#include "hotdeal/persistence/options.h"

namespace hotdeal::engine {
class Engine;
}

namespace hotdeal::persistence {

class KafkaLog;

// What replaying a partition makes of one in-doubt decision: the log is the judge.
enum class LogVerdict : std::uint8_t {
  kStands,  // the decision's event is there and no void of it follows
  kVoided,  // the event is there and a void of it follows: replay cancels it
  kAbsent,  // the event is not there
};

// Replays a partition, fed its events in log order, for one in-doubt `decision` (claim_granted
// or order_reserved, as appended). The decision matches by type, campaign, id and seq; a void by
// campaign and claim or order id. A void before the decision is a no-op on replay
// (Engine::Apply), so only a void after it cancels it.
class Replayed {
 public:
  explicit Replayed(const engine::Event& decision) : decision_(decision) {}
  void Observe(const engine::Event& logged) noexcept;
  LogVerdict verdict() const noexcept { return verdict_; }

 private:
  engine::Event decision_;
  LogVerdict verdict_ = LogVerdict::kAbsent;
};

struct SettlerCounters {
  std::uint64_t waiting = 0;            // decisions held by the settler, not yet settled
  std::uint64_t settled_persisted = 0;  // found in the log: the decision stands
  std::uint64_t settled_voided = 0;     // void persisted, units back in stock
  std::uint64_t retries = 0;            // a log read failed or the log refused a void: again later
  std::uint64_t overflow = 0;           // not taken (queue full or stopped): in doubt until restart
};

// The settler's metrics (hotdeal_in_doubt_*); written by the settler and the log's poll thread.
class SettlerProbe final : public prometheus::Collectable {
 public:
  SettlerCounters Snapshot() const noexcept;
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  friend class InDoubtSettler;
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  std::atomic<std::uint64_t> waiting_{0};
  std::atomic<std::uint64_t> settled_persisted_{0};
  std::atomic<std::uint64_t> settled_voided_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> overflow_{0};
};

struct SettlerOptions {
  std::uint32_t capacity = 4096;  // in-doubt decisions held at once; more are counted in overflow
  // How long the broker may still apply a request of a producer after the log replaced it (fatal
  // error): events of a replaced producer are judged only this long after the settler saw the
  // replacement. At least the delivery timeout (docs/durability.md, "In doubt").
  std::chrono::milliseconds replaced_producer_quiet{10'000};
  std::chrono::milliseconds round_interval{100};   // between rounds when nothing wakes the thread
  std::chrono::milliseconds read_timeout{10'000};  // one partition read gives up after this
};

class InDoubtSettler {
 public:
  // `engine` and `log` must outlive the settler, and the log must be stopped (KafkaLog::Stop)
  // before the settler is destroyed: it may still report a void to it until then.
  InDoubtSettler(engine::Engine& engine, KafkaLog& log, Options options,
                 SettlerOptions settler_options);
  ~InDoubtSettler();
  InDoubtSettler(const InDoubtSettler&) = delete;
  InDoubtSettler& operator=(const InDoubtSettler&) = delete;

  // Reads the topic's partitions and their high watermarks (every event this process appends
  // lands at or past them; a topic created a moment ago gets read_timeout for its leaders),
  // then starts the thread. Once, at start-up: throws std::runtime_error.
  void Start();
  // Joins the thread (bounded by one partition read). What is still in doubt stays so: the next
  // recovery decides it from the log. Idempotent.
  void Stop();

  // The log's poll thread, right after Engine::MarkInDoubt(event). Never blocks for long: a
  // bounded queue, one short lock. Other event types are ignored.
  void Add(const engine::Event& event) noexcept;

  std::shared_ptr<SettlerProbe> probe() const noexcept { return probe_; }

 private:
  struct Entry;
  class LogReader;

  void Run();
  void TakeIncoming();
  void FinishPersistedVoids();
  void JudgeDue(std::chrono::steady_clock::time_point now);
  void Decide(Entry& entry, LogVerdict verdict);
  void AppendVoids();
  void Restock(Entry& entry);
  void Release(Entry& entry);
  void SeeGeneration(std::uint64_t generation, std::chrono::steady_clock::time_point now);
  bool Quiet(const Entry& entry, std::chrono::steady_clock::time_point now) const;
  void Wake() noexcept;

  engine::Engine& engine_;
  KafkaLog& log_;
  const Options options_;
  const SettlerOptions settler_options_;
  std::shared_ptr<SettlerProbe> probe_;
  std::unique_ptr<Entry[]> entries_;  // fixed: capacity entries, stable addresses (log waiters)
  std::vector<std::uint32_t> free_;   // settler thread only; indices of unused entries
  std::unique_ptr<LogReader> reader_;

  std::mutex mutex_;  // guards incoming_, started_, stopping_, woken_ (and wakes the thread)
  std::condition_variable wake_;
  std::vector<std::pair<engine::Event, std::uint64_t>> incoming_;  // event, producer generation
  std::vector<std::pair<engine::Event, std::uint64_t>> taking_;    // settler thread: swapped in
  std::atomic<std::uint32_t> held_{0};  // entries in use + incoming: the bound of Add
  bool stopping_ = false;
  bool started_ = false;
  bool woken_ = false;  // a void was reported

  // Settler thread only: the newest producer generation seen and when it was first seen.
  std::uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point generation_seen_at_{};
  std::thread thread_;
};

}  // namespace hotdeal::persistence
