// InDoubtSettler without a broker: the verdict a partition replay gives (Replayed), and the
// settler against librdkafka's mock cluster with a real engine: a decision the broker stored
// stands, one it never wrote is voided and restocked only once the void is persisted, a
// replaced producer's decisions settle after its quiet period, and the error paths (unreadable
// log, full queue, a decision no longer in doubt) leave units taken rather than guess.
#include "hotdeal/persistence/in_doubt_settler.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/persistence/kafka_log.h"
#include "log_test_support.h"

namespace hotdeal::persistence {
namespace {

using namespace std::chrono_literals;
using engine::Event;
using engine::EventType;
using engine::Outcome;

// ---- Replayed: the log as judge ------------------------------------------------------------

Event Granted(std::uint64_t claim, std::uint64_t seq, std::string_view campaign = "c-1") {
  Event e;
  e.type = EventType::kClaimGranted;
  e.seq = seq;
  e.campaign = *engine::CampaignId::Parse(campaign);
  e.user = *engine::UserId::Parse("u-" + std::to_string(claim));
  e.claim_id.value = claim;
  return e;
}

Event VoidOf(const Event& decision, std::uint64_t seq) {
  Event e = decision;
  e.type =
      decision.type == EventType::kClaimGranted ? EventType::kClaimVoided : EventType::kOrderVoided;
  e.seq = seq;
  return e;
}

Event Reserved(std::uint64_t order, std::uint64_t seq) {
  Event e = Granted(0, seq);
  e.type = EventType::kOrderReserved;
  e.order_id.value = order;
  e.quantity = 2;
  return e;
}

LogVerdict Replay(const std::vector<Event>& partition, const Event& decision) {
  Replayed replayed(decision);
  for (const Event& e : partition)
    replayed.Observe(e);
  return replayed.verdict();
}

TEST(Replayed, DecisionInTheLogStands) {
  const Event claim = Granted(7, 100);
  EXPECT_EQ(Replay({Granted(6, 99), claim, Granted(8, 101)}, claim), LogVerdict::kStands);
  const Event order = Reserved(9, 200);
  EXPECT_EQ(Replay({order}, order), LogVerdict::kStands);
}

TEST(Replayed, NearMissesAreAbsent) {
  const Event claim = Granted(7, 100);
  EXPECT_EQ(Replay({}, claim), LogVerdict::kAbsent);
  EXPECT_EQ(Replay({Granted(7, 101)}, claim), LogVerdict::kAbsent) << "another seq";
  EXPECT_EQ(Replay({Granted(8, 100)}, claim), LogVerdict::kAbsent) << "another claim";
  EXPECT_EQ(Replay({Granted(7, 100, "c-2")}, claim), LogVerdict::kAbsent) << "another campaign";
  Event order_with_same_numbers = Reserved(7, 100);
  order_with_same_numbers.claim_id.value = 7;
  EXPECT_EQ(Replay({order_with_same_numbers}, claim), LogVerdict::kAbsent) << "another type";
}

TEST(Replayed, OnlyAVoidAfterTheDecisionCancelsIt) {
  const Event claim = Granted(7, 100);
  EXPECT_EQ(Replay({claim, VoidOf(claim, 500)}, claim), LogVerdict::kVoided);
  // Replay applies a void of a decision it has not seen as a no-op: the decision then stands.
  EXPECT_EQ(Replay({VoidOf(claim, 500), claim}, claim), LogVerdict::kStands);
  EXPECT_EQ(Replay({VoidOf(claim, 500)}, claim), LogVerdict::kAbsent);
  // A void of another claim, or an order void with the same number, changes nothing.
  EXPECT_EQ(Replay({claim, VoidOf(Granted(8, 1), 500)}, claim), LogVerdict::kStands);
  EXPECT_EQ(Replay({claim, VoidOf(Reserved(7, 1), 500)}, claim), LogVerdict::kStands);
  const Event order = Reserved(9, 200);
  EXPECT_EQ(Replay({order, VoidOf(order, 501)}, order), LogVerdict::kVoided);
}

// ---- the settler against the mock cluster ---------------------------------------------------

class SettlerTest : public ::testing::Test {
 protected:
  static SettlerOptions QuickSettler() {
    SettlerOptions options;
    options.capacity = 64;
    options.replaced_producer_quiet = 1000ms;
    options.round_interval = 20ms;
    options.read_timeout = 3000ms;
    return options;
  }

