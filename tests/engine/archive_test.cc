// Archiving an ended campaign: only one that holds nothing in play (and, for coupons, no coupon
// still redeemable) goes; once gone it is found by no id, index, order id or coupon code, its
// id is never taken again, its place in campaigns_max is free, and replay skips it. The
// workers' quiescent points are passed by the caller here (workers_idle_in_control); the
// threaded suite archive_race_test.cc waits for real ones.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

EngineOptions IdleOptions(std::uint32_t campaigns_max = 16) {
  EngineOptions options = SmallOptions();
  options.campaigns_max = campaigns_max;
  options.workers_idle_in_control = true;
  return options;
}

class ArchiveTest : public ::testing::Test {
 protected:
  Outcome Create(const CampaignSpec& spec) {
    return engine_.CreateCampaign(spec, Seconds(0)).outcome;
  }
  Outcome Archive(std::string_view id, TimePoint now = Seconds(200)) {
    return engine_.ArchiveCampaign(Campaign(id), now).outcome;
  }
  Outcome Close(std::string_view id) {
    return engine_.CloseCampaign(Campaign(id), Seconds(150)).outcome;
  }
  RecordingSink sink_;
  Engine engine_{IdleOptions(), sink_};
};

TEST_F(ArchiveTest, OnlyAnEndedCampaignGoesAndThenNothingFindsIt) {
  ASSERT_EQ(Create(NoHeadroom(SaleSpec("s", 5, 2, 60))), Outcome::kCreated);
  Decision<Order> order = engine_.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(120));
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  ASSERT_EQ(engine_.ConfirmOrder({0}, order.value->id, User(1), Seconds(121)).outcome,
            Outcome::kOk);
  Decision<CampaignView> live = engine_.ArchiveCampaign(Campaign("s"), Seconds(130));
  EXPECT_EQ(live.outcome, Outcome::kConflict);
  EXPECT_EQ(live.value->status, CampaignStatus::kLive);

  ASSERT_EQ(Close("s"), Outcome::kOk);
  const std::size_t events = sink_.size();
  Decision<CampaignView> archived = engine_.ArchiveCampaign(Campaign("s"), Seconds(200));
  ASSERT_EQ(archived.outcome, Outcome::kOk);
  EXPECT_EQ(archived.value->status, CampaignStatus::kEnded);
  ASSERT_EQ(sink_.size(), events + 1);
  EXPECT_EQ(sink_.events().back().type, EventType::kCampaignArchived);
  EXPECT_EQ(sink_.events().back().campaign, Campaign("s"));

  EXPECT_EQ(engine_.GetCampaign(Campaign("s"), Seconds(200)).outcome, Outcome::kNotFound);
  EXPECT_TRUE(engine_.ListCampaigns(Seconds(200)).empty());
  EXPECT_FALSE(engine_.Books(Campaign("s")));
  EXPECT_EQ(engine_.GetOrder(order.value->id, Seconds(200)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine_.PlaceOrder({1}, Campaign("s"), User(2), 1, {}, Seconds(120)).outcome,
            Outcome::kNotFound);
  EXPECT_EQ(Archive("s"), Outcome::kNotFound);
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(10'000)), 0u);  // its slot left the wheel
  EXPECT_EQ(Create(NoHeadroom(SaleSpec("s", 5, 2, 60))), Outcome::kConflict);  // never again
  EngineStats stats = engine_.Stats();
  EXPECT_EQ(stats.campaigns_archived, 1u);
  EXPECT_EQ(stats.campaigns_retiring, 0u);  // freed before the call returned
}

TEST_F(ArchiveTest, ALiveReservationOrUnitsInDoubtKeepItUntilTheyEnd) {
  ASSERT_EQ(Create(NoHeadroom(SaleSpec("s", 5, 2, 60))), Outcome::kCreated);
  Decision<Order> order = engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(120));
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  ASSERT_EQ(Close("s"), Outcome::kOk);
  EXPECT_EQ(Archive("s"), Outcome::kConflict);
  // A refused archive leaves the campaign as it was: its order still moves.
  EXPECT_EQ(engine_.GetCampaign(Campaign("s"), Seconds(200)).outcome, Outcome::kOk);
  ASSERT_EQ(
      engine_.CancelOrder({1}, order.value->id, User(1), Seconds(130), CancelScope::kReservation)
          .outcome,
      Outcome::kOk);
  EXPECT_EQ(Archive("s"), Outcome::kOk);
}

