// Recover: snapshot rows are read into plain structs and become the events that would have
// built them (snapshot.cc: a campaign's creation, each live claim's grant, each order's
// reservation and latest move, a close), applied in that order; then the Kafka tail is applied
// as logged.
#include "hotdeal/persistence/recovery.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/names.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/partition_epochs.h"
#include "hotdeal/persistence/snapshot.h"
#include "kafka_handles.h"
#include "mysql_connection.h"
#include "schema.h"

namespace hotdeal::persistence {
namespace {

constexpr std::chrono::seconds kMysqlIoTimeout{60};
constexpr std::chrono::milliseconds kKafkaTimeout{10'000};
// Replay gives up if the brokers send nothing for this long while events are still due.
constexpr std::chrono::seconds kReplayStallMax{30};

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("recovery: " + what);
}

void Check(std::optional<MysqlError> error, const char* what) {
  if (error) Fail(std::string(what) + ": " + error->message);
}

engine::TimePoint At(const char* micros) {
  return engine::TimePoint{std::chrono::microseconds{std::atoll(micros)}};
}

template <class Id>
Id ParseId(const char* text) {
  auto id = Id::Parse(text != nullptr ? text : "");
  if (!id) Fail(std::string("bad id in MySQL: ") + (text != nullptr ? text : "NULL"));
  return *id;
}

// An impossible history stops the start with the engine's message (which names the campaign
// and the event): serving from a half-recovered engine could sell what is already sold.
void Replay(engine::Engine& engine, const engine::Event& event) {
  if (std::optional<engine::ReplayError> error = engine.Apply(event)) Fail(error->message);
}

// A nullable idempotency_key column: NULL means the client sent no key.
std::optional<engine::IdempotencyKey> ParseKey(const char* text) {
  if (text == nullptr) return std::nullopt;
  return ParseId<engine::IdempotencyKey>(text);
}

// Reads the snapshot's rows (ascending ids, as before the rows became plain structs).
class SnapshotReader {
 public:
  explicit SnapshotReader(MysqlConnection& db) : db_(db) {}

  void Campaigns(std::vector<CampaignRow>& out) {
    std::optional<MysqlResult> rows;
    Check(db_.Query("SELECT id, campaign_index, kind, name, stock, per_user_limit, starts_at_us, "
                    "ends_at_us, price, hold_seconds, created_at_us, created_seq, closed_at_us, "
                    "closed_seq, id_key_0, id_key_1 FROM campaigns ORDER BY campaign_index",
                    rows),
          "read campaigns");
    while (MYSQL_ROW r = rows->Next()) {
      CampaignRow& row = out.emplace_back();
      row.spec.id = ParseId<engine::CampaignId>(r[0]);
      row.campaign_index = static_cast<std::uint32_t>(std::strtoul(r[1], nullptr, 10));
      row.spec.kind = std::strcmp(r[2], "sale") == 0 ? engine::CampaignKind::kSale
                                                     : engine::CampaignKind::kCoupon;
      row.spec.name = r[3];
      row.spec.stock = static_cast<std::uint32_t>(std::strtoul(r[4], nullptr, 10));
      row.spec.per_user_limit = static_cast<std::uint32_t>(std::strtoul(r[5], nullptr, 10));
      row.spec.starts_at = At(r[6]);
      if (r[7] != nullptr) row.spec.ends_at = At(r[7]);
      row.spec.price = std::atoll(r[8]);
      row.spec.hold_seconds = static_cast<std::uint32_t>(std::strtoul(r[9], nullptr, 10));
      row.created_at = At(r[10]);
      row.created_seq = std::strtoull(r[11], nullptr, 10);
      row.id_key = {std::strtoull(r[14], nullptr, 10), std::strtoull(r[15], nullptr, 10)};
      if (r[12] != nullptr) {
        row.closed_at = At(r[12]);
        row.closed_seq = std::strtoull(r[13], nullptr, 10);
      }
    }
  }