  void SetUp() override {
    log_.Start(engine_, &settler_);
    engine::CampaignSpec spec;
    spec.id = campaign_;
    spec.name = "settler";
    spec.stock = 5;
    spec.starts_at = Now() - 1h;
    auto created = engine_.CreateCampaign(spec, Now());
    ASSERT_EQ(created.outcome, Outcome::kCreated);
    log_.Forget(created.ticket);
    // Warm the producer (id acquired, partition leader known) so a claim goes straight out.
    ASSERT_TRUE(Eventually([&] { return log_.probe()->Snapshot().persisted == 1; }));
    settler_.Start();
  }
  void TearDown() override {
    rd_kafka_mock_clear_request_errors(kafka_.cluster(), kProduceApiKey);
    rd_kafka_mock_broker_set_rtt(kafka_.cluster(), 1, 0);
    settler_.Stop();
    log_.Stop();
  }

  static engine::TimePoint Now() {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  }
  engine::CampaignBooks Books() const { return *engine_.Books(campaign_); }
  engine::UserId User(int i) const { return *engine::UserId::Parse("u-" + std::to_string(i)); }
  // A claim whose report the caller arranged to be possibly persisted; waits until it is marked.
  engine::Decision<engine::Claim> ClaimInDoubt(int user) {
    auto made =
        engine_.ClaimCoupon({0}, campaign_, User(user),
                            engine::IdempotencyKey::Parse("k-" + std::to_string(user)), Now());
    EXPECT_EQ(made.outcome, Outcome::kCreated);
    log_.Forget(made.ticket);
    EXPECT_TRUE(Eventually([&] { return log_.probe()->Snapshot().possibly_persisted >= 1; }));
    return made;
  }

