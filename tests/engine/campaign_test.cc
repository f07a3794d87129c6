// Campaign rules: spec validation, duplicate ids, table capacity, the sale window checked on
// every request, early close, status, and the footprint computed at creation.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

class CampaignTest : public ::testing::Test {
 protected:
  RecordingSink sink_;
  Engine engine_{SmallOptions(), sink_};
};

TEST_F(CampaignTest, RejectsInvalidSpecs) {
  auto expect_invalid = [&](CampaignSpec spec) {
    EXPECT_EQ(engine_.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kInvalid);
  };
  CampaignSpec spec = CouponSpec("c", 10);
  spec.stock = 0;
  expect_invalid(spec);
  spec = CouponSpec("c", 10);
  spec.per_user_limit = 2;  // coupons: one per user
  expect_invalid(spec);
  spec.per_user_limit = 0;
  expect_invalid(spec);
  spec = CouponSpec("c", 10);
  spec.ends_at = spec.starts_at;
  expect_invalid(spec);
  spec = SaleSpec("s", 10, 2);
  spec.hold_seconds = 0;
  expect_invalid(spec);
  spec = SaleSpec("s", 10, 2);
  spec.price = -1;
  expect_invalid(spec);
  spec = SaleSpec("s", 10, 2);
  spec.price = std::numeric_limits<std::int64_t>::max() / 2 + 1;  // price * 2 overflows
  expect_invalid(spec);
  EXPECT_EQ(sink_.size(), 0u);
  EXPECT_TRUE(engine_.ListCampaigns(Seconds(0)).empty());
}

