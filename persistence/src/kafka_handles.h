// RAII for librdkafka handles and the few start-up helpers every Kafka user in persistence/
// shares (config, client creation, topic metadata and creation). Internal: the only header
// that includes rdkafka.h, and no public header includes it.
//
// Must never: be included from include/, or hide a librdkafka error (start-up helpers throw
// std::runtime_error with librdkafka's own message).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

namespace hotdeal::persistence {

struct KafkaDeleter {
  void operator()(rd_kafka_t* p) const noexcept { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const noexcept { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const noexcept { rd_kafka_topic_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const noexcept { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_event_t* p) const noexcept { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_message_t* p) const noexcept { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const noexcept { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_AdminOptions_t* p) const noexcept { rd_kafka_AdminOptions_destroy(p); }
  void operator()(const rd_kafka_metadata_t* p) const noexcept { rd_kafka_metadata_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const noexcept {
    rd_kafka_topic_partition_list_destroy(p);
  }
};
template <class T>
using KafkaPtr = std::unique_ptr<T, KafkaDeleter>;

using ConfEntries = std::initializer_list<std::pair<const char*, std::string>>;

// A config with every entry set; throws naming the entry librdkafka refused.
KafkaPtr<rd_kafka_conf_t> NewKafkaConf(ConfEntries entries);
// Takes the config (librdkafka owns it once the client exists).
KafkaPtr<rd_kafka_t> NewKafkaClient(rd_kafka_type_t type, KafkaPtr<rd_kafka_conf_t> conf);

// Partition count of `topic`, or 0 if the cluster does not have it.
std::int32_t TopicPartitions(rd_kafka_t* client, const std::string& topic,
                             std::chrono::milliseconds timeout);
// Creates `topic` unless it exists (a concurrent creator is fine). Throws on anything else.
void EnsureTopic(rd_kafka_t* client, const std::string& topic, std::int32_t partitions,
                 std::int16_t replication_factor, std::chrono::milliseconds timeout);

}  // namespace hotdeal::persistence
