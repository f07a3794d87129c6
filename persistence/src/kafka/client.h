// The seam to librdkafka, part 1: handle ownership and the start-up helpers every Kafka client
// of persistence/ shares (its config, its creation, the topic's metadata and creation). With
// producer.h and partition_reader.h, the only files that call rd_kafka_*; no public header
// includes them.
//
// Must never: hide a librdkafka error (start-up helpers throw std::runtime_error with
// librdkafka's own message), or be included from include/.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

namespace hotdeal::persistence {
struct Options;
}

namespace hotdeal::persistence::kafka {

struct Deleter {
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
using Ptr = std::unique_ptr<T, Deleter>;

using ConfEntries = std::initializer_list<std::pair<const char*, std::string>>;

// A hotdeal client's config: the brokers of `options` and `client_id`, then `entries`. Throws
// naming the entry librdkafka refused.
Ptr<rd_kafka_conf_t> ClientConfig(const Options& options, const char* client_id,
                                  ConfEntries entries);
// Sets every entry; throws naming the one librdkafka refused.
void Set(rd_kafka_conf_t* conf, ConfEntries entries);
// Takes the config (librdkafka owns it once the client exists).
Ptr<rd_kafka_t> NewClient(rd_kafka_type_t type, Ptr<rd_kafka_conf_t> conf);

// Partition count of `topic`, or 0 if the cluster does not have it.
std::int32_t TopicPartitions(rd_kafka_t* client, const std::string& topic,
                             std::chrono::milliseconds timeout);
// Creates the topic of `options` with its partitions and replication unless it exists (a
// concurrent creator is fine). Throws on anything else.
void EnsureTopic(rd_kafka_t* client, const Options& options, std::chrono::milliseconds timeout);

// A topic handle for `client`; it must be destroyed before the client. Throws if refused.
Ptr<rd_kafka_topic_t> TopicHandle(rd_kafka_t* client, const std::string& topic);

}  // namespace hotdeal::persistence::kafka
