// KafkaAcks: see kafka_acks.h.
#include "kafka_acks.h"

#include "hotdeal/base/check.h"

namespace hotdeal::app {

KafkaAcks::KafkaAcks(persistence::KafkaLog& log, std::uint32_t waiters_max)
    : log_(log), waiters_max_(waiters_max), bridges_(std::make_unique<Bridge[]>(waiters_max)) {}

void KafkaAcks::Await(engine::LogTicket ticket, gateway::AckWaiter& waiter) noexcept {
  // An id past the bound would share a bridge with another waiter and answer the wrong
  // client: always checked, since the cost is a compare per durable reply.
  HOTDEAL_ASSERT(waiter.id() < waiters_max_);
  Bridge& bridge = bridges_[waiter.id()];
  // Published to the poll thread by the slot's compare-and-swap inside KafkaLog::Await.
  bridge.target = &waiter;
  log_.Await(ticket, bridge);
}

}  // namespace hotdeal::app
