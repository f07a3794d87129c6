// The campaign table: publication and lookup.
#include "campaign_table.h"

#include <bit>

#include "hash.h"
#include "hotdeal/base/check.h"

namespace hotdeal::engine::detail {

CampaignTable::CampaignTable(std::uint32_t campaigns_max, std::uint64_t seed)
    : campaigns_max_(campaigns_max),
      mask_(std::bit_ceil(std::uint64_t{campaigns_max} * 2) - 1),
      seed_(seed),
      by_index_(std::make_unique<std::atomic<Campaign*>[]>(campaigns_max)),
      by_id_(std::make_unique<std::atomic<std::uint32_t>[]>(mask_ + 1)) {}

CampaignTable::~CampaignTable() {
  for (std::uint32_t i = 0; i < campaigns_max_; ++i)
    delete by_index_[i].load();
}

Campaign* CampaignTable::FindAny(const CampaignId& id) const noexcept {
  std::uint64_t hash = HashBytes(id.view(), seed_);
  // At most campaigns_max slots are used out of twice as many, so an empty one ends the probe.
  for (std::uint64_t step = 0; step <= mask_; ++step) {
    std::uint32_t entry = by_id_[(hash + step) & mask_].load(std::memory_order_acquire);
    if (entry == 0) return nullptr;
    Campaign* campaign = by_index_[entry - 1].load(std::memory_order_acquire);
    if (SameId(campaign->spec().id, id)) return campaign;
  }
  return nullptr;
}

void CampaignTable::Insert(std::unique_ptr<Campaign> campaign) {
  std::uint32_t index = campaign->index();
  HOTDEAL_ASSERT(index < campaigns_max_);
  HOTDEAL_ASSERT(by_index_[index].load(std::memory_order_relaxed) == nullptr);
  HOTDEAL_ASSERT(FindAny(campaign->spec().id) == nullptr);
  std::uint64_t hash = HashBytes(campaign->spec().id.view(), seed_);
  // Release on both: a reader that sees the id slot or the pointer sees a built campaign.
  by_index_[index].store(campaign.release(), std::memory_order_release);
  for (std::uint64_t step = 0;; ++step) {
    std::atomic<std::uint32_t>& slot = by_id_[(hash + step) & mask_];
    if (slot.load(std::memory_order_relaxed) == 0) {
      slot.store(index + 1, std::memory_order_release);
      break;
    }
  }
  if (index >= next_index_) next_index_ = index + 1;
}

}  // namespace hotdeal::engine::detail