  MockKafka kafka_;
  const engine::CampaignId campaign_ = *engine::CampaignId::Parse("c-settler");
  KafkaLog log_{LogOptions(kafka_)};
  engine::Engine engine_{engine::EngineOptions{}, log_};
  InDoubtSettler settler_{engine_, log_, LogOptions(kafka_), QuickSettler()};
};

TEST_F(SettlerTest, DecisionTheBrokerStoredStands) {
  // The broker stores the batch but answers after the delivery timeout: possibly persisted.
  rd_kafka_mock_broker_set_rtt(kafka_.cluster(), 1, 4000);
  auto made = ClaimInDoubt(1);
  rd_kafka_mock_broker_set_rtt(kafka_.cluster(), 1, 0);
  ASSERT_TRUE(Eventually([&] { return settler_.probe()->Snapshot().settled_persisted == 1; }));
  EXPECT_EQ(Books().in_doubt, 0);
  EXPECT_EQ(Books().claimed, 1);
  EXPECT_EQ(Books().remaining, 4u);
  // The client's retry with its key now hears its original claim.
  auto retry =
      engine_.ClaimCoupon({0}, campaign_, User(1), engine::IdempotencyKey::Parse("k-1"), Now());
  EXPECT_EQ(retry.outcome, Outcome::kReplayed);
  EXPECT_EQ(retry.value->id, made.value->id);
  const SettlerCounters c = settler_.probe()->Snapshot();
  EXPECT_EQ(c.settled_voided, 0u);
  EXPECT_EQ(c.waiting, 0u);
}

TEST_F(SettlerTest, DecisionTheBrokerNeverWroteIsVoidedAndRestockedOnlyOnceTheVoidIsPersisted) {
  // "Timed out" answers, as from a broker that may have written: possibly persisted, and the
  // mock wrote nothing. More of them than one delivery timeout uses up, so the void is refused
  // for a while too and KafkaLog appends it again.
  std::vector<rd_kafka_resp_err_t> errors(60, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors_array(kafka_.cluster(), kProduceApiKey, errors.size(),
                                          errors.data());
  auto made = ClaimInDoubt(1);
  ASSERT_EQ(log_.probe()->Snapshot().possibly_persisted, 1u);
  EXPECT_EQ(Books().in_doubt, 1);
  // Until the void is persisted the unit stays taken.
  const std::uint64_t persisted_before = log_.probe()->Snapshot().persisted;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (settler_.probe()->Snapshot().settled_voided == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    if (Books().remaining == 5u) {
      ASSERT_GT(log_.probe()->Snapshot().persisted, persisted_before)
          << "restocked before the void was persisted";
    }
    std::this_thread::sleep_for(2ms);
  }

  EXPECT_EQ(Books().remaining, 5u);
  EXPECT_EQ(Books().in_doubt, 0);
  EXPECT_EQ(Books().claimed, 0);
  EXPECT_EQ(log_.probe()->Snapshot().persisted, persisted_before + 1) << "the void, once";
  // The key's claim is gone: the client's retry with its key is decided afresh.
  auto retry =
      engine_.ClaimCoupon({0}, campaign_, User(1), engine::IdempotencyKey::Parse("k-1"), Now());
  ASSERT_EQ(retry.outcome, Outcome::kCreated);
  EXPECT_NE(retry.value->id, made.value->id);
  log_.Forget(retry.ticket);
  EXPECT_EQ(settler_.probe()->Snapshot().settled_persisted, 0u);
}

TEST_F(SettlerTest, ReservationTheBrokerNeverWroteIsVoidedWithItsQuantity) {
  engine::CampaignSpec spec;
  spec.id = *engine::CampaignId::Parse("s-settler");
  spec.kind = engine::CampaignKind::kSale;
  spec.name = "sale";
  spec.stock = 10;
  spec.per_user_limit = 4;
  spec.price = 100;
  spec.hold_seconds = 600;
  spec.starts_at = Now() - 1h;
  auto created = engine_.CreateCampaign(spec, Now());
  ASSERT_EQ(created.outcome, Outcome::kCreated);
  log_.Forget(created.ticket);
  ASSERT_TRUE(Eventually([&] { return log_.probe()->Snapshot().persisted == 2; }));
  // Possibly persisted and never written, as in the claim test; enough refusals left over to
  // keep the void out of Kafka for seconds, while the reservation is checked in doubt.
  std::vector<rd_kafka_resp_err_t> errors(60, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors_array(kafka_.cluster(), kProduceApiKey, errors.size(),
                                          errors.data());
  auto order = engine_.PlaceOrder({0}, spec.id, User(1), 3, std::nullopt, Now());
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  log_.Forget(order.ticket);
  ASSERT_TRUE(Eventually([&] { return log_.probe()->Snapshot().possibly_persisted == 1; }));
  EXPECT_EQ(engine_.Books(spec.id)->in_doubt, 3);
  // In doubt, it can be neither confirmed nor cancelled; once voided it is gone.
  EXPECT_EQ(engine_.ConfirmOrder({0}, order.value->id, User(1), Now()).outcome, Outcome::kInDoubt);
  ASSERT_TRUE(Eventually([&] { return settler_.probe()->Snapshot().settled_voided == 1; }));
  const engine::CampaignBooks books = *engine_.Books(spec.id);
  EXPECT_EQ(books.remaining, 10u);
  EXPECT_EQ(books.in_doubt, 0);
  EXPECT_EQ(books.held, 0);
  EXPECT_EQ(engine_.GetOrder(order.value->id, Now()).outcome, Outcome::kNotFound);
}

TEST_F(SettlerTest, ReplacedProducersDecisionsSettleAfterItsQuietPeriod) {
  rd_kafka_mock_broker_set_rtt(kafka_.cluster(), 1, 1000);  // keep claims in flight
  for (int user = 1; user <= 3; ++user) {
    auto made = engine_.ClaimCoupon({0}, campaign_, User(user), std::nullopt, Now());
    ASSERT_EQ(made.outcome, Outcome::kCreated);
    log_.Forget(made.ticket);
  }
  std::this_thread::sleep_for(300ms);  // sent (past linger), answers still 700 ms away
  const auto fatal_at = std::chrono::steady_clock::now();
  log_.TEST_TriggerFatalError();
  ASSERT_TRUE(Eventually([&] { return log_.probe()->Snapshot().producer_recreations == 1; }));
  rd_kafka_mock_broker_set_rtt(kafka_.cluster(), 1, 0);
  const LogCounters log = log_.probe()->Snapshot();
  ASSERT_EQ(log.persisted + log.not_persisted + log.possibly_persisted, 4u);
  ASSERT_TRUE(Eventually([&] { return Books().in_doubt == 0; }));
  const SettlerCounters c = settler_.probe()->Snapshot();
  EXPECT_EQ(c.settled_persisted + c.settled_voided, log.possibly_persisted);
  ASSERT_GE(log.possibly_persisted, 1u) << "purged in flight: the replaced producer's";
  // Judged only after the replaced producer's quiet period.
  EXPECT_GE(std::chrono::steady_clock::now() - fatal_at, QuickSettler().replaced_producer_quiet);
  const engine::CampaignBooks books = Books();
  EXPECT_EQ(std::int64_t{books.stock} - books.remaining, books.claimed);
  EXPECT_TRUE(log_.healthy());
}

TEST_F(SettlerTest, UnreadableLogIsRetriedAndDecidesNothing) {
  // The partition's end cannot be listed three times over; then it can.
  rd_kafka_mock_push_request_errors(
      kafka_.cluster(), kListOffsetsApiKey, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  // Not marked in the engine, so the verdict can only release it; what matters is the retry.
  settler_.Add(Granted(42, 4242, "c-settler"));
  ASSERT_TRUE(Eventually([&] { return settler_.probe()->Snapshot().retries >= 1; }));
  ASSERT_TRUE(Eventually([&] { return settler_.probe()->Snapshot().waiting == 0; }));
  const SettlerCounters c = settler_.probe()->Snapshot();
  EXPECT_EQ(c.settled_persisted + c.settled_voided, 0u) << "nothing was in doubt";
  EXPECT_EQ(Books().remaining, 5u);
}

TEST_F(SettlerTest, FullQueueCountsOverflowAndTakesNothing) {
  SettlerOptions tiny = QuickSettler();
  tiny.capacity = 1;
  InDoubtSettler small(engine_, log_, LogOptions(kafka_), tiny);
  small.Add(Granted(1, 1, "c-settler"));  // not started: not taken
  EXPECT_EQ(small.probe()->Snapshot().overflow, 1u);
  small.Start();
  rd_kafka_mock_broker_set_down(kafka_.cluster(), 1);  // keeps the first one waiting
  small.Add(Granted(2, 2, "c-settler"));
  small.Add(Granted(3, 3, "c-settler"));
  small.Add(VoidOf(Granted(4, 4, "c-settler"), 5));  // not a decision: ignored
  const SettlerCounters c = small.probe()->Snapshot();
  EXPECT_EQ(c.overflow, 2u);
  EXPECT_EQ(c.waiting, 1u);
  rd_kafka_mock_broker_set_up(kafka_.cluster(), 1);
  small.Stop();
  small.Stop();  // idempotent
  small.Add(Granted(6, 6, "c-settler"));
  EXPECT_EQ(small.probe()->Snapshot().overflow, 3u) << "stopped: in doubt until restart";
}

}  // namespace
}  // namespace hotdeal::persistence