TEST_F(ArchiveTest, ACouponStillRedeemableKeepsItUntilItExpires) {
  CampaignSpec forever = NoHeadroom(CouponSpec("forever", 3));
  CampaignSpec timed = NoHeadroom(CouponSpec("timed", 3));
  timed.ends_at = Seconds(300);
  timed.terms.valid_seconds = 100;
  ASSERT_EQ(Create(forever), Outcome::kCreated);
  ASSERT_EQ(Create(timed), Outcome::kCreated);
  ASSERT_EQ(Create(NoHeadroom(CouponSpec("unclaimed", 3))), Outcome::kCreated);
  Decision<Claim> kept = engine_.ClaimCoupon({0}, Campaign("forever"), User(1), {}, Seconds(120));
  ASSERT_EQ(kept.outcome, Outcome::kCreated);
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("timed"), User(1), {}, Seconds(120)).outcome,
            Outcome::kCreated);
  for (std::string_view id : {"forever", "unclaimed"})
    ASSERT_EQ(Close(id), Outcome::kOk);

  EXPECT_EQ(Archive("unclaimed"), Outcome::kOk);
  // A coupon without an end to its validity stays redeemable, so its campaign stays...
  EXPECT_EQ(Archive("forever", Seconds(1'000'000)), Outcome::kConflict);
  const std::string code(kept.value->coupon_code.view());
  ASSERT_EQ(engine_.RedeemCoupon({0}, code, User(1), *OrderRef::Parse("o-1"), Seconds(400)).outcome,
            Outcome::kOk);
  EXPECT_EQ(Archive("forever"), Outcome::kOk);  // ...until it is used
  EXPECT_EQ(engine_.GetCoupon(code, User(1)).outcome, Outcome::kNotFound);
  // Claimed by its end (300) and valid 100 s after: every coupon is expired from 400.
  EXPECT_EQ(Archive("timed", Seconds(399)), Outcome::kConflict);
  EXPECT_EQ(Archive("timed", Seconds(400)), Outcome::kOk);
}

