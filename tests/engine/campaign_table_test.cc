// The campaign table's id index against a model, over seeded histories of creations and
// archives in a table small enough that ids collide, clusters wrap around its end and every
// slot is reused many times: each listed id is found, no other id is, however long the history.
#include "campaign_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

std::unique_ptr<detail::Campaign> Made(std::uint32_t index) {
  return std::make_unique<detail::Campaign>(index, CouponSpec(Numbered("c-", index), 1), 1, 7,
                                            std::array<std::uint64_t, 2>{1, 2});
}

TEST(CampaignTableTest, EveryListedIdIsFoundAndNoOtherOverLongHistories) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 random(seed);
    const auto campaigns_max = static_cast<std::uint32_t>(1 + random() % 8);
    detail::CampaignTable table(campaigns_max, seed);
    std::map<std::uint32_t, CampaignId> listed;  // index -> id, as the model has it
    std::vector<std::unique_ptr<detail::Campaign>> unpublished;
    std::uint32_t next = 0;
    for (int step = 0; step < 2'000; ++step) {
      const bool full = listed.size() == campaigns_max;
      if (!full && (listed.empty() || random() % 2 == 0)) {
        auto campaign = Made(next);
        listed.emplace(next, campaign->spec().id);
        table.Insert(std::move(campaign));
        ++next;
      } else {
        auto it = listed.begin();
        std::advance(it, static_cast<long>(random() % listed.size()));
        detail::Campaign* campaign = table.At(it->first);
        ASSERT_NE(campaign, nullptr);
        table.Unlist(*campaign);
        unpublished.push_back(table.Unpublish(it->first));
        listed.erase(it);
      }
      ASSERT_EQ(table.size(), listed.size());
      for (const auto& [index, id] : listed) {
        detail::Campaign* found = table.FindAny(id);
        ASSERT_NE(found, nullptr) << "seed " << seed << " step " << step << " lost " << index;
        ASSERT_EQ(found->index(), index);
      }
      // Archived ids, and ids never given, are not found.
      for (std::uint32_t gone = next > 8 ? next - 8 : 0; gone < next + 2; ++gone) {
        if (listed.contains(gone)) continue;
        ASSERT_EQ(table.FindAny(Campaign(Numbered("c-", gone))), nullptr)
            << "seed " << seed << " " << gone;
      }
    }
  }
}

}  // namespace
}  // namespace hotdeal::engine
