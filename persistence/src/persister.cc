// Persister implementation. One Session per MySQL connection: connect, migrate, read the
// stored offsets, assign the partitions there, then loop: fill a batch, plan its net effect in
// memory, write it with multi-row statements and the new offsets in one transaction. Any error
// ends the session; the next one starts again from whatever MySQL says was committed.
#include "hotdeal/persistence/persister.h"

#include <string>
#include <unordered_map>
#include <vector>

#include "hotdeal/base/log.h"
#include "hotdeal/engine/names.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/partition_epochs.h"
#include "kafka/partition_reader.h"
#include "log_books.h"
#include "metric_family.h"
#include "mysql/schema.h"
#include "mysql/tables.h"

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

// A batch's net effect: what to delete, insert and update, in the order that keeps the unique
// keys satisfied (deletes of earlier rows first, so a user whose claim was voided can hold a
// new one from the same batch).
struct Plan {
  std::vector<const Item*> campaigns_new;
  std::vector<const Item*> campaigns_closed;
  std::vector<const Item*> campaigns_paused;  // pauses and resumes
  std::vector<const Item*> campaigns_changed;
  std::vector<const Item*> campaigns_archived;
  std::vector<const Item*> claims_new;  // nullptr: granted and voided within the batch
  std::vector<std::uint64_t> claims_void;
  std::vector<const Item*> coupons_used;  // redeems and restores, after the claims' inserts
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
    campaigns_new.clear(), campaigns_closed.clear(), campaigns_paused.clear();
    campaigns_changed.clear(), campaigns_archived.clear();
    claims_new.clear(), claims_void.clear(), coupons_used.clear();
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
      case EventType::kCampaignPaused:
      case EventType::kCampaignResumed:
        campaigns_paused.push_back(&item);
        return;
      case EventType::kCampaignChanged:
        campaigns_changed.push_back(&item);
        return;
      case EventType::kCampaignArchived:
        campaigns_archived.push_back(&item);
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
      case EventType::kCouponRedeemed:
      case EventType::kCouponRestored:
        coupons_used.push_back(&item);
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
    if (base::Status s = SeedBooks(); !s.ok()) return "mysql books: " + s.message();
    if (base::Status s = ReadRows(); !s.ok()) return "mysql rows: " + s.message();
    bool rows_stale = false;
    auto rows_read_at = std::chrono::steady_clock::now();
    while (!stopping_.load()) {
      if (auto error = Fill()) return error;
      if (!items_.empty()) {
        if (base::Status s = Write(); !s.ok()) return "mysql: " + s.message();
        rows_stale = true;
      }
      UpdateLag();
      if (rows_stale && std::chrono::steady_clock::now() - rows_read_at >= kRowsRefreshInterval) {
        if (base::Status s = ReadRows(); !s.ok()) return "mysql rows: " + s.message();
        rows_stale = false;
        rows_read_at = std::chrono::steady_clock::now();
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> Open();
  std::optional<std::string> Fill();
  base::Status Write();
  base::Status WriteCampaigns();
  base::Status WriteClaims();
  base::Status WriteOrders();
  base::Status WriteTail();
  base::Status InsertClaim(const Item& item);
  base::Status InsertOrder(const Plan::NewOrder& order);
  base::Status SetOrderStatus(const Item& latest);
  void OrderValues(const Plan::NewOrder& order) {
    mysql::OrderValues(sql_, order.reserved->record.event, order.latest->record.event);
  }
  base::Status DeleteIds(std::string_view statement, const std::vector<std::uint64_t>& ids);
  // Runs the SELECT in sql_ and reads its rows, each a RowT (tables.h), into `out`.
  template <class RowT>
  base::Status Select(std::vector<RowT>& out) {
    return mysql::SelectRows(db_, sql_.str(), out);
  }
  base::Status SeedBooks();  // books_ from MySQL's rows at the stored offsets
  // hotdeal_persister_units from committed rows, with books_ at the same offsets.
  base::Status ReadRows();
  std::string KeptCampaigns();  // books_'s campaigns as a quoted SQL list
  void UpdateLag();
  std::uint64_t MeasureLag() const;  // any thread: reads only committed_ and the consumer

  const Options& options_;
  PersisterProbe& probe_;
  const std::atomic<bool>& stopping_;
  mysql::Connection db_;
  mysql::Sql sql_;
  // Prepared once per session: an order's move, by the statuses it leaves (confirm and expire
  // move a reservation, cancel a reservation or a confirmed order).
  std::optional<mysql::Statement> confirm_, cancel_, expire_;
  std::optional<kafka::PartitionReader> reader_;  // made by Open
  EventDecoder decoder_;
  std::vector<kafka::Message> messages_;
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
  if (base::Status s = db_.Connect(options_, kMysqlIoTimeout); !s.ok())
    return "mysql connect: " + s.message();
  if (base::Status s = mysql::Migrate(db_); !s.ok()) return "mysql migrate: " + s.message();
  for (auto [statement, move] : {std::pair{&confirm_, EventType::kOrderConfirmed},
                                 {&cancel_, EventType::kOrderCancelled},
                                 {&expire_, EventType::kOrderExpired}}) {
    base::Result<mysql::Statement> prepared = db_.Prepare(mysql::OrderMoveStatement(move));
    if (!prepared.ok()) return "mysql prepare: " + prepared.status().message();
    statement->emplace(std::move(prepared).value());
  }
  std::int32_t partitions = 0;
  try {
    reader_.emplace(options_, "hotdeal-persister", kafka::ConfEntries{{"fetch.wait.max.ms", "20"}});
    reader_->EnsureTopic(kKafkaTimeout);
    partitions = reader_->Partitions(kKafkaTimeout);
  } catch (const std::exception& e) {
    return e.what();
  }
  next_offsets_.assign(partitions, -1);
  epochs_.Reset(partitions);
  base::Result<std::vector<mysql::OffsetRow>> offsets =
      mysql::ReadOffsets(db_, options_.kafka_topic);
  if (!offsets.ok()) return "mysql offsets: " + offsets.status().message();
  for (std::int32_t p = 0; p < partitions && static_cast<std::size_t>(p) < offsets->size(); ++p) {
    next_offsets_[p] = (*offsets)[p].next_offset;
    epochs_.Set(p, (*offsets)[p].epoch_max);
  }
  std::vector<kafka::Start> starts;
  for (std::int32_t p = 0; p < partitions; ++p)
    starts.push_back({p, next_offsets_[p] >= 0 ? next_offsets_[p] : kafka::kFromBeginning});
  if (base::Status s = reader_->Assign(starts); !s.ok()) return "kafka " + s.message();
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
    base::Result<std::optional<kafka::Message>> polled = reader_->Poll(left);
    if (!polled.ok()) return "kafka " + polled.status().message();
    if (!*polled) continue;
    const kafka::Message& message = messages_.emplace_back(std::move(**polled));
    Item& item = items_.emplace_back();
    item.partition = message.partition();
    item.offset = message.offset();
    item.raw = message.payload();
    item.error = decoder_.Decode(item.raw, item.record);
  }
  return std::nullopt;
}

base::Status Persister::Session::Write() {
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
  base::Status status = db_.Execute("START TRANSACTION");
  if (status.ok()) status = WriteCampaigns();
  if (status.ok()) status = WriteClaims();
  if (status.ok()) status = WriteOrders();
  if (status.ok()) status = WriteTail();
  if (status.ok()) status = db_.Execute("COMMIT");
  if (!status.ok()) return status;
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
  return {};
}

base::Status Persister::Session::WriteCampaigns() {
  for (const Item* item : plan_.campaigns_new) {
    const engine::Event& e = item->record.event;
    sql_.Clear();
    sql_ << mysql::Campaigns().insert;
    mysql::CampaignValues(sql_, e);
    base::Status inserted = db_.Execute(sql_.str());
    if (inserted.ok()) continue;
    if (inserted.code() != mysql::kDuplicateKey) return inserted;
    // Same id: a replay if it is the same campaign (same slot, same creation), else an alarm.
    sql_.Clear();
    sql_ << mysql::Campaigns().select << " WHERE id = ";
    sql_.Value(e.campaign.view());
    std::vector<CampaignRow> rows;
    if (base::Status s = Select(rows); !s.ok()) return s;
    if (rows.size() == 1 && rows[0].campaign_index == e.campaign_index &&
        rows[0].created_seq == e.seq) {
      ++replayed_;
    } else {
      plan_.conflicts.emplace_back(item, "campaign id exists with another creation");
    }
  }
  for (const Item* item : plan_.campaigns_closed) {
    sql_.Clear();
    sql_ << "UPDATE campaigns SET closed_at_us = ";
    sql_.Value(mysql::Micros(item->record.event.at)) << ", closed_seq = ";
    sql_.Value(item->record.event.seq) << " WHERE id = ";
    sql_.Value(item->record.event.campaign.view());
    if (base::Status s = db_.Execute(sql_.str()); !s.ok()) return s;
  }
  // In log order; the seq guard keeps the newest whatever order copies arrive in.
  for (const Item* item : plan_.campaigns_paused) {
    const engine::Event& e = item->record.event;
    sql_.Clear();
    sql_ << "UPDATE campaigns SET paused = " << (e.type == EventType::kCampaignPaused ? "1" : "0")
         << ", pause_seq = ";
    sql_.Value(e.seq) << ", pause_at_us = ";
    sql_.Value(mysql::Micros(e.at)) << " WHERE id = ";
    sql_.Value(e.campaign.view()) << " AND pause_seq < ";
    sql_.Value(e.seq);
    if (base::Status s = db_.Execute(sql_.str()); !s.ok()) return s;
  }
  for (const Item* item : plan_.campaigns_changed) {
    const engine::Event& e = item->record.event;
    sql_.Clear();
    sql_ << "UPDATE campaigns SET name = ";
    sql_.Value(std::string_view(e.spec.name)) << ", stock = ";
    sql_.Value(e.spec.stock) << ", ends_at_us = ";
    mysql::TimeValue(sql_, e.spec.ends_at);
    sql_ << ", change_seq = ";
    sql_.Value(e.seq) << ", changed_at_us = ";
    sql_.Value(mysql::Micros(e.at)) << " WHERE id = ";
    sql_.Value(e.campaign.view()) << " AND change_seq < ";
    sql_.Value(e.seq);
    if (base::Status s = db_.Execute(sql_.str()); !s.ok()) return s;
  }
  // Last: the campaign's other changes in the batch came before its archive. The first copy
  // stands; its rows stay as they are.
  for (const Item* item : plan_.campaigns_archived) {
    const engine::Event& e = item->record.event;
    sql_.Clear();
    sql_ << "UPDATE campaigns SET archived_seq = ";
    sql_.Value(e.seq) << ", archived_at_us = ";
    sql_.Value(mysql::Micros(e.at)) << " WHERE id = ";
    sql_.Value(e.campaign.view()) << " AND archived_seq IS NULL";
    if (base::Status s = db_.Execute(sql_.str()); !s.ok()) return s;
  }
  return {};
}

base::Status Persister::Session::WriteClaims() {
  if (base::Status s = DeleteIds("DELETE FROM claims WHERE claim_id IN (", plan_.claims_void);
      !s.ok()) {
    return s;
  }
  sql_.Clear();
  sql_ << mysql::Claims().insert;
  bool any = false;
  for (const Item* item : plan_.claims_new) {
    if (item == nullptr) continue;
    sql_ << (any ? "," : "");
    mysql::ClaimValues(sql_, item->record.event);
    any = true;
  }
  if (any) {
    base::Status inserted = db_.Execute(sql_.str());
    if (!inserted.ok()) {
      if (inserted.code() != mysql::kDuplicateKey) return inserted;
      // InnoDB rolled back just the failed statement: sort the batch out row by row.
      for (const Item* item : plan_.claims_new) {
        if (item == nullptr) continue;
        if (base::Status s = InsertClaim(*item); !s.ok()) return s;
      }
    }
  }
  // The use guard keeps the newest change whatever order copies arrive in; a change of a claim
  // the table does not hold (one lost with --ack memory) updates nothing.
  for (const Item* item : plan_.coupons_used) {
    const engine::Event& e = item->record.event;
    sql_.Clear();
    sql_ << "UPDATE claims SET redeemed = " << (e.type == EventType::kCouponRedeemed ? "1" : "0")
         << ", use_count = ";
    sql_.Value(e.use) << ", order_ref = ";
    sql_.Trusted(e.order_ref.view()) << ", used_at_us = ";
    sql_.Value(mysql::Micros(e.at)) << " WHERE claim_id = ";
    sql_.Value(e.claim_id.value) << " AND use_count < ";
    sql_.Value(e.use);
    if (base::Status s = db_.Execute(sql_.str()); !s.ok()) return s;
  }
  return {};
}

base::Status Persister::Session::InsertClaim(const Item& item) {
  const engine::Event& e = item.record.event;
  sql_.Clear();
  sql_ << mysql::Claims().select << " WHERE claim_id = ";
  sql_.Value(e.claim_id.value) << " OR (campaign_id = ";
  sql_.Trusted(e.campaign.view()) << " AND user_id = ";
  sql_.Trusted(e.user.view()) << ")";
  std::vector<ClaimRow> rows;
  if (base::Status s = Select(rows); !s.ok()) return s;
  if (rows.empty()) {
    sql_.Clear();
    sql_ << mysql::Claims().insert;
    mysql::ClaimValues(sql_, e);
    return db_.Execute(sql_.str());
  }
  const ClaimRow& row = rows[0];
  const bool same = rows.size() == 1 && row.claim_id == e.claim_id && row.campaign == e.campaign &&
                    row.user == e.user && row.coupon_code.view() == e.coupon_code.view();
  if (same) {
    ++replayed_;
  } else {
    plan_.conflicts.emplace_back(&item, "claim conflicts with claim " +
                                            std::to_string(row.claim_id.value) + " of user " +
                                            std::string(row.user.view()));
  }
  return {};
}

base::Status Persister::Session::WriteOrders() {
  if (base::Status s = DeleteIds("DELETE FROM orders WHERE order_id IN (", plan_.orders_void);
      !s.ok()) {
    return s;
  }
  sql_.Clear();
  sql_ << mysql::Orders().insert;
  bool any = false;
  for (const Plan::NewOrder& order : plan_.orders_new) {
    if (order.voided) continue;
    sql_ << (any ? "," : "");
    OrderValues(order);
    any = true;
  }
  if (any) {
    base::Status inserted = db_.Execute(sql_.str());
    if (!inserted.ok() && inserted.code() != mysql::kDuplicateKey) return inserted;
    if (!inserted.ok()) {
      for (const Plan::NewOrder& order : plan_.orders_new) {
        if (order.voided) continue;
        if (base::Status s = InsertOrder(order); !s.ok()) return s;
      }
    }
  }
  for (const auto& [order_id, latest] : plan_.orders_status) {
    if (base::Status s = SetOrderStatus(*latest); !s.ok()) return s;
  }
  return {};
}

base::Status Persister::Session::DeleteIds(std::string_view statement,
                                           const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) return {};
  sql_.Clear();
  sql_ << statement;
  for (std::size_t i = 0; i < ids.size(); ++i)
    sql_.Value(ids[i]) << (i + 1 < ids.size() ? "," : ")");
  return db_.Execute(sql_.str());
}

