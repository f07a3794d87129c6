// The seam to librdkafka, part 3: the one way persistence/ reads the log. A consumer with
// explicit assignments: no group joined, nothing committed to Kafka, and an offset that left
// retention is an error to see, never a jump. The persister follows it for ever (Poll); recovery
// and the in-doubt settler read fixed ranges to an end taken first (ReadRanges).
//
// Must never: skip a message of an assigned range, or commit offsets to Kafka (they live in
// MySQL, beside the rows).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hotdeal/base/status.h"
#include "hotdeal/persistence/options.h"
#include "kafka/client.h"

namespace hotdeal::persistence::kafka {

// One consumed message; its payload lives as long as it does.
class Message {
 public:
  explicit Message(Ptr<rd_kafka_message_t> message) : message_(std::move(message)) {}
  std::int32_t partition() const noexcept { return message_->partition; }
  std::int64_t offset() const noexcept { return message_->offset; }
  std::string_view payload() const noexcept {
    return {static_cast<const char*>(message_->payload), message_->len};
  }

 private:
  Ptr<rd_kafka_message_t> message_;
};

struct Watermarks {
  std::int64_t low = 0;   // the first offset still in the log
  std::int64_t high = 0;  // the next offset to be written
};

// Where an assignment starts reading one partition.
struct Start {
  std::int32_t partition = 0;
  std::int64_t offset = 0;  // kFromBeginning: the oldest retained
};
inline constexpr std::int64_t kFromBeginning = RD_KAFKA_OFFSET_BEGINNING;

// One partition read from `start` up to (not including) `end`.
struct Range {
  std::int32_t partition = 0;
  std::int64_t start = 0;
  std::int64_t end = 0;
};

class PartitionReader {
 public:
  // `entries` add to the consumer's config. Start-up only: throws on failure.
  PartitionReader(const Options& options, const char* client_id, ConfEntries entries = {});
  ~PartitionReader();  // closes the consumer
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  // Start-up only: throw on failure.
  std::int32_t Partitions(std::chrono::milliseconds timeout) const;
  void EnsureTopic(std::chrono::milliseconds timeout) const;

  // Asks the partition's leader.
  base::Result<Watermarks> QueryWatermarks(std::int32_t partition,
                                           std::chrono::milliseconds timeout) const;
  // The last watermarks the fetcher threads saw (no request); nullopt if none yet.
  std::optional<Watermarks> CachedWatermarks(std::int32_t partition) const noexcept;
  // The first offset stamped at or after `at` (-1 if none is), by ListOffsets; EndOffset is the
  // high watermark the same way. Unlike QueryWatermarks these keep their timeout while the
  // leader is unreachable.
  base::Result<std::int64_t> OffsetAt(std::int32_t partition, std::chrono::milliseconds at,
                                      std::chrono::milliseconds timeout) const;
  base::Result<std::int64_t> EndOffset(std::int32_t partition,
                                       std::chrono::milliseconds timeout) const;

  // Replaces the assignment (empty: none).
  base::Status Assign(std::span<const Start> starts);
  // The next message, or nullopt when none came within `timeout` (partition ends are skipped).
  base::Result<std::optional<Message>> Poll(std::chrono::milliseconds timeout);

  // Every range's messages in each partition's order, to `observe`; a range with start >= end is
  // empty. Fails on the first error, on an error `observe` returns, or when nothing arrives for
  // `stall_max` while messages are due. Leaves nothing assigned.
  base::Status ReadRanges(std::span<const Range> ranges, std::chrono::milliseconds stall_max,
                          const std::function<base::Status(const Message&)>& observe);

  // The partition the log's producer picks for `key` (murmur2_random, as the Java client).
  std::int32_t PartitionOf(std::string_view key, std::int32_t partitions) const noexcept;

 private:
  const Options options_;
  const std::string& topic_ = options_.kafka_topic;
  Ptr<rd_kafka_t> consumer_;
  Ptr<rd_kafka_topic_t> topic_handle_;  // destroyed before consumer_
};

}  // namespace hotdeal::persistence::kafka