  void Claims(std::vector<ClaimRow>& out) {
    std::optional<MysqlResult> rows;
    Check(db_.Query("SELECT claim_id, campaign_id, user_id, coupon_code, created_at_us, seq, "
                    "idempotency_key FROM claims ORDER BY claim_id",
                    rows),
          "read claims");
    while (MYSQL_ROW r = rows->Next()) {
      ClaimRow& row = out.emplace_back();
      row.claim_id.value = std::strtoull(r[0], nullptr, 10);
      row.campaign = ParseId<engine::CampaignId>(r[1]);
      row.user = ParseId<engine::UserId>(r[2]);
      if (std::strlen(r[3]) != row.coupon_code.text.size()) Fail("bad coupon code in MySQL");
      std::memcpy(row.coupon_code.text.data(), r[3], row.coupon_code.text.size());
      row.created_at = At(r[4]);
      row.seq = std::strtoull(r[5], nullptr, 10);
      row.idempotency_key = ParseKey(r[6]);
    }
  }

  void Orders(std::vector<OrderRow>& out) {
    std::optional<MysqlResult> rows;
    Check(db_.Query(
              "SELECT order_id, campaign_id, user_id, quantity, amount, created_at_us, "
              "expires_at_us, seq, status, status_at_us, status_seq, idempotency_key FROM orders "
              "ORDER BY order_id",
              rows),
          "read orders");
    while (MYSQL_ROW r = rows->Next()) {
      OrderRow& row = out.emplace_back();
      row.order_id.value = std::strtoull(r[0], nullptr, 10);
      row.campaign = ParseId<engine::CampaignId>(r[1]);
      row.user = ParseId<engine::UserId>(r[2]);
      row.quantity = static_cast<std::uint32_t>(std::strtoul(r[3], nullptr, 10));
      row.amount = std::atoll(r[4]);
      row.created_at = At(r[5]);
      row.expires_at = At(r[6]);
      row.seq = std::strtoull(r[7], nullptr, 10);
      const std::optional<engine::OrderStatus> status = engine::ParseOrderStatus(r[8]);
      // Only the persister writes this column; anything else is a corrupt snapshot.
      if (!status)
        throw std::runtime_error("recovery: order with unknown status " + std::string(r[8]));
      row.status = *status;
      row.status_at = At(r[9]);
      row.status_seq = std::strtoull(r[10], nullptr, 10);
      row.idempotency_key = ParseKey(r[11]);
    }
  }

