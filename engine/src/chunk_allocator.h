// Indexes into a fixed array, handed out to workers in chunks of one shared counter, so that
// workers filling the array (order slots, ledger records) touch the shared line once per chunk,
// not once per item. A worker's unused chunk tail is never handed out: at most `workers` chunks
// of holes.
//
// Threading: Next and Take are called only by the thread that owns `cursor` (a per-worker
// cursor kept in the campaign's WorkerShare). The counter is relaxed: it only hands out
// disjoint ranges; the items' contents are published by their own release stores.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>

#include "hotdeal/base/check.h"

namespace hotdeal::engine::detail {

struct ChunkCursor {
  std::uint32_t next = 0;
  std::uint32_t end = 0;
};

class ChunkAllocator {
 public:
  static constexpr std::uint32_t kChunkItemsMax = 64;

  // A quarter of each worker's share of `items` per chunk, within [1, kChunkItemsMax].
  static std::uint32_t ChunkFor(std::uint64_t items, std::uint32_t workers) noexcept {
    return static_cast<std::uint32_t>(
        std::clamp<std::uint64_t>(items / (4 * std::uint64_t{workers}), 1, kChunkItemsMax));
  }

  ChunkAllocator(std::uint32_t items, std::uint32_t chunk_items) noexcept
      : items_(items), chunk_items_(chunk_items) {}

  // The index `cursor` hands out next, from a new chunk if its own is used up; nullopt when
  // every chunk is taken. The cursor stays on it until Take, so an index the caller did not
  // use (a lost publishing race) is handed out again.
  std::optional<std::uint32_t> Next(ChunkCursor& cursor) noexcept {
    if (cursor.next == cursor.end) {
      std::uint64_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
      std::uint64_t first = chunk * chunk_items_;
      if (first >= items_) return std::nullopt;
      cursor.next = static_cast<std::uint32_t>(first);
      cursor.end =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(first + chunk_items_, items_));
    }
    return cursor.next;
  }
  // The index Next answered is used: the cursor moves past it.
  static void Take(ChunkCursor& cursor) noexcept {
    HOTDEAL_DEBUG_ASSERT(cursor.next < cursor.end);
    ++cursor.next;
  }

  // Recovery: `item` is taken, whatever chunk it came from.
  void MarkUsed(std::uint32_t item) noexcept {
    HOTDEAL_ASSERT(item < items_);
    std::uint64_t needed = item / chunk_items_ + 1;
    if (next_chunk_.load(std::memory_order_relaxed) < needed) {
      next_chunk_.store(needed, std::memory_order_relaxed);
    }
  }

  // Recovery: how many indexes the chunks handed out so far cover (every index below it was
  // handed out or left as a chunk's hole).
  std::uint32_t handed_out() const noexcept {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(
        next_chunk_.load(std::memory_order_relaxed) * chunk_items_, items_));
  }

 private:
  std::uint32_t items_;
  std::uint32_t chunk_items_;
  alignas(64) std::atomic<std::uint64_t> next_chunk_{0};
};

}  // namespace hotdeal::engine::detail
