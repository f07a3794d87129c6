// The durable log as the gateway sees it. The app binds it to persistence::KafkaLog, so the
// gateway answers "201 only once Kafka has it" without depending on persistence/.
// Must never: block, throw, or call OnSettled more than once per awaited ticket.
#pragma once

#include <cstdint>

#include "hotdeal/engine/event.h"

namespace hotdeal::gateway {

// Hears once whether the event behind an awaited ticket reached the log. OnSettled runs on the
// log's thread (or inside Await); it must only hand the result to its own worker's io_context.
class AckWaiter {
 public:
  // Dense over every worker's waiters, below Server::AckWaitersMax(options): the app's binding
  // keeps one fixed piece of state per id, so waiting allocates nothing on either side.
  explicit AckWaiter(std::uint32_t id) : id_(id) {}
  std::uint32_t id() const noexcept { return id_; }

  // false: not persisted (reverted) or in doubt; either way the client must retry.
  virtual void OnSettled(bool persisted) noexcept = 0;

 protected:
  ~AckWaiter() = default;

 private:
  std::uint32_t id_;
};

class DurableLog {
 public:
  // Every non-zero ticket a Decision carries is awaited or forgotten, exactly once, by the
  // worker thread that made the decision.
  virtual void Await(engine::LogTicket ticket, AckWaiter& waiter) noexcept = 0;
  virtual void Forget(engine::LogTicket ticket) noexcept = 0;
  // For /readyz: the log takes writes.
  virtual bool healthy() const noexcept = 0;

 protected:
  ~DurableLog() = default;
};

// How a decision's reply waits for the log.
enum class AckMode : std::uint8_t {
  kDurable,  // 201 once the log persisted the event; 503 + Retry-After otherwise
  kMemory,   // answer at once and forget the ticket (what a crash can lose: docs/durability.md)
};

}  // namespace hotdeal::gateway
