// Start-up helpers over librdkafka: errors become exceptions here because they only happen
// before serving (the data path never calls these).
#include "kafka_handles.h"

#include <stdexcept>

namespace hotdeal::persistence {

KafkaPtr<rd_kafka_conf_t> NewKafkaConf(ConfEntries entries) {
  KafkaPtr<rd_kafka_conf_t> conf(rd_kafka_conf_new());
  char error[512];
  for (const auto& [key, value] : entries) {
    if (rd_kafka_conf_set(conf.get(), key, value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      throw std::runtime_error(std::string("kafka config ") + key + ": " + error);
    }
  }
  return conf;
}

KafkaPtr<rd_kafka_t> NewKafkaClient(rd_kafka_type_t type, KafkaPtr<rd_kafka_conf_t> conf) {
  char error[512];
  rd_kafka_t* client = rd_kafka_new(type, conf.get(), error, sizeof error);
  if (client == nullptr) throw std::runtime_error(std::string("kafka client: ") + error);
  conf.release();  // owned by `client` now
  return KafkaPtr<rd_kafka_t>(client);
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
  KafkaPtr<const rd_kafka_metadata_t> metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) return t.partition_cnt;
  }
  return 0;
}

void EnsureTopic(rd_kafka_t* client, const std::string& topic, std::int32_t partitions,
                 std::int16_t replication_factor, std::chrono::milliseconds timeout) {
  if (TopicPartitions(client, topic, timeout) > 0) return;
  char error[512];
  KafkaPtr<rd_kafka_NewTopic_t> new_topic(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, error, sizeof error));
  if (!new_topic) throw std::runtime_error("kafka topic " + topic + ": " + error);
  KafkaPtr<rd_kafka_AdminOptions_t> options(
      rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout.count()),
                                              error, sizeof error);
  KafkaPtr<rd_kafka_queue_t> queue(rd_kafka_queue_new(client));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(client, topics, 1, options.get(), queue.get());
  KafkaPtr<rd_kafka_event_t> event(
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

}  // namespace hotdeal::persistence
