// Order slots: chunked allocation (chunk_allocator.h).
#include "order_table.h"

namespace hotdeal::engine::detail {

OrderTable::OrderTable(std::uint32_t orders_max, std::uint32_t workers)
    : slots_max_(orders_max),
      slots_(MakeFixedArray<OrderSlot>(orders_max)),
      chunks_(orders_max, ChunkAllocator::ChunkFor(orders_max, workers)) {}

std::size_t OrderTable::BytesFor(std::uint32_t orders_max) noexcept {
  return sizeof(OrderTable) + sizeof(OrderSlot) * std::size_t{orders_max};
}

std::optional<std::uint32_t> OrderTable::Allocate(OrderCursor& cursor) noexcept {
  std::optional<std::uint32_t> slot = chunks_.Next(cursor);
  // A slot is used once allocated: a refused decision leaves it unpublished for ever.
  if (slot) ChunkAllocator::Take(cursor);
  return slot;
}

}  // namespace hotdeal::engine::detail
