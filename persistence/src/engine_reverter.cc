// EngineReverter: the one place the log reaches into the engine. A file of its own so that
// code linking KafkaLog without an Engine (unit tests with a fake RevertTarget) links.
#include "hotdeal/engine/engine.h"
#include "hotdeal/persistence/in_doubt_settler.h"
#include "hotdeal/persistence/kafka_log.h"

namespace hotdeal::persistence {

void EngineReverter::Acknowledge(const engine::Event& event) noexcept {
  engine_.Acknowledge(event);
}

void EngineReverter::Revert(const engine::Event& event) noexcept {
  engine_.Revert(event);
}

void EngineReverter::MarkInDoubt(const engine::Event& event) noexcept {
  engine_.MarkInDoubt(event);
  if (settler_ != nullptr) settler_->Add(event);
}

}  // namespace hotdeal::persistence
