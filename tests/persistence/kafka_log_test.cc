// KafkaLog against librdkafka's in-process mock cluster (no broker needed): every accepted
// event settles exactly once, persisted decisions are acknowledged in the engine before their
// waiter hears, only not-persisted events are reverted, a fatal producer error recreates the
// producer, and the bounds refuse instead of queueing.
#include "hotdeal/persistence/kafka_log.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "log_test_support.h"

namespace hotdeal::persistence {
namespace {

using namespace std::chrono_literals;

// Stands in for the engine: records what the engine would do with each report (by the one
// policy, engine::NextAfter) and answers as it would.
class RecordingReports final : public engine::LogReports {
 public:
  Next Report(const engine::Event& event, engine::Durability durability) noexcept override {
    const Next next = engine::NextAfter(event.type, durability);
    std::lock_guard lock(mutex_);
    if (durability == engine::Durability::kPersisted) {
      acknowledged_.push_back(event.seq);
    } else if (next == Next::kDone) {
      reverted_.push_back(event.seq);
    } else if (next == Next::kSettle) {
      in_doubt_.push_back(event.seq);
    }
    return next;
  }
  std::vector<std::uint64_t> acknowledged() const {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::vector<std::uint64_t> reverted() const {
    std::lock_guard lock(mutex_);
    return reverted_;
  }
  std::vector<std::uint64_t> in_doubt() const {
    std::lock_guard lock(mutex_);
    return in_doubt_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> acknowledged_;
  std::vector<std::uint64_t> reverted_;
  std::vector<std::uint64_t> in_doubt_;
};

class CountingWaiter final : public engine::LogWaiter {
 public:
  void OnSettled(engine::Durability durability) noexcept override {
    std::lock_guard lock(mutex_);
    ++calls_;
    durability_ = durability;
    settled_.notify_all();
  }
  // The durability heard, once the waiter was called; fails the test after `timeout`.
  std::optional<engine::Durability> Wait(std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    if (!settled_.wait_for(lock, timeout, [&] { return calls_ > 0; })) return std::nullopt;
    return durability_;
  }
  int calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable settled_;
  int calls_ = 0;
  engine::Durability durability_ = engine::Durability::kPossiblyPersisted;
};

engine::Event Claim(std::uint64_t seq, std::string_view campaign = "camp-1") {
  engine::Event e;
  e.type = engine::EventType::kClaimGranted;
  e.seq = seq;
  e.campaign = *engine::CampaignId::Parse(campaign);
  e.user = *engine::UserId::Parse("u-" + std::to_string(seq));
  e.claim_id.value = seq;
  std::memcpy(e.coupon_code.text.data(), "ABCDEFGH23456789", 16);
  e.coupon_code.size = 16;  // a code made before campaign prefixes
  return e;
}

// Appends `event` and waits for its report: nullopt (and a failure) if the log refused it or no
// report came in time.
std::optional<engine::Durability> AppendAndWait(KafkaLog& log, const engine::Event& event) {
  const std::optional<engine::LogTicket> ticket = log.Append({0}, event);
  EXPECT_TRUE(ticket.has_value());
  if (!ticket) return std::nullopt;
  CountingWaiter waiter;
  log.Await(*ticket, waiter);
  return waiter.Wait();
}

// After one fatal error: the producer is recreated once, the log is healthy again and takes a
// new event to persisted. Stops the log and answers its counters, in which every accepted event
// settled one way.
LogCounters RecoveredAfterOneFatalError(KafkaLog& log) {
  EXPECT_TRUE(Eventually([&] { return log.probe()->Snapshot().producer_recreations == 1; }));
  EXPECT_TRUE(Eventually([&] { return log.healthy(); }));
  EXPECT_EQ(AppendAndWait(log, Claim(1000)), engine::Durability::kPersisted);
  log.Stop();
  const LogCounters c = log.probe()->Snapshot();
  EXPECT_EQ(c.fatal_errors, 1u);
  EXPECT_EQ(c.persisted + c.not_persisted + c.possibly_persisted, c.appended);
  return c;
}

TEST(KafkaLog, AcknowledgedEventIsPersistedWhetherAwaitedBeforeOrAfterTheReport) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  EXPECT_TRUE(log.healthy());

  // Await at once: the report almost certainly comes later, on the poll thread.
  auto early = log.Append({0}, Claim(1));
  ASSERT_TRUE(early.has_value());
  EXPECT_NE(early->value, 0u);
  CountingWaiter early_waiter;
  log.Await(*early, early_waiter);
  EXPECT_EQ(early_waiter.Wait(), engine::Durability::kPersisted);

  // Await after the report: the waiter is called inside Await.
  auto late = log.Append({1}, Claim(2));
  ASSERT_TRUE(late.has_value());
  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().persisted == 2; }));
  CountingWaiter late_waiter;
  log.Await(*late, late_waiter);
  EXPECT_EQ(late_waiter.calls(), 1);
  EXPECT_EQ(late_waiter.Wait(), engine::Durability::kPersisted);

