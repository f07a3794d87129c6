// The deterministic simulation under ctest: a bounded batch of seeds (each in a forked child,
// so an engine abort fails its seed instead of the test binary), the seeds that found bugs, and
// the replay guarantee a failing seed depends on. More seeds by hand: tests/sim/run --seeds N.
#include "sim.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace hotdeal::sim {
namespace {

// About 15 s in a release build on the (shared, 2-core) development machine.
constexpr std::uint64_t kSeeds = 150;

SimOptions Seed(std::uint64_t seed, SimOptions options = {}) {
  options.seed = seed;
  return options;
}

SimOptions DurableFewOrders(SimOptions options = {}) {
  options.acks = SimOptions::Acks::kDurable;
  options.orders_per_unit = 0.5;  // well below the order slots: no wear-out
  return options;
}

// A bug the simulation found on main, and a seed that finds it. `open` is the switch: while the
// bug is open its seed must still fail with `failure` (the simulation keeps finding it) and the
// batch below tolerates seeds failing with that message; once the fix is on main, set it false:
// its seed must pass and the batch no longer tolerates it.
struct KnownBug {
  const char* name;
  bool open;
  SimOptions options;
  const char* failure;  // a part of the failure message
};

SimOptions Acks(SimOptions options, SimOptions::Acks acks) {
  options.acks = acks;
  return options;
}

const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs = {
      // Fixed by "engine: recycle order slots": order slots were never reused, so after about
      // 2 x stock orders every order answered over_capacity although units remained.
      {"wear-out", false, Seed(9), "(the campaign wears out)"},
      // Fixed by the order-independent fold: replay in id order reserved a cancelled order with
      // a higher id after the order that reused its units (HOTDEAL_ASSERT(within_limit)).
      {"recovery order", false,
       [] {
         SimOptions options = DurableFewOrders(Seed(13));
         options.shuffle_rows = false;  // exactly as recovery.cc's ORDER BY reads the rows
         return options;
       }(),
       "assertion failed: within_limit"},
      // Fixed by "ends keep their units until the log has them": a cancel returned its units at
      // once, so a crash that lost it left the log with those units sold twice, and
      // FinishRecovery ended an older live (and promised) reservation to make room.
      {"drops a live reservation", false, Acks(Seed(149), SimOptions::Acks::kDurable),
       "live before the crash"},
      // The same fix: a reservation FinishRecovery ended had no event in the log, so the next
      // restart folded it live again (a client was told expired; it held units again).
      {"dropped comes back", false, Acks(Seed(355), SimOptions::Acks::kDurable),
       "was promised expired, now"},
      // Fixed by "a key whose order ended and was forgotten answers conflict": an ended order's
      // slot was reused, so its key's retry no longer found the first decision and reserved
      // again.
      {"key after slot reuse", false, Acks(Seed(30), SimOptions::Acks::kDurable),
       "made a second decision while its first stands"},
      // Fixed with "drops a live reservation": a lost refund (a cancel of a confirmed order still
      // being appended again at the crash) whose units were sold and paid again made the log's
      // confirmed orders pass the stock, and recovery refused to start.
      {"refused after a lost refund", false, Acks(Seed(1115), SimOptions::Acks::kDurable),
       "the confirmed orders hold more units than the stock"},
      // --ack memory, fixed with "drops a live reservation": after a crash the engine had ended
      // an order the log held live, to make room for the units of a lost cancel.
      {"logged order missing", false, Acks(Seed(1995), SimOptions::Acks::kMemory),
       "is not_found in the engine, live in the log"},
      // --ack memory: a reservation reverted after its confirm leaves an unpublished slot, and
      // the confirm's persisted report then spins in Acknowledge (PublishedStatus) for ever.
      {"acknowledge spins", false, Acks(DurableFewOrders(Seed(58)), SimOptions::Acks::kMemory),
       "stuck"},
      // --ack memory, fixed with "drops a live reservation": a lost refund (cancel of a
      // confirmed order) left the user's confirmed orders past the limit.
      {"limit after a lost refund", false, Acks(Seed(41), SimOptions::Acks::kMemory),
       "past the limit"},
      // Fixed by "engine: CouponLedger frees what claims leave": the coupon ledger kept a record
      // for every user who reached the stock, also when the claim was refused, reverted or
      // voided, so with many distinct users and units coming back (a log outage) it filled while
      // units remained.
      {"coupon ledger wears out", false,
       [] {
         SimOptions options = Seed(8);
         options.users_per_unit = 4;
         return options;
       }(),
       "claim x1 answered over_capacity"},
      // --ack memory, fixed by "an order that ended before its reservation's revert keeps its
      // key": the log had an order's expiry, its reservation was then reported not persisted,
      // and the revert undid the key, so a retry reserved a second time under it.
      {"key of an ended order undone", false, Seed(1704),
       "made a second decision while its first stands"},
      // Fixed by "replay may hold more campaigns than --campaigns-max until it ends": partitions
      // are read in any order, so a creation that took an archived campaign's place came before
      // that archive, and recovery refused to start.
      {"archive replayed after the creation in its place", false, Seed(175),
       "more campaigns are live"},
  };
  return bugs;
}

