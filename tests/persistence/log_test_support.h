// Helpers for the tests of the log and the in-doubt settler: librdkafka's in-process mock
// cluster (no broker needed) and a bounded wait.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "hotdeal/persistence/options.h"

namespace hotdeal::persistence {

inline constexpr char kMockTopic[] = "hotdeal.events.test";
inline constexpr int kMockPartitions = 3;
inline constexpr std::int16_t kProduceApiKey = 0;      // the Kafka protocol's number for Produce
inline constexpr std::int16_t kListOffsetsApiKey = 2;  // and for ListOffsets

// True once `predicate` holds; false if it did not within `timeout`.
template <class Predicate>
bool Eventually(Predicate predicate,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(20'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A one-broker mock cluster living inside a throwaway client.
class MockKafka {
 public:
  MockKafka() {
    char error[256];
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), error, sizeof error);
    cluster_ = rd_kafka_mock_cluster_new(host_, 1);
    rd_kafka_mock_topic_create(cluster_, kMockTopic, kMockPartitions, 1);
  }
  ~MockKafka() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(host_);
  }
  std::string brokers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

  // The next `count` Produce requests fail with a retriable "not written" error.
  void RefuseProduces(std::size_t count) const {
    std::vector<rd_kafka_resp_err_t> errors(count, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    rd_kafka_mock_push_request_errors_array(cluster_, kProduceApiKey, errors.size(), errors.data());
  }

  // Messages the cluster holds for the topic, summed over partitions.
  std::int64_t MessagesInTopic() const {
    std::int64_t total = 0;
    for (int partition = 0; partition < kMockPartitions; ++partition) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      char error[256];
      rd_kafka_conf_t* conf = rd_kafka_conf_new();
      rd_kafka_conf_set(conf, "bootstrap.servers", brokers().c_str(), error, sizeof error);
      rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
      EXPECT_EQ(
          rd_kafka_query_watermark_offsets(consumer, kMockTopic, partition, &low, &high, 5000),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_destroy(consumer);
      total += high - low;
    }
    return total;
  }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// The log's options on the mock cluster: a short delivery timeout, so failures come quickly.
inline Options LogOptions(const MockKafka& kafka) {
  Options options;
  options.kafka_brokers = kafka.brokers();
  options.kafka_topic = kMockTopic;
  options.in_flight_max = 1 << 12;
  options.delivery_timeout = std::chrono::milliseconds(2000);
  options.workers = 2;
  return options;
}

}  // namespace hotdeal::persistence
