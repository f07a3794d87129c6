// The unit ledger alone, on one thread: units against the limit, records freed at 0 and taken
// by later users, a full bucket, churn of many users through a small ledger, and the races of
// an Add between its lock-free lookup and what it does next (unit_ledger.h), forced step by
// step through TEST_Add. unit_ledger_race_test.cc runs the same protocol with real threads.
#include "unit_ledger.h"

#include <gtest/gtest.h>

#include <vector>

#include "test_support.h"

namespace hotdeal::engine::detail {
namespace {
using testing::Numbered;
using AddResult = UnitLedger::AddResult;

constexpr std::array<std::uint64_t, 2> kSecret{0x5EED, 0xC0FFEE};
// A ledger this small (16 + 1 users) is one bucket: exactly kWays users fit, whatever their ids.
constexpr std::uint32_t kSmallStock = 16;

UserId User(long long n) {
  return *UserId::Parse(Numbered("user-", n));
}

// Users 0 .. count-1, one unit each; all must fit.
void AddUsers(UnitLedger& ledger, long long first, long long count) {
  for (long long n = first; n < first + count; ++n) {
    ASSERT_EQ(ledger.Add(User(n), 1, 1), AddResult::kAdded) << n;
  }
}

TEST(UnitLedgerTest, AddsUpToTheLimitAndRemovesDownToNothing) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  UserId user = User(1);
  EXPECT_EQ(ledger.Units(user), 0u);
  EXPECT_EQ(ledger.Add(user, 2, 3), AddResult::kAdded);
  EXPECT_EQ(ledger.Units(user), 2u);
  EXPECT_EQ(ledger.Add(user, 2, 3), AddResult::kOverLimit);
  EXPECT_EQ(ledger.Units(user), 2u);
  EXPECT_EQ(ledger.Add(user, 1, 3), AddResult::kAdded);
  EXPECT_EQ(ledger.Units(user), 3u);
  ledger.Remove(user, 1);
  EXPECT_EQ(ledger.Units(user), 2u);
  ledger.Remove(user, 2);
  EXPECT_EQ(ledger.Units(user), 0u);
  EXPECT_EQ(ledger.Units(User(2)), 0u);
}

TEST(UnitLedgerTest, QuantityOverTheLimitTakesNoRecord) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  ASSERT_EQ(ledger.buckets(), 1u);
  EXPECT_EQ(ledger.Add(User(-1), 4, 3), AddResult::kOverLimit);
  EXPECT_EQ(ledger.Units(User(-1)), 0u);
  // Every record is still free.
  AddUsers(ledger, 0, UnitLedger::kWays);
  EXPECT_EQ(ledger.Add(User(-1), 1, 3), AddResult::kFull);
}

TEST(UnitLedgerTest, FullBucketTakesNoNewUserUntilOneHoldsNothing) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  ASSERT_EQ(ledger.buckets(), 1u);
  constexpr long long kWays = UnitLedger::kWays;
  AddUsers(ledger, 0, kWays);
  UserId newcomer = User(kWays);
  EXPECT_EQ(ledger.Add(newcomer, 1, 2), AddResult::kFull);
  EXPECT_EQ(ledger.Units(newcomer), 0u);
  // A user who holds units still adds to their own record.
  EXPECT_EQ(ledger.Add(User(7), 1, 2), AddResult::kAdded);
  EXPECT_EQ(ledger.Units(User(7)), 2u);
  // Giving back some of them frees nothing.
  ledger.Remove(User(7), 1);
  EXPECT_EQ(ledger.Add(newcomer, 1, 2), AddResult::kFull);
  // Giving back the last one does.
  ledger.Remove(User(7), 1);
  EXPECT_EQ(ledger.Add(newcomer, 1, 2), AddResult::kAdded);
  EXPECT_EQ(ledger.Units(newcomer), 1u);
  EXPECT_EQ(ledger.Units(User(7)), 0u);
  EXPECT_EQ(ledger.Add(User(7), 1, 2), AddResult::kFull);
  for (long long n = 0; n < kWays; ++n) {
    EXPECT_EQ(ledger.Units(User(n)), n == 7 ? 0u : 1u) << n;
  }
}

// Stock 16: at most 16 users hold units at once, but 100 000 distinct ones come and go.
TEST(UnitLedgerTest, ChurnOfManyDistinctUsersThroughASmallLedgerNeverFillsIt) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  constexpr long long kUsers = 100'000;
  auto quantity = [](long long n) { return static_cast<std::uint32_t>(1 + n % 2); };
  for (long long n = 0; n < kUsers; ++n) {
    ASSERT_EQ(ledger.Add(User(n), quantity(n), 2), AddResult::kAdded) << n;
    if (n >= kSmallStock) ledger.Remove(User(n - kSmallStock), quantity(n - kSmallStock));
  }
  for (long long n = kUsers - 2 * kSmallStock; n < kUsers; ++n) {
    EXPECT_EQ(ledger.Units(User(n)), n >= kUsers - kSmallStock ? quantity(n) : 0u) << n;
  }
  // No record leaked: all but the 16 live ones take new users.
  AddUsers(ledger, kUsers, UnitLedger::kWays - kSmallStock);
  EXPECT_EQ(ledger.Add(User(-1), 1, 1), AddResult::kFull);
}

