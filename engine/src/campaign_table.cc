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
  const std::uint64_t home = Home(id);
  for (;;) {
    const std::uint64_t moves = moves_.load(std::memory_order_acquire);
    // At most half the slots are held, so an empty one ends the probe.
    for (std::uint64_t step = 0; step <= mask_; ++step) {
      const std::uint32_t entry = by_id_[(home + step) & mask_].load(std::memory_order_acquire);
      if (entry == kEmpty) break;
      Campaign* campaign = At(entry - 1);
      // Null: unpublished after this slot was read (no longer listed by now).
      if (campaign && SameId(campaign->spec().id, id)) return campaign;
    }
    // Found nothing: true unless an Unlist moved an entry past this probe meanwhile. A slot
    // read that saw one of Unlist's (release) stores also sees its odd count, and the acquire
    // loads keep this last read after them.
    if (moves % 2 == 0 && moves_.load(std::memory_order_relaxed) == moves) return nullptr;
  }
}

std::uint64_t CampaignTable::Home(const CampaignId& id) const noexcept {
  return HashBytes(id.view(), seed_) & mask_;
}

std::uint64_t CampaignTable::IdSlot(const CampaignId& id, std::uint32_t entry) const noexcept {
  const std::uint64_t home = Home(id);
  for (std::uint64_t step = 0;; ++step) {
    HOTDEAL_ASSERT(step <= mask_);
    const std::uint64_t slot = (home + step) & mask_;
    if (by_id_[slot].load(std::memory_order_relaxed) == entry) return slot;
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
    if (entry == kEmpty) continue;
    const Campaign* campaign = At(entry - 1);
    HOTDEAL_ASSERT(campaign != nullptr);  // listed campaigns are published
    by_id_[IdSlot(campaign->spec().id, kEmpty)].store(entry, std::memory_order_relaxed);
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
  const std::uint64_t slot = IdSlot(campaign->spec().id, kEmpty);
  chunk.load(std::memory_order_relaxed)
      ->slots[index % kChunkSize]
      .store(campaign.release(), std::memory_order_release);
  by_id_[slot].store(index + 1, std::memory_order_release);
  if (index >= next_index_) next_index_ = index + 1;
  ++size_;
}

void CampaignTable::Unlist(const Campaign& campaign) {
  // Deletion from a linear-probing table (Knuth's Algorithm R): empty the slot, then move back
  // each later entry of the cluster whose probe would now stop short of it, until the cluster
  // ends. Every entry the cluster holds stays reachable from its home or is seen twice; only
  // a lookup that finds nothing can have missed one, and the odd count makes it look again.
  // Each slot store releases the odd count to whoever reads it (no fences: ThreadSanitizer
  // does not model them).
  const std::uint64_t moves = moves_.load(std::memory_order_relaxed);
  moves_.store(moves + 1, std::memory_order_relaxed);
  std::uint64_t hole = IdSlot(campaign.spec().id, campaign.index() + 1);
  for (std::uint64_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
    const std::uint32_t entry = by_id_[next].load(std::memory_order_relaxed);
    if (entry == kEmpty) break;
    const Campaign* moving = At(entry - 1);
    HOTDEAL_ASSERT(moving != nullptr);  // listed campaigns are published
    const std::uint64_t home = Home(moving->spec().id);
    // The entry stays if its home lies cyclically in (hole, next]: its probe never passes the
    // hole.
    const bool stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
    if (stays) continue;
    by_id_[hole].store(entry, std::memory_order_release);
    hole = next;
  }
  by_id_[hole].store(kEmpty, std::memory_order_release);
  moves_.store(moves + 2, std::memory_order_release);
  --size_;
}

std::unique_ptr<Campaign> CampaignTable::Unpublish(std::uint32_t index) {
  Chunk* chunk = chunks_[index / kChunkSize].load(std::memory_order_relaxed);
  HOTDEAL_ASSERT(chunk != nullptr);
  return std::unique_ptr<Campaign>(
      chunk->slots[index % kChunkSize].exchange(nullptr, std::memory_order_acq_rel));
}

}  // namespace hotdeal::engine::detail
