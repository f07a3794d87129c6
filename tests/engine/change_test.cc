// PATCH of a live campaign: a top-up joins the stock once the log has it, a take-back takes only
// free units and leaves at once, ends_at and name move, and every change is one event that
// replay folds newest-first, so copies appended again and lost older changes end where the live
// engine did.
#include <gtest/gtest.h>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

CampaignChange StockAdd(std::int64_t units) {
  CampaignChange change;
  change.stock_add = units;
  return change;
}
CampaignChange EndsAt(std::optional<TimePoint> ends_at) {
  CampaignChange change;
  change.ends_at = ends_at;
  return change;
}
CampaignChange Named(std::string name) {
  CampaignChange change;
  change.name = std::move(name);
  return change;
}

void ExpectBooksClose(const Engine& engine, std::string_view id) {
  CampaignBooks books = *engine.Books(Campaign(id));
  EXPECT_EQ(std::int64_t{books.stock} - books.remaining - books.in_doubt,
            books.claimed + books.held + books.confirmed)
      << id;
}

class ChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 2), Seconds(0)).outcome, Outcome::kCreated);
    ASSERT_EQ(engine_.CreateCampaign(NoHeadroom(SaleSpec("s", 5, 5, 60)), Seconds(0)).outcome,
              Outcome::kCreated);
  }
  Outcome Claim(int user, TimePoint now = Seconds(100)) {
    return engine_.ClaimCoupon({0}, Campaign("c"), User(user), {}, now).outcome;
  }
  std::uint32_t Remaining(std::string_view id) {
    return engine_.GetCampaign(Campaign(id), Seconds(100)).value->remaining;
  }
  RecordingSink sink_;
  Engine engine_{SmallOptions(), sink_};
};

TEST_F(ChangeTest, ATopUpSellsItsUnitsAndTheLogHoldsTheWholeSpec) {
  ASSERT_EQ(Claim(1), Outcome::kCreated);
  ASSERT_EQ(Claim(2), Outcome::kCreated);
  ASSERT_EQ(Claim(3), Outcome::kSoldOut);
  Decision<CampaignView> changed = engine_.ChangeCampaign(Campaign("c"), StockAdd(3), Seconds(101));
  ASSERT_EQ(changed.outcome, Outcome::kOk);
  EXPECT_EQ(changed.value->spec.stock, 5u);
  EXPECT_EQ(changed.value->remaining, 3u);  // no report comes from this sink: joined at once
  EXPECT_EQ(changed.value->status, CampaignStatus::kLive);
  const Event event = sink_.events().back();
  EXPECT_EQ(event.type, EventType::kCampaignChanged);
  EXPECT_EQ(event.spec.stock, 5u);
  EXPECT_EQ(event.amount, 3);
  for (int user = 3; user <= 5; ++user)
    EXPECT_EQ(Claim(user), Outcome::kCreated) << user;
  EXPECT_EQ(Claim(6), Outcome::kSoldOut);
  ExpectBooksClose(engine_, "c");
}

TEST_F(ChangeTest, ATakeBackTakesOnlyFreeUnits) {
  ASSERT_EQ(engine_.PlaceOrder({0}, Campaign("s"), User(1), 3, {}, Seconds(100)).outcome,
            Outcome::kCreated);
  const std::size_t events = sink_.size();
  Decision<CampaignView> refused =
      engine_.ChangeCampaign(Campaign("s"), StockAdd(-3), Seconds(101));
  ASSERT_EQ(refused.outcome, Outcome::kConflict);
  EXPECT_EQ(refused.value->remaining, 2u);  // what a take-back may take
  EXPECT_EQ(sink_.size(), events);
  ASSERT_EQ(engine_.ChangeCampaign(Campaign("s"), StockAdd(-2), Seconds(101)).outcome,
            Outcome::kOk);
  EXPECT_EQ(Remaining("s"), 0u);
  EXPECT_EQ(engine_.GetCampaign(Campaign("s"), Seconds(101)).value->status,
            CampaignStatus::kSoldOut);
  EXPECT_EQ(engine_.PlaceOrder({1}, Campaign("s"), User(2), 1, {}, Seconds(101)).outcome,
            Outcome::kSoldOut);
  EXPECT_EQ(engine_.Books(Campaign("s"))->stock, 3u);
  ExpectBooksClose(engine_, "s");
}

