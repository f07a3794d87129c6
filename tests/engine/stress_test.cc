// Concurrency stress: 4 worker threads hammer one hot coupon campaign and several sale
// campaigns with claims, duplicates, keyed retries, orders, confirms, cancels and expiries.
// Afterwards the books must close exactly, no user is over the limit, no id or code repeats,
// and replaying the log yields the same state. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kWorkers = 4;

TEST(StressTest, HotCouponCampaignNeverOversellsOrDoubleGrants) {
  constexpr std::uint32_t kStock = 15000;
  constexpr int kUsers = 25000;
  RecordingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("hot", kStock), Seconds(0)).outcome,
            Outcome::kCreated);
  std::vector<std::thread> threads;
  std::array<std::map<Outcome, int>, kWorkers> outcomes;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(w + 1);
      // Every thread walks all users from a different start: each user is tried by every
      // thread, so duplicates race each other and the last units.
      for (int i = 0; i < kUsers; ++i) {
        int user = (i + static_cast<int>(w) * 6011) % kUsers;
        std::optional<IdempotencyKey> key;
        if (random() % 4 == 0) key = Key("retry");
        Decision<Claim> made =
            engine.ClaimCoupon({w}, Campaign("hot"), User(user), key, Seconds(100 + i / 1000));
        ++outcomes[w][made.outcome];
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  int granted = 0;
  for (const auto& per_worker : outcomes) {
    auto it = per_worker.find(Outcome::kCreated);
    if (it != per_worker.end()) granted += it->second;
  }
  std::uint32_t remaining = engine.GetCampaign(Campaign("hot"), Seconds(200)).value->remaining;
  EXPECT_EQ(static_cast<std::uint32_t>(granted), kStock - remaining);
  EXPECT_EQ(remaining, 0u);  // 25000 distinct users want 15000 units: all must go
  std::set<std::uint64_t> ids;
  std::set<std::string> codes;
  int holders = 0;
  for (int user = 0; user < kUsers; ++user) {
    Decision<Claim> claim = engine.GetClaim(Campaign("hot"), User(user));
    if (claim.outcome != Outcome::kOk) continue;
    ++holders;
    ids.insert(claim.value->id.value);
    codes.insert(std::string(claim.value->coupon_code.view()));
  }
  EXPECT_EQ(holders, granted);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(granted));
  EXPECT_EQ(codes.size(), static_cast<std::size_t>(granted));
  std::size_t grant_events = 0;
  for (const Event& event : sink.events())
    grant_events += event.type == EventType::kClaimGranted;
  EXPECT_EQ(grant_events, static_cast<std::size_t>(granted));
  EngineStats stats = engine.Stats();
  EXPECT_EQ(stats.count(Operation::kClaim, Outcome::kCreated), static_cast<std::uint64_t>(granted));
}

struct SaleBooks {
  std::uint32_t held = 0;  // reserved (not yet expired) + confirmed
  std::map<std::string, std::uint32_t> per_user;
};

TEST(StressTest, SaleCampaignsBooksCloseUnderOrdersCancelsAndExpiries) {
  constexpr int kCampaigns = 3;
  constexpr int kSteps = 15000;
  RecordingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  std::vector<CampaignSpec> specs;
  for (int c = 0; c < kCampaigns; ++c) {
    specs.push_back(SaleSpec(Numbered("sale-", c), 4000, 3, 2 + c));
    ASSERT_EQ(engine.CreateCampaign(specs.back(), Seconds(0)).outcome, Outcome::kCreated);
  }
  std::vector<std::thread> threads;
  std::array<std::vector<Order>, kWorkers> placed;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(100 + w);
      std::vector<Order>& mine = placed[w];
      TimePoint now = Seconds(100);
      for (int step = 0; step < kSteps; ++step) {
        now += std::chrono::milliseconds(random() % 5);
        const CampaignSpec& spec = specs[random() % kCampaigns];
        UserId user = User(static_cast<int>(random() % 3000));
        switch (random() % 8) {
          case 0:
          case 1:
          case 2: {
            std::optional<IdempotencyKey> key;
            if (random() % 5 == 0) key = Key(Numbered("k", random() % 3));
            Decision<Order> made = engine.PlaceOrder(
                {w}, spec.id, user, 1 + static_cast<std::int64_t>(random() % 3), key, now);
            if (made.outcome == Outcome::kCreated) mine.push_back(*made.value);
            break;
          }
          case 3:
          case 4:
            // Any worker may move any order: cross-thread cancels and confirms race expiry.
            if (!placed[w].empty()) {
              const Order& order = mine[random() % mine.size()];
              if (random() % 2) {
                engine.ConfirmOrder({w}, order.id, order.user, now);
              } else {
                engine.CancelOrder({w}, order.id, order.user, now);
              }
            }
            break;
          case 5:
            engine.ExpireDue({w}, now);
            break;
          default:
            engine.GetCampaign(spec.id, now);
            break;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  // The books: stock - remaining == units held by orders still reserved or confirmed.
  TimePoint end = Seconds(100);
  std::map<std::string, SaleBooks> books;
  std::set<std::uint64_t> order_ids;
  for (const auto& mine : placed) {
    for (const Order& order : mine) {
      EXPECT_TRUE(order_ids.insert(order.id.value).second);
      Decision<Order> now_is = engine.GetOrder(order.id, Seconds(0));
      ASSERT_EQ(now_is.outcome, Outcome::kOk);
      OrderStatus status = now_is.value->status;
      if (status == OrderStatus::kReserved || status == OrderStatus::kConfirmed) {
        SaleBooks& b = books[std::string(order.campaign.view())];
        b.held += order.quantity;
        b.per_user[std::string(order.user.view())] += order.quantity;
      }
      if (order.expires_at > end) end = order.expires_at;
    }
  }
  for (const CampaignSpec& spec : specs) {
    SaleBooks& b = books[std::string(spec.id.view())];
    EXPECT_EQ(spec.stock - engine.GetCampaign(spec.id, Seconds(0)).value->remaining, b.held);
    for (const auto& [user, units] : b.per_user)
      EXPECT_LE(units, spec.per_user_limit) << user;
  }
  // The log replays to the same state (Apply asserts no oversell and no user over limit).
  // Every order id is reserved exactly once in the log.
  std::set<std::uint64_t> reserved_ids;
  for (const Event& event : sink.events()) {
    if (event.type != EventType::kOrderReserved) continue;
    ASSERT_TRUE(reserved_ids.insert(event.order_id.value).second) << event.order_id.value;
  }
  EXPECT_EQ(reserved_ids, order_ids);
  Engine recovered(SmallOptions(kWorkers), sink);
  for (const Event& event : sink.events())
    recovered.Apply(event);
  for (const CampaignSpec& spec : specs) {
    EXPECT_EQ(recovered.GetCampaign(spec.id, Seconds(0)).value->remaining,
              engine.GetCampaign(spec.id, Seconds(0)).value->remaining);
  }
  // After every hold has run out, only confirmed orders keep units.
  for (std::uint32_t w = 0; w < kWorkers; ++w)
    engine.ExpireDue({w}, end);
  for (const CampaignSpec& spec : specs) {
    std::uint32_t confirmed = 0;
    for (const auto& mine : placed) {
      for (const Order& order : mine) {
        if (order.campaign == spec.id &&
            engine.GetOrder(order.id, end).value->status == OrderStatus::kConfirmed) {
          confirmed += order.quantity;
        }
      }
    }
    EXPECT_EQ(spec.stock - engine.GetCampaign(spec.id, end).value->remaining, confirmed);
  }
}

}  // namespace
}  // namespace hotdeal::engine
