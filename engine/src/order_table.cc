// Order slots: chunked allocation from one shared counter.
#include "order_table.h"

#include <algorithm>

#include "check.h"

namespace hotdeal::engine::detail {

OrderTable::OrderTable(std::uint32_t orders_max, std::uint32_t workers)
    : slots_max_(orders_max),
      chunk_slots_(std::clamp<std::uint32_t>(orders_max / (4 * workers), 1, kChunkSlotsMax)),
      slots_(MakeFixedArray<OrderSlot>(orders_max)) {}

std::size_t OrderTable::BytesFor(std::uint32_t orders_max) noexcept {
  return sizeof(OrderTable) + sizeof(OrderSlot) * std::size_t{orders_max};
}

std::optional<std::uint32_t> OrderTable::Allocate(OrderCursor& cursor) noexcept {
  if (cursor.next == cursor.end) {
    // Relaxed: the counter only hands out disjoint ranges; the slots' contents are published
    // by their own status stores.
    std::uint64_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t first = chunk * chunk_slots_;
    if (first >= slots_max_) return std::nullopt;
    cursor.next = static_cast<std::uint32_t>(first);
    std::uint64_t end = first + chunk_slots_;
    cursor.end = static_cast<std::uint32_t>(end < slots_max_ ? end : slots_max_);
  }
  return cursor.next++;
}

void OrderTable::MarkUsed(std::uint32_t slot) noexcept {
  HOTDEAL_ASSERT(slot < slots_max_);
  std::uint64_t needed = slot / chunk_slots_ + 1;
  if (next_chunk_.load(std::memory_order_relaxed) < needed) {
    next_chunk_.store(needed, std::memory_order_relaxed);
  }
}

}  // namespace hotdeal::engine::detail
