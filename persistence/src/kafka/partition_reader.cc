// PartitionReader: librdkafka's consumer calls with their errors turned into Status values.
#include "kafka/partition_reader.h"

namespace hotdeal::persistence::kafka {
namespace {

base::Status Failed(const char* what, rd_kafka_resp_err_t err) {
  return base::Status::Error(std::string(what) + ": " + rd_kafka_err2str(err), err);
}

}  // namespace

PartitionReader::PartitionReader(const Options& options, const char* client_id, ConfEntries entries)
    : options_(options) {
  Ptr<rd_kafka_conf_t> conf = ClientConfig(options, client_id,
                                           {
                                               {"group.id", client_id},  // required; never joined
                                               {"enable.auto.commit", "false"},
                                               {"enable.auto.offset.store", "false"},
                                               {"auto.offset.reset", "error"},
                                           });
  Set(conf.get(), entries);
  consumer_ = NewClient(RD_KAFKA_CONSUMER, std::move(conf));
  topic_handle_ = TopicHandle(consumer_.get(), topic_);
}

PartitionReader::~PartitionReader() {
  topic_handle_.reset();  // a topic handle must go before its client
  rd_kafka_consumer_close(consumer_.get());
}

std::int32_t PartitionReader::Partitions(std::chrono::milliseconds timeout) const {
  return TopicPartitions(consumer_.get(), topic_, timeout);
}

void PartitionReader::EnsureTopic(std::chrono::milliseconds timeout) const {
  kafka::EnsureTopic(consumer_.get(), options_, timeout);
}

base::Result<Watermarks> PartitionReader::QueryWatermarks(std::int32_t partition,
                                                          std::chrono::milliseconds timeout) const {
  Watermarks w;
  if (rd_kafka_resp_err_t err =
          rd_kafka_query_watermark_offsets(consumer_.get(), topic_.c_str(), partition, &w.low,
                                           &w.high, static_cast<int>(timeout.count()))) {
    return Failed("watermarks", err);
  }
  return w;
}

std::optional<Watermarks> PartitionReader::CachedWatermarks(std::int32_t partition) const noexcept {
  Watermarks w;
  if (rd_kafka_get_watermark_offsets(consumer_.get(), topic_.c_str(), partition, &w.low, &w.high) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return w;
}

base::Result<std::int64_t> PartitionReader::OffsetAt(std::int32_t partition,
                                                     std::chrono::milliseconds at,
                                                     std::chrono::milliseconds timeout) const {
  Ptr<rd_kafka_topic_partition_list_t> query(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(query.get(), topic_.c_str(), partition)->offset = at.count();
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(consumer_.get(), query.get(), static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = query->elems[0].err;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Failed("list offsets", err);
  return query->elems[0].offset;
}

base::Result<std::int64_t> PartitionReader::EndOffset(std::int32_t partition,
                                                      std::chrono::milliseconds timeout) const {
  return OffsetAt(partition, std::chrono::milliseconds{RD_KAFKA_OFFSET_END}, timeout);
}

base::Status PartitionReader::Assign(std::span<const Start> starts) {
  if (starts.empty()) {
    if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), nullptr))
      return Failed("unassign", err);
    return {};
  }
  Ptr<rd_kafka_topic_partition_list_t> assignment(
      rd_kafka_topic_partition_list_new(static_cast<int>(starts.size())));
  for (const Start& s : starts)
    rd_kafka_topic_partition_list_add(assignment.get(), topic_.c_str(), s.partition)->offset =
        s.offset;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), assignment.get()))
    return Failed("assign", err);
  return {};
}

base::Result<std::optional<Message>> PartitionReader::Poll(std::chrono::milliseconds timeout) {
  Ptr<rd_kafka_message_t> message(
      rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(timeout.count())));
  if (!message || message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::optional<Message>();
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::Status::Error(std::string("consume: ") + rd_kafka_message_errstr(message.get()),
                               message->err);
  }
  return std::optional<Message>(Message(std::move(message)));
}

base::Status PartitionReader::ReadRanges(
    std::span<const Range> ranges, std::chrono::milliseconds stall_max,
    const std::function<base::Status(const Message&)>& observe) {
  std::vector<Start> starts;
  std::vector<std::int64_t> ends;
  for (const Range& r : ranges) {
    if (r.start >= r.end) continue;
    starts.push_back({r.partition, r.start});
    if (static_cast<std::size_t>(r.partition) >= ends.size()) ends.resize(r.partition + 1, -1);
    ends[r.partition] = r.end;
  }
  if (starts.empty()) return {};
  if (base::Status s = Assign(starts); !s.ok()) return s;
  std::size_t open = starts.size();
  base::Status status;
  auto last_progress = std::chrono::steady_clock::now();
  while (open > 0 && status.ok()) {
    base::Result<std::optional<Message>> polled = Poll(std::chrono::milliseconds(100));
    if (!polled.ok()) {
      status = polled.status();
      break;
    }
    if (!*polled) {
      if (std::chrono::steady_clock::now() - last_progress > stall_max)
        status = base::Status::Error("no messages for " + std::to_string(stall_max.count()) +
                                     " ms while some are due");
      continue;
    }
    last_progress = std::chrono::steady_clock::now();
    const Message& m = **polled;
    const auto p = static_cast<std::size_t>(m.partition());
    if (p >= ends.size() || m.offset() >= ends[p]) continue;  // past the end fixed at the start
    status = observe(m);
    if (m.offset() + 1 == ends[p]) --open;
  }
  if (base::Status s = Assign({}); status.ok()) status = s;
  return status;
}

std::int32_t PartitionReader::PartitionOf(std::string_view key,
                                          std::int32_t partitions) const noexcept {
  return rd_kafka_msg_partitioner_murmur2_random(topic_handle_.get(), key.data(), key.size(),
                                                 partitions, nullptr, nullptr);
}

}  // namespace hotdeal::persistence::kafka