TEST(ArchiveCapacityTest, AnArchivedCampaignsPlaceAndIndexAreFreeForever) {
  RecordingSink sink;
  Engine engine(IdleOptions(2), sink);
  // Far past campaigns_max, and past the table's first chunk of indexes.
  for (int n = 0; n < 1100; ++n) {
    const std::string id = Numbered("c-", n);
    ASSERT_EQ(engine.CreateCampaign(NoHeadroom(CouponSpec(id, 1)), Seconds(0)).outcome,
              Outcome::kCreated)
        << n;
    ASSERT_EQ(engine.CreateCampaign(NoHeadroom(CouponSpec("extra", 1)), Seconds(0)).outcome,
              n == 0 ? Outcome::kCreated : Outcome::kConflict);
    ASSERT_EQ(engine.CreateCampaign(NoHeadroom(CouponSpec("third", 1)), Seconds(0)).outcome,
              Outcome::kCapacity)
        << n;
    ASSERT_EQ(engine.ClaimCoupon({0}, Campaign(id), User(1), {}, Seconds(120)).outcome,
              Outcome::kCreated);
    ASSERT_EQ(engine.CloseCampaign(Campaign(id), Seconds(150)).outcome, Outcome::kOk);
    // Its one coupon is redeemed, so nothing of it can be used any more.
    Decision<Claim> claim = engine.GetClaim(Campaign(id), User(1));
    ASSERT_EQ(engine
                  .RedeemCoupon({0}, claim.value->coupon_code.view(), User(1),
                                *OrderRef::Parse("o"), Seconds(160))
                  .outcome,
              Outcome::kOk);
    ASSERT_EQ(engine.ArchiveCampaign(Campaign(id), Seconds(200)).outcome, Outcome::kOk) << n;
  }
  EXPECT_EQ(engine.Stats().campaigns_archived, 1100u);
  ASSERT_EQ(engine.ListCampaigns(Seconds(200)).size(), 1u);

  // Replay ends where the engine did: only "extra" is back, and no archived id is free.
  RecordingSink replay_sink;
  Engine replayed(IdleOptions(2), replay_sink);
  ReplayClean(replayed, sink.events());
  EXPECT_EQ(replayed.ListCampaigns(Seconds(200)).size(), 1u);
  EXPECT_EQ(replayed.Stats().campaigns_archived, 1100u);
  EXPECT_EQ(replayed.CreateCampaign(NoHeadroom(CouponSpec("c-7", 1)), Seconds(0)).outcome,
            Outcome::kConflict);
  EXPECT_EQ(replayed.CreateCampaign(NoHeadroom(CouponSpec("new", 1)), Seconds(0)).outcome,
            Outcome::kCreated);
}

// With a log that reports, an archive frees its place only once the log has it: a crash before
// would bring the campaign back, and recovery must find room for it beside every creation since.
TEST(ArchiveCapacityTest, APlaceIsFreeOnlyOnceTheLogHasTheArchive) {
  RecordingSink sink(/*reported=*/true);
  Engine engine(IdleOptions(1), sink);
  ASSERT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("old", 5, 2, 60)), Seconds(0)).outcome,
            Outcome::kCreated);
  engine.Acknowledge(sink.events().back());
  ASSERT_EQ(engine.CloseCampaign(Campaign("old"), Seconds(150)).outcome, Outcome::kOk);
  ASSERT_EQ(engine.ArchiveCampaign(Campaign("old"), Seconds(200)).outcome, Outcome::kOk);
  const Event archived = sink.events().back();
  ASSERT_EQ(archived.type, EventType::kCampaignArchived);
  EXPECT_EQ(engine.Stats().campaigns_archiving, 1u);
  EXPECT_EQ(engine.GetCampaign(Campaign("old"), Seconds(200)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("new", 5, 2, 60)), Seconds(200)).outcome,
            Outcome::kCapacity);
  // Not persisted: appended again, still holding the place; persisted: the place is free.
  EXPECT_EQ(engine.Report(archived, Durability::kNotPersisted), LogReports::Next::kAppendAgain);
  EXPECT_EQ(engine.Stats().campaigns_archiving, 1u);
  EXPECT_EQ(engine.Report(archived, Durability::kPersisted), LogReports::Next::kDone);
  EXPECT_EQ(engine.Stats().campaigns_archiving, 0u);
  EXPECT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("new", 5, 2, 60)), Seconds(200)).outcome,
            Outcome::kCreated);
}