  log.Stop();
  EXPECT_EQ(early_waiter.calls(), 1);
  EXPECT_EQ(reports.acknowledged(), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_TRUE(reports.reverted().empty());
  EXPECT_EQ(kafka.MessagesInTopic(), 2);
  const LogCounters c = log.probe()->Snapshot();
  EXPECT_EQ(c.appended, 2u);
  EXPECT_EQ(c.in_flight, 0u);
  // Both acknowledgements timed, each within the test's few seconds.
  bool timed = false;
  for (const prometheus::MetricFamily& family : log.probe()->Collect()) {
    if (family.name != "hotdeal_log_ack_duration_seconds") continue;
    timed = true;
    ASSERT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric[0].histogram.sample_count, 2u);
    EXPECT_GT(family.metric[0].histogram.sample_sum, 0.0);
    EXPECT_LT(family.metric[0].histogram.sample_sum, 20.0);
  }
  EXPECT_TRUE(timed);
}

// What a client reads the moment its waiter hears: the engine's answer for the decision.
class ReadingWaiter final : public engine::LogWaiter {
 public:
  explicit ReadingWaiter(std::function<engine::Outcome()> read) : read_(std::move(read)) {}
  void OnSettled(engine::Durability durability) noexcept override {
    engine::Outcome seen = read_();
    std::lock_guard lock(mutex_);
    durability_ = durability;
    seen_ = seen;
    settled_.notify_all();
  }
  // The engine's answer when the waiter heard `durability`; nullopt after `timeout`.
  std::optional<engine::Outcome> Wait(engine::Durability durability,
                                      std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!settled_.wait_for(lock, timeout, [&] { return seen_.has_value(); })) return std::nullopt;
    EXPECT_EQ(durability_, durability);
    return seen_;
  }

 private:
  std::function<engine::Outcome()> read_;
  std::mutex mutex_;
  std::condition_variable settled_;
  engine::Durability durability_ = engine::Durability::kPossiblyPersisted;
  std::optional<engine::Outcome> seen_;
};

// A real engine behind the log, with durable acks: what a client that got its 201 reads.
class AcknowledgedEngine {
 public:
  explicit AcknowledgedEngine(const MockKafka& kafka)
      : log_(LogOptions(kafka)), engine_(EngineOptions(), log_) {
    log_.Start(engine_);
    // Sales wait for their campaign's creation to be persisted, as over HTTP.
    Create(Spec("coupons", engine::CampaignKind::kCoupon));
    Create(Spec("sale", engine::CampaignKind::kSale));
  }
  // The log reports into the engine until it stops: stop it while the engine still exists.
  ~AcknowledgedEngine() { log_.Stop(); }
  static engine::EngineOptions EngineOptions() {
    engine::EngineOptions options;
    options.workers = 2;
    options.campaigns_max = 4;
    options.await_acknowledgement = true;
    return options;
  }
  static engine::CampaignSpec Spec(std::string_view id, engine::CampaignKind kind) {
    engine::CampaignSpec spec;
    spec.id = *engine::CampaignId::Parse(id);
    spec.kind = kind;
    spec.stock = 10;
    spec.per_user_limit = 2;
    if (kind == engine::CampaignKind::kSale) {
      spec.price = 100;
      spec.hold_seconds = 600;
    } else {
      spec.per_user_limit = 1;
    }
    return spec;
  }
  static engine::TimePoint Now() { return engine::TimePoint(std::chrono::seconds(1000)); }
  void Create(const engine::CampaignSpec& spec) {
    const engine::LogTicket ticket = engine_.CreateCampaign(spec, Now()).ticket;
    ASSERT_NE(ticket.value, 0u);
    CountingWaiter created;
    log_.Await(ticket, created);
    ASSERT_EQ(created.Wait(), engine::Durability::kPersisted);
  }
  KafkaLog& log() { return log_; }
  engine::Engine& engine() { return engine_; }

