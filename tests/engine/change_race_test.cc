// An admin topping up and taking back stock while claimers race for it, with real threads: no
// claim is granted past the stock in play, a take-back never takes a granted unit, the books
// close after every round, and the log replays to the live state. Run under ThreadSanitizer by
// scripts/test.
#include <gtest/gtest.h>

#include <atomic>

#include "race_rounds.h"
#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kClaimers = 2;
constexpr long long kRounds = 1500;

TEST(ChangeRaceTest, TopUpsAndTakeBacksRacingClaimsNeverOversell) {
  RecordingSink sink;
  Engine engine(SmallOptions(kClaimers), sink);
  CampaignSpec spec = CouponSpec("c", 1);
  spec.stock_max = 4 * kRounds;
  ASSERT_EQ(engine.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kCreated);
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
  std::atomic<int> taken_back{0};
  // Thread kClaimers is the admin: a top-up of 3 on odd rounds, a take-back of 1 on even ones.
  RaceRounds(
      kClaimers + 1, kRounds,
      [&](std::uint32_t t, long long round) {
        if (t == kClaimers) {
          CampaignChange change;
          change.stock_add = round % 2 == 1 ? 3 : -1;
          Outcome outcome = engine.ChangeCampaign(Campaign("c"), change, Seconds(100)).outcome;
          if (change.stock_add < 0 && outcome == Outcome::kOk) taken_back.fetch_add(1);
          return;
        }
        const int user = static_cast<int>(round * kClaimers + t);
        Outcome outcome =
            engine.ClaimCoupon({t}, Campaign("c"), User(user), {}, Seconds(100)).outcome;
        (outcome == Outcome::kCreated ? granted : refused).fetch_add(1);
      },
      [&](long long round) {
        CampaignBooks books = *engine.Books(Campaign("c"));
        ASSERT_EQ(books.claimed, granted.load()) << "round " << round;
        ASSERT_EQ(std::int64_t{books.stock} - books.remaining, books.claimed) << "round " << round;
      });
  // Both sides of every race happened often enough to mean something.
  EXPECT_GT(granted.load(), 50);
  EXPECT_GT(refused.load(), 50);
  EXPECT_GT(taken_back.load(), 50);

  RecordingSink replay_sink;
  Engine replayed(SmallOptions(kClaimers), replay_sink);
  ReplayClean(replayed, sink.events());
  CampaignBooks live = *engine.Books(Campaign("c"));
  CampaignBooks again = *replayed.Books(Campaign("c"));
  EXPECT_EQ(again.stock, live.stock);
  EXPECT_EQ(again.remaining, live.remaining);
  EXPECT_EQ(again.claimed, live.claimed);
}

}  // namespace
}  // namespace hotdeal::engine
