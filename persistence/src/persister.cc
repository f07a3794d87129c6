// Persister implementation. One Session per MySQL connection: connect, migrate, read the
// stored offsets, assign the partitions there, then loop: fill a batch, plan its net effect in
// memory, write it with multi-row statements and the new offsets in one transaction. Any error
// ends the session; the next one starts again from whatever MySQL says was committed.
#include "hotdeal/persistence/persister.h"

#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hotdeal/base/log.h"
#include "hotdeal/engine/names.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/partition_epochs.h"
#include "kafka_handles.h"
#include "metric_family.h"
#include "mysql_connection.h"
#include "schema.h"

namespace hotdeal::persistence {

void PersisterProbe::Batch(std::uint64_t events, std::uint64_t replayed, std::uint64_t conflicts,
                           std::uint64_t stale_epoch,
                           std::chrono::steady_clock::duration took) noexcept {
  commit_seconds_.Observe(std::chrono::duration<double>(took).count());
  batch_events_.Observe(static_cast<double>(events));
  batches_.fetch_add(1, kRelaxed);
  events_.fetch_add(events, kRelaxed);
  replayed_.fetch_add(replayed, kRelaxed);
  conflicts_.fetch_add(conflicts, kRelaxed);
  stale_epoch_.fetch_add(stale_epoch, kRelaxed);
}

void PersisterProbe::SetBooks(std::vector<CampaignBooks> books) {
  std::lock_guard lock(books_mutex_);
  books_ = std::move(books);
}

void PersisterProbe::SetLagSource(std::function<std::uint64_t()> source) {
  std::lock_guard lock(lag_source_mutex_);
  lag_source_ = std::move(source);
}

PersisterCounters PersisterProbe::Snapshot() const noexcept {
  std::uint64_t lag = lag_.load(kRelaxed);
  {
    std::lock_guard lock(lag_source_mutex_);
    if (lag_source_) lag = lag_source_();
  }
  return {events_.load(kRelaxed),      batches_.load(kRelaxed),  replayed_.load(kRelaxed),
          conflicts_.load(kRelaxed),   errors_.load(kRelaxed),   lag,
          stale_epoch_.load(kRelaxed), connected_.load(kRelaxed)};
}

std::vector<prometheus::MetricFamily> PersisterProbe::Collect() const {
  const PersisterCounters c = Snapshot();
  prometheus::MetricFamily rows{"hotdeal_persister_units",
                                "Units in MySQL's rows by campaign and state (claimed, held: "
                                "orders reserved, confirmed), read at most once a second",
                                prometheus::MetricType::Gauge,
                                {}};
  prometheus::MetricFamily log{"hotdeal_persister_log_units",
                               "Units in the Kafka events the persister consumed, by campaign and "
                               "state, at the same offsets as hotdeal_persister_units",
                               prometheus::MetricType::Gauge,
                               {}};
  auto add = [](prometheus::MetricFamily& family, const std::string& campaign, const Units& u) {
    for (auto [state, count] :
         {std::pair{"claimed", u.claimed}, {"held", u.held}, {"confirmed", u.confirmed}}) {
      prometheus::ClientMetric metric;
      metric.label = {{"campaign", campaign}, {"state", state}};
      metric.gauge.value = static_cast<double>(count);
      family.metric.push_back(std::move(metric));
    }
  };
  {
    std::lock_guard lock(books_mutex_);
    for (const CampaignBooks& books : books_) {
      add(rows, books.campaign, books.rows);
      add(log, books.campaign, books.log);
    }
  }
  return {
      std::move(rows),
      std::move(log),
      commit_seconds_.Family("hotdeal_persister_commit_duration_seconds",
                             "One batch's transaction, from START TRANSACTION to COMMIT answered"),
      batch_events_.Family("hotdeal_persister_batch_events", "Events in one committed batch"),
      CounterFamily("hotdeal_persister_events_total", "Events written to MySQL", c.events),
      CounterFamily("hotdeal_persister_batches_total", "Transactions committed", c.batches),
      CounterFamily("hotdeal_persister_replayed_total", "Rows found already written", c.replayed),
      CounterFamily("hotdeal_persister_conflicts_total",
                    "Events kept in the conflicts table (alarm)", c.conflicts),
      CounterFamily("hotdeal_persister_stale_epoch_events_total",
                    "Events of a replaced owner kept in the conflicts table, not applied (alarm)",
                    c.stale_epoch),
      CounterFamily("hotdeal_persister_errors_total", "Sessions ended by an error", c.errors),
      GaugeFamily("hotdeal_persister_lag_events", "Events in Kafka not yet in MySQL",
                  static_cast<double>(c.lag)),
      GaugeFamily("hotdeal_persister_connected", "1 while connected to MySQL", c.connected ? 1 : 0),
  };
}

namespace {

using engine::EventType;

constexpr std::chrono::seconds kMysqlIoTimeout{30};
// hotdeal_persister_units is read from MySQL at most this often, and only after a commit: one
// index range scan per campaign, kept off most batches.
constexpr std::chrono::seconds kRowsRefreshInterval{1};
constexpr std::chrono::milliseconds kKafkaTimeout{10'000};

// One consumed message and what it decoded to.
struct Item {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string_view raw;
  CodecError error = CodecError::kOk;
  LogRecord record;
};

// The status an order event leaves its row in, as the `orders.status` column spells it.
std::string_view OrderStatusName(EventType type) noexcept {
  switch (type) {
    case EventType::kOrderConfirmed:
      return engine::Name(engine::OrderStatus::kConfirmed);
    case EventType::kOrderCancelled:
      return engine::Name(engine::OrderStatus::kCancelled);
    case EventType::kOrderExpired:
      return engine::Name(engine::OrderStatus::kExpired);
    default:
      return engine::Name(engine::OrderStatus::kReserved);
  }
}

// The engine's order transitions: whether an order whose latest logged state is `from`
// (kOrderReserved for a reservation) moves on `move`. A move from a state it cannot leave (a
// repeated confirm, or a confirm appended again that lands after the cancel) changes nothing,
// as Engine::Apply counts it an orphan: the tables never go back to an earlier status.
bool Moves(EventType from, EventType move) noexcept {
  switch (move) {
    case EventType::kOrderConfirmed:
    case EventType::kOrderExpired:
      return from == EventType::kOrderReserved;
    case EventType::kOrderCancelled:
      return from == EventType::kOrderReserved || from == EventType::kOrderConfirmed;
    default:
      return false;
  }
}

// The statuses a row may be in for `move` to apply, as SQL (see Moves).
std::string_view StatusesMovedBy(EventType move) noexcept {
  return move == EventType::kOrderCancelled ? "('reserved', 'confirmed')" : "('reserved')";
}

std::int64_t Micros(engine::TimePoint t) {
  return t.time_since_epoch().count();
}

constexpr std::string_view kInsertClaim =
    "INSERT INTO claims (claim_id, campaign_id, user_id, coupon_code, created_at_us, seq, "
    "idempotency_key) VALUES ";
constexpr std::string_view kInsertOrder =
    "INSERT INTO orders (order_id, campaign_id, user_id, quantity, amount, created_at_us, "
    "expires_at_us, seq, status, status_at_us, status_seq, idempotency_key) VALUES ";

// A batch's net effect: what to delete, insert and update, in the order that keeps the unique
// keys satisfied (deletes of earlier rows first, so a user whose claim was voided can hold a
// new one from the same batch).
struct Plan {
  std::vector<const Item*> campaigns_new;
  std::vector<const Item*> campaigns_closed;
  std::vector<const Item*> claims_new;  // nullptr: granted and voided within the batch
  std::vector<std::uint64_t> claims_void;
  struct NewOrder {
    const Item* reserved;
    const Item* latest;  // the reservation or its latest move
    bool voided;
  };
  std::vector<NewOrder> orders_new;
  std::unordered_map<std::uint64_t, const Item*> orders_status;  // latest move of older rows
  std::vector<std::uint64_t> orders_void;
  std::vector<std::pair<const Item*, std::string>> conflicts;
  // Written by a replaced owner, with the newer epoch already seen in its partition.
  std::vector<std::pair<const Item*, std::uint64_t>> stale;
  std::unordered_map<std::uint64_t, std::size_t> claim_at;  // claim id -> claims_new index
  std::unordered_map<std::uint64_t, std::size_t> order_at;  // order id -> orders_new index

  void Clear() {
    campaigns_new.clear(), campaigns_closed.clear(), claims_new.clear(), claims_void.clear();
    orders_new.clear(), orders_status.clear(), orders_void.clear(), conflicts.clear();
    stale.clear();
    claim_at.clear(), order_at.clear();
  }

  void Add(const Item& item) {
    if (item.error != CodecError::kOk) {
      conflicts.emplace_back(
          &item, std::string("undecodable: ") + std::string(CodecErrorName(item.error)));
      return;
    }
    const engine::Event& e = item.record.event;
    switch (e.type) {
      case EventType::kCampaignCreated:
        campaigns_new.push_back(&item);
        return;
      case EventType::kCampaignClosed:
        campaigns_closed.push_back(&item);
        return;
      case EventType::kClaimGranted:
        claim_at[e.claim_id.value] = claims_new.size();
        claims_new.push_back(&item);
        return;
      case EventType::kClaimVoided:
        if (auto it = claim_at.find(e.claim_id.value); it != claim_at.end()) {
          claims_new[it->second] = nullptr;
          claim_at.erase(it);
        } else {
          claims_void.push_back(e.claim_id.value);
        }
        return;
      case EventType::kOrderReserved:
        order_at[e.order_id.value] = orders_new.size();
        orders_new.push_back({&item, &item, false});
        return;
      case EventType::kOrderConfirmed:
      case EventType::kOrderCancelled:
      case EventType::kOrderExpired:
      case EventType::kOrderVoided:
        AddOrderChange(item);
        return;
    }
  }

  void AddOrderChange(const Item& item) {
    const engine::Event& e = item.record.event;
    const bool voided = e.type == EventType::kOrderVoided;
    if (auto it = order_at.find(e.order_id.value); it != order_at.end()) {
      NewOrder& order = orders_new[it->second];
      order.voided = voided;
      if (!voided && Moves(order.latest->record.event.type, e.type)) order.latest = &item;
    } else if (voided) {
      orders_status.erase(e.order_id.value);
      orders_void.push_back(e.order_id.value);
    } else if (auto [at, first] = orders_status.try_emplace(e.order_id.value, &item);
               !first && Moves(at->second->record.event.type, e.type)) {
      at->second = &item;  // composed in the batch; the UPDATE checks the row's status
    }
  }
};

// The books from the log's side: each kept campaign's units folded from the events themselves,
// by their ids and the engine's order transitions (Moves), not from what the SQL did. A session
// starts it from MySQL's rows at the stored offsets, the one point where rows and log agree by
// construction (they commit together), so from then on a row the SQL failed to write, dropped
// or wrote twice, or an event MySQL refused (a conflict), makes the two differ. Memory: an id
// per claim and order row of the kept campaigns, about what MySQL's indexes of them hold.
class LogBooks {
 public:
  explicit LogBooks(std::uint32_t campaigns_max) : campaigns_max_(campaigns_max) {}

  // A campaign from MySQL or from its campaign_created; past campaigns_max the one created
  // first goes (ties: the smaller id), as the seed's ORDER BY picks them.
  void Keep(const std::string& campaign, std::int64_t created_at_us) {
    if (!campaigns_.try_emplace(campaign, created_at_us).second) return;
    if (campaigns_.size() <= campaigns_max_) return;
    auto oldest = campaigns_.begin();  // ids ascend: of equal times the smaller id goes
    for (auto it = campaigns_.begin(); it != campaigns_.end(); ++it) {
      if (it->second.created_at_us < oldest->second.created_at_us) oldest = it;
    }
    campaigns_.erase(oldest);
  }
  // Seeding from MySQL: a claim row, an order row in `status`.
  void SeedClaim(const std::string& campaign, std::uint64_t claim_id) {
    if (Books* b = Find(campaign)) Grant(*b, claim_id);
  }
  void SeedOrder(const std::string& campaign, std::uint64_t order_id, std::uint32_t quantity,
                 std::string_view status) {
    Books* b = Find(campaign);
    if (b == nullptr) return;
    if (status == OrderStatusName(EventType::kOrderReserved)) {
      Reserve(*b, order_id, quantity);
    } else if (status == OrderStatusName(EventType::kOrderConfirmed)) {
      Reserve(*b, order_id, quantity);
      Move(*b, order_id, EventType::kOrderConfirmed);
    } else {
      b->ended.insert(order_id);
    }
  }

  // One decoded event of the current owner, in log order.
  void Apply(const engine::Event& e) {
    if (e.type == EventType::kCampaignCreated) {
      return Keep(std::string(e.campaign.view()), Micros(e.at));
    }
    Books* b = Find(e.campaign.view());
    if (b == nullptr) return;
    switch (e.type) {
      case EventType::kClaimGranted:
        return Grant(*b, e.claim_id.value);
      case EventType::kClaimVoided:
        if (b->claims.erase(e.claim_id.value) != 0) --b->units.claimed;
        return;
      case EventType::kOrderReserved:
        return Reserve(*b, e.order_id.value, e.quantity);
      case EventType::kOrderConfirmed:
      case EventType::kOrderCancelled:
      case EventType::kOrderExpired:
      case EventType::kOrderVoided:
        return Move(*b, e.order_id.value, e.type);
      default:
        return;
    }
  }

  std::vector<std::string> Campaigns() const {
    std::vector<std::string> ids;
    ids.reserve(campaigns_.size());
    for (const auto& [id, books] : campaigns_)
      ids.push_back(id);
    return ids;
  }
  Units UnitsOf(const std::string& campaign) const { return campaigns_.at(campaign).units; }

 private:
  struct Order {
    std::uint32_t quantity;
    EventType state;  // kOrderReserved or kOrderConfirmed
  };
  struct Books {
    explicit Books(std::int64_t at) : created_at_us(at) {}
    std::int64_t created_at_us;
    Units units;
    std::unordered_set<std::uint64_t> claims;         // granted, not voided
    std::unordered_map<std::uint64_t, Order> orders;  // reserved or confirmed
    std::unordered_set<std::uint64_t> ended;          // later copies of an ended order are history
  };

  Books* Find(std::string_view campaign) {
    auto it = campaigns_.find(campaign);
    return it == campaigns_.end() ? nullptr : &it->second;
  }
  static void Grant(Books& b, std::uint64_t claim_id) {
    if (b.claims.insert(claim_id).second) ++b.units.claimed;  // else a copy
  }
  static void Reserve(Books& b, std::uint64_t order_id, std::uint32_t quantity) {
    if (b.ended.contains(order_id)) return;
    if (b.orders.try_emplace(order_id, Order{quantity, EventType::kOrderReserved}).second) {
      b.units.held += quantity;
    }
  }
  static void Move(Books& b, std::uint64_t order_id, EventType move) {
    auto it = b.orders.find(order_id);
    if (it == b.orders.end()) return;  // ended, or reserved before the kept history
    Order& order = it->second;
    // A void ends an in-doubt reservation; the others only as the engine moves it.
    if (move != EventType::kOrderVoided && !Moves(order.state, move)) return;
    (order.state == EventType::kOrderConfirmed ? b.units.confirmed : b.units.held) -=
        order.quantity;
    if (move == EventType::kOrderConfirmed) {
      order.state = move;
      b.units.confirmed += order.quantity;
      return;
    }
    b.ended.insert(order_id);
    b.orders.erase(it);
  }

  const std::uint32_t campaigns_max_;
  std::map<std::string, Books, std::less<>> campaigns_;
};

// Appends `(a, b, ...)`-style SQL without a helper per type.
class Sql {
 public:
  explicit Sql(const MysqlConnection& db) : db_(db) { text_.reserve(1 << 20); }
  Sql& operator<<(std::string_view s) {
    text_.append(s);
    return *this;
  }
  Sql& operator<<(std::int64_t v) {
    text_.append(std::to_string(v));
    return *this;
  }
  Sql& operator<<(std::uint64_t v) {
    text_.append(std::to_string(v));
    return *this;
  }
  Sql& operator<<(std::uint32_t v) { return *this << std::uint64_t{v}; }
  // A quoted, escaped string literal.
  Sql& Quote(std::string_view s) {
    text_.push_back('\'');
    db_.Escape(s, text_);
    text_.push_back('\'');
    return *this;
  }
  void Clear() { text_.clear(); }
  const std::string& str() const { return text_; }

 private:
  const MysqlConnection& db_;
  std::string text_;
};

}  // namespace

class Persister::Session {
 public:
  Session(const Options& options, PersisterProbe& probe, const std::atomic<bool>& stopping)
      : options_(options), probe_(probe), stopping_(stopping), sql_(db_) {
    messages_.reserve(options_.batch_events_max);
    items_.reserve(options_.batch_events_max);
  }
  // Before the consumer goes: the probe must not measure through it any more.
  ~Session() { probe_.SetLagSource(nullptr); }

