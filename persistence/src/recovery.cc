// Recover: snapshot rows are read into plain structs and become the events that would have
// built them (snapshot.cc: a campaign's creation, each live claim's grant, each order's
// reservation and latest move, a close; an archived campaign's row alone), applied in that
// order; then the Kafka tail is applied as logged.
#include "hotdeal/persistence/recovery.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/names.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/partition_epochs.h"
#include "hotdeal/persistence/snapshot.h"
#include "kafka/partition_reader.h"
#include "mysql/schema.h"
#include "mysql/tables.h"

namespace hotdeal::persistence {
namespace {

constexpr std::chrono::seconds kMysqlIoTimeout{60};
constexpr std::chrono::milliseconds kKafkaTimeout{10'000};
// Replay gives up if the brokers send nothing for this long while events are still due.
constexpr std::chrono::seconds kReplayStallMax{30};

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("recovery: " + what);
}

void Check(const base::Status& status, const char* what) {
  if (!status.ok()) Fail(std::string(what) + ": " + status.message());
}

// An impossible history stops the start with the engine's message (which names the campaign
// and the event): serving from a half-recovered engine could sell what is already sold.
void Replay(engine::Engine& engine, const engine::Event& event) {
  if (std::optional<engine::ReplayError> error = engine.Apply(event)) Fail(error->message);
}

// Reads every row of a table (ascending keys, so a run reads the same snapshot the same way).
template <class RowT>
void ReadTable(mysql::Connection& db, const mysql::TableStatements& table, std::string_view where,
               std::string_view order_by, const char* what, std::vector<RowT>& out) {
  Check(mysql::SelectRows(
            db, table.select + std::string(where) + " ORDER BY " + std::string(order_by), out),
        what);
}

// Claims and orders of archived campaigns stay in MySQL as history; the engine holds none.
constexpr std::string_view kOfLiveCampaigns =
    " WHERE campaign_id IN (SELECT id FROM campaigns WHERE archived_seq IS NULL)";

// `snapshot`: where the snapshot ends in each partition (mysql::ReadOffsets).
void ReplayTail(engine::Engine& engine, const Options& options,
                std::vector<mysql::OffsetRow> snapshot, RecoveryReport& report) {
  kafka::PartitionReader reader(options, "hotdeal-recovery");
  const std::int32_t partitions = reader.Partitions(kKafkaTimeout);
  snapshot.resize(partitions);
  // The persister's stale-owner rule, resumed where the snapshot ends, so a replaced owner's
  // events count here exactly when they count in MySQL: never.
  PartitionEpochs epochs;
  epochs.Reset(partitions);
  for (std::int32_t p = 0; p < partitions; ++p)
    epochs.Set(p, snapshot[p].epoch_max);
  // The end is fixed now: events appended later belong to the serving engine, not to replay.
  std::vector<kafka::Range> ranges;
  for (std::int32_t p = 0; p < partitions; ++p) {
    base::Result<kafka::Watermarks> marks = reader.QueryWatermarks(p, kKafkaTimeout);
    if (!marks.ok()) Fail(marks.status().message());
    const std::int64_t start = snapshot[p].next_offset >= 0 ? snapshot[p].next_offset : marks->low;
    if (start < marks->low) Fail("events after the snapshot left Kafka's retention");
    ranges.push_back({p, start, marks->high});
  }
  EventDecoder decoder;
  LogRecord record;
  const base::Status read =
      reader.ReadRanges(ranges, kReplayStallMax, [&](const kafka::Message& m) {
        if (CodecError error = decoder.Decode(m.payload(), record); error != CodecError::kOk) {
          Fail("undecodable event at partition " + std::to_string(m.partition()) + " offset " +
               std::to_string(m.offset()) + ": " + std::string(CodecErrorName(error)));
        }
        if (epochs.Stale(m.partition(), record.epoch)) {
          ++report.stale_epoch_events;
        } else if (!record.fence) {
          Replay(engine, record.event);
          ++report.events_replayed;
        }
        return base::Status();
      });
  if (!read.ok()) Fail("reading the Kafka tail: " + read.message());
}

}  // namespace

RecoveryReport Recover(engine::Engine& engine, const Options& options) {
  mysql::Connection db;
  Check(db.Connect(options, kMysqlIoTimeout), "connect to MySQL");
  Check(mysql::Migrate(db), "migrate");
  RecoveryReport report;
  // Rows and offsets from one snapshot: nothing committed in between can fall in a gap.
  Check(db.Execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"), "isolation");
  Check(db.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"), "snapshot");
  base::Result<std::vector<mysql::OffsetRow>> snapshot =
      mysql::ReadOffsets(db, options.kafka_topic);
  Check(snapshot.status(), "read offsets");
  SnapshotRows rows;
  ReadTable(db, mysql::Campaigns(), "", "campaign_index", "read campaigns", rows.campaigns);
  ReadTable(db, mysql::Claims(), kOfLiveCampaigns, "claim_id", "read claims", rows.claims);
  ReadTable(db, mysql::Orders(), kOfLiveCampaigns, "order_id", "read orders", rows.orders);
  Check(db.Execute("COMMIT"), "end snapshot");
  if (std::optional<engine::ReplayError> error = ApplySnapshot(engine, rows, report))
    Fail(error->message);
  ReplayTail(engine, options, std::move(snapshot).value(), report);
  if (std::optional<engine::ReplayError> error = engine.FinishRecovery()) Fail(error->message);
  return report;
}

}  // namespace hotdeal::persistence
