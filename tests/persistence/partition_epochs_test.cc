// PartitionEpochs: the stale-owner rule the persister, recovery and the e2e books check share.
#include "hotdeal/persistence/partition_epochs.h"

#include <gtest/gtest.h>

namespace hotdeal::persistence {
namespace {

TEST(PartitionEpochs, BelowTheHighestSeenIsStaleAtOrAboveRaisesIt) {
  PartitionEpochs epochs;
  epochs.Reset(2);
  EXPECT_FALSE(epochs.Stale(0, 0));  // v1 events before any owner took an epoch
  EXPECT_FALSE(epochs.Stale(0, 1));  // the first owner's fence
  EXPECT_FALSE(epochs.Stale(0, 1));  // its events
  EXPECT_FALSE(epochs.Stale(0, 3));  // a newer owner's fence
  EXPECT_EQ(epochs.max(0), 3u);
  EXPECT_TRUE(epochs.Stale(0, 1));  // the replaced owner, still appending
  EXPECT_TRUE(epochs.Stale(0, 2));
  EXPECT_TRUE(epochs.Stale(0, 0));  // a v1 writer after owners took epochs
  EXPECT_EQ(epochs.max(0), 3u);     // stale records never move it
  EXPECT_FALSE(epochs.Stale(0, 3));
  // Partitions are judged apart: only a fence or an event in partition 1 raises partition 1.
  EXPECT_EQ(epochs.max(1), 0u);
  EXPECT_FALSE(epochs.Stale(1, 1));
}

TEST(PartitionEpochs, ResumesFromWhatWasStored) {
  PartitionEpochs epochs;
  epochs.Reset(3);
  epochs.Set(2, 5);
  EXPECT_TRUE(epochs.Stale(2, 4));
  EXPECT_FALSE(epochs.Stale(2, 5));
  // Reset forgets: a replay of the whole topic from offset 0 starts from nothing.
  epochs.Reset(3);
  EXPECT_FALSE(epochs.Stale(2, 4));
}

}  // namespace
}  // namespace hotdeal::persistence