  // Returns what ended the session; nullopt when asked to stop.
  std::optional<std::string> Run() {
    if (auto error = Open()) return error;
    probe_.SetConnected(true);
    if (auto error = SeedBooks()) return "mysql books: " + error->message;
    if (auto error = ReadRows()) return "mysql rows: " + error->message;
    bool rows_stale = false;
    auto rows_read_at = std::chrono::steady_clock::now();
    while (!stopping_.load()) {
      if (auto error = Fill()) return error;
      if (!items_.empty()) {
        if (auto error = Write()) return "mysql: " + error->message;
        rows_stale = true;
      }
      UpdateLag();
      if (rows_stale && std::chrono::steady_clock::now() - rows_read_at >= kRowsRefreshInterval) {
        if (auto error = ReadRows()) return "mysql rows: " + error->message;
        rows_stale = false;
        rows_read_at = std::chrono::steady_clock::now();
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> Open();
  std::optional<std::string> Fill();
  std::optional<MysqlError> Write();
  std::optional<MysqlError> WriteCampaigns();
  std::optional<MysqlError> WriteClaims();
  std::optional<MysqlError> WriteOrders();
  std::optional<MysqlError> WriteTail();
  std::optional<MysqlError> InsertClaim(const Item& item);
  std::optional<MysqlError> InsertOrder(const Plan::NewOrder& order);
  std::optional<MysqlError> SetOrderStatus(const Item& latest);
  void OrderValues(const Plan::NewOrder& order);
  void ClaimValues(const engine::Event& e);
  void KeyValue(const engine::Event& e);  // the event's Idempotency-Key, or NULL
  std::optional<MysqlError> DeleteIds(std::string_view statement,
                                      const std::vector<std::uint64_t>& ids);
  std::optional<MysqlError> SeedBooks();  // books_ from MySQL's rows at the stored offsets
  // hotdeal_persister_units from committed rows, with books_ at the same offsets.
  std::optional<MysqlError> ReadRows();
  std::string KeptCampaigns();  // books_'s campaigns as a quoted SQL list
  void UpdateLag();
  std::uint64_t MeasureLag() const;  // any thread: reads only committed_ and the consumer

  const Options& options_;
  PersisterProbe& probe_;
  const std::atomic<bool>& stopping_;
  MysqlConnection db_;
  Sql sql_;
  KafkaPtr<rd_kafka_t> consumer_;
  EventDecoder decoder_;
  std::vector<KafkaPtr<rd_kafka_message_t>> messages_;
  std::vector<Item> items_;
  Plan plan_;
  LogBooks books_{options_.campaigns_max};
  std::vector<std::int64_t> next_offsets_;  // per partition; -1: nothing stored yet
  PartitionEpochs epochs_;                  // as committed with next_offsets_
  PartitionEpochs batch_epochs_;            // epochs_ moved through the batch being written
  // next_offsets_ as the probe reads it from a scraping thread.
  std::unique_ptr<std::atomic<std::int64_t>[]> committed_;
  std::uint64_t replayed_ = 0;  // in the batch being written
};

std::optional<std::string> Persister::Session::Open() {
  if (auto e = db_.Connect(options_, kMysqlIoTimeout)) return "mysql connect: " + e->message;
  if (auto e = Migrate(db_)) return "mysql migrate: " + e->message;
  std::int32_t partitions = 0;
  try {
    consumer_ = NewKafkaClient(
        RD_KAFKA_CONSUMER,
        NewKafkaConf({
            {"bootstrap.servers", options_.kafka_brokers},
            {"group.id", "hotdeal-persister"},  // required by librdkafka; never joined
            {"enable.auto.commit", "false"},
            {"enable.auto.offset.store", "false"},
            // A stored offset that fell out of retention is an error to see, not to skip.
            {"auto.offset.reset", "error"},
            {"fetch.wait.max.ms", "20"},
            {"client.id", "hotdeal-persister"},
        }));
    EnsureTopic(consumer_.get(), options_.kafka_topic, options_.topic_partitions,
                options_.topic_replication_factor, kKafkaTimeout);
    partitions = TopicPartitions(consumer_.get(), options_.kafka_topic, kKafkaTimeout);
  } catch (const std::exception& e) {
    return e.what();
  }
  next_offsets_.assign(partitions, -1);
  epochs_.Reset(partitions);
  std::optional<MysqlResult> rows;
  sql_.Clear();
  sql_ << "SELECT `partition`, next_offset, epoch_max FROM consumer_offsets WHERE topic = ";
  sql_.Quote(options_.kafka_topic);
  if (auto e = db_.Query(sql_.str(), rows)) return "mysql offsets: " + e->message;
  while (MYSQL_ROW row = rows->Next()) {
    const int partition = std::atoi(row[0]);
    if (partition < 0 || partition >= partitions) continue;
    next_offsets_[partition] = std::atoll(row[1]);
    epochs_.Set(partition, std::strtoull(row[2], nullptr, 10));
  }
  KafkaPtr<rd_kafka_topic_partition_list_t> assignment(
      rd_kafka_topic_partition_list_new(partitions));
  for (std::int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), options_.kafka_topic.c_str(), p)->offset =
        next_offsets_[p] >= 0 ? next_offsets_[p] : RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), assignment.get())) {
    return std::string("kafka assign: ") + rd_kafka_err2str(err);
  }
  committed_ = std::make_unique<std::atomic<std::int64_t>[]>(next_offsets_.size());
  for (std::size_t p = 0; p < next_offsets_.size(); ++p)
    committed_[p].store(next_offsets_[p]);
  probe_.SetLagSource([this] { return MeasureLag(); });
  return std::nullopt;
}

std::optional<std::string> Persister::Session::Fill() {
  messages_.clear();
  items_.clear();
  const auto deadline = std::chrono::steady_clock::now() + options_.batch_wait;
  while (items_.size() < options_.batch_events_max && !stopping_.load()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    KafkaPtr<rd_kafka_message_t> message(
        rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(left.count())));
    if (!message) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::string("kafka consume: ") + rd_kafka_message_errstr(message.get());
    }
    Item& item = items_.emplace_back();
    item.partition = message->partition;
    item.offset = message->offset;
    item.raw = {static_cast<const char*>(message->payload), message->len};
    item.error = decoder_.Decode(item.raw, item.record);
    messages_.push_back(std::move(message));
  }
  return std::nullopt;
}

