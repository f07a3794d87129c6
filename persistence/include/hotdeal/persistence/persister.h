// Persister: the write-behind from Kafka (`hotdeal.events`) to MySQL, on its own thread.
//
// Guarantees: exactly-once effect. Partitions are assigned explicitly from the offsets stored
// in MySQL (no consumer group, no Kafka commits), and each batch's rows and its new offsets are
// written in ONE InnoDB transaction, so rows and offsets never disagree. A replayed row is
// recognised by its id and skipped; a conflicting one (same campaign and user, another claim
// id; an id reused with other contents; an undecodable event) goes to the `conflicts` table and
// the conflicts metric, and is never silently dropped. An event of an owner epoch below one
// already seen in its partition (a replaced engine's, owner.h) is not applied either: it goes
// to `conflicts` as stale_epoch and to its own metric. The highest epoch per partition is
// stored with the offsets, in the same transaction. MySQL down or stalled: the batch is
// abandoned, the thread backs off, reconnects, re-reads the offsets and goes on; nothing is
// lost, lag grows and is exported.
// Must never: auto-reconnect a connection (an interrupted COMMIT has an unknown outcome), use
// INSERT IGNORE or ON DUPLICATE KEY UPDATE on rows with two unique keys, or commit to Kafka.
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hotdeal/persistence/histogram.h"
#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence {

struct PersisterCounters {
  std::uint64_t events = 0;       // events written (or recognised as already written)
  std::uint64_t batches = 0;      // transactions committed
  std::uint64_t replayed = 0;     // rows found already present with the same contents
  std::uint64_t conflicts = 0;    // events kept in `conflicts` (the alarm)
  std::uint64_t errors = 0;       // sessions ended by a MySQL or Kafka error
  std::uint64_t lag = 0;          // events in Kafka not yet in MySQL
  std::uint64_t stale_epoch = 0;  // events of a replaced owner, kept in `conflicts` (the alarm)
  bool connected = false;
};

// Units of one campaign in one source of the books: claims, units of orders reserved (held)
// and of orders confirmed. The engine's own are hotdeal_campaign_units.
struct Units {
  std::uint64_t claimed = 0;
  std::uint64_t held = 0;
  std::uint64_t confirmed = 0;
  bool operator==(const Units&) const = default;
};

// One campaign's books as the persister sees them, both at the same committed offsets: `rows`
// counted in MySQL's tables, `log` folded from the Kafka events the persister consumed.
struct CampaignBooks {
  std::string campaign;
  Units rows;
  Units log;
};

// The persister thread writes; any thread reads.
class PersisterProbe final : public prometheus::Collectable {
 public:
  // `took`: from START TRANSACTION to COMMIT answered.
  void Batch(std::uint64_t events, std::uint64_t replayed, std::uint64_t conflicts,
             std::uint64_t stale_epoch, std::chrono::steady_clock::duration took) noexcept;
  void SetBooks(std::vector<CampaignBooks> books);
  void Error() noexcept { errors_.fetch_add(1, kRelaxed); }
  void SetLag(std::uint64_t lag) noexcept { lag_.store(lag, kRelaxed); }
  void SetConnected(bool connected) noexcept { connected_.store(connected, kRelaxed); }
  // While a session is open the lag is measured when read, from the session's consumer: the
  // persister thread blocks inside MySQL when the database stalls, and that is exactly when the
  // lag must keep growing on the dashboard. nullptr: the last SetLag value stands.
  void SetLagSource(std::function<std::uint64_t()> source);

  PersisterCounters Snapshot() const noexcept;
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  std::atomic<std::uint64_t> events_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> replayed_{0};
  std::atomic<std::uint64_t> conflicts_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> lag_{0};
  std::atomic<std::uint64_t> stale_epoch_{0};
  std::atomic<bool> connected_{false};
  SingleWriterHistogram<kDurationBoundsSeconds.size()> commit_seconds_{kDurationBoundsSeconds};
  SingleWriterHistogram<9> batch_events_{{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536}};
  mutable std::mutex books_mutex_;  // held while books_ is replaced or read
  std::vector<CampaignBooks> books_;
  mutable std::mutex lag_source_mutex_;  // held while the source is called or replaced
  std::function<std::uint64_t()> lag_source_;
};

class Persister {
 public:
  explicit Persister(Options options);
  ~Persister();
  Persister(const Persister&) = delete;
  Persister& operator=(const Persister&) = delete;

  // Starts the thread. Never fails for Kafka or MySQL being down: the thread retries.
  void Start();
  // Finishes the batch being written (or abandons it if MySQL is gone) and joins. Idempotent.
  void Stop();

  std::shared_ptr<PersisterProbe> probe() const noexcept { return probe_; }

 private:
  class Session;
  void Run();

  const Options options_;
  std::shared_ptr<PersisterProbe> probe_ = std::make_shared<PersisterProbe>();
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace hotdeal::persistence
