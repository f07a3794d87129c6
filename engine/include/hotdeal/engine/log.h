// The durable log as everything above the engine sees it: the one port. A decision's event is
// appended (EventSink, event.h) and gets a LogTicket; the log reports the event's fate once as
// a Durability; a caller that answers only once the log has spoken (--ack durable) waits with
// a LogWaiter. persistence::KafkaLog implements it; the gateway waits through it. The whole
// protocol, and which fate undoes what, is in docs/durability.md.
//
// Must never: grow a fourth Durability. librdkafka reports exactly these three, and only
// kNotPersisted may undo a decision.
#pragma once

#include <cstdint>

#include "hotdeal/engine/event.h"

namespace hotdeal::engine {

enum class Durability : std::uint8_t {
  kPersisted,          // acknowledged by all in-sync replicas (acks=all)
  kNotPersisted,       // certainly not in the log: the decision has been reverted
  kPossiblyPersisted,  // may or may not be in the log: the decision is in doubt
};

// Intrusive: the caller embeds it (in its connection's state), so waiting allocates nothing.
// OnSettled is called exactly once per awaited ticket, either on the log's thread or, if the
// report came before Await, inside Await on the caller's thread. It must be quick and must not
// call back into the log: it hands the result to the caller's own executor.
class LogWaiter {
 public:
  virtual void OnSettled(Durability durability) noexcept = 0;

 protected:
  ~LogWaiter() = default;
};

class DurableLog {
 public:
  // Every non-zero ticket a Decision carries is awaited or forgotten, exactly once, by the
  // thread that made the decision; a ticket left alone keeps its place in the log forever.
  virtual void Await(LogTicket ticket, LogWaiter& waiter) noexcept = 0;
  // The caller will not wait (--ack memory, or it gave up).
  virtual void Forget(LogTicket ticket) noexcept = 0;
  // For /readyz: the log takes writes.
  virtual bool healthy() const noexcept = 0;

 protected:
  ~DurableLog() = default;
};

}  // namespace hotdeal::engine
