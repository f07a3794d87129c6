// Start-up helpers over librdkafka: errors become exceptions here because they only happen
// before serving (the data path never calls these).
#include "kafka/client.h"

#include <stdexcept>

#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence::kafka {

void Set(rd_kafka_conf_t* conf, ConfEntries entries) {
  char error[512];
  for (const auto& [key, value] : entries) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error(std::string("kafka config ") + key + ": " + error);
    }
  }
}

Ptr<rd_kafka_conf_t> ClientConfig(const Options& options, const char* client_id,
                                  ConfEntries entries) {
  Ptr<rd_kafka_conf_t> conf(rd_kafka_conf_new());
  Set(conf.get(), {{"bootstrap.servers", options.kafka_brokers}, {"client.id", client_id}});
  Set(conf.get(), entries);
  return conf;
}

Ptr<rd_kafka_t> NewClient(rd_kafka_type_t type, Ptr<rd_kafka_conf_t> conf) {
  char error[512];
  rd_kafka_t* client = rd_kafka_new(type, conf.get(), error, sizeof error);
  if (client == nullptr) throw std::runtime_error(std::string("kafka client: ") + error);
  conf.release();  // owned by `client` now
  return Ptr<rd_kafka_t>(client);
}

Ptr<rd_kafka_topic_t> TopicHandle(rd_kafka_t* client, const std::string& topic) {
  Ptr<rd_kafka_topic_t> handle(rd_kafka_topic_new(client, topic.c_str(), nullptr));
  if (!handle) throw std::runtime_error("kafka topic handle: " + topic);
  return handle;
}

std::int32_t TopicPartitions(rd_kafka_t* client, const std::string& topic,
                             std::chrono::milliseconds timeout) {
  // All topics, not one: asking for a single unknown topic can auto-create it on brokers that
  // allow that, and creation is EnsureTopic's job with the partition count we chose.
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(client, 1, nullptr, &raw, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("kafka metadata: " + std::string(rd_kafka_err2str(err)));
  }
  Ptr<const rd_kafka_metadata_t> metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) return t.partition_cnt;
  }
  return 0;
}

void EnsureTopic(rd_kafka_t* client, const Options& options, std::chrono::milliseconds timeout) {
  const std::string& topic = options.kafka_topic;
  if (TopicPartitions(client, topic, timeout) > 0) return;
  char error[512];
  Ptr<rd_kafka_NewTopic_t> new_topic(rd_kafka_NewTopic_new(topic.c_str(), options.topic_partitions,
                                                           options.topic_replication_factor, error,
                                                           sizeof error));
  if (!new_topic) throw std::runtime_error("kafka topic " + topic + ": " + error);
  Ptr<rd_kafka_AdminOptions_t> admin(
      rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_operation_timeout(admin.get(), static_cast<int>(timeout.count()), error,
                                              sizeof error);
  Ptr<rd_kafka_queue_t> queue(rd_kafka_queue_new(client));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(client, topics, 1, admin.get(), queue.get());
  Ptr<rd_kafka_event_t> event(
      rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) * 2));
  if (!event) throw std::runtime_error("kafka create topic " + topic + ": timed out");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("kafka create topic " + topic + ": " +
                             rd_kafka_event_error_string(event.get()));
  }
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (std::size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      throw std::runtime_error("kafka create topic " + topic + ": " + rd_kafka_err2str(err));
    }
  }
}

}  // namespace hotdeal::persistence::kafka
