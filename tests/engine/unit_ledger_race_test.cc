// The unit ledger with real threads, in one bucket (every user shares its lock and records):
// - a few hot users added and given back by every thread, so their records are freed and
//   filled again while other Adds of them run: no Add is lost (each thread sees at least its own
//   units), the limit holds at every moment, and everything given back ends at 0;
// - each thread's own stream of distinct users beside them: never full, units exact;
// - one new user added by every thread at once, round after round: one record, the limit holds.
// At the end every record is free again. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "hotdeal/base/check.h"
#include "race_rounds.h"
#include "test_support.h"
#include "unit_ledger.h"

namespace hotdeal::engine::detail {
namespace {
using testing::Numbered;
using testing::RaceRounds;
using AddResult = UnitLedger::AddResult;

constexpr std::array<std::uint64_t, 2> kSecret{0x5EED, 0xC0FFEE};
constexpr std::uint32_t kThreads = 4;
// Stock 16 with 4 workers: one bucket.
constexpr std::uint32_t kStock = 16;

UserId User(std::string_view prefix, long long n) {
  return *UserId::Parse(Numbered(prefix, n));
}

// The bucket holds nothing: exactly kWays new users fit.
void ExpectEmpty(UnitLedger& ledger) {
  for (long long n = 0; n < UnitLedger::kWays; ++n) {
    ASSERT_EQ(ledger.Add(User("empty-", n), 1, 1), AddResult::kAdded) << n;
  }
  EXPECT_EQ(ledger.Add(User("empty-", -1), 1, 1), AddResult::kFull);
}

// What a thread saw go wrong; all must stay 0.
struct Faults {
  int over_limit = 0;  // more units held than the limit allows
  int lost = 0;        // a user's units below what this thread alone holds of them
  int full = 0;        // kFull with far fewer live users than records
  int wrong = 0;       // an own user's units not what this thread gave them
};

TEST(UnitLedgerRaceTest, HotUsersFreedAndRefilledUnderConcurrentAddsStayExact) {
  constexpr std::uint32_t kHotUsers = 3;
  constexpr std::uint32_t kLimit = 3;
  constexpr long long kRounds = 20'000;
  // Each thread keeps this many of its own users live: 3 + 4 * 9 live users at most.
  constexpr long long kOwnLive = 8;
  UnitLedger ledger(kStock, kThreads, kSecret);
  ASSERT_EQ(ledger.buckets(), 1u);
  std::array<UserId, kHotUsers> hot{User("hot-", 0), User("hot-", 1), User("hot-", 2)};
  // Units threads hold of each hot user, raised after their Add and lowered before their
  // Remove: never above the ledger's units, so never above the limit.
  std::array<std::atomic<std::uint32_t>, kHotUsers> holding{};
  std::vector<std::vector<UserId>> own(kThreads);
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    for (long long r = 0; r < kRounds; ++r)
      own[t].push_back(User(Numbered("own-", t) + "-", r));
  }
  std::array<Faults, kThreads> faults{};
  auto worker = [&](std::uint32_t t) {
    Faults& fault = faults[t];
    std::array<std::uint32_t, kHotUsers> mine{};
    for (long long r = 0; r < kRounds; ++r) {
      std::uint32_t h = static_cast<std::uint32_t>(r + t) % kHotUsers;
      auto quantity = static_cast<std::uint32_t>(1 + (r + t) % 2);
      switch (ledger.Add(hot[h], quantity, kLimit)) {
        case AddResult::kAdded:
          mine[h] += quantity;
          if (holding[h].fetch_add(quantity, std::memory_order_relaxed) + quantity > kLimit)
            ++fault.over_limit;
          break;
        case AddResult::kOverLimit:
          break;
        case AddResult::kFull:
          ++fault.full;
          break;
      }
      if (ledger.Units(hot[h]) < mine[h]) ++fault.lost;
      // Give back every other round, so the last holder frees the record now and then.
      if (mine[h] != 0 && (r / kHotUsers) % 2 == 1) {
        holding[h].fetch_sub(mine[h], std::memory_order_relaxed);
        ledger.Remove(hot[h], mine[h]);
        mine[h] = 0;
      }
      if (ledger.Add(own[t][r], 1, 1) != AddResult::kAdded) ++fault.full;
      if (ledger.Units(own[t][r]) != 1) ++fault.wrong;
      if (r >= kOwnLive) ledger.Remove(own[t][r - kOwnLive], 1);
    }
    for (std::uint32_t h = 0; h < kHotUsers; ++h) {
      if (mine[h] == 0) continue;
      holding[h].fetch_sub(mine[h], std::memory_order_relaxed);
      ledger.Remove(hot[h], mine[h]);
    }
    for (long long r = kRounds - kOwnLive; r < kRounds; ++r)
      ledger.Remove(own[t][r], 1);
  };
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < kThreads; ++t)
    threads.emplace_back(worker, t);
  for (std::thread& thread : threads)
    thread.join();
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    EXPECT_EQ(faults[t].over_limit, 0) << "thread " << t;
    EXPECT_EQ(faults[t].lost, 0) << "thread " << t;
    EXPECT_EQ(faults[t].full, 0) << "thread " << t;
    EXPECT_EQ(faults[t].wrong, 0) << "thread " << t;
  }
  for (const UserId& user : hot)
    EXPECT_EQ(ledger.Units(user), 0u);
  ExpectEmpty(ledger);
}

TEST(UnitLedgerRaceTest, SameNewUserFromEveryThreadAtOnceGetsOneRecordWithinTheLimit) {
  constexpr long long kRounds = 2'000;
  // One of the threads is always refused.
  constexpr std::uint32_t kLimit = kThreads - 1;
  UnitLedger ledger(kStock, kThreads, kSecret);
  std::array<std::array<AddResult, kThreads>, 2> results{};
  RaceRounds(
      kThreads, kRounds,
      [&](std::uint32_t t, long long r) {
        results[r % 2][t] = ledger.Add(User("same-", r), 1, kLimit);
      },
      [&](long long r) {
        std::uint32_t added = 0;
        for (AddResult result : results[r % 2]) {
          ASSERT_NE(result, AddResult::kFull) << "round " << r;
          added += result == AddResult::kAdded ? 1 : 0;
        }
        ASSERT_EQ(added, kLimit) << "round " << r;
        ASSERT_EQ(ledger.Units(User("same-", r)), kLimit) << "round " << r;
        // Frees the one record: were there two, the bucket would fill up over the rounds.
        ledger.Remove(User("same-", r), kLimit);
      });
  ExpectEmpty(ledger);
}

}  // namespace
}  // namespace hotdeal::engine::detail
