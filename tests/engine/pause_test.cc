// Pause and resume: claims and orders answer kPaused while reads, confirms, cancels and expiry go
// on; each change is one event; replay keeps the newest by seq, so a copy appended again (or the
// two events in either order) ends where the live engine did.
#include <gtest/gtest.h>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

class PauseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 10), Seconds(0)).outcome, Outcome::kCreated);
    ASSERT_EQ(engine_.CreateCampaign(SaleSpec("s", 10, 3, 60), Seconds(0)).outcome,
              Outcome::kCreated);
  }
  RecordingSink sink_;
  Engine engine_{SmallOptions(), sink_};
};

TEST_F(PauseTest, APausedCampaignRefusesNewDecisionsAndKeepsWhatItSold) {
  Decision<Order> order = engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(100));
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);

  for (const char* id : {"c", "s"}) {
    Decision<CampaignView> paused = engine_.PauseCampaign(Campaign(id), Seconds(101));
    ASSERT_EQ(paused.outcome, Outcome::kOk);
    EXPECT_EQ(paused.value->status, CampaignStatus::kPaused);
    EXPECT_EQ(sink_.events().back().type, EventType::kCampaignPaused);
  }
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(2), {}, Seconds(102)).outcome,
            Outcome::kPaused);
  EXPECT_EQ(engine_.PlaceOrder({1}, Campaign("s"), User(2), 1, {}, Seconds(102)).outcome,
            Outcome::kPaused);
  // What was decided before goes on: reads, a confirm.
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
  EXPECT_EQ(engine_.ConfirmOrder({1}, order.value->id, User(1), Seconds(102)).outcome,
            Outcome::kOk);
  EXPECT_EQ(engine_.GetCampaign(Campaign("s"), Seconds(102)).value->remaining, 8u);

  Decision<CampaignView> resumed = engine_.ResumeCampaign(Campaign("c"), Seconds(103));
  ASSERT_EQ(resumed.outcome, Outcome::kOk);
  EXPECT_EQ(resumed.value->status, CampaignStatus::kLive);
  EXPECT_EQ(sink_.events().back().type, EventType::kCampaignResumed);
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(2), {}, Seconds(104)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine_.PlaceOrder({1}, Campaign("s"), User(2), 1, {}, Seconds(104)).outcome,
            Outcome::kPaused);  // only "c" was resumed
}

TEST_F(PauseTest, ExpiryAndCancelGoOnWhilePaused) {
  Decision<Order> kept = engine_.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(100));
  Decision<Order> lapsing = engine_.PlaceOrder({0}, Campaign("s"), User(2), 2, {}, Seconds(100));
  ASSERT_EQ(kept.outcome, Outcome::kCreated);
  ASSERT_EQ(lapsing.outcome, Outcome::kCreated);
  ASSERT_EQ(engine_.PauseCampaign(Campaign("s"), Seconds(101)).outcome, Outcome::kOk);
  EXPECT_EQ(engine_.CancelOrder({0}, kept.value->id, User(1), Seconds(102)).outcome, Outcome::kOk);
  engine_.ExpireDue({0}, Seconds(161));
  EXPECT_EQ(engine_.GetOrder(lapsing.value->id, Seconds(161)).value->status, OrderStatus::kExpired);
  EXPECT_EQ(engine_.GetCampaign(Campaign("s"), Seconds(161)).value->remaining, 10u);
}

TEST_F(PauseTest, RepeatingAStateAddsNoEventAndUnknownIsNotFound) {
  ASSERT_EQ(engine_.PauseCampaign(Campaign("c"), Seconds(101)).outcome, Outcome::kOk);
  const std::size_t events = sink_.size();
  EXPECT_EQ(engine_.PauseCampaign(Campaign("c"), Seconds(102)).outcome, Outcome::kOk);
  EXPECT_EQ(sink_.size(), events);
  EXPECT_EQ(engine_.ResumeCampaign(Campaign("s"), Seconds(102)).outcome, Outcome::kOk);
  EXPECT_EQ(sink_.size(), events);
  EXPECT_EQ(engine_.PauseCampaign(Campaign("nope"), Seconds(102)).outcome, Outcome::kNotFound);
}

TEST_F(PauseTest, ARefusedPauseChangesNothing) {
  sink_.set_refuse(true);
  EXPECT_EQ(engine_.PauseCampaign(Campaign("c"), Seconds(101)).outcome, Outcome::kLogUnavailable);
  sink_.set_refuse(false);
  EXPECT_EQ(engine_.GetCampaign(Campaign("c"), Seconds(101)).value->status, CampaignStatus::kLive);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(101)).outcome,
            Outcome::kCreated);
}

TEST_F(PauseTest, AnEndedCampaignShowsEndedPausedOrNot) {
  ASSERT_EQ(engine_.PauseCampaign(Campaign("c"), Seconds(101)).outcome, Outcome::kOk);
  ASSERT_EQ(engine_.CloseCampaign(Campaign("c"), Seconds(102)).outcome, Outcome::kOk);
  EXPECT_EQ(engine_.GetCampaign(Campaign("c"), Seconds(102)).value->status, CampaignStatus::kEnded);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(102)).outcome,
            Outcome::kEnded);
}

// The log may hold a pause appended again after the resume that followed it: replay keeps the
// newest by seq, as the live engine did.
TEST_F(PauseTest, ReplayKeepsTheNewestChangeWhateverOrderTheLogHolds) {
  ASSERT_EQ(engine_.PauseCampaign(Campaign("c"), Seconds(101)).outcome, Outcome::kOk);
  const Event pause = sink_.events().back();
  ASSERT_EQ(engine_.ResumeCampaign(Campaign("c"), Seconds(102)).outcome, Outcome::kOk);
  const Event resume = sink_.events().back();
  ASSERT_LT(pause.seq, resume.seq);

  std::vector<Event> log = sink_.events();
  log.push_back(pause);  // the pause's copy, appended again, landed last
  RecordingSink replay_sink;
  Engine recovered(SmallOptions(), replay_sink);
  ReplayClean(recovered, log);
  EXPECT_EQ(recovered.GetCampaign(Campaign("c"), Seconds(103)).value->status,
            CampaignStatus::kLive);

  std::vector<Event> paused_log = sink_.events();
  paused_log.pop_back();  // the resume never reached the log
  Engine still_paused(SmallOptions(), replay_sink);
  ReplayClean(still_paused, paused_log);
  EXPECT_EQ(still_paused.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(103)).outcome,
            Outcome::kPaused);
  // And the recovered engine's next change is newer than anything it replayed.
  ASSERT_EQ(still_paused.ResumeCampaign(Campaign("c"), Seconds(104)).outcome, Outcome::kOk);
  EXPECT_GT(replay_sink.events().back().seq, pause.seq);
}

}  // namespace
}  // namespace hotdeal::engine