 private:
  MysqlConnection& db_;
};

// Where the snapshot ends in one partition: the next offset (-1 where nothing was stored) and
// the highest owner epoch seen before it.
struct SnapshotEnd {
  std::int64_t next_offset = -1;
  std::uint64_t epoch_max = 0;
};

std::vector<SnapshotEnd> ReadOffsets(MysqlConnection& db, const std::string& topic) {
  std::string sql =
      "SELECT `partition`, next_offset, epoch_max FROM consumer_offsets WHERE topic = '";
  db.Escape(topic, sql);
  sql += "'";
  std::optional<MysqlResult> rows;
  Check(db.Query(sql, rows), "read offsets");
  std::vector<SnapshotEnd> positions;
  while (MYSQL_ROW r = rows->Next()) {
    const auto partition = static_cast<std::size_t>(std::atoi(r[0]));
    if (partition >= positions.size()) positions.resize(partition + 1);
    positions[partition] = {std::atoll(r[1]), std::strtoull(r[2], nullptr, 10)};
  }
  return positions;
}

void ReplayTail(engine::Engine& engine, const Options& options, std::vector<SnapshotEnd> snapshot,
                RecoveryReport& report) {
  KafkaPtr<rd_kafka_t> consumer = NewKafkaClient(
      RD_KAFKA_CONSUMER, NewKafkaConf({{"bootstrap.servers", options.kafka_brokers},
                                       {"group.id", "hotdeal-recovery"},  // never joined
                                       {"enable.auto.commit", "false"},
                                       {"auto.offset.reset", "error"},
                                       {"client.id", "hotdeal-recovery"}}));
  const std::int32_t partitions =
      TopicPartitions(consumer.get(), options.kafka_topic, kKafkaTimeout);
  snapshot.resize(partitions);
  // The persister's stale-owner rule, resumed where the snapshot ends, so a replaced owner's
  // events count here exactly when they count in MySQL: never.
  PartitionEpochs epochs;
  epochs.Reset(partitions);
  for (std::int32_t p = 0; p < partitions; ++p)
    epochs.Set(p, snapshot[p].epoch_max);
  // The end is fixed now: events appended later belong to the serving engine, not to replay.
  std::vector<std::int64_t> ends(partitions, 0);
  KafkaPtr<rd_kafka_topic_partition_list_t> assignment(
      rd_kafka_topic_partition_list_new(partitions));
  std::int32_t open = 0;
  for (std::int32_t p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    if (rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(consumer.get(), options.kafka_topic.c_str(), p, &low,
                                             &ends[p], static_cast<int>(kKafkaTimeout.count()))) {
      Fail(std::string("watermarks: ") + rd_kafka_err2str(err));
    }
    const std::int64_t start = snapshot[p].next_offset >= 0 ? snapshot[p].next_offset : low;
    if (start < low) Fail("events after the snapshot left Kafka's retention");
    if (start >= ends[p]) continue;
    rd_kafka_topic_partition_list_add(assignment.get(), options.kafka_topic.c_str(), p)->offset =
        start;
    ++open;
  }
  if (open == 0) return;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), assignment.get())) {
    Fail(std::string("assign: ") + rd_kafka_err2str(err));
  }
  EventDecoder decoder;
  LogRecord record;
  auto last_progress = std::chrono::steady_clock::now();
  while (open > 0) {
    KafkaPtr<rd_kafka_message_t> message(rd_kafka_consumer_poll(consumer.get(), 500));
    if (!message) {
      if (std::chrono::steady_clock::now() - last_progress > kReplayStallMax) {
        Fail("Kafka stalled during replay");
      }
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail(std::string("consume: ") + rd_kafka_message_errstr(message.get()));
    }
    last_progress = std::chrono::steady_clock::now();
    const std::int32_t p = message->partition;
    if (message->offset >= ends[p]) continue;  // past the end fixed at the start
    const std::string_view raw{static_cast<const char*>(message->payload), message->len};
    if (CodecError error = decoder.Decode(raw, record); error != CodecError::kOk) {
      Fail("undecodable event at partition " + std::to_string(p) + " offset " +
           std::to_string(message->offset) + ": " + std::string(CodecErrorName(error)));
    }
    if (epochs.Stale(p, record.epoch)) {
      ++report.stale_epoch_events;
    } else if (!record.fence) {
      Replay(engine, record.event);
      ++report.events_replayed;
    }
    if (message->offset + 1 == ends[p]) --open;
  }
}

}  // namespace

RecoveryReport Recover(engine::Engine& engine, const Options& options) {
  MysqlConnection db;
  Check(db.Connect(options, kMysqlIoTimeout), "connect to MySQL");
  Check(Migrate(db), "migrate");
  RecoveryReport report;
  // Rows and offsets from one snapshot: nothing committed in between can fall in a gap.
  Check(db.Execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"), "isolation");
  Check(db.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"), "snapshot");
  std::vector<SnapshotEnd> snapshot = ReadOffsets(db, options.kafka_topic);
  SnapshotRows rows;
  SnapshotReader reader(db);
  reader.Campaigns(rows.campaigns);
  reader.Claims(rows.claims);
  reader.Orders(rows.orders);
  Check(db.Execute("COMMIT"), "end snapshot");
  if (std::optional<engine::ReplayError> error = ApplySnapshot(engine, rows, report))
    Fail(error->message);
  ReplayTail(engine, options, std::move(snapshot), report);
  if (std::optional<engine::ReplayError> error = engine.FinishRecovery()) Fail(error->message);
  return report;
}

}  // namespace hotdeal::persistence
