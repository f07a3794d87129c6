// The coupon ledger with real threads, in one bucket (every user shares its lock and records):
// - one new user begun by every thread at once, round after round: exactly one thread holds the
//   pending mark at a time, the others wait for its outcome: after a commit they are answered
//   that claim, after an abort one of them begins afresh. One claim per user, always.
// - hot users granted and dropped again and again while readers read them: a read is never
//   another user's claim, nor a mix of two (a claim's fields all derive from one number).
// At the end every record is free again. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "coupon_ledger.h"
#include "hotdeal/base/check.h"
#include "race_rounds.h"
#include "test_support.h"

namespace hotdeal::engine::detail {
namespace {
using testing::Numbered;
using testing::RaceRounds;
using Begun = CouponLedger::Begun;

constexpr std::array<std::uint64_t, 2> kSecret{0x5EED, 0xC0FFEE};
constexpr std::uint32_t kThreads = 4;
// Stock 16 with 4 workers: one bucket.
constexpr std::uint32_t kStock = 16;

UserId User(std::string_view prefix, long long n) {
  return *UserId::Parse(Numbered(prefix, n));
}

// A claim whose every field derives from `serial`, so a torn read shows.
ClaimRecord ClaimFrom(std::uint64_t serial) {
  ClaimRecord claim;
  claim.id.value = serial;
  for (std::size_t i = 0; i < CouponCode::kSecretSize; ++i)
    claim.code.text[i] = static_cast<char>('A' + (serial + i) % 26);
  claim.code.size = CouponCode::kSecretSize;  // the ledger keeps a code's secret part
  claim.created_at = TimePoint(std::chrono::microseconds(serial * 3));
  return claim;
}
bool Whole(const ClaimRecord& claim) {
  ClaimRecord expected = ClaimFrom(claim.id.value);
  return claim.code == expected.code && claim.created_at == expected.created_at;
}

// The bucket holds nothing: exactly kWays new users fit.
void ExpectEmpty(CouponLedger& ledger) {
  CouponLedger::Pending pending;
  ClaimRecord existing;
  CouponHold held = CouponHold::kNone;
  for (long long n = 0; n < CouponLedger::kWays; ++n) {
    ASSERT_EQ(ledger.Begin(User("empty-", n), pending, existing, held), Begun::kPending) << n;
  }
  EXPECT_EQ(ledger.Begin(User("empty-", -1), pending, existing, held), Begun::kFull);
}

TEST(CouponLedgerRaceTest, SameNewUserFromEveryThreadAtOnceGetsOneClaim) {
  constexpr long long kRounds = 2'000;
  CouponLedger ledger(kStock, kThreads, kSecret, 0x5EED);
  // Per round and thread: the claim id it granted (0 if none) and the one it was answered.
  std::array<std::array<std::uint64_t, kThreads>, 2> granted{};
  std::array<std::array<std::uint64_t, kThreads>, 2> answered{};
  RaceRounds(
      kThreads, kRounds,
      [&](std::uint32_t t, long long r) {
        granted[r % 2][t] = 0;
        answered[r % 2][t] = 0;
        // Thread 0 gives up its first pending mark each round (the stock ran out under it): the
        // waiters must not take its place as a claim, but one of them may begin afresh.
        for (bool gave_up = false;;) {
          CouponLedger::Pending pending;
          ClaimRecord existing;
          CouponHold held = CouponHold::kNone;
          Begun begun = ledger.Begin(User("same-", r), pending, existing, held);
          if (begun == Begun::kHeld) {
            answered[r % 2][t] = Whole(existing) ? existing.id.value : ~std::uint64_t{0};
            return;
          }
          if (begun != Begun::kPending) return;  // kFull: left at 0, failing the round
          if (t == 0 && !gave_up) {
            gave_up = true;
            ledger.Abort(pending);
            continue;
          }
          std::uint64_t serial = static_cast<std::uint64_t>(r) * kThreads + t;
          ledger.Commit(pending, ClaimFrom(serial), CouponHold::kClaimed);
          granted[r % 2][t] = serial;
          return;
        }
      },
      [&](long long r) {
        std::uint64_t claim = 0;
        std::uint32_t grants = 0;
        for (std::uint64_t serial : granted[r % 2]) {
          if (serial == 0) continue;
          claim = serial;
          ++grants;
        }
        ASSERT_EQ(grants, 1u) << "round " << r;
        for (std::uint32_t t = 0; t < kThreads; ++t) {
          if (granted[r % 2][t] != 0) continue;
          ASSERT_EQ(answered[r % 2][t], claim) << "round " << r;
        }
        CouponHold state = CouponHold::kNone;
        std::optional<ClaimRecord> read = ledger.Read(User("same-", r), &state);
        ASSERT_TRUE(read.has_value()) << "round " << r;
        ASSERT_EQ(read->id.value, claim);
        // Frees the one record: were there two, the bucket would fill up over the rounds.
        ASSERT_EQ(ledger.Drop(User("same-", r), read->id), CouponHold::kClaimed);
      });
  ExpectEmpty(ledger);
}

TEST(CouponLedgerRaceTest, ClaimsDroppedAndGrantedAgainAreNeverReadTornOrAsAnotherUsers) {
  constexpr long long kHotUsers = 8;
  constexpr long long kSteps = 20'000;
  CouponLedger ledger(kStock, kThreads, kSecret, 0x5EED);
  std::atomic<int> torn{0};
  std::atomic<int> foreign{0};
  std::atomic<int> full{0};
  // Writers: thread t owns hot users t, t + 2, ...: grants one, drops it, grants the next serial.
  // A claim's serial carries its user in the low bits, so a reader can tell whose it is.
  auto writer = [&](long long t) {
    for (long long step = 0; step < kSteps; ++step) {
      long long user = t + 2 * (step % (kHotUsers / 2));
      auto serial = static_cast<std::uint64_t>(step + 1) << 8 | static_cast<std::uint64_t>(user);
      CouponLedger::Pending pending;
      ClaimRecord existing;
      CouponHold held = CouponHold::kNone;
      if (ledger.Begin(User("hot-", user), pending, existing, held) != Begun::kPending) {
        full.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      ledger.Commit(pending, ClaimFrom(serial), CouponHold::kUnacked);
      ledger.Move(User("hot-", user), ClaimId{serial, 0}, CouponHold::kUnacked,
                  CouponHold::kClaimed);
      if (ledger.Drop(User("hot-", user), ClaimId{serial, 0}) != CouponHold::kClaimed) {
        foreign.fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  auto reader = [&] {
    for (long long step = 0; step < kSteps; ++step) {
      long long user = step % kHotUsers;
      std::optional<ClaimRecord> claim = ledger.Read(User("hot-", user));
      if (!claim) continue;
      if (!Whole(*claim)) torn.fetch_add(1, std::memory_order_relaxed);
      if ((claim->id.value & 0xFF) != static_cast<std::uint64_t>(user)) {
        foreign.fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(writer, 0);
  threads.emplace_back(writer, 1);
  threads.emplace_back(reader);
  threads.emplace_back(reader);
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(foreign.load(), 0);
  EXPECT_EQ(full.load(), 0);
  ExpectEmpty(ledger);
}

}  // namespace
}  // namespace hotdeal::engine::detail