// The open bug a failure is, or nullptr.
const KnownBug* OpenBugOf(const std::string& failure) {
  for (const KnownBug& bug : KnownBugs())
    if (bug.open && failure.find(bug.failure) != std::string::npos) return &bug;
  return nullptr;
}

TEST(SimTest, SeedsKeepEveryInvariant) {
  SimOptions options;
  std::uint64_t failed = 0;
  std::uint64_t tolerated = 0;
  for (std::uint64_t seed = 1; seed <= kSeeds && failed < 5; ++seed) {
    options.seed = seed;
    // Every third seed a crowd of 4 users per unit, most of whom never get one: the histories
    // that wore the coupon ledger out.
    options.users_per_unit = seed % 3 == 0 ? 4 : 1;
    const SimResult result = RunSeedIsolated(options);
    if (result.ok) continue;
    if (OpenBugOf(result.failure)) {
      ++tolerated;
      continue;
    }
    ++failed;
    ADD_FAILURE() << result.failure << "\n  replay: " << ReplayCommand(options);
  }
  if (tolerated > 0)
    std::printf("%llu seeds failed of open bugs (KnownBugs)\n",
                static_cast<unsigned long long>(tolerated));
}

TEST(SimTest, SeedsThatFoundBugs) {
  for (const KnownBug& bug : KnownBugs()) {
    const SimResult result = RunSeedIsolated(bug.options);
    if (bug.open) {
      EXPECT_FALSE(result.ok) << bug.name << " no longer found: " << ReplayCommand(bug.options);
      EXPECT_NE(result.failure.find(bug.failure), std::string::npos)
          << bug.name << ": " << result.failure;
    } else {
      EXPECT_TRUE(result.ok) << bug.name << ": " << result.failure
                             << "\n  replay: " << ReplayCommand(bug.options);
    }
  }
}

TEST(SimTest, ASeedReplaysExactly) {
  for (std::uint64_t seed : {3, 17, 101}) {
    const SimResult first = RunSeedIsolated(Seed(seed));
    const SimResult second = RunSeedIsolated(Seed(seed));
    EXPECT_EQ(first.ok, second.ok) << "seed " << seed;
    EXPECT_EQ(first.failure, second.failure) << "seed " << seed;
    EXPECT_EQ(first.Summary(), second.Summary()) << "seed " << seed;
  }
}

TEST(SimTest, RunsDoWhatTheyClaim) {
  // A simulation that never reached its decisions would pass vacuously.
  SimResult::Counts total;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const SimResult result = RunSeedIsolated(DurableFewOrders(Seed(seed)));
    total.claims += result.counts.claims;
    total.orders += result.counts.orders;
    total.in_doubt += result.counts.in_doubt;
    total.crashes += result.counts.crashes;
    total.promises += result.counts.promises;
    total.changes += result.counts.changes;
    total.archives += result.counts.archives;
  }
  EXPECT_GT(total.claims, 100u);
  EXPECT_GT(total.orders, 100u);
  EXPECT_GT(total.in_doubt, 10u);
  EXPECT_GT(total.crashes, 20u);
  EXPECT_GT(total.promises, 100u);
  EXPECT_GT(total.changes, 20u);
  EXPECT_GT(total.archives, 10u);
}

}  // namespace
}  // namespace hotdeal::sim