TEST_F(ChangeTest, StockMaxBoundsATopUp) {
  Decision<CampaignView> full = engine_.ChangeCampaign(Campaign("s"), StockAdd(1), Seconds(101));
  EXPECT_EQ(full.outcome, Outcome::kCapacity);
  EXPECT_EQ(full.value->spec.stock_max, 5u);
  const std::uint32_t room = engine_.Books(Campaign("c"))->stock_max - 2;
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), StockAdd(room + 1), Seconds(101)).outcome,
            Outcome::kCapacity);
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), StockAdd(room), Seconds(101)).outcome,
            Outcome::kOk);
  EXPECT_EQ(Remaining("c"), 2 + room);
  // A creation may not ask for more room than --stock-max, nor for less than its stock.
  CampaignSpec roomy = CouponSpec("roomy", 10);
  roomy.stock_max = SmallOptions().stock_max + 1;
  EXPECT_EQ(engine_.CreateCampaign(roomy, Seconds(0)).outcome, Outcome::kCapacity);
  roomy.stock_max = 9;
  EXPECT_EQ(engine_.CreateCampaign(roomy, Seconds(0)).outcome, Outcome::kInvalid);
}

TEST_F(ChangeTest, AChangeTheApiForbidsChangesNothing) {
  const std::size_t events = sink_.size();
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), {}, Seconds(101)).outcome, Outcome::kInvalid);
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), Named(""), Seconds(101)).outcome,
            Outcome::kInvalid);
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), StockAdd(-2), Seconds(101)).outcome,
            Outcome::kInvalid);  // a stock of 0
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), EndsAt(Seconds(100)), Seconds(101)).outcome,
            Outcome::kInvalid);  // not after starts_at
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("nope"), StockAdd(1), Seconds(101)).outcome,
            Outcome::kNotFound);
  EXPECT_EQ(sink_.size(), events);
  EXPECT_EQ(Remaining("c"), 2u);
}

TEST_F(ChangeTest, EndsAtAndNameMoveAndAnEndedSaleMayBeExtended) {
  ASSERT_EQ(engine_.ChangeCampaign(Campaign("c"), EndsAt(Seconds(200)), Seconds(101)).outcome,
            Outcome::kOk);
  EXPECT_EQ(Claim(1, Seconds(200)), Outcome::kEnded);
  EXPECT_EQ(engine_.GetCampaign(Campaign("c"), Seconds(200)).value->status, CampaignStatus::kEnded);
  Decision<CampaignView> reopened =
      engine_.ChangeCampaign(Campaign("c"), EndsAt(std::nullopt), Seconds(201));
  ASSERT_EQ(reopened.outcome, Outcome::kOk);
  EXPECT_FALSE(reopened.value->spec.ends_at.has_value());
  EXPECT_EQ(Claim(1, Seconds(5'000'000)), Outcome::kCreated);

  ASSERT_EQ(engine_.ChangeCampaign(Campaign("c"), Named("renamed"), Seconds(202)).outcome,
            Outcome::kOk);
  EXPECT_EQ(engine_.GetCampaign(Campaign("c"), Seconds(202)).value->spec.name, "renamed");
  bool listed = false;
  for (const CampaignView& view : engine_.ListCampaigns(Seconds(202)))
    listed |= view.spec.name == "renamed";
  EXPECT_TRUE(listed);
}

TEST_F(ChangeTest, ARefusedChangeChangesNothing) {
  sink_.set_refuse(true);
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("s"), StockAdd(-2), Seconds(101)).outcome,
            Outcome::kLogUnavailable);
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), StockAdd(2), Seconds(101)).outcome,
            Outcome::kLogUnavailable);
  EXPECT_EQ(engine_.ChangeCampaign(Campaign("c"), Named("x"), Seconds(101)).outcome,
            Outcome::kLogUnavailable);
  sink_.set_refuse(false);
  EXPECT_EQ(Remaining("s"), 5u);
  EXPECT_EQ(Remaining("c"), 2u);
  EXPECT_EQ(engine_.Books(Campaign("c"))->stock, 2u);
  CampaignView view = *engine_.GetCampaign(Campaign("c"), Seconds(101)).value;
  EXPECT_EQ(view.spec.stock, 2u);
  EXPECT_EQ(view.spec.name, "coupon");
}

// Replays `log` into a fresh engine and expects campaign `id` as `live` shows it.
void ExpectReplayedAs(const std::vector<Event>& log, const Engine& live, std::string_view id) {
  RecordingSink sink;
  Engine replayed(SmallOptions(), sink);
  ReplayClean(replayed, log);
  CampaignView want = *live.GetCampaign(Campaign(id), Seconds(300)).value;
  CampaignView got = *replayed.GetCampaign(Campaign(id), Seconds(300)).value;
  EXPECT_EQ(got.spec.stock, want.spec.stock);
  EXPECT_EQ(got.spec.name, want.spec.name);
  EXPECT_EQ(got.spec.ends_at, want.spec.ends_at);
  EXPECT_EQ(got.remaining, want.remaining);
  EXPECT_EQ(replayed.Books(Campaign(id))->stock, live.Books(Campaign(id))->stock);
}