TEST_F(CampaignTest, CouponTermsAreCheckedAndShownOnEachClaim) {
  auto terms_refused = [&](CouponTerms terms, CampaignKind kind = CampaignKind::kCoupon) {
    CampaignSpec spec = kind == CampaignKind::kCoupon ? CouponSpec("t", 10) : SaleSpec("t", 10, 2);
    spec.terms = terms;
    return engine_.CreateCampaign(spec, Seconds(0)).outcome == Outcome::kInvalid;
  };
  EXPECT_TRUE(terms_refused({DiscountKind::kPercent, 0, 0, 0, std::nullopt}));
  EXPECT_TRUE(terms_refused({DiscountKind::kPercent, 101, 0, 0, std::nullopt}));
  EXPECT_TRUE(terms_refused({DiscountKind::kAmount, 0, 0, 0, std::nullopt}));
  EXPECT_TRUE(terms_refused({DiscountKind::kNone, 5, 0, 0, std::nullopt}));
  EXPECT_TRUE(terms_refused({DiscountKind::kAmount, 500, -1, 0, std::nullopt}));
  EXPECT_TRUE(terms_refused({DiscountKind::kNone, 0, 0, 60, Seconds(1000)}));  // both bounds
  EXPECT_TRUE(terms_refused({DiscountKind::kNone, 0, 0, 0, CouponSpec("t", 1).starts_at}));
  EXPECT_TRUE(terms_refused({DiscountKind::kPercent, 10, 0, 0, std::nullopt}, CampaignKind::kSale));
  EXPECT_EQ(sink_.size(), 0u);

  CampaignSpec spec = CouponSpec("t", 10);
  spec.terms = {DiscountKind::kAmount, 500, 2'000, 3'600, std::nullopt};
  Decision<CampaignView> made = engine_.CreateCampaign(spec, Seconds(0));
  ASSERT_EQ(made.outcome, Outcome::kCreated);
  EXPECT_EQ(made.value->spec.terms, spec.terms);
  EXPECT_EQ(sink_.events().back().spec.terms, spec.terms);
  Decision<Claim> claim = engine_.ClaimCoupon({0}, Campaign("t"), User(1), {}, Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  EXPECT_EQ(claim.value->terms, spec.terms);
  EXPECT_EQ(claim.value->expires_at, Seconds(100 + 3'600));  // valid_seconds from the claim
  EXPECT_EQ(engine_.GetClaim(Campaign("t"), User(1)).value->expires_at, Seconds(3'700));

  CampaignSpec until = CouponSpec("u", 10);
  until.terms.valid_until = Seconds(5'000);
  ASSERT_EQ(engine_.CreateCampaign(until, Seconds(0)).outcome, Outcome::kCreated);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("u"), User(1), {}, Seconds(100)).value->expires_at,
            Seconds(5'000));
}

TEST_F(CampaignTest, CreatesAndLogsOnce) {
  Decision<CampaignView> made = engine_.CreateCampaign(SaleSpec("s", 10, 2), Seconds(0));
  ASSERT_EQ(made.outcome, Outcome::kCreated);
  EXPECT_EQ(made.value->remaining, 10u);
  EXPECT_EQ(made.value->status, CampaignStatus::kScheduled);
  ASSERT_EQ(sink_.size(), 1u);
  EXPECT_EQ(sink_.events()[0].type, EventType::kCampaignCreated);
  EXPECT_EQ(sink_.events()[0].spec.stock, 10u);
  EXPECT_EQ(engine_.CreateCampaign(CouponSpec("s", 5), Seconds(0)).outcome, Outcome::kConflict);
  EXPECT_EQ(sink_.size(), 1u);
}

TEST_F(CampaignTest, StockOverStockMaxIsCapacity) {
  // For good (409), not a malformed spec: a server with a larger --stock-max would take it.
  EXPECT_EQ(engine_.CreateCampaign(CouponSpec("c", 100'001), Seconds(0)).outcome,
            Outcome::kCapacity);
  EXPECT_EQ(engine_.CreateCampaign(CouponSpec("c", 100'000), Seconds(0)).outcome,
            Outcome::kCreated);
}

TEST_F(CampaignTest, TableFullIsCapacity) {
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(engine_.CreateCampaign(CouponSpec(Numbered("c", i), 1), Seconds(0)).outcome,
              Outcome::kCreated);
  }
  EXPECT_EQ(engine_.CreateCampaign(CouponSpec("one-more", 1), Seconds(0)).outcome,
            Outcome::kCapacity);
  EXPECT_EQ(engine_.ListCampaigns(Seconds(0)).size(), 16u);
}

TEST(CampaignBudgetTest, MemoryBudgetBoundsTheSumOfFootprints) {
  RecordingSink sink;
  EngineOptions options = SmallOptions();
  Engine probe(options, sink);
  ASSERT_EQ(probe.CreateCampaign(NoHeadroom(SaleSpec("s", 1000, 2)), Seconds(0)).outcome,
            Outcome::kCreated);
  const std::size_t bytes = probe.Footprint(Campaign("s"))->bytes;
  // Room for two such campaigns and a little more, not three.
  options.memory_budget_bytes = 2 * bytes + bytes / 2;
  Engine engine(options, sink);
  EXPECT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("a", 1000, 2)), Seconds(0)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("b", 1000, 2)), Seconds(0)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("c", 1000, 2)), Seconds(0)).outcome,
            Outcome::kCapacity);
  // A smaller one still fits in what is left.
  EXPECT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("d", 100, 2)), Seconds(0)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine.ListCampaigns(Seconds(0)).size(), 3u);
}

TEST_F(CampaignTest, RacingCreationsOfOneIdHaveOneWinner) {
  // Both may build their campaign outside the control mutex; only one is inserted and logged.
  for (int round = 0; round < 8; ++round) {
    std::string id = Numbered("race", round);
    std::atomic<int> created{0};
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        Outcome outcome = engine_.CreateCampaign(SaleSpec(id, 20'000, 2), Seconds(0)).outcome;
        (outcome == Outcome::kCreated ? created : conflicts).fetch_add(1);
      });
    }
    for (std::thread& thread : threads)
      thread.join();
    EXPECT_EQ(created.load(), 1) << id;
    EXPECT_EQ(conflicts.load(), 1) << id;
  }
  EXPECT_EQ(engine_.ListCampaigns(Seconds(0)).size(), 8u);
  EXPECT_EQ(sink_.size(), 8u);
}

TEST_F(CampaignTest, WindowIsCheckedAgainstNowOnEveryRequest) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 10), Seconds(0)).outcome, Outcome::kCreated);
  WorkerId w{0};
  CampaignId c = Campaign("c");
  EXPECT_EQ(engine_.ClaimCoupon(w, c, User(1), {}, Micros(100'000'000 - 1)).outcome,
            Outcome::kNotStarted);
  EXPECT_EQ(engine_.GetCampaign(c, Micros(100'000'000 - 1)).value->status,
            CampaignStatus::kScheduled);
  EXPECT_EQ(engine_.ClaimCoupon(w, c, User(1), {}, Seconds(100)).outcome, Outcome::kCreated);
  EXPECT_EQ(engine_.GetCampaign(c, Seconds(100)).value->status, CampaignStatus::kLive);
  EXPECT_EQ(engine_.ClaimCoupon(w, c, User(2), {}, Micros(1'000'000'000'000 - 1)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine_.ClaimCoupon(w, c, User(3), {}, Seconds(1'000'000)).outcome, Outcome::kEnded);
  EXPECT_EQ(engine_.GetCampaign(c, Seconds(1'000'000)).value->status, CampaignStatus::kEnded);
  EXPECT_EQ(engine_.GetCampaign(c, Seconds(1'000'000)).value->remaining, 8u);
}

