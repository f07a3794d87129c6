// Checkouts racing on one coupon, with real threads: in one round every thread redeems the same
// code on an order of its own, in the next every thread restores it by that order. Exactly one
// redeem wins per round, every loser hears kAlreadyRedeemed, only the winner's restore
// restores, and the log holds one numbered change per win, so replaying it ends where the live
// engine did. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <string>

#include "race_rounds.h"
#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kThreads = 4;
constexpr long long kRounds = 2000;

OrderRef OrderOf(std::uint32_t thread, long long round) {
  return *OrderRef::Parse("o-" + std::to_string(round) + "-" + std::to_string(thread));
}

TEST(CouponUseRaceTest, OfRacingCheckoutsExactlyOneRedeemsAndOnlyItRestores) {
  RecordingSink sink;
  Engine engine(SmallOptions(kThreads), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 4), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Claim> claim = engine.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  const std::string code(claim.value->coupon_code.view());

  // Odd rounds: every thread redeems the coupon on an order of its own. Even rounds: every
  // thread restores it by the order it tried: only the winner's restores.
  std::array<std::atomic<int>, kThreads> answers{};
  std::atomic<int> winner{-1};
  RaceRounds(
      kThreads, kRounds,
      [&](std::uint32_t t, long long round) {
        const WorkerId worker{t};
        const bool redeem = round % 2 == 1;
        const OrderRef order = OrderOf(t, redeem ? round : round - 1);
        Decision<Claim> d = redeem
                                ? engine.RedeemCoupon(worker, code, User(1), order, Seconds(101))
                                : engine.RestoreCoupon(worker, code, User(1), order, Seconds(101));
        answers[t].store(static_cast<int>(d.outcome));
        if (redeem && d.outcome == Outcome::kOk) winner.store(static_cast<int>(t));
      },
      [&](long long round) {
        const bool redeem = round % 2 == 1;
        int wins = 0;
        for (std::uint32_t t = 0; t < kThreads; ++t) {
          const auto outcome = static_cast<Outcome>(answers[t].load());
          if (outcome == Outcome::kOk) {
            ++wins;
            if (!redeem) {
              ASSERT_EQ(static_cast<int>(t), winner.load()) << "round " << round;
            }
          } else {
            ASSERT_EQ(outcome, redeem ? Outcome::kAlreadyRedeemed : Outcome::kConflict)
                << "round " << round;
          }
        }
        ASSERT_EQ(wins, 1) << "round " << round;
      });
  // Each pair of rounds redeemed once and restored once: the coupon is issued again.
  Decision<Claim> now = engine.GetCoupon(code, User(1));
  ASSERT_EQ(now.outcome, Outcome::kOk);
  EXPECT_FALSE(now.value->redeemed);
  CampaignBooks books = *engine.Books(Campaign("c"));
  EXPECT_EQ(books.restored, kRounds / 2);
  EXPECT_EQ(books.redeemed, 0);
  EXPECT_EQ(sink.size(), 2 + static_cast<std::size_t>(kRounds));  // creation, claim, changes

  RecordingSink replay_sink;
  Engine replayed(SmallOptions(kThreads), replay_sink);
  ReplayClean(replayed, sink.events());
  EXPECT_FALSE(replayed.GetCoupon(code, User(1)).value->redeemed);
  EXPECT_EQ(replayed.Books(Campaign("c"))->restored, kRounds / 2);
}

}  // namespace
}  // namespace hotdeal::engine