std::optional<MysqlError> Persister::Session::Write() {
  plan_.Clear();
  replayed_ = 0;
  batch_epochs_ = epochs_;
  for (const Item& item : items_) {
    if (item.error != CodecError::kOk) {
      plan_.Add(item);  // kept as undecodable
    } else if (batch_epochs_.Stale(item.partition, item.record.epoch)) {
      plan_.stale.emplace_back(&item, batch_epochs_.max(item.partition));
    } else if (!item.record.fence) {
      plan_.Add(item);
      books_.Apply(item.record.event);
    }
  }
  const auto started = std::chrono::steady_clock::now();
  if (auto e = db_.Execute("START TRANSACTION")) return e;
  if (auto e = WriteCampaigns()) return e;
  if (auto e = WriteClaims()) return e;
  if (auto e = WriteOrders()) return e;
  if (auto e = WriteTail()) return e;
  if (auto e = db_.Execute("COMMIT")) return e;
  const auto took = std::chrono::steady_clock::now() - started;
  for (const Item& item : items_)
    next_offsets_[item.partition] = item.offset + 1;
  for (std::size_t p = 0; p < next_offsets_.size(); ++p)
    committed_[p].store(next_offsets_[p]);
  epochs_ = batch_epochs_;
  for (const auto& [item, detail] : plan_.conflicts) {
    base::Log(base::LogLevel::kError, "persister", "ALARM conflict at %s[%d]@%lld: %s",
              options_.kafka_topic.c_str(), item->partition, static_cast<long long>(item->offset),
              detail.c_str());
  }
  for (const auto& [item, newer] : plan_.stale) {
    base::Log(base::LogLevel::kError, "persister",
              "ALARM stale owner at %s[%d]@%lld: epoch %llu after epoch "
              "%llu; not applied (docs/operations.md)",
              options_.kafka_topic.c_str(), item->partition, static_cast<long long>(item->offset),
              static_cast<unsigned long long>(item->record.epoch),
              static_cast<unsigned long long>(newer));
  }
  probe_.Batch(items_.size(), replayed_, plan_.conflicts.size(), plan_.stale.size(), took);
  return std::nullopt;
}

