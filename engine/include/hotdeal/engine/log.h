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

// The engine's side of the port: the log reports each event it appended once, when its fate is
// known, and before the event's waiter hears (a client told 201 that reads or retries must see
// the decision final; one told 503 must find its unit back or hear "in doubt"). The engine owns
// the whole per-event policy (docs/durability.md, "What each report does").
class LogReports {
 public:
  // What the log does next with the event.
  enum class Next : std::uint8_t {
    kDone,         // nothing: the report is applied
    kAppendAgain,  // an event the engine cannot undo (it gave units back, or a confirm): append
                   // it again until Kafka has it (until the log stops)
    kSettle,       // the decision is in doubt: hand the event to the in-doubt settler
  };
  virtual Next Report(const Event& event, Durability durability) noexcept = 0;

 protected:
  ~LogReports() = default;
};

// The policy itself, one definition for the engine and for anything that stands in for it in a
// test: what follows a report of an event of `type`.
constexpr LogReports::Next NextAfter(EventType type, Durability durability) noexcept {
  if (durability == Durability::kPersisted) return LogReports::Next::kDone;
  if (AppendedUntilPersisted(type)) return LogReports::Next::kAppendAgain;
  return durability == Durability::kNotPersisted ? LogReports::Next::kDone
                                                 : LogReports::Next::kSettle;
}

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