 private:
  KafkaLog log_;
  engine::Engine engine_;
};

TEST(KafkaLog, PersistedDecisionIsFinalInTheEngineBeforeItsWaiterHears) {
  MockKafka kafka;
  AcknowledgedEngine node(kafka);
  engine::Engine& engine = node.engine();
  const auto campaign = *engine::CampaignId::Parse("coupons");
  const auto user = *engine::UserId::Parse("u-1");
  const auto key = engine::IdempotencyKey::Parse("k-1");
  // Slow answers keep the claim in flight while the test looks at it.
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 300);
  engine::Decision<engine::Claim> made =
      engine.ClaimCoupon({0}, campaign, user, key, AcknowledgedEngine::Now());
  ASSERT_EQ(made.outcome, engine::Outcome::kCreated);
  ASSERT_NE(made.ticket.value, 0u);
  EXPECT_EQ(engine.ClaimCoupon({1}, campaign, user, key, AcknowledgedEngine::Now()).outcome,
            engine::Outcome::kPending);
  EXPECT_EQ(engine.GetClaim(campaign, user).outcome, engine::Outcome::kPending);
  ReadingWaiter waiter([&] {
    return engine.ClaimCoupon({1}, campaign, user, key, AcknowledgedEngine::Now()).outcome;
  });
  node.log().Await(made.ticket, waiter);
  EXPECT_EQ(waiter.Wait(engine::Durability::kPersisted, 20s), engine::Outcome::kReplayed);
  EXPECT_EQ(engine.GetClaim(campaign, user).outcome, engine::Outcome::kOk);
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 0);
}

TEST(KafkaLog, CancelAppendedAgainIsFinalInTheEngineOnlyOncePersisted) {
  MockKafka kafka;
  AcknowledgedEngine node(kafka);
  engine::Engine& engine = node.engine();
  const auto user = *engine::UserId::Parse("u-2");
  const engine::TimePoint now = AcknowledgedEngine::Now();
  engine::Decision<engine::Order> placed =
      engine.PlaceOrder({0}, *engine::CampaignId::Parse("sale"), user, 2, std::nullopt, now);
  ASSERT_EQ(placed.outcome, engine::Outcome::kCreated);
  CountingWaiter reserved;
  node.log().Await(placed.ticket, reserved);
  ASSERT_EQ(reserved.Wait(), engine::Durability::kPersisted);
  const engine::OrderId id = placed.value->id;
  ASSERT_EQ(engine.GetOrder(id, now).outcome, engine::Outcome::kOk);

  // Refused for about one delivery timeout: the cancel is appended again until Kafka has it.
  kafka.RefuseProduces(30);
  engine::Decision<engine::Order> cancelled = engine.CancelOrder({1}, id, user, now);
  ASSERT_EQ(cancelled.outcome, engine::Outcome::kOk);
  ASSERT_NE(cancelled.ticket.value, 0u);
  EXPECT_EQ(engine.GetOrder(id, now).outcome, engine::Outcome::kPending);
  EXPECT_EQ(engine.CancelOrder({1}, id, user, now).outcome, engine::Outcome::kPending);
  ReadingWaiter waiter([&] { return engine.GetOrder(id, now).outcome; });
  node.log().Await(cancelled.ticket, waiter);
  EXPECT_EQ(waiter.Wait(engine::Durability::kPersisted, 20s), engine::Outcome::kOk);
  EXPECT_EQ(engine.GetOrder(id, now).value->status, engine::OrderStatus::kCancelled);
}

