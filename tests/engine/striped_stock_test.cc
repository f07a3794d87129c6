// StripedStock on its own: refill, stealing, all-or-nothing multi-unit takes, the sold-out
// flag, and (with threads) exactness: no take ever fails while enough units exist.
#include "striped_stock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace hotdeal::engine::detail {
namespace {

TEST(StripedStockTest, TakesExactlyTheStockAcrossWorkers) {
  StripedStock stock(10, 3);
  int taken = 0;
  for (int i = 0; i < 20; ++i)
    taken += stock.Take(static_cast<std::uint32_t>(i % 3), 1);
  EXPECT_EQ(taken, 10);
  EXPECT_EQ(stock.Free(), 0u);
  EXPECT_TRUE(stock.SoldOut());
}

TEST(StripedStockTest, StealsFromOtherStripes) {
  StripedStock stock(1000, 2);
  ASSERT_TRUE(stock.Take(0, 1));  // worker 0 refills a batch from the pool
  std::uint32_t left = stock.Free();
  for (std::uint32_t i = 0; i < left; ++i)
    ASSERT_TRUE(stock.Take(1, 1)) << i;
  EXPECT_FALSE(stock.Take(1, 1));
  EXPECT_FALSE(stock.Take(0, 1));
}

TEST(StripedStockTest, MultiUnitTakeIsAllOrNothing) {
  StripedStock stock(5, 2);
  ASSERT_TRUE(stock.Take(0, 3));
  EXPECT_FALSE(stock.Take(1, 3));
  EXPECT_FALSE(stock.SoldOut());  // two remain: not sold out
  EXPECT_EQ(stock.Free(), 2u);
  EXPECT_TRUE(stock.Take(1, 2));
  EXPECT_FALSE(stock.Take(1, 1));
  EXPECT_TRUE(stock.SoldOut());
}

TEST(StripedStockTest, ReturnClearsSoldOutAtOnce) {
  StripedStock stock(2, 2);
  ASSERT_TRUE(stock.Take(0, 2));
  ASSERT_FALSE(stock.Take(1, 1));
  ASSERT_TRUE(stock.SoldOut());
  stock.Give(0, 1);
  EXPECT_FALSE(stock.SoldOut());
  EXPECT_TRUE(stock.Take(1, 1));
  EXPECT_FALSE(stock.Take(1, 1));
}

// Each thread takes exactly its share of a stock that holds every share: a single false
// would be a "sold out" answered while units were free (in another stripe or in flight).
TEST(StripedStockConcurrencyTest, NeverFailsWhileUnitsAreFree) {
  constexpr std::uint32_t kThreads = 4;
  constexpr std::uint32_t kShare = 3000;
  for (int round = 0; round < 5; ++round) {
    StripedStock stock(kThreads * kShare, kThreads);
    std::vector<std::thread> threads;
    std::atomic<std::uint32_t> failures{0};
    for (std::uint32_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&stock, &failures, t] {
        std::uint32_t held = 0;
        std::uint32_t step = 0;
        while (held < kShare) {
          // Take 1..3 units, and now and then give one back to stir the stripes.
          std::uint32_t quantity = 1 + (step++ % 3);
          if (quantity > kShare - held) quantity = kShare - held;
          if (!stock.Take(t, quantity)) {
            failures.fetch_add(1);
            return;
          }
          held += quantity;
          if (step % 7 == 0) {
            stock.Give(t, 1);
            --held;
          }
        }
      });
    }
    for (std::thread& thread : threads)
      thread.join();
    EXPECT_EQ(failures.load(), 0u);
    EXPECT_EQ(stock.Free(), 0u);
    EXPECT_FALSE(stock.Take(0, 1));
  }
}

}  // namespace
}  // namespace hotdeal::engine::detail