std::optional<MysqlError> Persister::Session::WriteCampaigns() {
  for (const Item* item : plan_.campaigns_new) {
    const engine::Event& e = item->record.event;
    const engine::CampaignSpec& s = e.spec;
    sql_.Clear();
    sql_ << "INSERT INTO campaigns (id, campaign_index, kind, name, stock, per_user_limit, "
            "starts_at_us, ends_at_us, price, hold_seconds, created_at_us, created_seq, id_key_0, "
            "id_key_1) VALUES (";
    sql_.Quote(e.campaign.view()) << ", " << e.campaign_index << ", "
                                  << (s.kind == engine::CampaignKind::kSale ? "'sale'" : "'coupon'")
                                  << ", ";
    sql_.Quote(s.name) << ", " << s.stock << ", " << s.per_user_limit << ", " << Micros(s.starts_at)
                       << ", ";
    if (s.ends_at) {
      sql_ << Micros(*s.ends_at);
    } else {
      sql_ << "NULL";
    }
    sql_ << ", " << s.price << ", " << s.hold_seconds << ", " << Micros(e.at) << ", " << e.seq
         << ", " << e.id_key[0] << ", " << e.id_key[1] << ")";
    auto error = db_.Execute(sql_.str());
    if (!error) continue;
    if (error->code != kMysqlDuplicateKey) return error;
    // Same id: a replay if it is the same campaign (same slot, same creation), else an alarm.
    sql_.Clear();
    sql_ << "SELECT campaign_index, created_seq FROM campaigns WHERE id = ";
    sql_.Quote(e.campaign.view());
    std::optional<MysqlResult> rows;
    if (auto e2 = db_.Query(sql_.str(), rows)) return e2;
    MYSQL_ROW row = rows->Next();
    if (row != nullptr && std::to_string(e.campaign_index) == row[0] &&
        std::to_string(e.seq) == row[1]) {
      ++replayed_;
    } else {
      plan_.conflicts.emplace_back(item, "campaign id exists with another creation");
    }
  }
  for (const Item* item : plan_.campaigns_closed) {
    sql_.Clear();
    sql_ << "UPDATE campaigns SET closed_at_us = " << Micros(item->record.event.at)
         << ", closed_seq = " << item->record.event.seq << " WHERE id = ";
    sql_.Quote(item->record.event.campaign.view());
    if (auto e = db_.Execute(sql_.str())) return e;
  }
  return std::nullopt;
}

