// The user ledger's probe table alone: a record per user, found again by id; a 32-bit tag that
// matches another user's is not that user; off-plane Find never makes a record.
#include "user_ledger.h"

#include <gtest/gtest.h>

#include <unordered_map>

#include "test_support.h"

namespace hotdeal::engine::detail {
namespace {
using testing::Numbered;

constexpr std::uint64_t kSeed = 0x5EED;

UserId User(long long n) {
  return *UserId::Parse(Numbered("user-", n));
}

TEST(UserLedgerTest, OneRecordPerUserFoundAgainByIdInClaimOrder) {
  UserLedger ledger(100, 1, kSeed);
  RecordCursor cursor;
  LedgerEntry* first = ledger.FindOrInsert(User(0), cursor);
  ASSERT_NE(first, nullptr);
  for (long long n = 1; n < 100; ++n) {
    LedgerEntry* entry = ledger.FindOrInsert(User(n), cursor);
    ASSERT_NE(entry, nullptr);
    // Records are handed out in order from the worker's chunks: the next one each time.
    EXPECT_EQ(entry - first, n);
    EXPECT_TRUE(SameId(entry->user, User(n)));
    EXPECT_EQ(entry->hash, ledger.Hash(User(n)));
  }
  for (long long n = 0; n < 100; ++n) {
    EXPECT_EQ(ledger.Find(User(n)), first + n);
    EXPECT_EQ(ledger.FindOrInsert(User(n), cursor), first + n);
  }
  EXPECT_EQ(ledger.Find(User(100)), nullptr);
  // Find made no record: the next insert takes the next index.
  EXPECT_EQ(ledger.FindOrInsert(User(100), cursor), first + 100);
  std::size_t visited = 0;
  ledger.ForEach([&](const LedgerEntry&) { ++visited; });
  EXPECT_EQ(visited, 101u);
}

// Two users whose hashes agree in the tag (high 32 bits) and in the probe position bits of a
// 16-slot ledger (low 4 bits), found by a birthday search over ids with the fixed seed.
std::pair<UserId, UserId> TagCollision() {
  std::unordered_map<std::uint64_t, long long> seen;
  for (long long n = 0;; ++n) {
    std::uint64_t hash = HashId(User(n), kSeed);
    std::uint64_t key = (hash >> 32 << 4) | (hash & 15);
    auto [at, inserted] = seen.emplace(key, n);
    if (!inserted) return {User(at->second), User(n)};
  }
}

TEST(UserLedgerTest, MatchingTagOfAnotherUserIsNotFound) {
  auto [first, second] = TagCollision();
  UserLedger ledger(1, 1, kSeed);  // 16 slots: both users start at the same slot
  ASSERT_EQ(ledger.Hash(first) >> 32, ledger.Hash(second) >> 32);
  ASSERT_EQ(ledger.Hash(first) & 15, ledger.Hash(second) & 15);
  ASSERT_FALSE(SameId(first, second));
  RecordCursor cursor;
  LedgerEntry* first_entry = ledger.FindOrInsert(first, cursor);
  ASSERT_NE(first_entry, nullptr);
  EXPECT_EQ(ledger.Find(second), nullptr);
  LedgerEntry* second_entry = ledger.FindOrInsert(second, cursor);
  ASSERT_NE(second_entry, nullptr);
  EXPECT_NE(second_entry, first_entry);
  EXPECT_TRUE(SameId(second_entry->user, second));
  EXPECT_EQ(ledger.Find(first), first_entry);
  EXPECT_EQ(ledger.Find(second), second_entry);
}

// The insert race, step by step: worker 1 publishes the same new user between worker 0's
// record write and its CAS. Worker 0 must answer worker 1's record, and its cursor must stay
// on the record it wrote, so that its next new user gets that index.
TEST(UserLedgerTest, LostPublishingRaceAnswersTheWinnerAndReusesTheLosersIndex) {
  UserLedger ledger(1000, 2, kSeed);
  RecordCursor setup;
  const LedgerEntry* base = ledger.FindOrInsert(User(-1), setup);  // index 0
  ASSERT_NE(base, nullptr);
  RecordCursor loser;
  RecordCursor winner;
  LedgerEntry* won = nullptr;
  LedgerEntry* answered =
      ledger.TEST_FindOrInsert(User(1), loser, [&] { won = ledger.FindOrInsert(User(1), winner); });
  ASSERT_NE(won, nullptr);
  EXPECT_EQ(answered, won);
  EXPECT_EQ(ledger.Find(User(1)), won);
  EXPECT_EQ(winner.next, static_cast<std::uint32_t>(won - base) + 1);
  // The loser wrote its record, which nobody can reach, and did not move past it.
  ASSERT_LT(loser.next, loser.end);
  EXPECT_TRUE(SameId(base[loser.next].user, User(1)));
  std::uint32_t lost_index = loser.next;
  LedgerEntry* next = ledger.FindOrInsert(User(2), loser);
  EXPECT_EQ(next, base + lost_index);
  EXPECT_TRUE(SameId(next->user, User(2)));
  EXPECT_EQ(ledger.Find(User(1)), won);
  std::size_t visited = 0;
  ledger.ForEach([&](const LedgerEntry&) { ++visited; });
  EXPECT_EQ(visited, 3u);
}

TEST(UserLedgerTest, FullProbeTableIsNullNotGrowth) {
  UserLedger ledger(1, 1, kSeed);  // 16 slots
  RecordCursor cursor;
  for (long long n = 0; n < 16; ++n)
    ASSERT_NE(ledger.FindOrInsert(User(n), cursor), nullptr) << n;
  EXPECT_EQ(ledger.FindOrInsert(User(16), cursor), nullptr);
  EXPECT_EQ(ledger.Find(User(16)), nullptr);
  EXPECT_NE(ledger.Find(User(15)), nullptr);
}

TEST(UserLedgerTest, FootprintCountsSlotsAndRecordsWithTheirHoles) {
  // 65 536 users: 131 072 slots of 8 bytes (1 MiB), as many records plus 2 chunks of 64.
  EXPECT_EQ(UserLedger::BytesFor(65536, 2),
            131072 * sizeof(std::uint64_t) + (131072 + 2 * 64) * sizeof(LedgerEntry));
}

}  // namespace
}  // namespace hotdeal::engine::detail
