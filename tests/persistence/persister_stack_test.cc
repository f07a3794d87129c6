// KafkaLog and Persister against the real stack: acks=all end to end, exactly-once effect in
// MySQL (replaying everything changes nothing), the alarm on a conflicting duplicate, and a
// replaced owner's events kept out of the tables.
#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/kafka_log.h"
#include "hotdeal/persistence/owner.h"
#include "hotdeal/persistence/persister.h"
#include "stack_fixture.h"

namespace hotdeal::persistence {
namespace {

using namespace std::chrono_literals;
using engine::Event;
using engine::EventType;

// Stands in for the engine: every event here must reach Kafka.
class NoRevert final : public engine::LogReports {
 public:
  Next Report(const Event&, engine::Durability durability) noexcept override {
    EXPECT_EQ(durability, engine::Durability::kPersisted) << "every event must reach Kafka here";
    return Next::kDone;
  }
};

// Counts settled events; waits for a number of them.
class Tally final : public engine::LogWaiter {
 public:
  void OnSettled(engine::Durability durability) noexcept override {
    std::lock_guard lock(mutex_);
    ++(durability == engine::Durability::kPersisted ? persisted_ : other_);
    changed_.notify_all();
  }
  bool WaitFor(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return persisted_ + other_ >= n; });
  }
  std::size_t persisted() const {
    std::lock_guard lock(mutex_);
    return persisted_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t persisted_ = 0;
  std::size_t other_ = 0;
};

// One Tally per appended event would be the gateway's way; tests share one through adapters.
class TallyWaiter final : public engine::LogWaiter {
 public:
  explicit TallyWaiter(Tally* tally = nullptr) : tally_(tally) {}
  void OnSettled(engine::Durability durability) noexcept override { tally_->OnSettled(durability); }

 private:
  Tally* tally_;
};

// A books family of the persister ("hotdeal_persister_units" or "_log_units"): "campaign state"
// to units.
std::map<std::string, double> BooksOf(const Persister& persister, const std::string& name) {
  std::map<std::string, double> units;
  for (const prometheus::MetricFamily& family : persister.probe()->Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric)
      units[metric.label[0].value + " " + metric.label[1].value] = metric.gauge.value;
  }
  return units;
}