std::optional<MysqlError> Persister::Session::WriteClaims() {
  if (auto e = DeleteIds("DELETE FROM claims WHERE claim_id IN (", plan_.claims_void)) return e;
  sql_.Clear();
  sql_ << kInsertClaim;
  bool any = false;
  for (const Item* item : plan_.claims_new) {
    if (item == nullptr) continue;
    sql_ << (any ? "," : "");
    ClaimValues(item->record.event);
    any = true;
  }
  if (!any) return std::nullopt;
  auto error = db_.Execute(sql_.str());
  if (!error || error->code != kMysqlDuplicateKey) return error;
  // InnoDB rolled back just the failed statement: sort the batch out row by row.
  for (const Item* item : plan_.claims_new) {
    if (item == nullptr) continue;
    if (auto e = InsertClaim(*item)) return e;
  }
  return std::nullopt;
}

std::optional<MysqlError> Persister::Session::InsertClaim(const Item& item) {
  const engine::Event& e = item.record.event;
  sql_.Clear();
  sql_ << "SELECT claim_id, campaign_id, user_id, coupon_code FROM claims WHERE claim_id = "
       << e.claim_id.value << " OR (campaign_id = '" << e.campaign.view() << "' AND user_id = '"
       << e.user.view() << "')";
  std::optional<MysqlResult> rows;
  if (auto error = db_.Query(sql_.str(), rows)) return error;
  if (rows->rows() == 0) {
    sql_.Clear();
    sql_ << kInsertClaim;
    ClaimValues(e);
    return db_.Execute(sql_.str());
  }
  MYSQL_ROW row = rows->Next();
  const bool same = rows->rows() == 1 && std::to_string(e.claim_id.value) == row[0] &&
                    e.campaign.view() == row[1] && e.user.view() == row[2] &&
                    e.coupon_code.view() == row[3];
  if (same) {
    ++replayed_;
  } else {
    plan_.conflicts.emplace_back(
        &item, std::string("claim conflicts with claim ") + row[0] + " of user " + row[2]);
  }
  return std::nullopt;
}

