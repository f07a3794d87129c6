// The ledger's insert race with real threads: two workers insert the same new user at once,
// round after round. Each round must end with one record for the user, the winner's cursor one
// record further and the loser's cursor where it was. How often the loser's CAS itself lost
// (rather than finding the winner's slot) depends on scheduling, so it is reported, not
// required; user_ledger_test.cc forces that case. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstdio>
#include <thread>

#include "test_support.h"
#include "user_ledger.h"

namespace hotdeal::engine::detail {
namespace {
using testing::Numbered;

constexpr std::uint32_t kRounds = 20000;

// The ledger's chunks: a quarter of each worker's share of the slots, at most 64 records.
constexpr std::uint32_t kChunkRecords = 64;
static_assert(std::bit_ceil(std::uint64_t{2} * kRounds) / (4 * 2) >= kChunkRecords);
std::uint32_t ChunkStart(std::uint32_t end) {
  return (end - 1) / kChunkRecords * kChunkRecords;
}

UserId User(long long n) {
  return *UserId::Parse(Numbered("race-", n));
}

TEST(UserLedgerRaceTest, SameNewUserFromTwoWorkersEndsWithOneRecordAndTheLoserReusesItsIndex) {
  UserLedger ledger(kRounds, 2, 0x5EED);
  // Index 0 from a third cursor gives the base of the records, to turn pointers into indexes.
  RecordCursor setup;
  const LedgerEntry* base = ledger.FindOrInsert(User(-1), setup);
  ASSERT_NE(base, nullptr);
  std::array<RecordCursor, 2> cursors{};
  std::array<LedgerEntry*, 2> found{};
  std::atomic<std::uint32_t> arrived{0};
  std::atomic<std::uint32_t> round{0};
  auto worker = [&](std::size_t w) {
    for (std::uint32_t r = 1; r <= kRounds; ++r) {
      unsigned spins = 0;
      while (round.load(std::memory_order_acquire) < r)
        SpinWait(spins);
      found[w] = ledger.FindOrInsert(User(r), cursors[w]);
      arrived.fetch_add(1, std::memory_order_acq_rel);
    }
  };
  std::thread first(worker, 0);
  std::thread second(worker, 1);
  // A failed ASSERT returns early: release every round and join, so the threads end cleanly.
  struct Join {
    std::atomic<std::uint32_t>& round;
    std::thread& first;
    std::thread& second;
    ~Join() {
      round.store(kRounds, std::memory_order_release);
      first.join();
      second.join();
    }
  } join{round, first, second};
  int lost_cas = 0;
  for (std::uint32_t r = 1; r <= kRounds; ++r) {
    std::array<RecordCursor, 2> before = cursors;
    round.store(r, std::memory_order_release);
    unsigned spins = 0;
    while (arrived.load(std::memory_order_acquire) < 2 * r)
      SpinWait(spins);
    ASSERT_NE(found[0], nullptr);
    ASSERT_EQ(found[0], found[1]) << "round " << r;
    LedgerEntry* record = ledger.Find(User(r));
    ASSERT_EQ(record, found[0]);
    ASSERT_TRUE(SameId(record->user, User(r)));
    auto index = static_cast<std::uint32_t>(record - base);
    int winners = 0;
    for (std::size_t w = 0; w < 2; ++w) {
      const RecordCursor& now = cursors[w];
      // A loser that took a new chunk stands on its first index, one past the winner's.
      bool won = now.next > 0 && now.next - 1 == index && index >= ChunkStart(now.end);
      winners += won ? 1 : 0;
      if (before[w].next == before[w].end) continue;  // took a new chunk this round
      if (won) {
        // The winner used the index its cursor stood on, which a lost CAS may have written.
        ASSERT_EQ(index, before[w].next) << "round " << r;
      } else {
        // The loser consumed nothing: its next insert reuses this index.
        ASSERT_EQ(now.next, before[w].next) << "round " << r;
        ASSERT_EQ(now.end, before[w].end) << "round " << r;
        if (SameId(base[now.next].user, User(r))) ++lost_cas;
      }
    }
    ASSERT_EQ(winners, 1) << "round " << r;
  }
  RecordProperty("lost_cas_rounds", lost_cas);
  std::printf("rounds where the loser's CAS lost: %d of %u\n", lost_cas, kRounds);
}

}  // namespace
}  // namespace hotdeal::engine::detail
