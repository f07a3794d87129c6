// What the durable log finally knew about one event, and the callback that hears it.
//
// Must never: grow a fourth state. librdkafka reports exactly these three, and only
// kNotPersisted may undo a decision (docs/durability.md).
#pragma once

#include <cstdint>
#include <string_view>

namespace hotdeal::persistence {

enum class Durability : std::uint8_t {
  kPersisted,          // acknowledged by all in-sync replicas (acks=all)
  kNotPersisted,       // certainly not in the log: the decision has been reverted
  kPossiblyPersisted,  // may or may not be in the log: the decision is in doubt
};

std::string_view DurabilityName(Durability durability) noexcept;

// Intrusive: the caller embeds it (e.g. in its connection state), so waiting allocates nothing.
// OnSettled is called exactly once per awaited ticket, either on the log's poll thread or, if
// the report came before KafkaLog::Await, inside Await on the caller's thread. It must be quick
// and must not call back into the log: post the result to the caller's own executor.
class Waiter {
 public:
  virtual void OnSettled(Durability durability) noexcept = 0;

 protected:
  ~Waiter() = default;
};

}  // namespace hotdeal::persistence
