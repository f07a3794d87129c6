// Lookups racing archives in the campaign table's id index. An archive moves later entries of
// its cluster back, so a lookup that read past a slot before an entry moved into it could miss
// a campaign that was listed throughout. The control thread builds that case over and over: a
// cluster of campaigns whose ids share one home slot, the watched campaign listed last (so it
// sits behind the others), then the others archived one by one (each moving it back) and listed
// again. A phase count tells the readers when the watched campaign is listed: a lookup that
// began and ended inside one such phase must find it. Ids never given must never be found.
// Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "campaign_table.h"
#include "hash.h"
#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kReaders = 2;
constexpr std::uint32_t kCampaignsMax = 16;  // an id index of 32 slots
constexpr std::uint64_t kSeed = 11;
constexpr std::uint32_t kAhead = 4;  // campaigns in front of the watched one
// Rounds run until the readers have made this many lookups inside the watched phases (at least
// kRoundsMin rounds, at most kRoundsMax): on a loaded machine the readers may start late.
constexpr long long kWatchedLookups = 200'000;
constexpr int kRoundsMin = 40'000;
constexpr int kRoundsMax = 4'000'000;

std::unique_ptr<detail::Campaign> Made(std::uint32_t index, const std::string& id) {
  return std::make_unique<detail::Campaign>(index, CouponSpec(id, 1), 1, 7,
                                            std::array<std::uint64_t, 2>{1, 2});
}

// `count` ids whose probe starts at slot 0 of a table of kCampaignsMax.
std::vector<std::string> Colliding(std::string_view prefix, std::size_t count) {
  std::vector<std::string> ids;
  for (long long n = 0; ids.size() < count; ++n) {
    std::string id = Numbered(prefix, n);
    if ((detail::HashBytes(id, kSeed) & (2 * kCampaignsMax - 1)) == 0) ids.push_back(id);
  }
  return ids;
}

TEST(CampaignTableRaceTest, ALookupNeverMissesACampaignListedThroughoutWhileOthersAreArchived) {
  detail::CampaignTable table(kCampaignsMax, kSeed);
  const std::vector<std::string> ahead_ids = Colliding("ahead-", kAhead);
  const std::string watched_id = Colliding("watched-", 1)[0];
  const CampaignId watched = Campaign(watched_id);
  std::vector<CampaignId> never;
  for (const std::string& id : Colliding("never-", 4))
    never.push_back(Campaign(id));

  // Odd while the watched campaign is listed, even while it is not (or about to go).
  std::atomic<std::uint64_t> phase{0};
  std::atomic<bool> stop{false};
  std::atomic<long long> misses{0}, false_hits{0}, watched_lookups{0};
  std::array<std::thread, kReaders> readers;
  for (std::thread& reader : readers) {
    reader = std::thread([&] {
      while (!stop.load(std::memory_order_acquire)) {
        const std::uint64_t before = phase.load(std::memory_order_acquire);
        const bool found = table.FindAny(watched) != nullptr;
        if (before % 2 == 1 && phase.load(std::memory_order_acquire) == before) {
          watched_lookups.fetch_add(1, std::memory_order_relaxed);
          if (!found) misses.fetch_add(1);
        }
        for (const CampaignId& id : never) {
          if (table.FindAny(id) != nullptr) false_hits.fetch_add(1);
        }
      }
    });
  }

  // Nothing is freed until the readers stopped (the engine frees only after every worker's
  // quiescent point), so an unlisted campaign is listed again later under its own index.
  std::vector<std::unique_ptr<detail::Campaign>> ahead;
  for (std::uint32_t i = 0; i < kAhead; ++i)
    ahead.push_back(Made(i, ahead_ids[i]));
  std::unique_ptr<detail::Campaign> watched_campaign = Made(kAhead, watched_id);
  std::mt19937_64 random(5);
  int round = 0;
  for (; round < kRoundsMax && (round < kRoundsMin || watched_lookups.load() < kWatchedLookups);
       ++round) {
    for (auto& campaign : ahead)
      table.Insert(std::move(campaign));
    table.Insert(std::move(watched_campaign));  // behind all of them
    phase.fetch_add(1, std::memory_order_release);
    // Archive the ones in front in a random order: the watched campaign moves back each time.
    std::array<std::uint32_t, kAhead> order;
    for (std::uint32_t i = 0; i < kAhead; ++i)
      order[i] = i;
    std::shuffle(order.begin(), order.end(), random);
    for (std::uint32_t i = 0; i < kAhead; ++i) {
      table.Unlist(*table.At(order[i]));
      ahead[order[i]] = table.Unpublish(order[i]);
    }
    phase.fetch_add(1, std::memory_order_release);
    table.Unlist(*table.At(kAhead));
    watched_campaign = table.Unpublish(kAhead);
  }
  stop.store(true, std::memory_order_release);
  for (std::thread& reader : readers)
    reader.join();

  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(false_hits.load(), 0);
  // The readers really looked inside the phases.
  EXPECT_GE(watched_lookups.load(), kWatchedLookups) << "after " << round << " rounds";
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace hotdeal::engine
