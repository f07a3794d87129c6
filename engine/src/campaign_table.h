// The campaign table: campaigns by index (named in order and claim ids) and by id (a
// linear-probing index of twice campaigns_max slots, without tombstones: an archive shifts the
// rest of its cluster back, so a lookup for an unknown id never gets longer however many
// campaigns came and went). At most campaigns_max campaigns are held at once; an index is never
// given twice (ids handed out name it, and MySQL keeps the rows of archived campaigns), so indexes
// run up to kCampaignsMax over the data's life, in a directory of chunks allocated as they are
// reached. A withdrawn campaign stays, invisible; an archived one leaves in two steps (Unlist, then
// Unpublish). Must never block a reader.
//
// Threading: Insert, Unlist and Unpublish are control plane and their callers serialise them
// (Engine's control mutex); Find and At may run on any thread at any time. A campaign is fully
// constructed before the release store that publishes it; readers acquire the pointer. Unlist
// moves entries, so a lookup that finds nothing checks a sequence count and looks again if an
// Unlist ran meanwhile (a lookup that finds its campaign needs no check). The table never
// frees a campaign it no longer holds: its caller does, once no reader can hold it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "campaign.h"
#include "hotdeal/base/check.h"

namespace hotdeal::engine::detail {

class CampaignTable {
 public:
  CampaignTable(std::uint32_t campaigns_max, std::uint64_t seed);
  ~CampaignTable();

  // Any campaign with this id, withdrawn ones included; not one Unlist took out.
  Campaign* FindAny(const CampaignId& id) const noexcept;
  // A campaign reads and control calls see: not withdrawn, not archived.
  Campaign* Find(const CampaignId& id) const noexcept {
    Campaign* campaign = FindAny(id);
    return campaign && campaign->visible() ? campaign : nullptr;
  }
  Campaign* At(std::uint32_t index) const noexcept {
    if (index >= kCampaignsMax) return nullptr;
    Chunk* chunk = chunks_[index / kChunkSize].load(std::memory_order_acquire);
    return chunk ? chunk->slots[index % kChunkSize].load(std::memory_order_acquire) : nullptr;
  }
  // For an index a wheel node holds: published until every wheel dropped it (asserted).
  Campaign& Get(std::uint32_t index) const noexcept {
    HOTDEAL_DEBUG_ASSERT(At(index) != nullptr);
    return *chunks_[index / kChunkSize]
                .load(std::memory_order_acquire)
                ->slots[index % kChunkSize]
                .load(std::memory_order_acquire);
  }
  // Control plane only. The index must be unused and the id new (asserted), and fewer than
  // campaigns_max campaigns held.
  void Insert(std::unique_ptr<Campaign> campaign);
  // Replay only, before anything reads the table: may hold more than campaigns_max for a while
  // (the log's partitions are read in any order, so a creation may come before the archive
  // that freed its place), the id index growing to stay at most half full.
  void InsertUnread(std::unique_ptr<Campaign> campaign);
  // Takes the campaign out of the id index and out of the count; At still finds it by index
  // until Unpublish.
  void Unlist(const Campaign& campaign);
  // At no longer finds it either. Returns it, for the caller to free once no reader holds it.
  std::unique_ptr<Campaign> Unpublish(std::uint32_t index);

  // An index given before this table held it (an archived campaign's, from recovery): later
  // Inserts take indexes after it.
  void Skip(std::uint32_t index) noexcept {
    if (index >= next_index_) next_index_ = index + 1;
  }

  std::uint32_t next_index() const noexcept { return next_index_; }  // control plane only
  std::uint32_t size() const noexcept { return size_; }              // control plane only
  std::uint32_t capacity() const noexcept { return campaigns_max_; }

 private:
  static constexpr std::uint32_t kChunkSize = 1024;
  static constexpr std::uint32_t kEmpty = 0;
  struct Chunk {
    std::atomic<Campaign*> slots[kChunkSize] = {};
  };
  // Where the id's probe starts.
  std::uint64_t Home(const CampaignId& id) const noexcept;
  // The probe's first slot holding `entry` (kEmpty: the first free one).
  std::uint64_t IdSlot(const CampaignId& id, std::uint32_t entry) const noexcept;
  void Publish(std::unique_ptr<Campaign> campaign);
  void GrowIdIndex();  // twice the slots; no reader may run

  std::uint32_t campaigns_max_;
  std::uint64_t mask_;
  std::uint64_t seed_;
  std::uint32_t next_index_ = 0;  // control plane only
  std::uint32_t size_ = 0;        // control plane only
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> by_id_;  // index + 1; kEmpty
  // Odd while Unlist moves entries, one more after: a lookup that found nothing looks again
  // unless it saw the same even count before and after.
  std::atomic<std::uint64_t> moves_{0};
};

}  // namespace hotdeal::engine::detail
