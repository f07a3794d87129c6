// TakeOwnership and OwnerWatch: see owner.h. The epoch lives in MySQL (`owners`, migration V3);
// the fence goes to Kafka through a producer of its own, made and dropped at start-up.
#include "hotdeal/persistence/owner.h"

#include <unistd.h>

#include <stdexcept>

#include "hotdeal/persistence/event_codec.h"
#include "kafka_handles.h"
#include "metric_family.h"
#include "mysql_connection.h"
#include "schema.h"

namespace hotdeal::persistence {
namespace {

constexpr std::chrono::seconds kMysqlIoTimeout{10};
constexpr std::chrono::milliseconds kKafkaTimeout{10'000};

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("taking ownership: " + what);
}

void Check(std::optional<MysqlError> error, const char* what) {
  if (error) Fail(std::string(what) + ": " + error->message);
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string OwnerRowQuery(const MysqlConnection& db, const std::string& topic) {
  std::string sql = "SELECT epoch, host, pid, started_at FROM owners WHERE topic = '";
  db.Escape(topic, sql);
  return sql + "'";
}

// The upsert holds the row's lock until COMMIT, so two starting engines take distinct epochs.
std::uint64_t TakeEpoch(const Options& options) {
  MysqlConnection db;
  Check(db.Connect(options, kMysqlIoTimeout), "connect to MySQL");
  Check(Migrate(db), "migrate");
  std::string topic;
  db.Escape(options.kafka_topic, topic);
  std::string host;
  db.Escape(HostName(), host);
  Check(db.Execute("START TRANSACTION"), "begin");
  Check(db.Execute("INSERT INTO owners (topic, epoch, host, pid) VALUES ('" + topic + "', 1, '" +
                   host + "', " + std::to_string(::getpid()) +
                   ") ON DUPLICATE KEY UPDATE epoch = epoch + 1, host = VALUES(host), "
                   "pid = VALUES(pid), started_at = CURRENT_TIMESTAMP(6)"),
        "take the next epoch");
  std::optional<MysqlResult> rows;
  Check(db.Query(OwnerRowQuery(db, options.kafka_topic), rows), "read the epoch");
  MYSQL_ROW row = rows->Next();
  if (row == nullptr) Fail("the owners row vanished inside its transaction");
  const std::uint64_t epoch = std::strtoull(row[0], nullptr, 10);
  Check(db.Execute("COMMIT"), "commit the epoch");
  return epoch;
}

void CountPersisted(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++*static_cast<std::int32_t*>(opaque);
}

// One owner_fence per partition; every one must be persisted before the owner may recover.
void AppendFences(const Options& options, std::uint64_t epoch) {
  std::int32_t persisted = 0;
  auto conf = NewKafkaConf({{"bootstrap.servers", options.kafka_brokers},
                            {"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"message.timeout.ms", std::to_string(kKafkaTimeout.count())},
                            {"client.id", "hotdeal-owner"}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &CountPersisted);
  rd_kafka_conf_set_opaque(conf.get(), &persisted);
  KafkaPtr<rd_kafka_t> producer = NewKafkaClient(RD_KAFKA_PRODUCER, std::move(conf));
  EnsureTopic(producer.get(), options.kafka_topic, options.topic_partitions,
              options.topic_replication_factor, kKafkaTimeout);
  const std::int32_t partitions =
      TopicPartitions(producer.get(), options.kafka_topic, kKafkaTimeout);
  KafkaPtr<rd_kafka_topic_t> topic(
      rd_kafka_topic_new(producer.get(), options.kafka_topic.c_str(), nullptr));
  if (!topic) Fail("kafka topic handle: " + options.kafka_topic);
  EventBuffer buffer;
  const Encoded fence = EncodeFence(
      epoch,
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()),
      buffer);
  for (std::int32_t p = 0; p < partitions; ++p) {
    if (rd_kafka_produce(topic.get(), p, RD_KAFKA_MSG_F_COPY, const_cast<char*>(fence.text.data()),
                         fence.text.size(), nullptr, 0, nullptr) != 0) {
      Fail(std::string("fence: ") + rd_kafka_err2str(rd_kafka_last_error()));
    }
  }
  rd_kafka_flush(producer.get(), static_cast<int>(kKafkaTimeout.count()));
  if (persisted != partitions) {
    Fail("Kafka persisted " + std::to_string(persisted) + " of " + std::to_string(partitions) +
         " fences");
  }
  topic.reset();  // a topic handle must go before its client
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
  std::unique_ptr<MysqlConnection> db;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, options_.owner_check_interval, [this] { return stopping_; })) return;
    }
    if (!db) {
      db = std::make_unique<MysqlConnection>();
      if (db->Connect(options_, kMysqlIoTimeout)) {
        db.reset();
        probe_->CheckFailed();
        continue;
      }
    }
    std::optional<MysqlResult> rows;
    if (db->Query(OwnerRowQuery(*db, options_.kafka_topic), rows)) {
      db.reset();  // never reused after an error: the next check connects afresh
      probe_->CheckFailed();
      continue;
    }
    MYSQL_ROW row = rows->Next();
    if (row == nullptr || std::strtoull(row[0], nullptr, 10) <= options_.owner_epoch) continue;
    fenced_.store(true);
    probe_->Fenced();
    on_fenced("epoch " + std::string(row[0]) + " was taken by " + row[1] + " pid " + row[2] +
              " at " + row[3] + "; this engine owned epoch " +
              std::to_string(options_.owner_epoch));
    return;
  }
}

}  // namespace hotdeal::persistence