TEST(UnitLedgerTest, EveryUserOfAFullSizedLedgerFitsAndKeepsTheirOwnUnits) {
  constexpr std::uint32_t kStock = 4096;
  constexpr std::uint32_t kWorkers = 2;
  UnitLedger ledger(kStock, kWorkers, kSecret);
  EXPECT_EQ(ledger.buckets(),
            (kStock + kWorkers + UnitLedger::kUsersPerBucket - 1) / UnitLedger::kUsersPerBucket);
  auto quantity = [](long long n) { return static_cast<std::uint32_t>(1 + n % 5); };
  for (long long n = 0; n < kStock + kWorkers; ++n) {
    ASSERT_EQ(ledger.Add(User(n), quantity(n), 5), AddResult::kAdded) << n;
  }
  for (long long n = 0; n < kStock + kWorkers; ++n) {
    EXPECT_EQ(ledger.Units(User(n)), quantity(n)) << n;
  }
  EXPECT_EQ(ledger.Units(User(-1)), 0u);
}

TEST(UnitLedgerTest, CostsUnder64BytesPerUnitOfStock) {
  constexpr std::uint32_t kStock = 1 << 16;
  std::size_t bytes = UnitLedger::BytesFor(kStock, 8);
  EXPECT_LT(bytes, std::size_t{64} * kStock);
  UnitLedger ledger(kStock, 8, kSecret);
  EXPECT_EQ(ledger.bytes(), bytes);
  EXPECT_EQ(UnitLedger::BytesFor(1, 1) * ((kStock + 8 + 47) / 48), bytes);
}

// The ABA case: the Add found its user's record live, then, before its CAS, the user gave the
// units back and other users took every record, the old one too, with the same units (1). The
// stale CAS must fail on the generation and the Add must not land on another user's units.
TEST(UnitLedgerTest, StaleAddNeverAddsToTheUserWhoTookTheRecordSince) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  UserId user = User(-1);
  ASSERT_EQ(ledger.Add(user, 1, 5), AddResult::kAdded);
  bool raced = false;
  AddResult result = ledger.TEST_Add(user, 1, 5, [&] {
    raced = true;
    ledger.Remove(user, 1);
    AddUsers(ledger, 0, UnitLedger::kWays);
  });
  ASSERT_TRUE(raced);
  EXPECT_EQ(result, AddResult::kFull);
  EXPECT_EQ(ledger.Units(user), 0u);
  for (long long n = 0; n < UnitLedger::kWays; ++n) {
    EXPECT_EQ(ledger.Units(User(n)), 1u) << n;
  }
  ledger.Remove(User(0), 1);
  EXPECT_EQ(ledger.Add(user, 1, 5), AddResult::kAdded);
  EXPECT_EQ(ledger.Units(user), 1u);
}

// The Remove that frees the record lands between the Add's lookup and its CAS: the Add makes a
// fresh record, and the freed one is free (the user holds exactly one record).
TEST(UnitLedgerTest, AddRacingTheRemoveThatFreesTheRecordLandsOnAFreshOne) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  UserId user = User(-1);
  ASSERT_EQ(ledger.Add(user, 2, 5), AddResult::kAdded);
  bool raced = false;
  AddResult result = ledger.TEST_Add(user, 3, 5, [&] {
    raced = true;
    ledger.Remove(user, 2);
  });
  ASSERT_TRUE(raced);
  EXPECT_EQ(result, AddResult::kAdded);
  EXPECT_EQ(ledger.Units(user), 3u);
  AddUsers(ledger, 0, UnitLedger::kWays - 1);
  EXPECT_EQ(ledger.Add(User(UnitLedger::kWays), 1, 1), AddResult::kFull);
}

// Another Add of the same user lands between the lookup and the CAS: the limit is checked
// against the units it left, not the ones looked up.
TEST(UnitLedgerTest, AddRacingAnotherAddOfTheUserChecksTheLimitAgain) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  UserId user = User(-1);
  ASSERT_EQ(ledger.Add(user, 1, 3), AddResult::kAdded);
  bool raced = false;
  AddResult result = ledger.TEST_Add(user, 2, 3, [&] {
    raced = true;
    ASSERT_EQ(ledger.Add(user, 1, 3), AddResult::kAdded);
  });
  ASSERT_TRUE(raced);
  EXPECT_EQ(result, AddResult::kOverLimit);
  EXPECT_EQ(ledger.Units(user), 2u);
}

// Two Adds of one new user: both miss, and the other one fills a record before this one takes
// the lock. Under the lock this one must find that record (and its limit), not fill a second.
TEST(UnitLedgerTest, AddOfANewUserRacingAnotherFindsItsRecordUnderTheLock) {
  UnitLedger ledger(kSmallStock, 1, kSecret);
  UserId user = User(-1);
  bool raced = false;
  AddResult result = ledger.TEST_Add(user, 1, 1, [&] {
    raced = true;
    ASSERT_EQ(ledger.Add(user, 1, 1), AddResult::kAdded);
  });
  ASSERT_TRUE(raced);
  EXPECT_EQ(result, AddResult::kOverLimit);
  EXPECT_EQ(ledger.Units(user), 1u);
  AddUsers(ledger, 0, UnitLedger::kWays - 1);
  EXPECT_EQ(ledger.Add(User(UnitLedger::kWays), 1, 1), AddResult::kFull);
}

}  // namespace
}  // namespace hotdeal::engine::detail
