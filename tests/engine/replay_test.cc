// Recovery: random decisions are captured by a recording sink and applied, in log order, to a
// fresh engine; every campaign, claim and order must come back the same, and ids made after
// recovery must not repeat ids made before.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

void ExpectSameCampaign(const CampaignView& a, const CampaignView& b) {
  EXPECT_EQ(a.spec.id, b.spec.id);
  EXPECT_EQ(a.spec.kind, b.spec.kind);
  EXPECT_EQ(a.spec.stock, b.spec.stock);
  EXPECT_EQ(a.spec.per_user_limit, b.spec.per_user_limit);
  EXPECT_EQ(a.spec.name, b.spec.name);
  EXPECT_EQ(a.remaining, b.remaining);
  EXPECT_EQ(a.status, b.status);
}

void ExpectSameOrder(const Decision<Order>& a, const Decision<Order>& b) {
  ASSERT_EQ(a.outcome, b.outcome);
  if (!a.value) return;
  EXPECT_EQ(a.value->id, b.value->id);
  EXPECT_EQ(a.value->user, b.value->user);
  EXPECT_EQ(a.value->quantity, b.value->quantity);
  EXPECT_EQ(a.value->amount, b.value->amount);
  EXPECT_EQ(a.value->status, b.value->status);
  EXPECT_EQ(a.value->created_at, b.value->created_at);
  EXPECT_EQ(a.value->expires_at, b.value->expires_at);
}

void RunSeed(std::uint32_t seed) {
  SCOPED_TRACE(Numbered("seed ", seed));
  std::mt19937 random(seed);
  auto pick = [&random](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  RecordingSink sink;
  Engine live(SmallOptions(3), sink);
  std::vector<CampaignId> ids;
  for (int i = 0; i < 4; ++i) {
    CampaignSpec spec = i % 2 ? SaleSpec(Numbered("sale-", i), 30, 4, 10 + 10 * i)
                              : CouponSpec(Numbered("coupon-", i), 25);
    ASSERT_EQ(live.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kCreated);
    ids.push_back(spec.id);
  }
  std::vector<OrderId> orders;
  std::set<std::uint64_t> claim_ids;
  TimePoint now = Seconds(100);
  for (int step = 0; step < 600; ++step) {
    auto worker = WorkerId{static_cast<std::uint32_t>(pick(3))};
    const CampaignId& id = ids[static_cast<std::size_t>(pick(4))];
    UserId user = User(pick(40));
    switch (pick(6)) {
      case 0:
      case 1:
        if (auto made = live.ClaimCoupon(worker, id, user, {}, now); made.value) {
          claim_ids.insert(made.value->id.value);
        }
        break;
      case 2:
        if (auto made = live.PlaceOrder(worker, id, user, 1 + pick(3), {}, now); made.value) {
          orders.push_back(made.value->id);
        }
        break;
      case 3:
        if (!orders.empty()) {
          OrderId order = orders[static_cast<std::size_t>(pick(static_cast<int>(orders.size())))];
          UserId owner = live.GetOrder(order, now).value->user;
          if (pick(2)) {
            live.ConfirmOrder(worker, order, owner, now);
          } else {
            live.CancelOrder(worker, order, owner, now);
          }
        }
        break;
      case 4:
        live.ExpireDue(worker, now);
        break;
      default:
        now += std::chrono::milliseconds(pick(5000));
        break;
    }
  }
  if (pick(2)) live.CloseCampaign(ids[0], now);

  RecordingSink replay_sink;
  Engine recovered(SmallOptions(3), replay_sink);
  for (const Event& event : sink.events())
    recovered.Apply(event);
  EXPECT_EQ(replay_sink.size(), 0u);  // replay decides nothing new

  std::vector<CampaignView> a = live.ListCampaigns(now);
  std::vector<CampaignView> b = recovered.ListCampaigns(now);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ExpectSameCampaign(a[i], b[i]);
  for (const CampaignId& id : ids) {
    for (int u = 0; u < 40; ++u) {
      Decision<Claim> x = live.GetClaim(id, User(u));
      Decision<Claim> y = recovered.GetClaim(id, User(u));
      ASSERT_EQ(x.outcome, y.outcome);
      if (x.value) {
        EXPECT_EQ(x.value->id, y.value->id);
        EXPECT_EQ(x.value->coupon_code, y.value->coupon_code);
        EXPECT_EQ(x.value->created_at, y.value->created_at);
      }
    }
  }
  for (OrderId order : orders)
    ExpectSameOrder(live.GetOrder(order, now), recovered.GetOrder(order, now));
  // Reservations keep their expires_at: both engines expire the same orders later.
  TimePoint later = now + std::chrono::seconds(100);
  std::size_t expired_live = 0;
  std::size_t expired_recovered = 0;
  for (std::uint32_t w = 0; w < 3; ++w) {
    expired_live += live.ExpireDue({w}, later);
    expired_recovered += recovered.ExpireDue({w}, later);
  }
  EXPECT_EQ(expired_live, expired_recovered);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(live.GetCampaign(ids[i], later).value->remaining,
              recovered.GetCampaign(ids[i], later).value->remaining);
  }
  // New ids after recovery never repeat old ones.
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (const CampaignId& id : ids) {
      if (auto made = recovered.ClaimCoupon({w}, id, User(1000 + static_cast<int>(w)), {}, later);
          made.value) {
        EXPECT_FALSE(claim_ids.count(made.value->id.value));
      }
      if (auto made = recovered.PlaceOrder({w}, id, User(1000 + static_cast<int>(w)), 1, {}, later);
          made.value) {
        EXPECT_EQ(std::find(orders.begin(), orders.end(), made.value->id), orders.end());
      }
    }
  }
}

