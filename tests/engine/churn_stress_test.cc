// Concurrency stress of slot reuse (invariant 9): worker threads churn a small sale through
// many times its stock in orders — reserve, cancel on another thread, let holds expire, read and
// move stale ids of orders that ended and whose slots were reused — while every thread also
// expires its wheel. Afterwards the books close, every unit is back, a stale id never found
// another order, and the last unit still sells. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kWorkers = 4;
constexpr std::uint32_t kStock = 8;
constexpr int kRoundsPerWorker = 20'000;  // 10 000 times the stock in orders

TEST(ChurnStressTest, SlotsAreReusedUnderThreadsAndStaleIdsFindNothing) {
  RecordingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", kStock, 2, 2), Seconds(0)).outcome,
            Outcome::kCreated);
  // Ids placed by each worker, shared so that other threads cancel and probe them.
  std::array<std::atomic<std::uint64_t>, 64> recent{};
  std::atomic<int> stale_hits{0};
  std::atomic<int> over_capacity{0};
  std::vector<std::thread> threads;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(w + 7);
      for (int round = 0; round < kRoundsPerWorker; ++round) {
        // Time moves forward per thread, a second every 500 rounds: holds of 2 s expire.
        TimePoint now = Seconds(100 + round / 500);
        int user = static_cast<int>(random() % 6);
        Decision<Order> placed =
            engine.PlaceOrder({w}, Campaign("s"), User(user), 1 + random() % 2, {}, now);
        if (placed.outcome == Outcome::kOverCapacity) over_capacity.fetch_add(1);
        if (placed.outcome == Outcome::kCreated) {
          ASSERT_EQ(placed.value->user, User(user));
          recent[random() % recent.size()].store(placed.value->id.value);
        }
        // Another order, perhaps another thread's and ended long ago: it reads as its own order
        // or as nothing, never as the order that reused its slot.
        OrderId other{recent[random() % recent.size()].load()};
        if (other.value == 0) continue;
        Decision<Order> read = engine.GetOrder(other, now);
        if (read.value && read.value->id != other) stale_hits.fetch_add(1);
        if (read.value && random() % 2 == 0) {
          Decision<Order> cancelled = engine.CancelOrder({w}, other, read.value->user, now);
          if (cancelled.value && cancelled.value->id != other) stale_hits.fetch_add(1);
        }
        engine.ExpireDue({w}, now);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(stale_hits.load(), 0);
  EXPECT_EQ(over_capacity.load(), 0);
  // Long after every hold: every wheel expires what is left.
  for (std::uint32_t w = 0; w < kWorkers; ++w)
    engine.ExpireDue({w}, Seconds(1000));
  CampaignBooks books = *engine.Books(Campaign("s"));
  EXPECT_EQ(books.remaining, kStock);
  EXPECT_EQ(books.held, 0);
  EXPECT_EQ(books.confirmed, 0);
  // The campaign still sells every unit.
  for (int user = 0; user < static_cast<int>(kStock) / 2; ++user) {
    EXPECT_EQ(engine.PlaceOrder({0}, Campaign("s"), User(100 + user), 2, {}, Seconds(1000)).outcome,
              Outcome::kCreated);
  }
  EXPECT_EQ(engine.PlaceOrder({1}, Campaign("s"), User(200), 1, {}, Seconds(1000)).outcome,
            Outcome::kSoldOut);
  // And the log of all that churn replays to the same state.
  RecordingSink replay_sink;
  Engine recovered(SmallOptions(kWorkers), replay_sink);
  ReplayClean(recovered, sink.events());
  EXPECT_EQ(recovered.Books(Campaign("s"))->remaining, 0u);
  EXPECT_EQ(recovered.Books(Campaign("s"))->held, std::int64_t{kStock});
}

// A buyer's cancel racing the service's confirm (API.md, "who may do what"): exactly one wins,
// and the buyer's cancel never ends a confirmed order, which would be a refund nobody paid back.
TEST(ChurnStressTest, ABuyersCancelRacingTheConfirmNeverRefunds) {
  constexpr int kOrders = 2'000;
  RecordingSink sink;
  Engine engine(SmallOptions(2), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 4, 1, 60), Seconds(0)).outcome, Outcome::kCreated);
  int confirmed = 0;
  int cancelled = 0;
  for (int i = 0; i < kOrders; ++i) {
    const UserId user = User(i);
    Decision<Order> placed = engine.PlaceOrder({0}, Campaign("s"), user, 1, {}, Seconds(100));
    ASSERT_EQ(placed.outcome, Outcome::kCreated);
    const OrderId id = placed.value->id;
    Outcome confirm = Outcome::kInvalid;
    Outcome cancel = Outcome::kInvalid;
    std::thread service(
        [&] { confirm = engine.ConfirmOrder({0}, id, user, Seconds(100)).outcome; });
    std::thread buyer([&] {
      cancel = engine.CancelOrder({1}, id, user, Seconds(100), CancelScope::kReservation).outcome;
    });
    service.join();
    buyer.join();
    ASSERT_NE(confirm == Outcome::kOk, cancel == Outcome::kOk) << "order " << i;
    const OrderStatus status = engine.GetOrder(id, Seconds(100)).value->status;
    if (confirm == Outcome::kOk) {
      EXPECT_EQ(status, OrderStatus::kConfirmed) << "order " << i;
      ++confirmed;
      // The shop refunds it, so the stock is back for the next round.
      ASSERT_EQ(engine.CancelOrder({0}, id, user, Seconds(100)).outcome, Outcome::kOk);
    } else {
      EXPECT_EQ(status, OrderStatus::kCancelled) << "order " << i;
      ++cancelled;
    }
  }
  EXPECT_EQ(confirmed + cancelled, kOrders);
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 4u);
}

}  // namespace
}  // namespace hotdeal::engine
