// Producer: librdkafka's delivery statuses and client errors turned into the log port's words.
#include "kafka/producer.h"

#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence::kafka {

Producer::Producer(const Options& options, const char* client_id, ConfEntries entries,
                   Handlers handlers)
    : handlers_(handlers) {
  Ptr<rd_kafka_conf_t> conf =
      ClientConfig(options, client_id, {{"enable.idempotence", "true"}, {"acks", "all"}});
  Set(conf.get(), entries);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &Producer::OnError);
  rd_kafka_conf_set_opaque(conf.get(), this);
  client_ = NewClient(RD_KAFKA_PRODUCER, std::move(conf));
  topic_ = TopicHandle(client_.get(), options.kafka_topic);
}

Producer::~Producer() {
  topic_.reset();  // a topic handle must go before its client
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  const auto* self = static_cast<const Producer*>(opaque);
  engine::Durability durability = engine::Durability::kPossiblyPersisted;
  switch (rd_kafka_message_status(message)) {
    case RD_KAFKA_MSG_STATUS_PERSISTED:
      durability = engine::Durability::kPersisted;
      break;
    case RD_KAFKA_MSG_STATUS_NOT_PERSISTED:
      durability = engine::Durability::kNotPersisted;
      break;
    case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED:
      durability = engine::Durability::kPossiblyPersisted;
      break;
  }
  // A success report is always persisted; a failure is whatever the status says (librdkafka
  // reports ERR__MSG_TIMED_OUT on an in-flight message as possibly persisted).
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) durability = engine::Durability::kPersisted;
  self->handlers_.delivered(self->handlers_.context,
                            reinterpret_cast<std::uintptr_t>(message->_private), durability);
}

void Producer::OnError(rd_kafka_t*, int error, const char* reason, void* opaque) {
  const auto* self = static_cast<const Producer*>(opaque);
  if (self->handlers_.failed == nullptr) return;
  const auto err = static_cast<rd_kafka_resp_err_t>(error);
  const ClientError kind = err == RD_KAFKA_RESP_ERR__FATAL ? ClientError::kFatal
                           : err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                               ? ClientError::kAllBrokersDown
                               : ClientError::kOther;
  self->handlers_.failed(self->handlers_.context, kind, rd_kafka_err2name(err), reason);
}

bool Producer::Produce(std::optional<std::int32_t> partition, std::string_view key,
                       std::string_view payload, std::uintptr_t tag) noexcept {
  return rd_kafka_produce(topic_.get(), partition.value_or(RD_KAFKA_PARTITION_UA),
                          RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload.data()), payload.size(),
                          key.empty() ? nullptr : key.data(), key.size(),
                          reinterpret_cast<void*>(tag)) == 0;
}

std::string Producer::LastError() {
  return rd_kafka_err2str(rd_kafka_last_error());
}

void Producer::Poll(std::chrono::milliseconds timeout) noexcept {
  rd_kafka_poll(client_.get(), static_cast<int>(timeout.count()));
}

void Producer::Flush(std::chrono::milliseconds timeout) noexcept {
  rd_kafka_flush(client_.get(), static_cast<int>(timeout.count()));
}

void Producer::PurgeAndDrain(std::chrono::milliseconds timeout) noexcept {
  rd_kafka_purge(client_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (rd_kafka_outq_len(client_.get()) > 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_poll(client_.get(), 10);
  }
  rd_kafka_poll(client_.get(), 0);
}

std::string Producer::FatalReason() const {
  char reason[512] = {};
  rd_kafka_fatal_error(client_.get(), reason, sizeof reason);
  return reason;
}

bool Producer::BrokersReachable(std::chrono::milliseconds timeout) const noexcept {
  const rd_kafka_metadata_t* raw = nullptr;
  if (rd_kafka_metadata(client_.get(), 0, topic_.get(), &raw, static_cast<int>(timeout.count())) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  Ptr<const rd_kafka_metadata_t> metadata(raw);
  return true;
}

void Producer::TEST_RaiseFatal() noexcept {
  rd_kafka_test_fatal_error(client_.get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                            "TEST_TriggerFatalError");
}

}  // namespace hotdeal::persistence::kafka