base::Status Persister::Session::SetOrderStatus(const Item& latest) {
  const engine::Event& e = latest.record.event;
  std::optional<mysql::Statement>& move = e.type == EventType::kOrderConfirmed   ? confirm_
                                          : e.type == EventType::kOrderCancelled ? cancel_
                                                                                 : expire_;
  move->Bind(0, mysql::Micros(e.at));
  move->Bind(1, e.seq);
  move->Bind(2, e.order_id.value);
  return move->Execute().status();
}

base::Status Persister::Session::InsertOrder(const Plan::NewOrder& order) {
  const engine::Event& e = order.reserved->record.event;
  sql_.Clear();
  sql_ << mysql::Orders().select << " WHERE order_id = ";
  sql_.Value(e.order_id.value);
  std::vector<OrderRow> rows;
  if (base::Status s = Select(rows); !s.ok()) return s;
  if (rows.empty()) {
    sql_.Clear();
    sql_ << mysql::Orders().insert;
    OrderValues(order);
    return db_.Execute(sql_.str());
  }
  const OrderRow& row = rows[0];
  const bool same = row.campaign == e.campaign && row.user == e.user &&
                    row.quantity == e.quantity && row.amount == e.amount;
  if (!same) {
    plan_.conflicts.emplace_back(order.reserved, "order id exists with other contents");
    return {};
  }
  ++replayed_;
  // The replayed batch may also carry the order's later moves; a bare replay leaves it alone.
  if (order.latest == order.reserved) return {};
  return SetOrderStatus(*order.latest);
}

