// The campaign table: publication, lookup and retirement.
#include "campaign_table.h"

#include <bit>
#include <utility>

#include "hash.h"
#include "hotdeal/base/check.h"

namespace hotdeal::engine::detail {

CampaignTable::CampaignTable(std::uint32_t campaigns_max, std::uint64_t seed)
    : campaigns_max_(campaigns_max),
      mask_(std::bit_ceil(std::uint64_t{campaigns_max} * 2) - 1),
      seed_(seed),
      chunks_(std::make_unique<std::atomic<Chunk*>[]>(kCampaignsMax / kChunkSize)),
      by_id_(std::make_unique<std::atomic<std::uint32_t>[]>(mask_ + 1)) {}

CampaignTable::~CampaignTable() {
  for (std::uint32_t c = 0; c < kCampaignsMax / kChunkSize; ++c) {
    Chunk* chunk = chunks_[c].load();
    if (!chunk) continue;
    for (auto& slot : chunk->slots)
      delete slot.load();
    delete chunk;
  }
}

Campaign* CampaignTable::FindAny(const CampaignId& id) const noexcept {
  std::uint64_t hash = HashBytes(id.view(), seed_);
  // At most campaigns_max slots are held out of twice as many, so an empty one ends the probe
  // (tombstones are skipped, and reused by Insert).
  for (std::uint64_t step = 0; step <= mask_; ++step) {
    std::uint32_t entry = by_id_[(hash + step) & mask_].load(std::memory_order_acquire);
    if (entry == 0) return nullptr;
    if (entry == kTombstone) continue;
    Campaign* campaign = At(entry - 1);
    // Null: unpublished after this slot was read (it is a tombstone by now).
    if (campaign && SameId(campaign->spec().id, id)) return campaign;
  }
  return nullptr;
}

std::atomic<std::uint32_t>& CampaignTable::IdSlot(const CampaignId& id,
                                                  std::uint32_t index) const noexcept {
  std::uint64_t hash = HashBytes(id.view(), seed_);
  for (std::uint64_t step = 0;; ++step) {
    std::atomic<std::uint32_t>& slot = by_id_[(hash + step) & mask_];
    std::uint32_t entry = slot.load(std::memory_order_relaxed);
    if (index == kTombstone ? (entry == 0 || entry == kTombstone) : entry == index + 1) return slot;
    HOTDEAL_ASSERT(step <= mask_);
  }
}

void CampaignTable::Insert(std::unique_ptr<Campaign> campaign) {
  HOTDEAL_ASSERT(size_ < campaigns_max_);
  Publish(std::move(campaign));
}

void CampaignTable::InsertUnread(std::unique_ptr<Campaign> campaign) {
  if (2 * (std::uint64_t{size_} + 1) > mask_ + 1) GrowIdIndex();
  Publish(std::move(campaign));
}

void CampaignTable::GrowIdIndex() {
  auto old = std::exchange(by_id_, std::make_unique<std::atomic<std::uint32_t>[]>(2 * (mask_ + 1)));
  const std::uint64_t old_mask = std::exchange(mask_, 2 * (mask_ + 1) - 1);
  for (std::uint64_t i = 0; i <= old_mask; ++i) {
    const std::uint32_t entry = old[i].load(std::memory_order_relaxed);
    if (entry == 0 || entry == kTombstone) continue;
    const Campaign* campaign = At(entry - 1);
    HOTDEAL_ASSERT(campaign != nullptr);  // listed campaigns are published
    IdSlot(campaign->spec().id, kTombstone).store(entry, std::memory_order_relaxed);
  }
}

void CampaignTable::Publish(std::unique_ptr<Campaign> campaign) {
  std::uint32_t index = campaign->index();
  HOTDEAL_ASSERT(index < kCampaignsMax);
  HOTDEAL_ASSERT(At(index) == nullptr);
  HOTDEAL_ASSERT(FindAny(campaign->spec().id) == nullptr);
  std::atomic<Chunk*>& chunk = chunks_[index / kChunkSize];
  if (!chunk.load(std::memory_order_relaxed)) chunk.store(new Chunk, std::memory_order_release);
  // Release on both: a reader that sees the id slot or the pointer sees a built campaign.
  std::atomic<std::uint32_t>& slot = IdSlot(campaign->spec().id, kTombstone);
  chunk.load(std::memory_order_relaxed)
      ->slots[index % kChunkSize]
      .store(campaign.release(), std::memory_order_release);
  slot.store(index + 1, std::memory_order_release);
  if (index >= next_index_) next_index_ = index + 1;
  ++size_;
}

void CampaignTable::Unlist(const Campaign& campaign) {
  IdSlot(campaign.spec().id, campaign.index()).store(kTombstone, std::memory_order_release);
  --size_;
}

std::unique_ptr<Campaign> CampaignTable::Unpublish(std::uint32_t index) {
  Chunk* chunk = chunks_[index / kChunkSize].load(std::memory_order_relaxed);
  HOTDEAL_ASSERT(chunk != nullptr);
  return std::unique_ptr<Campaign>(
      chunk->slots[index % kChunkSize].exchange(nullptr, std::memory_order_acq_rel));
}

}  // namespace hotdeal::engine::detail
