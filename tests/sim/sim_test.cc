// The deterministic simulation under ctest: a bounded batch of seeds (each in a forked child,
// so an engine abort fails its seed instead of the test binary), the seeds that found bugs, and
// the replay guarantee a failing seed depends on. More seeds by hand: tests/sim/run --seeds N.
#include "sim.h"

#include <gtest/gtest.h>

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

// A bug the simulation found on main, and the seed that finds it. `open` is the switch: while
// the bug is open its seed must still fail with `failure` (the simulation keeps finding it) and
// the batch keeps clear of it; once the fix is on main, set it false and the seed must pass.
struct KnownBug {
  const char* name;
  bool open;
  SimOptions options;
  const char* failure;  // a part of the failure message
};

const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs = {
      // Order slots are never reused: after about 2 x stock orders every order answers
      // over_capacity although units remain.
      {"wear-out", true, Seed(11), "(the campaign wears out)"},
      // Replay in id order: a cancelled order with a higher id is replayed (reserved) after the
      // order that reused its units; HOTDEAL_ASSERT(within_limit) aborts recovery.
      {"recovery order", true,
       [] {
         SimOptions options = DurableFewOrders(Seed(13));
         options.shuffle_rows = false;  // exactly as recovery.cc's ORDER BY reads the rows
         return options;
       }(),
       "assertion failed: within_limit"},
      // --ack memory: a reservation reverted after its confirm leaves an unpublished slot, and
      // the confirm's persisted report then spins in Acknowledge (PublishedStatus) for ever.
      {"acknowledge spins", true,
       [] {
         SimOptions options = DurableFewOrders(Seed(58));
         options.acks = SimOptions::Acks::kMemory;
         return options;
       }(),
       "stuck"},
  };
  return bugs;
}

bool Open(const char* name) {
  for (const KnownBug& bug : KnownBugs())
    if (std::string_view(bug.name) == name) return bug.open;
  return false;
}

TEST(SimTest, SeedsKeepEveryInvariant) {
  if (Open("recovery order")) GTEST_SKIP() << "recovery aborts on main (KnownBugs)";
  SimOptions options;
  if (Open("wear-out")) options.orders_per_unit = 0.5;
  if (Open("acknowledge spins")) options.acks = SimOptions::Acks::kDurable;
  std::uint64_t failed = 0;
  for (std::uint64_t seed = 1; seed <= kSeeds && failed < 5; ++seed) {
    options.seed = seed;
    const SimResult result = RunSeedIsolated(options);
    if (!result.ok) {
      ++failed;
      ADD_FAILURE() << result.failure << "\n  replay: " << ReplayCommand(options);
    }
  }
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
  }
  EXPECT_GT(total.claims, 100u);
  EXPECT_GT(total.orders, 100u);
  EXPECT_GT(total.in_doubt, 10u);
  EXPECT_GT(total.crashes, 20u);
  EXPECT_GT(total.promises, 100u);
}

}  // namespace
}  // namespace hotdeal::sim
