// KafkaLog: the durable write-ahead log, an engine::EventSink over an idempotent librdkafka
// producer (acks=all). Every accepted event takes a slot in a fixed table until librdkafka
// reports its fate; callers wait for that without blocking (engine::DurableLog,
// hotdeal/engine/log.h).
//
// Guarantees: Append never blocks and never allocates beyond librdkafka's copy of the payload;
// each accepted event settles exactly once as persisted / not persisted / possibly persisted;
// a persisted decision is acknowledged in the engine (engine::LogReports) before its waiter hears
// it, a not-persisted one reverted there and a possibly-persisted one marked in doubt, except
// events that gave units back (cancelled, expired, voided), which the engine cannot undo, and
// confirms (a payment's record): the log appends those again until Kafka has them (until Stop,
// which settles them). Must never: undo a possibly-persisted decision (it is in doubt,
// docs/durability.md), buffer without bound, or let librdkafka types into this header.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "hotdeal/engine/event.h"
#include "hotdeal/engine/log.h"
#include "hotdeal/persistence/log_probe.h"
#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence {

class IndexQueue;
class InDoubtSettler;
namespace kafka {
class Producer;
enum class ClientError;
}  // namespace kafka

class KafkaLog final : public engine::EventSink, public engine::DurableLog {
 public:
  explicit KafkaLog(Options options);
  ~KafkaLog() override;
  KafkaLog(const KafkaLog&) = delete;
  KafkaLog& operator=(const KafkaLog&) = delete;

  // Creates the producer and the topic if missing (Admin API), then starts the poll thread.
  // `reports` (the engine) hears every event's fate; `settler`, if any, gets the decisions the
  // engine marked in doubt. Both must outlive the log. Start-up only: throws
  // std::runtime_error on failure.
  void Start(engine::LogReports& reports, InDoubtSettler* settler = nullptr);
  // Stops accepting, waits up to delivery_timeout for outstanding reports, settles whatever is
  // still unreported as possibly persisted, joins the poll thread. Idempotent.
  void Stop();

  // Any worker thread, each with its own WorkerId. nullopt: not started, unhealthy, slot table
  // or librdkafka queue full, or an event the codec refuses (an engine bug, logged).
  std::optional<engine::LogTicket> Append(engine::WorkerId worker,
                                          const engine::Event& event) noexcept override;

  // Registers `waiter` for `ticket`, which must come from a Decision (or, for a void, from the
  // Append of the InDoubtSettler) and be awaited or forgotten exactly once; a ticket left alone
  // keeps its slot forever. order_expired needs neither: no caller sees its ticket.
  void Await(engine::LogTicket ticket, engine::LogWaiter& waiter) noexcept override;
  // The caller will not wait (fast mode, or it gave up): the slot frees itself when settled.
  void Forget(engine::LogTicket ticket) noexcept override;

  // For /readyz: started, producer usable, and the brokers reachable.
  bool healthy() const noexcept override;
  // Counts producers created (1 after Start). Read on the poll thread while it reports an
  // event, it names the producer that sent that event (the InDoubtSettler's fence).
  std::uint64_t producer_generation() const noexcept {
    return producer_generation_.load(std::memory_order_acquire);
  }
  // Shared so the app can register it with the Prometheus exposer (which keeps a weak_ptr).
  std::shared_ptr<LogProbe> probe() const noexcept { return probe_; }

  // Raises a fatal producer error as librdkafka would (e.g. a sequence gap on the broker).
  void TEST_TriggerFatalError();

 private:
  struct Slot;

  void PollLoop();
  bool Produce(std::uint32_t index, std::string_view payload) noexcept;
  void Reappend() noexcept;
  void OnDelivery(std::uint32_t index, engine::Durability durability) noexcept;
  void OnError(kafka::ClientError error, const char* name, const char* reason) noexcept;
  void Settle(std::uint32_t index, engine::Durability durability) noexcept;
  void Release(std::uint32_t index) noexcept;
  void CloseGate() noexcept;
  void OpenGate() noexcept;
  void RecreateProducer();
  void DrainProducer(std::chrono::milliseconds timeout) noexcept;
  void SettleUnreported() noexcept;
  void ProbeBrokers() noexcept;

  const Options options_;
  std::shared_ptr<LogProbe> probe_;
  engine::LogReports* reports_ = nullptr;
  InDoubtSettler* settler_ = nullptr;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<IndexQueue> free_;  // indices of kFree slots
  std::unique_ptr<kafka::Producer> producer_;
  std::atomic<bool> test_fatal_error_{false};  // TEST_TriggerFatalError's request

  // The gate between Append and the poll thread replacing the producer: Append counts itself
  // in, then checks accepting_; the replacer clears accepting_, then waits for the count to
  // drain. Both sides use seq_cst so neither can miss the other.
  std::atomic<bool> accepting_{false};
  std::atomic<std::uint32_t> appenders_{0};
  std::atomic<bool> brokers_down_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> producer_generation_{0};  // written by RecreateProducer
  bool fatal_pending_ = false;           // poll thread only (set by the error callback it serves)
  std::vector<std::uint32_t> reappend_;  // poll thread only; capacity = slot count
  std::thread poll_thread_;
};

}  // namespace hotdeal::persistence
