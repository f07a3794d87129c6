// The campaign table: campaigns by index (named in order and claim ids) and by id (an
// open-addressing index of twice campaigns_max slots). Fixed size; campaigns are never removed
// (a withdrawn one stays, invisible). Must never block a reader.
//
// Threading: Insert is control plane and its callers serialise it (Engine's control mutex);
// Find and At may run on any thread at any time. A campaign is fully constructed before the
// release store that publishes it; readers acquire the pointer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "campaign.h"

namespace hotdeal::engine::detail {

class CampaignTable {
 public:
  CampaignTable(std::uint32_t campaigns_max, std::uint64_t seed);
  ~CampaignTable();

  // Any campaign with this id, withdrawn ones included.
  Campaign* FindAny(const CampaignId& id) const noexcept;
  // A campaign open for business: not withdrawn.
  Campaign* Find(const CampaignId& id) const noexcept {
    Campaign* campaign = FindAny(id);
    return campaign && !campaign->withdrawn() ? campaign : nullptr;
  }
  Campaign* At(std::uint32_t index) const noexcept {
    return index < campaigns_max_ ? by_index_[index].load(std::memory_order_acquire) : nullptr;
  }
  // For an index taken from a node or id this engine made (published before it was used).
  Campaign& Get(std::uint32_t index) const noexcept {
    return *by_index_[index].load(std::memory_order_acquire);
  }
  // Control plane only. The index must be free and the id new (asserted).
  void Insert(std::unique_ptr<Campaign> campaign);

  std::uint32_t next_index() const noexcept { return next_index_; }
  std::uint32_t capacity() const noexcept { return campaigns_max_; }

 private:
  std::uint32_t campaigns_max_;
  std::uint64_t mask_;
  std::uint64_t seed_;
  std::uint32_t next_index_ = 0;  // control plane only
  std::unique_ptr<std::atomic<Campaign*>[]> by_index_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> by_id_;  // index + 1; 0 is empty
};

}  // namespace hotdeal::engine::detail