TEST(KafkaLog, ConcurrentAppendersEachSettleExactlyOnce) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  constexpr int kPerWorker = 5000;
  std::vector<CountingWaiter> waiters(2 * kPerWorker);
  std::vector<std::thread> workers;
  std::atomic<int> refused{0};
  for (std::uint32_t w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kPerWorker; ++i) {
        const std::size_t n = w * kPerWorker + i;
        // Retry on refusal: the slot table is smaller than the burst, which is the point.
        std::optional<engine::LogTicket> ticket;
        while (!(ticket = log.Append({w}, Claim(n, w == 0 ? "camp-a" : "camp-b")))) {
          refused.fetch_add(1);
          std::this_thread::sleep_for(1ms);
        }
        log.Await(*ticket, waiters[n]);
      }
    });
  }
  for (auto& t : workers)
    t.join();
  for (auto& waiter : waiters)
    ASSERT_EQ(waiter.Wait(), engine::Durability::kPersisted);
  log.Stop();
  for (auto& waiter : waiters)
    EXPECT_EQ(waiter.calls(), 1);
  EXPECT_EQ(kafka.MessagesInTopic(), 2 * kPerWorker);
  const LogCounters c = log.probe()->Snapshot();
  EXPECT_EQ(c.appended, 2u * kPerWorker);
  EXPECT_EQ(c.persisted, 2u * kPerWorker);
  EXPECT_EQ(c.refused, static_cast<std::uint64_t>(refused.load()));
  EXPECT_EQ(c.in_flight, 0u);
}

TEST(KafkaLog, EventsTheBrokerKeepsRefusingAreNotPersistedAndReverted) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  // Retriable errors that say "not written" until the delivery timeout runs out.
  kafka.RefuseProduces(500);
  EXPECT_EQ(AppendAndWait(log, Claim(7)), engine::Durability::kNotPersisted);
  EXPECT_EQ(reports.reverted(), std::vector<std::uint64_t>{7});
  EXPECT_TRUE(reports.acknowledged().empty());
  EXPECT_EQ(log.probe()->Snapshot().not_persisted, 1u);
  rd_kafka_mock_clear_request_errors(kafka.cluster(), kProduceApiKey);
  log.Stop();
  EXPECT_EQ(kafka.MessagesInTopic(), 0);
}

TEST(KafkaLog, EventsThatReturnedUnitsAreAppendedAgainNotReverted) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  // Enough refusals to outlast one delivery timeout (retries every ~100 ms for 2 s), not two.
  kafka.RefuseProduces(30);
  engine::Event cancel = Claim(9);
  cancel.type = engine::EventType::kOrderCancelled;
  cancel.order_id.value = 9;
  cancel.quantity = 2;
  EXPECT_EQ(AppendAndWait(log, cancel), engine::Durability::kPersisted);
  EXPECT_TRUE(reports.reverted().empty());
  log.Stop();
  EXPECT_EQ(kafka.MessagesInTopic(), 1);
  EXPECT_EQ(log.probe()->Snapshot().in_flight, 0u);
}

TEST(KafkaLog, UnitsReturningEventSurvivesAProducerRecreation) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  kafka.RefuseProduces(5);
  engine::Event expired = Claim(11);
  expired.type = engine::EventType::kOrderExpired;
  expired.order_id.value = 11;
  expired.quantity = 1;
  ASSERT_TRUE(log.Append({0}, expired).has_value());  // detached: no caller awaits an expiry
  // The producer dies while the event is being retried: purged, then sent by the next one.
  log.TEST_TriggerFatalError();
  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().producer_recreations == 1; }));
  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().in_flight == 0; }));
  const LogCounters c = log.probe()->Snapshot();
  EXPECT_EQ(c.persisted, 1u);
  EXPECT_EQ(c.appended, 1u);
  EXPECT_TRUE(reports.reverted().empty());
  log.Stop();
  EXPECT_EQ(kafka.MessagesInTopic(), 1);
}