std::optional<MysqlError> Persister::Session::WriteOrders() {
  if (auto e = DeleteIds("DELETE FROM orders WHERE order_id IN (", plan_.orders_void)) return e;
  sql_.Clear();
  sql_ << kInsertOrder;
  bool any = false;
  for (const Plan::NewOrder& order : plan_.orders_new) {
    if (order.voided) continue;
    sql_ << (any ? "," : "");
    OrderValues(order);
    any = true;
  }
  if (any) {
    auto error = db_.Execute(sql_.str());
    if (error && error->code != kMysqlDuplicateKey) return error;
    if (error) {
      for (const Plan::NewOrder& order : plan_.orders_new) {
        if (order.voided) continue;
        if (auto e = InsertOrder(order)) return e;
      }
    }
  }
  for (const auto& [order_id, latest] : plan_.orders_status) {
    if (auto e = SetOrderStatus(*latest)) return e;
  }
  return std::nullopt;
}

void Persister::Session::ClaimValues(const engine::Event& e) {
  // Ids and coupon codes were validated by the decoder ([A-Za-z0-9_-], base32): no escaping.
  sql_ << "(" << e.claim_id.value << ",'" << e.campaign.view() << "','" << e.user.view() << "','"
       << e.coupon_code.view() << "'," << Micros(e.at) << "," << e.seq << ",";
  KeyValue(e);
  sql_ << ")";
}

