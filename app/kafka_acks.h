// Binds the gateway's DurableLog to persistence::KafkaLog, the one place that sees both, so
// neither depends on the other. Each gateway AckWaiter id owns one fixed bridge waiter here:
// waiting allocates nothing and the bound is the gateway's (Server::AckWaitersMax).
#pragma once

#include <cstdint>
#include <memory>

#include "hotdeal/gateway/durable_log.h"
#include "hotdeal/persistence/kafka_log.h"

namespace hotdeal::app {

class KafkaAcks final : public gateway::DurableLog {
 public:
  KafkaAcks(persistence::KafkaLog& log, std::uint32_t waiters_max);

  void Await(engine::LogTicket ticket, gateway::AckWaiter& waiter) noexcept override;
  void Forget(engine::LogTicket ticket) noexcept override { log_.Forget(ticket); }
  bool healthy() const noexcept override { return log_.healthy(); }

 private:
  // Free exactly while its gateway waiter is free: the gateway reuses an id only after
  // OnSettled has reached it.
  struct Bridge final : persistence::Waiter {
    void OnSettled(persistence::Durability durability) noexcept override {
      // Reverted (not persisted) and in doubt are alike to the client: 503, retry.
      target->OnSettled(durability == persistence::Durability::kPersisted);
    }
    gateway::AckWaiter* target = nullptr;
  };

  persistence::KafkaLog& log_;
  const std::uint32_t waiters_max_;
  std::unique_ptr<Bridge[]> bridges_;
};

}  // namespace hotdeal::app