// Conflicts and offsets: the last statements of the transaction. Both tables have a single
// unique key (their primary key), so ON DUPLICATE KEY UPDATE cannot pick between two rows.
base::Status Persister::Session::WriteTail() {
  if (!plan_.conflicts.empty() || !plan_.stale.empty()) {
    sql_.Clear();
    sql_ << "INSERT INTO conflicts (topic, `partition`, `offset`, kind, detail, event) VALUES ";
    bool first = true;
    auto row = [&](const Item& item, std::string_view kind, std::string_view detail) {
      sql_ << (first ? "(" : ",(");
      sql_.Value(options_.kafka_topic) << ",";
      sql_.Value(std::int64_t{item.partition}) << ",";
      sql_.Value(item.offset) << ",";
      sql_.Trusted(kind) << ",";
      sql_.Value(detail.substr(0, 255)) << ",";
      sql_.Value(item.raw) << ")";
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
    if (base::Status s = db_.Execute(sql_.str()); !s.ok()) return s;
  }
  sql_.Clear();
  sql_ << mysql::InsertOffsets();
  std::vector<std::int64_t> next = next_offsets_;
  for (const Item& item : items_)
    next[item.partition] = item.offset + 1;
  bool any = false;
  for (std::size_t p = 0; p < next.size(); ++p) {
    if (next[p] < 0) continue;
    sql_ << (any ? ",(" : "(");
    sql_.Value(options_.kafka_topic) << ",";
    sql_.Value(static_cast<std::int64_t>(p)) << ",";
    sql_.Value(next[p]) << ",";
    sql_.Value(batch_epochs_.max(static_cast<std::int32_t>(p))) << ")";
    any = true;
  }
  sql_ << mysql::InsertOffsetsUpdate();
  return db_.Execute(sql_.str());
}

base::Status Persister::Session::SeedBooks() {
  std::vector<CampaignRow> campaigns;
  sql_.Clear();
  sql_ << mysql::Campaigns().select
       << " WHERE archived_seq IS NULL ORDER BY created_at_us DESC, id DESC LIMIT ";
  sql_.Value(options_.campaigns_max);
  if (base::Status s = Select(campaigns); !s.ok()) return s;
  for (const CampaignRow& c : campaigns)
    books_.Keep(std::string(c.spec.id.view()), mysql::Micros(c.created_at));
  const std::string kept = KeptCampaigns();
  if (kept.empty()) return {};
  std::vector<ClaimRow> claims;
  sql_.Clear();
  sql_ << mysql::Claims().select << " WHERE campaign_id IN " << kept;
  if (base::Status s = Select(claims); !s.ok()) return s;
  for (const ClaimRow& c : claims)
    books_.SeedClaim(std::string(c.campaign.view()), c.claim_id.value);
  std::vector<OrderRow> orders;
  sql_.Clear();
  sql_ << mysql::Orders().select << " WHERE campaign_id IN " << kept;
  if (base::Status s = Select(orders); !s.ok()) return s;
  for (const OrderRow& o : orders)
    books_.SeedOrder(std::string(o.campaign.view()), o.order_id.value, o.quantity, o.status);
  return {};
}

std::string Persister::Session::KeptCampaigns() {
  sql_.Clear();
  for (const std::string& id : books_.Campaigns()) {
    sql_ << (sql_.empty() ? "(" : ",");
    sql_.Value(std::string_view(id));
  }
  if (!sql_.empty()) sql_ << ")";
  return sql_.str();
}

base::Status Persister::Session::ReadRows() {
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
    enum class Column { kCampaign, kClaimed, kHeld, kConfirmed };
    base::Result<mysql::ResultSet> result = db_.Query(
        "SELECT c.id, "
        "(SELECT COUNT(*) FROM claims WHERE campaign_id = c.id), "
        "(SELECT COALESCE(SUM(quantity), 0) FROM orders "
        "WHERE campaign_id = c.id AND status = 'reserved'), "
        "(SELECT COALESCE(SUM(quantity), 0) FROM orders "
        "WHERE campaign_id = c.id AND status = 'confirmed') "
        "FROM campaigns c WHERE c.id IN " +
        KeptCampaigns());
    if (!result.ok()) return result.status();
    while (std::optional<mysql::Row> row = result->Next()) {
      auto it = at.find(std::string(row->Text(Column::kCampaign)));
      if (it == at.end()) continue;
      books[it->second].rows = {row->Number<std::uint64_t>(Column::kClaimed),
                                row->Number<std::uint64_t>(Column::kHeld),
                                row->Number<std::uint64_t>(Column::kConfirmed)};
    }
  }
  probe_.SetBooks(std::move(books));
  return {};
}

void Persister::Session::UpdateLag() {
  probe_.SetLag(MeasureLag());
}

std::uint64_t Persister::Session::MeasureLag() const {
  std::uint64_t lag = 0;
  for (std::size_t p = 0; p < next_offsets_.size(); ++p) {
    // The cached watermarks: the consumer's fetcher threads keep them fresh while this
    // session's own thread is busy in MySQL.
    const std::optional<kafka::Watermarks> marks =
        reader_->CachedWatermarks(static_cast<std::int32_t>(p));
    if (!marks) continue;
    const std::int64_t next = committed_[p].load();
    const std::int64_t at = next >= 0 ? next : marks->low;
    if (marks->high > at) lag += static_cast<std::uint64_t>(marks->high - at);
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