void Persister::Session::KeyValue(const engine::Event& e) {
  // Keys were validated by the decoder ([A-Za-z0-9_-]{1,64}): no escaping.
  if (e.idempotency_key) {
    sql_ << "'" << e.idempotency_key->view() << "'";
  } else {
    sql_ << "NULL";
  }
}

std::optional<MysqlError> Persister::Session::DeleteIds(std::string_view statement,
                                                        const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) return std::nullopt;
  sql_.Clear();
  sql_ << statement;
  for (std::size_t i = 0; i < ids.size(); ++i)
    sql_ << (i ? "," : "") << ids[i];
  sql_ << ")";
  return db_.Execute(sql_.str());
}

void Persister::Session::OrderValues(const Plan::NewOrder& order) {
  const engine::Event& e = order.reserved->record.event;
  const engine::Event& latest = order.latest->record.event;
  sql_ << "(" << e.order_id.value << ",'" << e.campaign.view() << "','" << e.user.view() << "',"
       << e.quantity << "," << e.amount << "," << Micros(e.at) << "," << Micros(e.expires_at) << ","
       << e.seq << ",'" << OrderStatusName(latest.type) << "'," << Micros(latest.at) << ","
       << latest.seq << ",";
  KeyValue(e);
  sql_ << ")";
}

std::optional<MysqlError> Persister::Session::SetOrderStatus(const Item& latest) {
  const engine::Event& e = latest.record.event;
  sql_.Clear();
  sql_ << "UPDATE orders SET status = '" << OrderStatusName(e.type)
       << "', status_at_us = " << Micros(e.at) << ", status_seq = " << e.seq
       << " WHERE order_id = " << e.order_id.value << " AND status IN " << StatusesMovedBy(e.type);
  return db_.Execute(sql_.str());
}

std::optional<MysqlError> Persister::Session::InsertOrder(const Plan::NewOrder& order) {
  const engine::Event& e = order.reserved->record.event;
  sql_.Clear();
  sql_ << "SELECT campaign_id, user_id, quantity, amount FROM orders WHERE order_id = "
       << e.order_id.value;
  std::optional<MysqlResult> rows;
  if (auto error = db_.Query(sql_.str(), rows)) return error;
  MYSQL_ROW row = rows->Next();
  if (row == nullptr) {
    sql_.Clear();
    sql_ << kInsertOrder;
    OrderValues(order);
    return db_.Execute(sql_.str());
  }
  const bool same = e.campaign.view() == row[0] && e.user.view() == row[1] &&
                    std::to_string(e.quantity) == row[2] && std::to_string(e.amount) == row[3];
  if (!same) {
    plan_.conflicts.emplace_back(order.reserved, "order id exists with other contents");
    return std::nullopt;
  }
  ++replayed_;
  // The replayed batch may also carry the order's later moves; a bare replay leaves it alone.
  if (order.latest == order.reserved) return std::nullopt;
  return SetOrderStatus(*order.latest);
}

// Conflicts and offsets: the last statements of the transaction. Both tables have a single
// unique key (their primary key), so ON DUPLICATE KEY UPDATE cannot pick between two rows.
std::optional<MysqlError> Persister::Session::WriteTail() {
  if (!plan_.conflicts.empty() || !plan_.stale.empty()) {
    sql_.Clear();
    sql_ << "INSERT INTO conflicts (topic, `partition`, `offset`, kind, detail, event) VALUES ";
    bool first = true;
    auto row = [&](const Item& item, std::string_view kind, std::string_view detail) {
      sql_ << (first ? "(" : ",(");
      sql_.Quote(options_.kafka_topic)
          << "," << std::int64_t{item.partition} << "," << item.offset << ",'" << kind << "',";
      sql_.Quote(detail.substr(0, 255)) << ",";
      sql_.Quote(item.raw) << ")";
      first = false;
    };
    for (const auto& [item, detail] : plan_.conflicts)
      row(*item, item->error == CodecError::kOk ? "conflict" : "undecodable", detail);
    for (const auto& [item, newer] : plan_.stale) {
      row(*item, "stale_epoch",
          "owner epoch " + std::to_string(item->record.epoch) + " after epoch " +
              std::to_string(newer) + " in this partition: a replaced owner's event");
    }
    sql_ << " ON DUPLICATE KEY UPDATE detail = VALUES(detail)";
    if (auto e = db_.Execute(sql_.str())) return e;
  }
  sql_.Clear();
  sql_ << "INSERT INTO consumer_offsets (topic, `partition`, next_offset, epoch_max) VALUES ";
  std::vector<std::int64_t> next = next_offsets_;
  for (const Item& item : items_)
    next[item.partition] = item.offset + 1;
  bool any = false;
  for (std::size_t p = 0; p < next.size(); ++p) {
    if (next[p] < 0) continue;
    sql_ << (any ? ",(" : "(");
    sql_.Quote(options_.kafka_topic) << "," << std::int64_t(p) << "," << next[p] << ","
                                     << batch_epochs_.max(static_cast<std::int32_t>(p)) << ")";
    any = true;
  }
  sql_ << " ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset), "
          "epoch_max = VALUES(epoch_max)";
  return db_.Execute(sql_.str());
}