TEST_F(CampaignTest, EndsAtNeverWhenAbsent) {
  CampaignSpec spec = CouponSpec("c", 10);
  spec.ends_at.reset();
  ASSERT_EQ(engine_.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kCreated);
  EXPECT_EQ(engine_.ClaimCoupon({0}, spec.id, User(1), {}, Seconds(1LL << 40)).outcome,
            Outcome::kCreated);
}

TEST_F(CampaignTest, CloseEndsEarlyAndIsLogged) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 10), Seconds(0)).outcome, Outcome::kCreated);
  Decision<CampaignView> closed = engine_.CloseCampaign(Campaign("c"), Seconds(200));
  ASSERT_EQ(closed.outcome, Outcome::kOk);
  EXPECT_EQ(closed.value->status, CampaignStatus::kEnded);
  EXPECT_EQ(sink_.events().back().type, EventType::kCampaignClosed);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(200)).outcome,
            Outcome::kEnded);
  EXPECT_EQ(engine_.CloseCampaign(Campaign("nope"), Seconds(200)).outcome, Outcome::kNotFound);
}

TEST_F(CampaignTest, StatusSoldOutWhenNothingRemains) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 1), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  Decision<CampaignView> view = engine_.GetCampaign(Campaign("c"), Seconds(100));
  EXPECT_EQ(view.value->remaining, 0u);
  EXPECT_EQ(view.value->status, CampaignStatus::kSoldOut);
}

TEST_F(CampaignTest, FootprintIsFixedAtCreationAndGrowsWithStock) {
  ASSERT_EQ(engine_.CreateCampaign(NoHeadroom(CouponSpec("small", 100)), Seconds(0)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine_.CreateCampaign(NoHeadroom(CouponSpec("large", 10'000)), Seconds(0)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine_.CreateCampaign(NoHeadroom(SaleSpec("sale", 100, 3)), Seconds(0)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(
      engine_.CreateCampaign(NoHeadroom(SaleSpec("large-sale", 10'000, 3)), Seconds(0)).outcome,
      Outcome::kCreated);
  CampaignFootprint large_sale = *engine_.Footprint(Campaign("large-sale"));
  CampaignFootprint small = *engine_.Footprint(Campaign("small"));
  CampaignFootprint large = *engine_.Footprint(Campaign("large"));
  CampaignFootprint sale = *engine_.Footprint(Campaign("sale"));
  EXPECT_EQ(small.users_max, 100u);
  EXPECT_EQ(small.orders_max, 0u);
  // Every live order holds a unit: a slot per unit and spares for ended orders (reused).
  EXPECT_GE(sale.orders_max, 100u);
  EXPECT_GE(large_sale.orders_max, 10'000u);
  EXPECT_LE(large_sale.orders_max, 12'500u);
  EXPECT_GT(large.bytes, small.bytes * 50);
  EXPECT_GT(large_sale.bytes, sale.bytes * 20);
  for (int i = 0; i < 50; ++i)
    engine_.ClaimCoupon({0}, Campaign("small"), User(i), {}, Seconds(100));
  EXPECT_EQ(engine_.Footprint(Campaign("small"))->bytes, small.bytes);
  EXPECT_FALSE(engine_.Footprint(Campaign("nope")));
  // A creation that names no stock_max is sized for a top-up of kTopUpHeadroom units.
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("roomy", 100), Seconds(0)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine_.Footprint(Campaign("roomy"))->users_max, 100u + EngineOptions::kTopUpHeadroom);
  EXPECT_EQ(engine_.Books(Campaign("roomy"))->stock_max, 100u + EngineOptions::kTopUpHeadroom);
}

TEST_F(CampaignTest, RefusedCreationLeavesNoCampaign) {
  sink_.set_refuse(true);
  EXPECT_EQ(engine_.CreateCampaign(CouponSpec("c", 10), Seconds(0)).outcome,
            Outcome::kLogUnavailable);
  sink_.set_refuse(false);
  EXPECT_EQ(engine_.GetCampaign(Campaign("c"), Seconds(0)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine_.CreateCampaign(CouponSpec("c", 10), Seconds(0)).outcome, Outcome::kCreated);
}

TEST_F(CampaignTest, RevertedCreationWithdrawsTheCampaign) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 10), Seconds(0)).outcome, Outcome::kCreated);
  engine_.Revert(sink_.events()[0]);
  EXPECT_EQ(engine_.GetCampaign(Campaign("c"), Seconds(0)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kNotFound);
  EXPECT_TRUE(engine_.ListCampaigns(Seconds(0)).empty());
}

}  // namespace
}  // namespace hotdeal::engine