TEST(ReplayTest, ApplyRebuildsExactState) {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    RunSeed(seed);
    if (::testing::Test::HasFailure()) return;
  }
}

// A client that sent a key before a crash and retries with it after the restart hears the
// original answer: Apply remembers the keys the logged grants and reservations carried.
TEST(ReplayTest, IdempotencyKeysSurviveReplay) {
  RecordingSink sink;
  Engine live(SmallOptions(2), sink);
  ASSERT_EQ(live.CreateCampaign(CouponSpec("c", 5), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 5, 3), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Claim> claim = live.ClaimCoupon({0}, Campaign("c"), User(1), Key("k1"), Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  Decision<Order> order = live.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k2"), Seconds(100));
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  live.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(100));
  std::vector<Event> events = sink.events();
  ASSERT_TRUE(events[2].idempotency_key);
  EXPECT_EQ(*events[2].idempotency_key, Key("k1"));
  EXPECT_FALSE(events[4].idempotency_key);  // no key sent, none logged

  Engine recovered(SmallOptions(2), sink);
  for (const Event& event : events)
    recovered.Apply(event);
  Decision<Claim> claim_again =
      recovered.ClaimCoupon({1}, Campaign("c"), User(1), Key("k1"), Seconds(200));
  ASSERT_EQ(claim_again.outcome, Outcome::kReplayed);
  EXPECT_EQ(claim_again.value->id, claim.value->id);
  EXPECT_EQ(claim_again.value->coupon_code, claim.value->coupon_code);
  Decision<Order> order_again =
      recovered.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k2"), Seconds(200));
  ASSERT_EQ(order_again.outcome, Outcome::kReplayed);
  EXPECT_EQ(order_again.value->id, order.value->id);
  EXPECT_EQ(order_again.value->expires_at, order.value->expires_at);
  // The replays took nothing, and a key is scoped to its user: another user's k1 is new.
  EXPECT_EQ(recovered.Books(Campaign("s"))->remaining, 3u);
  EXPECT_EQ(recovered.Books(Campaign("c"))->remaining, 3u);
  EXPECT_EQ(recovered.ClaimCoupon({1}, Campaign("c"), User(3), Key("k1"), Seconds(200)).outcome,
            Outcome::kCreated);
}

}  // namespace
}  // namespace hotdeal::engine
