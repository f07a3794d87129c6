// Reads a whole Kafka topic back for tests against the local stack: every partition from its
// low to its high watermark as of the call, decoded, in log order. Uses a plain consumer with
// explicit assignments: nothing is committed, so it never disturbs another reader.
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "hotdeal/persistence/event_codec.h"

namespace hotdeal::persistence::testing {

// records[p] holds partition p's records. A record that does not decode, a broker that does
// not answer or a topic not read to its end within 30 s fails the calling test.
inline std::vector<std::vector<LogRecord>> ReadTopicRecords(const std::string& brokers,
                                                            const std::string& topic) {
  char error[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error, sizeof error);
  // A group id is required to poll; nothing is committed under it.
  rd_kafka_conf_set(conf, "group.id", "hotdeal-test-reader", error, sizeof error);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof error);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  std::vector<std::vector<LogRecord>> records;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t got = RD_KAFKA_RESP_ERR_UNKNOWN;
  for (int attempt = 0; attempt < 3 && got != RD_KAFKA_RESP_ERR_NO_ERROR; ++attempt)
    got = rd_kafka_metadata(consumer, 0, handle, &metadata, 10'000);
  EXPECT_EQ(got, RD_KAFKA_RESP_ERR_NO_ERROR) << topic;
  if (got == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const int partitions = metadata->topics[0].partition_cnt;
    records.resize(static_cast<std::size_t>(partitions));
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
    // Each partition is read by offset up to its high watermark: a message fetched twice is
    // kept once, and a partition ends only at its own end.
    std::vector<std::int64_t> next(static_cast<std::size_t>(partitions));
    std::vector<std::int64_t> end(static_cast<std::size_t>(partitions));
    for (int p = 0; p < partitions; ++p) {
      const auto at = static_cast<std::size_t>(p);
      EXPECT_EQ(
          rd_kafka_query_watermark_offsets(consumer, topic.c_str(), p, &next[at], &end[at], 10'000),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = next[at];
    }
    rd_kafka_assign(consumer, assignment);
    auto unread = [&] {
      for (std::size_t p = 0; p < next.size(); ++p) {
        if (next[p] < end[p]) return true;
      }
      return false;
    };
    EventDecoder decoder;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (unread() && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 500);
      if (message == nullptr) continue;
      const auto p = static_cast<std::size_t>(message->partition);
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR && message->offset >= next[p] &&
          message->offset < end[p]) {
        next[p] = message->offset + 1;
        LogRecord& record = records[p].emplace_back();
        EXPECT_EQ(
            decoder.Decode({static_cast<const char*>(message->payload), message->len}, record),
            CodecError::kOk);
      }
      rd_kafka_message_destroy(message);
    }
    EXPECT_FALSE(unread()) << "the topic was not read to its end";
    rd_kafka_topic_partition_list_destroy(assignment);
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_topic_destroy(handle);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return records;
}

}  // namespace hotdeal::persistence::testing