template <class Predicate>
bool Eventually(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class PersisterStackTest : public testing::StackTest {
 protected:
  engine::TimePoint At(std::int64_t us) { return engine::TimePoint{std::chrono::microseconds{us}}; }

  Event Created(const engine::CampaignId& id, engine::CampaignKind kind, std::uint32_t index) {
    Event e;
    e.type = EventType::kCampaignCreated;
    e.seq = index;
    e.at = At(1'000);
    e.campaign = id;
    e.campaign_index = index;
    e.spec.id = id;
    e.spec.kind = kind;
    e.spec.name = "it's \"quoted\"";
    e.spec.stock = 100'000;
    e.spec.per_user_limit = kind == engine::CampaignKind::kSale ? 4 : 1;
    e.spec.price = kind == engine::CampaignKind::kSale ? 990 : 0;
    e.spec.hold_seconds = kind == engine::CampaignKind::kSale ? 300 : 0;
    return e;
  }
  Event Claim(const engine::CampaignId& id, std::uint64_t claim, std::uint64_t user,
              EventType type = EventType::kClaimGranted) {
    Event e;
    e.type = type;
    e.seq = claim;
    e.at = At(2'000 + claim);
    e.campaign = id;
    e.user = *engine::UserId::Parse("u-" + std::to_string(user));
    e.claim_id.value = claim;
    std::memcpy(e.coupon_code.text.data(), "ABCDEFGHJKMNPQRS", 16);
    e.coupon_code.size = 16;  // a code made before campaign prefixes
    return e;
  }
  Event Order(const engine::CampaignId& id, std::uint64_t order, EventType type) {
    Event e;
    e.type = type;
    e.seq = order;
    e.at = At(3'000 + order);
    e.campaign = id;
    e.user = *engine::UserId::Parse("u-" + std::to_string(order));
    e.order_id.value = order;
    e.quantity = 2;
    e.amount = 1980;
    e.expires_at = At(9'000'000);
    return e;
  }

  // Twice, a persister's books, both folded from the log and read from MySQL, are `books` once
  // it has read `offsets` events: from the log in the first session, from MySQL in the second.
  void ExpectBooksInBothSessions(const Options& options, std::int64_t offsets,
                                 const std::map<std::string, double>& books) {
    for (int session = 0; session < 2; ++session) {
      Persister persister(options);
      persister.Start();
      ASSERT_TRUE(WaitForOffsets(offsets));
      ASSERT_TRUE(Eventually([&] {
        return BooksOf(persister, "hotdeal_persister_units") == books;
      })) << session;
      EXPECT_EQ(BooksOf(persister, "hotdeal_persister_log_units"), books) << session;
      persister.Stop();
    }
  }

  // Appends every event through a real KafkaLog of owner `epoch` and waits until Kafka
  // acknowledged all.
  void Log(const std::vector<Event>& events, std::uint64_t epoch = 0) {
    NoRevert no_revert;
    Tally tally;
    std::vector<TallyWaiter> waiters(events.size(), TallyWaiter(&tally));
    Options options = options_;
    options.owner_epoch = epoch;
    options.in_flight_max = std::max<std::uint32_t>(events.size(), 16);
    KafkaLog log(options);
    log.Start(no_revert);
    std::size_t detached = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto ticket = log.Append({0}, events[i]);
      ASSERT_TRUE(ticket.has_value()) << i;
      const EventType t = events[i].type;
      if (t == EventType::kClaimVoided || t == EventType::kOrderExpired ||
          t == EventType::kOrderVoided) {
        ++detached;  // no caller awaits these
      } else {
        log.Await(*ticket, waiters[i]);
      }
    }
    ASSERT_TRUE(tally.WaitFor(events.size() - detached));
    EXPECT_EQ(tally.persisted(), events.size() - detached);
    log.Stop();
    EXPECT_EQ(log.probe()->Snapshot().persisted, events.size());
  }

  std::string Tables() {
    const std::string like = "'%" + unique_ + "'";
    return Rows("SELECT * FROM campaigns WHERE id LIKE " + like + " ORDER BY id") +
           Rows("SELECT * FROM claims WHERE campaign_id LIKE " + like + " ORDER BY claim_id") +
           Rows("SELECT * FROM orders WHERE campaign_id LIKE " + like + " ORDER BY order_id");
  }
};

TEST_F(PersisterStackTest, LogIsAcknowledgedByTheBroker) {
  const auto id = Campaign("acks");
  std::vector<Event> events{Created(id, engine::CampaignKind::kCoupon, 1)};
  for (std::uint64_t i = 1; i <= 300; ++i)
    events.push_back(Claim(id, i, i));
  Log(events);
  // Every acknowledged event is in the topic (the persister tests read them back and decode).
  char error[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", options_.kafka_brokers.c_str(), error, sizeof error);
  rd_kafka_conf_set(conf, "group.id", "test", error, sizeof error);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  std::int64_t total = 0;
  for (int p = 0; p < options_.topic_partitions; ++p) {
    std::int64_t low = 0, high = 0;
    ASSERT_EQ(rd_kafka_query_watermark_offsets(consumer, options_.kafka_topic.c_str(), p, &low,
                                               &high, 5000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    total += high - low;
  }
  EXPECT_EQ(total, static_cast<std::int64_t>(events.size()));
  rd_kafka_destroy(consumer);
}

TEST_F(PersisterStackTest, ReplayingEverythingChangesNothing) {
  const auto coupon = Campaign("coupon");
  const auto sale = Campaign("sale");
  std::vector<Event> events{Created(coupon, engine::CampaignKind::kCoupon, 1),
                            Created(sale, engine::CampaignKind::kSale, 2)};
  for (std::uint64_t i = 1; i <= 400; ++i)
    events.push_back(Claim(coupon, i, i));
  for (std::uint64_t i = 1; i <= 10; ++i) {
    events.push_back(Claim(coupon, i, i, EventType::kClaimVoided));
  }
  events.push_back(Claim(coupon, 1001, 1));  // user 1 claims again after the void
  for (std::uint64_t i = 1; i <= 20; ++i)
    events.push_back(Order(sale, i, EventType::kOrderReserved));
  for (std::uint64_t i = 1; i <= 5; ++i)
    events.push_back(Order(sale, i, EventType::kOrderConfirmed));
  for (std::uint64_t i = 3; i <= 7; ++i)
    events.push_back(Order(sale, i, EventType::kOrderCancelled));
  for (std::uint64_t i = 8; i <= 10; ++i)
    events.push_back(Order(sale, i, EventType::kOrderExpired));
  for (std::uint64_t i = 19; i <= 20; ++i)
    events.push_back(Order(sale, i, EventType::kOrderVoided));
  Event closed;
  closed.type = EventType::kCampaignClosed;
  closed.campaign = sale;
  closed.at = At(5'000);
  events.push_back(closed);
  Log(events);

  // The books: orders are of 2 units, 8 still reserved (held) and 2 confirmed.
  const std::string c_id(coupon.view());
  const std::string s_id(sale.view());
  const std::map<std::string, double> books{{c_id + " claimed", 391}, {c_id + " held", 0},
                                            {c_id + " confirmed", 0}, {s_id + " claimed", 0},
                                            {s_id + " held", 16},     {s_id + " confirmed", 4}};
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(events.size()));
    // The log's side folded from the events alone (the database started empty).
    EXPECT_TRUE(Eventually([&] { return BooksOf(persister, "hotdeal_persister_units") == books; }));
    EXPECT_EQ(BooksOf(persister, "hotdeal_persister_log_units"), books);
    persister.Stop();
    EXPECT_EQ(persister.probe()->Snapshot().conflicts, 0u);
  }
  const std::string like = "'%" + unique_ + "'";
  EXPECT_EQ(Number("SELECT COUNT(*) FROM claims WHERE campaign_id LIKE " + like), 391);
  EXPECT_EQ(Rows("SELECT claim_id FROM claims WHERE user_id = 'u-1' AND campaign_id LIKE " + like),
            "1001\n");
  EXPECT_EQ(Rows("SELECT status, COUNT(*) FROM orders WHERE campaign_id LIKE " + like +
                 " GROUP BY status ORDER BY status"),
            "reserved|8\nconfirmed|2\ncancelled|5\nexpired|3\n");
  EXPECT_EQ(
      Number("SELECT COUNT(*) FROM campaigns WHERE closed_at_us IS NOT NULL AND id LIKE " + like),
      1);
  EXPECT_EQ(Rows("SELECT name FROM campaigns WHERE id LIKE " + like + " LIMIT 1"),
            "it's \"quoted\"\n");
  const std::string before = Tables();

  // Forget the offsets: the persister reads the whole topic again.
  Exec("DELETE FROM consumer_offsets WHERE topic = '" + options_.kafka_topic + "'");
  Persister again(options_);
  again.Start();
  ASSERT_TRUE(WaitForOffsets(events.size()));
  again.Stop();
  EXPECT_EQ(Tables(), before);
  // Both sides as the session opened on the rows written above; the log's side started from
  // those rows and recognised every replayed event as a copy.
  EXPECT_EQ(BooksOf(again, "hotdeal_persister_units"), books);
  EXPECT_EQ(BooksOf(again, "hotdeal_persister_log_units"), books);
  const PersisterCounters c = again.probe()->Snapshot();
  EXPECT_EQ(c.conflicts, 0u);
  EXPECT_GT(c.replayed, 0u);
  EXPECT_EQ(c.events, events.size());
  EXPECT_EQ(Number("SELECT COUNT(*) FROM conflicts WHERE topic = '" + options_.kafka_topic + "'"),
            0);
}

// The log may hold an order move twice (a confirm or cancel appended again after a lost
// answer), and a copy may land after a later move: the row only ever moves forward, within a
// batch and across batches, as the engine's replay does.
TEST_F(PersisterStackTest, RepeatedOrderMovesNeverTakeAnOrderBack) {
  const auto sale = Campaign("moves");
  const std::string like = "'%" + unique_ + "'";
  auto statuses = [&] {
    return Rows("SELECT order_id, status, status_seq FROM orders WHERE campaign_id LIKE " + like +
                " ORDER BY order_id");
  };
  // Order 1 and 2 are moved in one batch; order 2's stale confirm comes in the same batch.
  std::vector<Event> events{Created(sale, engine::CampaignKind::kSale, 1)};
  for (std::uint64_t order : {1, 2})
    events.push_back(Order(sale, order, EventType::kOrderReserved));
  Event confirm_1 = Order(sale, 1, EventType::kOrderConfirmed);
  confirm_1.seq = 11;
  Event cancel_2 = Order(sale, 2, EventType::kOrderCancelled);
  cancel_2.seq = 12;
  Event stale_confirm_2 = Order(sale, 2, EventType::kOrderConfirmed);
  stale_confirm_2.seq = 13;
  events.insert(events.end(), {confirm_1, confirm_1, cancel_2, stale_confirm_2});
  Log(events);
  Persister persister(options_);
  persister.Start();
  ASSERT_TRUE(WaitForOffsets(events.size()));
  EXPECT_EQ(statuses(), "1|confirmed|11\n2|cancelled|12\n");

  // Later batches: order 1 is cancelled, then its confirm lands again; order 2's again too.
  Event cancel_1 = Order(sale, 1, EventType::kOrderCancelled);
  cancel_1.seq = 14;
  const std::vector<Event> later{cancel_1, confirm_1, stale_confirm_2};
  Log(later);
  ASSERT_TRUE(WaitForOffsets(events.size() + later.size()));
  // Both orders ended: nothing held or confirmed on either side.
  const std::string s_id(sale.view());
  const std::map<std::string, double> books{
      {s_id + " claimed", 0}, {s_id + " held", 0}, {s_id + " confirmed", 0}};
  EXPECT_TRUE(Eventually([&] { return BooksOf(persister, "hotdeal_persister_units") == books; }));
  EXPECT_EQ(BooksOf(persister, "hotdeal_persister_log_units"), books);
  persister.Stop();
  EXPECT_EQ(statuses(), "1|cancelled|14\n2|cancelled|12\n");
  EXPECT_EQ(persister.probe()->Snapshot().conflicts, 0u);
}

TEST_F(PersisterStackTest, ConflictingDuplicateRaisesTheAlarmAndKeepsTheFirstClaim) {
  const auto id = Campaign("dup");
  Log({Created(id, engine::CampaignKind::kCoupon, 1), Claim(id, 1, 7), Claim(id, 2, 7),
       Claim(id, 3, 8)});
  Persister persister(options_);
  persister.Start();
  ASSERT_TRUE(WaitForOffsets(4));
  // The log sold three units, MySQL holds two: the books check sees the sources disagree.
  const std::string claimed = std::string(id.view()) + " claimed";
  EXPECT_TRUE(
      Eventually([&] { return BooksOf(persister, "hotdeal_persister_units")[claimed] == 2; }));
  EXPECT_EQ(BooksOf(persister, "hotdeal_persister_log_units")[claimed], 3);
  persister.Stop();
  const std::string like = "'%" + unique_ + "'";
  EXPECT_EQ(Rows("SELECT claim_id, user_id FROM claims WHERE campaign_id LIKE " + like +
                 " ORDER BY claim_id"),
            "1|u-7\n3|u-8\n");
  EXPECT_EQ(persister.probe()->Snapshot().conflicts, 1u);
  const std::string conflict = Rows("SELECT kind, detail, event FROM conflicts WHERE topic = '" +
                                    options_.kafka_topic + "'");
  EXPECT_NE(conflict.find("conflict|claim conflicts with claim 1 of user u-7|"), std::string::npos)
      << conflict;
  EXPECT_NE(conflict.find("\"claim_id\":2"), std::string::npos) << conflict;
}

// Per-campaign series are bounded: only the newest campaigns_max campaigns' books are kept,
// whether they came from the log in this session or from MySQL when a session opened.
TEST_F(PersisterStackTest, BooksAreKeptForTheNewestCampaignsOnly) {
  const auto older = Campaign("older");
  const auto newer = Campaign("newer");
  Event created_newer = Created(newer, engine::CampaignKind::kCoupon, 2);
  created_newer.at = At(1'500);
  Log({Created(older, engine::CampaignKind::kCoupon, 1), Claim(older, 1, 1), created_newer,
       Claim(newer, 2, 1)});
  Options options = options_;
  options.campaigns_max = 1;
  const std::string n_id(newer.view());
  const std::map<std::string, double> books{
      {n_id + " claimed", 1}, {n_id + " held", 0}, {n_id + " confirmed", 0}};
  ExpectBooksInBothSessions(options, 4, books);
}

// An archive marks the campaign's row once (a copy appended again changes nothing), keeps its
// claims, and takes the campaign out of the books on both sides, from the log and from MySQL.
TEST_F(PersisterStackTest, AnArchiveMarksTheRowKeepsTheClaimsAndLeavesTheBooks) {
  const auto gone = Campaign("gone");
  const auto kept = Campaign("kept");
  Event archived;
  archived.type = EventType::kCampaignArchived;
  archived.seq = 90;
  archived.at = At(9'000);
  archived.campaign = gone;
  archived.campaign_index = 1;
  Event again = archived;  // appended again after a lost report
  again.seq = 91;
  again.at = At(9'500);
  Log({Created(gone, engine::CampaignKind::kCoupon, 1), Claim(gone, 1, 1),
       Created(kept, engine::CampaignKind::kCoupon, 2), Claim(kept, 2, 1), archived, again});
  const std::string k_id(kept.view());
  const std::map<std::string, double> books{
      {k_id + " claimed", 1}, {k_id + " held", 0}, {k_id + " confirmed", 0}};
  ExpectBooksInBothSessions(options_, 6, books);
  const std::string row = "SELECT archived_seq, archived_at_us FROM campaigns WHERE id = '" +
                          std::string(gone.view()) + "'";
  EXPECT_EQ(Rows(row), "90|9000\n");
  EXPECT_EQ(
      Number("SELECT COUNT(*) FROM claims WHERE campaign_id = '" + std::string(gone.view()) + "'"),
      1);
  EXPECT_EQ(
      Number("SELECT COUNT(*) FROM campaigns WHERE id = '" + k_id + "' AND archived_seq IS NULL"),
      1);
}

TEST_F(PersisterStackTest, ReplacedOwnersEventsAreKeptAsStaleNeverApplied) {
  const auto id = Campaign("owners");
  const std::uint64_t first = TakeOwnership(options_);
  Log({Created(id, engine::CampaignKind::kCoupon, 1), Claim(id, 1, 1)}, first);
  const std::uint64_t second = TakeOwnership(options_);
  ASSERT_EQ(second, first + 1);
  // The replaced owner sells on (it was paused, say) before the new one wrote anything in this
  // partition: the new owner's fence alone must stop these. User 2 is the new owner's later.
  Log({Claim(id, 3, 3), Claim(id, 4, 2)}, first);
  Log({Claim(id, 2, 2)}, second);
  const std::int64_t fences = 2 * options_.topic_partitions;
  const std::int64_t events = fences + 5;
  Persister persister(options_);
  persister.Start();
  ASSERT_TRUE(WaitForOffsets(events));
  persister.Stop();

  const std::string like = "'%" + unique_ + "'";
  const std::string claims =
      "SELECT claim_id, user_id FROM claims WHERE campaign_id LIKE " + like + " ORDER BY claim_id";
  EXPECT_EQ(Rows(claims), "1|u-1\n2|u-2\n");
  PersisterCounters c = persister.probe()->Snapshot();
  EXPECT_EQ(c.stale_epoch, 2u);
  EXPECT_EQ(c.conflicts, 0u);
  const std::string stale = "SELECT kind, detail, event FROM conflicts WHERE topic = '" +
                            options_.kafka_topic + "' ORDER BY `offset`";
  const std::string kept = Rows(stale);
  EXPECT_EQ(Number("SELECT COUNT(*) FROM conflicts WHERE kind = 'stale_epoch'"), 2) << kept;
  EXPECT_NE(kept.find("stale_epoch|owner epoch " + std::to_string(first) + " after epoch " +
                      std::to_string(second)),
            std::string::npos)
      << kept;
  EXPECT_NE(kept.find("\"claim_id\":3"), std::string::npos) << kept;
  EXPECT_NE(kept.find("\"claim_id\":4"), std::string::npos) << kept;
  // The highest epoch is stored with the offsets: a restarted persister still knows it.
  EXPECT_EQ(Number("SELECT MIN(epoch_max) FROM consumer_offsets WHERE topic = '" +
                   options_.kafka_topic + "'"),
            static_cast<std::int64_t>(second));
  Log({Claim(id, 5, 5)}, first);
  Persister restarted(options_);
  restarted.Start();
  ASSERT_TRUE(WaitForOffsets(events + 1));
  restarted.Stop();
  EXPECT_EQ(restarted.probe()->Snapshot().stale_epoch, 1u);
  EXPECT_EQ(Rows(claims), "1|u-1\n2|u-2\n");
  const std::string before = Tables() + Rows(stale);

  // Replaying the whole topic changes nothing: the same rows, the same three stale events.
  Exec("DELETE FROM consumer_offsets WHERE topic = '" + options_.kafka_topic + "'");
  Persister again(options_);
  again.Start();
  ASSERT_TRUE(WaitForOffsets(events + 1));
  again.Stop();
  EXPECT_EQ(Tables() + Rows(stale), before);
  c = again.probe()->Snapshot();
  EXPECT_EQ(c.stale_epoch, 3u);
  EXPECT_EQ(c.conflicts, 0u);
}

TEST_F(PersisterStackTest, LostConnectionsLoseNothingAndWriteNothingTwice) {
  const auto id = Campaign("kill");
  constexpr std::uint64_t kEvents = 30'000;
  std::vector<Event> events{Created(id, engine::CampaignKind::kCoupon, 1)};
  for (std::uint64_t i = 1; i < kEvents; ++i)
    events.push_back(Claim(id, i, i));
  Log(events);
  Options options = options_;
  options.batch_events_max = 500;  // many transactions, so kills land mid-stream
  options.retry_backoff_min = 20ms;
  Persister persister(options);
  persister.Start();
  // Kill the persister's connection while it works through the topic: each time a few more
  // transactions have committed, so the kills land on inserts, commits and reads alike.
  int kills = 0;
  // Kills made while offsets were still incomplete afterwards: the persister must use its
  // (dead) connection again, so each costs at least one error. A kill after the last commit
  // costs none, which a fast persister reaches before the fifth round.
  std::uint64_t kills_mid_stream = 0;
  std::uint64_t batches = 0;
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(Eventually([&] { return persister.probe()->Snapshot().batches >= batches + 3; }));
    batches = persister.probe()->Snapshot().batches;
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * round));
    const std::string ids = Rows("SELECT id FROM information_schema.processlist WHERE db = '" +
                                 options_.mysql_database + "' AND id <> CONNECTION_ID()");
    for (std::size_t at = 0; at < ids.size();) {
      const std::size_t end = ids.find('\n', at);
      Exec("KILL CONNECTION " + ids.substr(at, end - at), true);
      ++kills;
      at = end + 1;
    }
    if (!ids.empty() && Number("SELECT COALESCE(SUM(next_offset), 0) FROM consumer_offsets "
                               "WHERE topic = '" +
                               options_.kafka_topic + "'") < static_cast<std::int64_t>(kEvents)) {
      ++kills_mid_stream;
    }
  }
  ASSERT_GT(kills, 0);
  ASSERT_GT(kills_mid_stream, 0u);
  ASSERT_TRUE(WaitForOffsets(kEvents));
  persister.Stop();
  const PersisterCounters c = persister.probe()->Snapshot();
  EXPECT_GE(c.errors, kills_mid_stream);
  EXPECT_EQ(c.conflicts, 0u);
  EXPECT_EQ(Number("SELECT COUNT(*) FROM claims"), static_cast<std::int64_t>(kEvents - 1));
  EXPECT_EQ(Number("SELECT COUNT(DISTINCT claim_id) FROM claims"),
            static_cast<std::int64_t>(kEvents - 1));
}

TEST_F(PersisterStackTest, Throughput) {
  const auto id = Campaign("bulk");
  constexpr std::uint64_t kEvents = 200'000;
  std::vector<Event> events{Created(id, engine::CampaignKind::kCoupon, 1)};
  for (std::uint64_t i = 1; i < kEvents; ++i)
    events.push_back(Claim(id, i, i));
  const auto log_started = std::chrono::steady_clock::now();
  Log(events);
  const double log_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - log_started).count();
  Persister persister(options_);
  const auto started = std::chrono::steady_clock::now();
  persister.Start();
  ASSERT_TRUE(WaitForOffsets(kEvents, 120s));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  persister.Stop();
  std::printf(
      "log: %llu events acknowledged in %.2f s (%.0f/s); persister: %.2f s (%.0f/s), "
      "%llu batches\n",
      static_cast<unsigned long long>(kEvents), log_seconds, kEvents / log_seconds, seconds,
      kEvents / seconds, static_cast<unsigned long long>(persister.probe()->Snapshot().batches));
  EXPECT_EQ(
      Number("SELECT COUNT(*) FROM claims WHERE campaign_id = '" + std::string(id.view()) + "'"),
      static_cast<std::int64_t>(kEvents - 1));
}

}  // namespace
}  // namespace hotdeal::persistence