TEST(ArchiveReplayTest, EventsOfAnArchivedCampaignAreSkippedWhereverTheyCome) {
  RecordingSink sink;
  Engine engine(IdleOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(NoHeadroom(CouponSpec("c", 2)), Seconds(0)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine.CloseCampaign(Campaign("c"), Seconds(150)).outcome, Outcome::kOk);
  CampaignChange rename;
  rename.name = "late";
  ASSERT_EQ(engine.ChangeCampaign(Campaign("c"), rename, Seconds(160)).outcome, Outcome::kOk);
  ASSERT_EQ(engine.ArchiveCampaign(Campaign("c"), Seconds(200)).outcome, Outcome::kOk);
  std::vector<Event> log = sink.events();
  ASSERT_EQ(log.back().type, EventType::kCampaignArchived);
  // The change appended again after the archive (it is appended until the log has it), and
  // the archive first, as a snapshot that has the campaign archived hands it over.
  std::vector<Event> copied = log;
  copied.push_back(log[2]);
  std::vector<Event> snapshot_first = {log.back()};
  snapshot_first.insert(snapshot_first.end(), log.begin(), log.end() - 1);
  for (const auto& history : {copied, snapshot_first}) {
    RecordingSink replay_sink;
    Engine replayed(IdleOptions(), replay_sink);
    ReplayClean(replayed, history);
    EXPECT_EQ(replayed.GetCampaign(Campaign("c"), Seconds(200)).outcome, Outcome::kNotFound);
    EXPECT_EQ(replayed.Stats().campaigns_archived, 1u);
    EXPECT_GE(replayed.Stats().orphan_events, 1u);
  }
}

TEST(ArchiveWaitTest, WorkersThatNeverPassAQuiescentPointLeaveNothingChanged) {
  EngineOptions options = SmallOptions();
  options.archive_wait = std::chrono::milliseconds(20);
  RecordingSink sink;
  Engine engine(options, sink);
  ASSERT_EQ(engine.CreateCampaign(NoHeadroom(CouponSpec("c", 2)), Seconds(0)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine.CloseCampaign(Campaign("c"), Seconds(150)).outcome, Outcome::kOk);
  const std::size_t events = sink.size();
  EXPECT_EQ(engine.ArchiveCampaign(Campaign("c"), Seconds(200)).outcome, Outcome::kPending);
  EXPECT_EQ(sink.size(), events);  // nothing appended
  EXPECT_EQ(engine.GetCampaign(Campaign("c"), Seconds(200)).outcome, Outcome::kOk);
  // Once both workers pass quiescent points (ExpireDue, on a thread of theirs), it goes through
  // and its memory is freed before the call returns.
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    while (!stop.load()) {
      engine.ExpireDue({0}, Seconds(200));
      engine.ExpireDue({1}, Seconds(200));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  EXPECT_EQ(engine.ArchiveCampaign(Campaign("c"), Seconds(200)).outcome, Outcome::kOk);
  stop.store(true);
  ticker.join();
  EXPECT_EQ(engine.GetCampaign(Campaign("c"), Seconds(200)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine.Stats().campaigns_retiring, 0u);
}

// An archive attempt in progress, held open by a worker that does not tick: its campaign's
// reads go on, and every move of what it holds (confirm, cancel, redeem, restore) answers
// kPending and changes nothing, so what the attempt checks cannot change under it (an order
// placed into it just before, which then refuses it, is archive_race_test's case). The tests
// thread is both workers; the attempt runs on another.
class ArchiveAttemptTest : public ::testing::Test {
 protected:
  ArchiveAttemptTest() {
    EngineOptions options = SmallOptions();
    options.archive_wait = std::chrono::seconds(10);
    engine_ = std::make_unique<Engine>(options, sink_);
  }
  // Runs ArchiveCampaign(id) on its own thread and returns once `probe` (a call that changes
  // nothing either way) answers kPending, i.e. the attempt is under way.
  template <class Probe>
  void StartAttempt(std::string_view id, Probe&& probe) {
    attempt_ = std::thread(
        [this, id] { archived_ = engine_->ArchiveCampaign(Campaign(id), Seconds(500)).outcome; });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (probe() != Outcome::kPending && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    ASSERT_EQ(probe(), Outcome::kPending);
  }
  // Lets the attempt end: both workers tick until it returned.
  Outcome FinishAttempt() {
    std::atomic<bool> done{false};
    std::thread waiter([&] {
      attempt_.join();
      done.store(true);
    });
    while (!done.load()) {
      engine_->ExpireDue({0}, Seconds(500));
      engine_->ExpireDue({1}, Seconds(500));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    waiter.join();
    return archived_;
  }
  RecordingSink sink_;
  std::unique_ptr<Engine> engine_;
  std::thread attempt_;
  Outcome archived_ = Outcome::kInvalid;
};

TEST_F(ArchiveAttemptTest, ConfirmAndCancelWaitWhileTheOrderStillReadsThenItIsGone) {
  ASSERT_EQ(engine_->CreateCampaign(NoHeadroom(SaleSpec("s", 5, 2, 3600)), Seconds(0)).outcome,
            Outcome::kCreated);
  Decision<Order> paid = engine_->PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(100));
  ASSERT_EQ(paid.outcome, Outcome::kCreated);
  const OrderId id = paid.value->id;
  ASSERT_EQ(engine_->ConfirmOrder({0}, id, User(1), Seconds(101)).outcome, Outcome::kOk);
  ASSERT_EQ(engine_->CloseCampaign(Campaign("s"), Seconds(150)).outcome, Outcome::kOk);
  // The probe: cancelling a paid order as a reservation only is refused (kConflict) outside an
  // attempt, kPending inside one; neither changes anything.
  StartAttempt("s", [&] {
    return engine_->CancelOrder({0}, id, User(1), Seconds(160), CancelScope::kReservation).outcome;
  });
  const std::size_t events = sink_.size();
  EXPECT_EQ(engine_->ConfirmOrder({0}, id, User(1), Seconds(160)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_->CancelOrder({0}, id, User(1), Seconds(160)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_->PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(160)).outcome,
            Outcome::kEnded);
  Decision<Order> read = engine_->GetOrder(id, Seconds(160));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->status, OrderStatus::kConfirmed);
  EXPECT_EQ(engine_->GetCampaign(Campaign("s"), Seconds(160)).outcome, Outcome::kOk);
  EXPECT_EQ(sink_.size(), events);  // nothing moved (the refund did not happen)

  EXPECT_EQ(FinishAttempt(), Outcome::kOk);
  EXPECT_EQ(engine_->GetOrder(id, Seconds(160)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine_->CancelOrder({0}, id, User(1), Seconds(160)).outcome, Outcome::kNotFound);
}

TEST_F(ArchiveAttemptTest, RedeemAndRestoreWaitWhileTheCouponStillReadsThenItIsGone) {
  ASSERT_EQ(engine_->CreateCampaign(NoHeadroom(CouponSpec("c", 5)), Seconds(0)).outcome,
            Outcome::kCreated);
  Decision<Claim> claim = engine_->ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  const std::string code(claim.value->coupon_code.view());
  const OrderRef order = *OrderRef::Parse("o-1");
  ASSERT_EQ(engine_->RedeemCoupon({0}, code, User(1), order, Seconds(110)).outcome, Outcome::kOk);
  ASSERT_EQ(engine_->CloseCampaign(Campaign("c"), Seconds(150)).outcome, Outcome::kOk);
  // The probe: redeeming the redeemed coupon on another order is refused outside an attempt.
  StartAttempt("c", [&] {
    return engine_->RedeemCoupon({0}, code, User(1), *OrderRef::Parse("o-2"), Seconds(160)).outcome;
  });
  const std::size_t events = sink_.size();
  EXPECT_EQ(engine_->RestoreCoupon({0}, code, User(1), order, Seconds(160)).outcome,
            Outcome::kPending);
  EXPECT_EQ(engine_->ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(160)).outcome,
            Outcome::kEnded);
  Decision<Claim> read = engine_->GetCoupon(code, User(1));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_TRUE(read.value->redeemed);
  EXPECT_EQ(sink_.size(), events);  // nothing moved

  EXPECT_EQ(FinishAttempt(), Outcome::kOk);
  EXPECT_EQ(engine_->GetCoupon(code, User(1)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine_->RestoreCoupon({0}, code, User(1), order, Seconds(160)).outcome,
            Outcome::kNotFound);
}

}  // namespace
}  // namespace hotdeal::engine
