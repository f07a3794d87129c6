// TakeOwnership and OwnerWatch: see owner.h. The epoch lives in MySQL (`owners`, migration V3);
// the fence goes to Kafka through a producer of its own, made and dropped at start-up.
#include "hotdeal/persistence/owner.h"

#include <unistd.h>

#include <stdexcept>

#include "hotdeal/persistence/event_codec.h"
#include "kafka/producer.h"
#include "metric_family.h"
#include "mysql/schema.h"
#include "mysql/sql.h"

namespace hotdeal::persistence {
namespace {

constexpr std::chrono::seconds kMysqlIoTimeout{10};
constexpr std::chrono::milliseconds kKafkaTimeout{10'000};

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("taking ownership: " + what);
}

void Check(const base::Status& status, const char* what) {
  if (!status.ok()) Fail(std::string(what) + ": " + status.message());
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// The owners row of `topic`, as the watch and the taker read it.
struct OwnerRow {
  std::uint64_t epoch = 0;
  std::string host;
  std::string pid;
  std::string started_at;
};

base::Result<std::optional<OwnerRow>> ReadOwner(mysql::Connection& db, const std::string& topic) {
  enum class Column { kEpoch, kHost, kPid, kStartedAt };
  mysql::Sql sql(db);
  sql << "SELECT epoch, host, pid, started_at FROM owners WHERE topic = ";
  sql.Value(topic);
  base::Result<mysql::ResultSet> rows = db.Query(sql.str());
  if (!rows.ok()) return rows.status();
  const std::optional<mysql::Row> row = rows->Next();
  if (!row) return std::optional<OwnerRow>();
  OwnerRow owner{row->Number<std::uint64_t>(Column::kEpoch), std::string(row->Text(Column::kHost)),
                 std::string(row->Text(Column::kPid)), std::string(row->Text(Column::kStartedAt))};
  if (row->bad_column()) return base::Status::Error("bad epoch in the owners row of " + topic);
  return std::optional<OwnerRow>(std::move(owner));
}

// The upsert holds the row's lock until COMMIT, so two starting engines take distinct epochs.
std::uint64_t TakeEpoch(const Options& options) {
  mysql::Connection db;
  Check(db.Connect(options, kMysqlIoTimeout), "connect to MySQL");
  Check(mysql::Migrate(db), "migrate");
  base::Result<mysql::Statement> take = db.Prepare(
      "INSERT INTO owners (topic, epoch, host, pid) VALUES (?, 1, ?, ?) "
      "ON DUPLICATE KEY UPDATE epoch = epoch + 1, host = VALUES(host), "
      "pid = VALUES(pid), started_at = CURRENT_TIMESTAMP(6)");
  Check(take.status(), "prepare the epoch");
  const std::string host = HostName();
  take->Bind(0, std::string_view(options.kafka_topic));
  take->Bind(1, std::string_view(host));
  take->Bind(2, static_cast<std::int64_t>(::getpid()));
  Check(db.Execute("START TRANSACTION"), "begin");
  Check(take->Execute().status(), "take the next epoch");
  base::Result<std::optional<OwnerRow>> owner = ReadOwner(db, options.kafka_topic);
  Check(owner.status(), "read the epoch");
  if (!*owner) Fail("the owners row vanished inside its transaction");
  Check(db.Execute("COMMIT"), "commit the epoch");
  return (*owner)->epoch;
}

// One owner_fence per partition; every one must be persisted before the owner may recover.
void AppendFences(const Options& options, std::uint64_t epoch) {
  std::int32_t persisted = 0;
  kafka::Producer producer(
      options, "hotdeal-owner", {{"message.timeout.ms", std::to_string(kKafkaTimeout.count())}},
      {&persisted, [](void* count, std::uintptr_t, engine::Durability durability) noexcept {
         if (durability == engine::Durability::kPersisted) ++*static_cast<std::int32_t*>(count);
       }});
  kafka::EnsureTopic(producer.client(), options, kKafkaTimeout);
  const std::int32_t partitions =
      kafka::TopicPartitions(producer.client(), options.kafka_topic, kKafkaTimeout);
  EventBuffer buffer;
  const Encoded fence = EncodeFence(
      epoch,
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()),
      buffer);
  for (std::int32_t p = 0; p < partitions; ++p) {
    if (!producer.Produce(p, {}, fence.text, 0)) Fail("fence: " + kafka::Producer::LastError());
  }
  producer.Flush(kKafkaTimeout);
  if (persisted != partitions) {
    Fail("Kafka persisted " + std::to_string(persisted) + " of " + std::to_string(partitions) +
         " fences");
  }
}

}  // namespace

std::uint64_t TakeOwnership(const Options& options) {
  const std::uint64_t epoch = TakeEpoch(options);
  AppendFences(options, epoch);
  return epoch;
}

std::vector<prometheus::MetricFamily> OwnerProbe::Collect() const {
  return {
      GaugeFamily("hotdeal_owner_epoch", "Owner epoch this engine sells under",
                  static_cast<double>(epoch_)),
      GaugeFamily("hotdeal_owner_fenced", "1 once a newer owner took over (this engine stops)",
                  fenced_.load(std::memory_order_relaxed) ? 1 : 0),
      CounterFamily("hotdeal_owner_check_errors_total", "Owner checks MySQL did not answer",
                    check_errors_.load(std::memory_order_relaxed)),
  };
}

OwnerWatch::OwnerWatch(Options options)
    : options_(std::move(options)), probe_(std::make_shared<OwnerProbe>(options_.owner_epoch)) {}

OwnerWatch::~OwnerWatch() {
  Stop();
}

void OwnerWatch::Start(OnFenced on_fenced) {
  thread_ = std::thread([this, on_fenced = std::move(on_fenced)] { Run(on_fenced); });
}

void OwnerWatch::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void OwnerWatch::Run(const OnFenced& on_fenced) {
  std::unique_ptr<mysql::Connection> db;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, options_.owner_check_interval, [this] { return stopping_; })) return;
    }
    if (!db) {
      db = std::make_unique<mysql::Connection>();
      if (!db->Connect(options_, kMysqlIoTimeout).ok()) {
        db.reset();
        probe_->CheckFailed();
        continue;
      }
    }
    base::Result<std::optional<OwnerRow>> owner = ReadOwner(*db, options_.kafka_topic);
    if (!owner.ok()) {
      db.reset();  // never reused after an error: the next check connects afresh
      probe_->CheckFailed();
      continue;
    }
    if (!*owner || (*owner)->epoch <= options_.owner_epoch) continue;
    fenced_.store(true);
    probe_->Fenced();
    const OwnerRow& newer = **owner;
    on_fenced("epoch " + std::to_string(newer.epoch) + " was taken by " + newer.host + " pid " +
              newer.pid + " at " + newer.started_at + "; this engine owned epoch " +
              std::to_string(options_.owner_epoch));
    return;
  }
}

}  // namespace hotdeal::persistence