TEST(KafkaLog, BrokersDownMakeTheLogUnhealthyUntilTheyReturn) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  rd_kafka_mock_broker_set_down(kafka.cluster(), 1);
  ASSERT_TRUE(Eventually([&] { return !log.healthy(); }));
  EXPECT_FALSE(log.Append({0}, Claim(1)).has_value());
  EXPECT_FALSE(log.probe()->Snapshot().healthy);

  rd_kafka_mock_broker_set_up(kafka.cluster(), 1);
  ASSERT_TRUE(Eventually([&] { return log.healthy(); }));
  EXPECT_EQ(AppendAndWait(log, Claim(2)), engine::Durability::kPersisted);
  EXPECT_TRUE(reports.reverted().empty());
}

// A confirm records a payment: neither reverted nor left in doubt, but sent until Kafka has it,
// whether its first answer said "not written" or was lost in flight; only then acknowledged.
TEST(KafkaLog, ConfirmIsAppendedAgainUntilPersisted) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  // Warm up so the producer id is known and the next request goes straight out.
  ASSERT_EQ(AppendAndWait(log, Claim(1)), engine::Durability::kPersisted);
  auto confirm = [](std::uint64_t seq) {
    engine::Event e = Claim(seq);
    e.type = engine::EventType::kOrderConfirmed;
    e.order_id.value = seq;
    e.quantity = 1;
    return e;
  };

  // Refused past one delivery timeout (about 2 s of ~100 ms retries), not two.
  kafka.RefuseProduces(30);
  EXPECT_EQ(AppendAndWait(log, confirm(2)), engine::Durability::kPersisted);

  // The broker stores the batch but answers after the delivery timeout: possibly persisted,
  // then appended again once answers come back in time.
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 4000);
  auto lost = log.Append({0}, confirm(3));
  ASSERT_TRUE(lost.has_value());
  CountingWaiter lost_waiter;
  log.Await(*lost, lost_waiter);
  // Past the 2 s delivery timeout the first attempt is reported; the waiter keeps waiting.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(lost_waiter.calls(), 0);
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 0);
  EXPECT_EQ(lost_waiter.Wait(), engine::Durability::kPersisted);

  EXPECT_TRUE(reports.reverted().empty());
  EXPECT_TRUE(reports.in_doubt().empty());
  EXPECT_EQ(reports.acknowledged(), (std::vector<std::uint64_t>{1, 2, 3}));
  log.Stop();
  // The lost answer's batch may be in the log too: a repeat, which consumers ignore.
  EXPECT_GE(kafka.MessagesInTopic(), 3);
  EXPECT_LE(kafka.MessagesInTopic(), 4);
}

TEST(KafkaLog, AnswerLostInFlightIsPossiblyPersistedAndNotReverted) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  // Warm up so the producer id is known and the next request goes straight out.
  ASSERT_EQ(AppendAndWait(log, Claim(1)), engine::Durability::kPersisted);

  // The broker stores the batch but answers after the delivery timeout.
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 4000);
  EXPECT_EQ(AppendAndWait(log, Claim(2)), engine::Durability::kPossiblyPersisted);
  EXPECT_TRUE(reports.reverted().empty());
  EXPECT_EQ(reports.acknowledged(), std::vector<std::uint64_t>{Claim(1).seq});
  // Marked in doubt before the waiter heard, and only the lost one.
  EXPECT_EQ(reports.in_doubt(), std::vector<std::uint64_t>{Claim(2).seq});
  EXPECT_EQ(log.probe()->Snapshot().possibly_persisted, 1u);
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 0);
}