TEST_F(ChangeTest, ReplayEndsAtTheNewestChangeWhateverTheLogLostOrRepeated) {
  ASSERT_EQ(Claim(1), Outcome::kCreated);
  ASSERT_EQ(engine_.ChangeCampaign(Campaign("c"), StockAdd(4), Seconds(101)).outcome, Outcome::kOk);
  const Event top_up = sink_.events().back();
  ASSERT_EQ(Claim(2), Outcome::kCreated);
  ASSERT_EQ(engine_.ChangeCampaign(Campaign("c"), StockAdd(-3), Seconds(102)).outcome,
            Outcome::kOk);
  CampaignChange both = EndsAt(Seconds(9'000));
  both.name = "last call";
  ASSERT_EQ(engine_.ChangeCampaign(Campaign("c"), both, Seconds(103)).outcome, Outcome::kOk);
  std::vector<Event> log = sink_.events();
  ExpectReplayedAs(log, engine_, "c");
  // A copy of the top-up appended again after the newer changes changes nothing.
  std::vector<Event> repeated = log;
  repeated.push_back(top_up);
  ExpectReplayedAs(repeated, engine_, "c");
  // A top-up the log lost (--ack memory): the newer change's stock still stands.
  std::vector<Event> lost;
  for (const Event& event : log) {
    if (event.seq != top_up.seq) lost.push_back(event);
  }
  ExpectReplayedAs(lost, engine_, "c");
}

TEST_F(ChangeTest, ReplayRefusesATakeBackOfGrantedUnitsAndTakesOldSpecs) {
  ASSERT_EQ(Claim(1), Outcome::kCreated);
  ASSERT_EQ(Claim(2), Outcome::kCreated);
  std::vector<Event> log = sink_.events();
  Event oversold = log.front();  // the coupon campaign's creation
  oversold.type = EventType::kCampaignChanged;
  oversold.seq = log.back().seq + 1000;
  oversold.spec.stock = 1;
  oversold.amount = -1;
  log.push_back(oversold);
  RecordingSink sink;
  Engine replayed(SmallOptions(), sink);
  std::optional<ReplayError> error = Replay(replayed, log);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("oversold"), std::string::npos) << error->message;

  // A creation logged before top-ups has no stock_max: its stock is all it may hold.
  Event created = sink_.events().front();
  created.spec.stock_max = 0;
  Engine old(SmallOptions(), sink);
  ReplayClean(old, {created});
  EXPECT_EQ(old.Books(Campaign("c"))->stock_max, 2u);
}

// With reports (--ack durable or memory with Kafka): the added units join on Acknowledge.
TEST(ReportedChangeTest, TopUpUnitsJoinOnlyOnceTheLogHasTheChange) {
  RecordingSink sink(/*reported=*/true);
  Engine engine(SmallOptions(), sink);
  Decision<CampaignView> created = engine.CreateCampaign(CouponSpec("c", 1), Seconds(0));
  ASSERT_EQ(created.outcome, Outcome::kCreated);
  engine.Acknowledge(sink.events().back());
  ASSERT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  engine.Acknowledge(sink.events().back());
  Decision<CampaignView> changed = engine.ChangeCampaign(Campaign("c"), StockAdd(2), Seconds(101));
  ASSERT_EQ(changed.outcome, Outcome::kOk);
  EXPECT_NE(changed.ticket.value, 0u);
  EXPECT_EQ(changed.value->spec.stock, 3u);
  EXPECT_EQ(changed.value->remaining, 0u);
  EXPECT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(101)).outcome,
            Outcome::kSoldOut);
  EXPECT_EQ(engine.Books(Campaign("c"))->stock, 1u);  // in play: the top-up is not yet
  ExpectBooksClose(engine, "c");
  // Not persisted: the log appends it again (never reverted), and the units still wait.
  const Event change = sink.events().back();
  EXPECT_EQ(engine.Report(change, Durability::kNotPersisted), LogReports::Next::kAppendAgain);
  EXPECT_EQ(engine.GetCampaign(Campaign("c"), Seconds(101)).value->remaining, 0u);
  EXPECT_EQ(engine.Report(change, Durability::kPersisted), LogReports::Next::kDone);
  EXPECT_EQ(engine.GetCampaign(Campaign("c"), Seconds(101)).value->remaining, 2u);
  EXPECT_EQ(engine.Books(Campaign("c"))->stock, 3u);
  EXPECT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(101)).outcome,
            Outcome::kCreated);
  ExpectBooksClose(engine, "c");
}

}  // namespace
}  // namespace hotdeal::engine