std::optional<MysqlError> Persister::Session::SeedBooks() {
  std::optional<MysqlResult> result;
  sql_.Clear();
  sql_ << "SELECT id, created_at_us FROM campaigns ORDER BY created_at_us DESC, id DESC LIMIT "
       << options_.campaigns_max;
  if (auto e = db_.Query(sql_.str(), result)) return e;
  while (MYSQL_ROW row = result->Next())
    books_.Keep(row[0], std::strtoll(row[1], nullptr, 10));
  const std::string kept = KeptCampaigns();
  if (kept.empty()) return std::nullopt;
  if (auto e = db_.Query("SELECT campaign_id, claim_id FROM claims WHERE campaign_id IN " + kept,
                         result)) {
    return e;
  }
  while (MYSQL_ROW row = result->Next())
    books_.SeedClaim(row[0], std::strtoull(row[1], nullptr, 10));
  if (auto e = db_.Query(
          "SELECT campaign_id, order_id, quantity, status FROM orders WHERE campaign_id IN " + kept,
          result)) {
    return e;
  }
  while (MYSQL_ROW row = result->Next()) {
    books_.SeedOrder(row[0], std::strtoull(row[1], nullptr, 10),
                     static_cast<std::uint32_t>(std::strtoul(row[2], nullptr, 10)), row[3]);
  }
  return std::nullopt;
}

std::string Persister::Session::KeptCampaigns() {
  sql_.Clear();
  for (const std::string& id : books_.Campaigns()) {
    sql_ << (sql_.str().empty() ? "(" : ",");
    sql_.Quote(id);
  }
  if (!sql_.str().empty()) sql_ << ")";
  return sql_.str();
}

std::optional<MysqlError> Persister::Session::ReadRows() {
  // Every kept campaign, a row-less one with zeros, so the books check sees it; the states as
  // the e2e books check counts them (tests/e2e). Outside any transaction: committed rows only.
  std::vector<CampaignBooks> books;
  std::unordered_map<std::string, std::size_t> at;
  for (std::string& id : books_.Campaigns()) {
    at[id] = books.size();
    Units log = books_.UnitsOf(id);
    books.push_back({std::move(id), {}, log});
  }
  if (!books.empty()) {
    std::optional<MysqlResult> result;
    if (auto e = db_.Query("SELECT c.id, "
                           "(SELECT COUNT(*) FROM claims WHERE campaign_id = c.id), "
                           "(SELECT COALESCE(SUM(quantity), 0) FROM orders "
                           "WHERE campaign_id = c.id AND status = 'reserved'), "
                           "(SELECT COALESCE(SUM(quantity), 0) FROM orders "
                           "WHERE campaign_id = c.id AND status = 'confirmed') "
                           "FROM campaigns c WHERE c.id IN " +
                               KeptCampaigns(),
                           result)) {
      return e;
    }
    while (MYSQL_ROW row = result->Next()) {
      auto it = at.find(row[0]);
      if (it == at.end()) continue;
      books[it->second].rows = {std::strtoull(row[1], nullptr, 10),
                                std::strtoull(row[2], nullptr, 10),
                                std::strtoull(row[3], nullptr, 10)};
    }
  }
  probe_.SetBooks(std::move(books));
  return std::nullopt;
}

void Persister::Session::UpdateLag() {
  probe_.SetLag(MeasureLag());
}

std::uint64_t Persister::Session::MeasureLag() const {
  std::uint64_t lag = 0;
  for (std::size_t p = 0; p < next_offsets_.size(); ++p) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    // The cached watermarks: the consumer's fetcher threads keep them fresh while this
    // session's own thread is busy in MySQL.
    if (rd_kafka_get_watermark_offsets(consumer_.get(), options_.kafka_topic.c_str(),
                                       static_cast<std::int32_t>(p), &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    const std::int64_t next = committed_[p].load();
    const std::int64_t at = next >= 0 ? next : low;
    if (high > at) lag += static_cast<std::uint64_t>(high - at);
  }
  return lag;
}

Persister::Persister(Options options) : options_(std::move(options)) {}

Persister::~Persister() {
  Stop();
}

void Persister::Start() {
  stopping_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void Persister::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  thread_.join();
}

void Persister::Run() {
  auto backoff = options_.retry_backoff_min;
  while (!stopping_.load()) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<std::string> error;
    {
      Session session(options_, *probe_, stopping_);
      error = session.Run();
    }
    probe_->SetConnected(false);
    if (!error) return;
    probe_->Error();
    base::Log(base::LogLevel::kWarn, "persister", "%s; retrying in %lld ms", error->c_str(),
              static_cast<long long>(backoff.count()));
    // A session that ran a while was healthy: start the backoff over.
    if (std::chrono::steady_clock::now() - started > options_.retry_backoff_max) {
      backoff = options_.retry_backoff_min;
    }
    const auto until = std::chrono::steady_clock::now() + backoff;
    while (!stopping_.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min(backoff * 2, options_.retry_backoff_max);
  }
}

}  // namespace hotdeal::persistence