TEST(KafkaLog, FatalErrorRecreatesTheProducerAndSettlesEverything) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  std::vector<CountingWaiter> waiters(200);
  std::vector<std::uint8_t> accepted(waiters.size(), 0);
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    // From the fatal error until the new producer runs, Append refuses: that is the contract.
    if (auto ticket = log.Append({0}, Claim(i))) {
      accepted[i] = 1;
      log.Await(*ticket, waiters[i]);
    }
    if (i == waiters.size() / 2) log.TEST_TriggerFatalError();
  }
  ASSERT_GT(std::count(accepted.begin(), accepted.end(), 1), 100)
      << "appends before the fatal error";
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (accepted[i]) {
      ASSERT_TRUE(waiters[i].Wait().has_value());
    }
  }
  const LogCounters c = RecoveredAfterOneFatalError(log);
  EXPECT_EQ(c.appended + c.refused, waiters.size() + 1);
  EXPECT_EQ(reports.reverted().size(), c.not_persisted);
  for (std::size_t i = 0; i < waiters.size(); ++i)
    EXPECT_EQ(waiters[i].calls(), accepted[i] ? 1 : 0);
}

TEST(KafkaLog, BrokerSequenceErrorIsFatalAndTheLogRecovers) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  log.Start(reports);
  // The broker claims a sequence gap: for an idempotent producer that is fatal.
  rd_kafka_mock_push_request_errors(kafka.cluster(), kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  std::vector<CountingWaiter> waiters(50);
  for (auto& waiter : waiters) {
    std::optional<engine::LogTicket> ticket;
    ASSERT_TRUE(Eventually([&] { return (ticket = log.Append({0}, Claim(1))).has_value(); }));
    log.Await(*ticket, waiter);
  }
  for (auto& waiter : waiters)
    ASSERT_TRUE(waiter.Wait().has_value());
  const LogCounters c = RecoveredAfterOneFatalError(log);
  EXPECT_EQ(reports.reverted().size(), c.not_persisted);
  // The topic holds every persisted event and nothing that was certainly not persisted.
  EXPECT_GE(kafka.MessagesInTopic(), static_cast<std::int64_t>(c.persisted));
  EXPECT_LE(kafka.MessagesInTopic(), static_cast<std::int64_t>(c.persisted + c.possibly_persisted));
  for (auto& waiter : waiters)
    EXPECT_EQ(waiter.calls(), 1);
}

TEST(KafkaLog, FullSlotTableRefusesInsteadOfQueueing) {
  MockKafka kafka;
  RecordingReports reports;
  Options options = LogOptions(kafka);
  options.in_flight_max = 4;
  KafkaLog log(options);
  log.Start(reports);
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 1000);  // keep the first four in flight
  std::vector<engine::LogTicket> tickets;
  for (int i = 0; i < 4; ++i) {
    auto ticket = log.Append({0}, Claim(i));
    ASSERT_TRUE(ticket.has_value());
    tickets.push_back(*ticket);
  }
  EXPECT_FALSE(log.Append({1}, Claim(4)).has_value());
  EXPECT_EQ(log.probe()->Snapshot().refused, 1u);
  for (auto ticket : tickets)
    log.Forget(ticket);  // forgotten slots free themselves
  rd_kafka_mock_broker_set_rtt(kafka.cluster(), 1, 0);
  std::optional<engine::LogTicket> later;
  ASSERT_TRUE(Eventually([&] { return (later = log.Append({0}, Claim(5))).has_value(); }));
  log.Forget(*later);
}

TEST(KafkaLog, NotStartedAndStoppedLogsRefuse) {
  MockKafka kafka;
  RecordingReports reports;
  KafkaLog log(LogOptions(kafka));
  EXPECT_FALSE(log.healthy());
  EXPECT_FALSE(log.Append({0}, Claim(1)).has_value());
  log.Start(reports);
  log.Stop();
  EXPECT_FALSE(log.healthy());
  EXPECT_FALSE(log.Append({0}, Claim(2)).has_value());
  EXPECT_EQ(log.probe()->Snapshot().refused, 2u);
}

}  // namespace
}  // namespace hotdeal::persistence
