// Order slots: chunked first use (chunk_allocator.h), reuse through the free queue, and the
// generation-checked reads.
#include "order_table.h"

#include <cstring>

#include "hotdeal/base/check.h"

namespace hotdeal::engine::detail {

void AtomicUserId::Store(const UserId& user) noexcept {
  std::array<char, UserId::kSizeMax> bytes{};
  std::memcpy(bytes.data(), user.view().data(), user.size());
  for (std::size_t i = 0; i < kWords; ++i) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + 8 * i, 8);
    words_[i].store(word, std::memory_order_release);
  }
  size_.store(static_cast<std::uint8_t>(user.size()), std::memory_order_release);
}

UserId AtomicUserId::Load() const noexcept {
  std::array<char, UserId::kSizeMax> bytes{};
  for (std::size_t i = 0; i < kWords; ++i) {
    std::uint64_t word = words_[i].load(std::memory_order_acquire);
    std::memcpy(bytes.data() + 8 * i, &word, 8);
  }
  std::size_t size = size_.load(std::memory_order_acquire);
  // A torn read (racing a reuse) may not form a valid id; the caller's generation check
  // rejects it either way.
  return UserId::Parse({bytes.data(), size}).value_or(UserId{});
}

OrderTable::OrderTable(std::uint32_t orders_max, std::uint32_t workers)
    : slots_max_(orders_max),
      slots_(MakeFixedArray<OrderSlot>(orders_max)),
      chunks_(orders_max, ChunkAllocator::ChunkFor(orders_max, workers)),
      free_(orders_max) {}

std::size_t OrderTable::BytesFor(std::uint32_t orders_max) noexcept {
  return sizeof(OrderTable) + sizeof(OrderSlot) * std::size_t{orders_max} +
         SlotQueue::BytesFor(orders_max);
}

std::optional<std::uint32_t> OrderTable::Allocate(OrderCursor& cursor,
                                                  std::uint32_t* generation) noexcept {
  if (std::optional<std::uint32_t> fresh = chunks_.Next(cursor)) {
    ChunkAllocator::Take(cursor);
    // Never used: its first order keeps generation 0 (ids as they were before reuse).
    *generation = GenerationOf(slots_[*fresh].state.load(std::memory_order_relaxed));
    return fresh;
  }
  std::optional<std::uint32_t> reused = free_.Pop();
  if (reused) {
    *generation = GenerationOf(slots_[*reused].state.load(std::memory_order_relaxed)) + 1;
  }
  return reused;
}

void OrderTable::Write(std::uint32_t slot, std::uint32_t generation,
                       const SlotFields& fields) noexcept {
  OrderSlot& target = slots_[slot];
  // The new generation is visible before any field changes: each field is a release store after
  // the generation's, so a reader whose acquire load sees a new field value sees the new word on
  // its second load and rejects what it read. (Release stores and acquire loads rather than
  // fences: ThreadSanitizer does not model fences, and on x86 both are plain moves.)
  target.state.store(SlotState(generation, kUnpublished), std::memory_order_relaxed);
  target.quantity.store(fields.quantity, std::memory_order_release);
  target.created_at_us.store(fields.created_at.time_since_epoch().count(),
                             std::memory_order_release);
  target.expires_at_us.store(fields.expires_at.time_since_epoch().count(),
                             std::memory_order_release);
  target.user.Store(fields.user);
}

void OrderTable::Free(std::uint32_t slot) noexcept {
  // Each slot is in the queue at most once (freed once per ended order, taken before it can
  // end again), and the queue has a place for every slot.
  bool pushed = free_.Push(slot);
  HOTDEAL_ASSERT(pushed);
}

std::optional<SlotFields> OrderTable::Read(std::uint32_t slot,
                                           std::uint32_t generation) const noexcept {
  const OrderSlot& source = slots_[slot];
  std::uint64_t state = source.state.load(std::memory_order_acquire);
  if (GenerationOf(state) != (generation & kGenerationMask)) return std::nullopt;
  SlotFields fields;
  fields.status = StatusOf(state);
  fields.quantity = source.quantity.load(std::memory_order_acquire);
  fields.created_at =
      TimePoint{std::chrono::microseconds{source.created_at_us.load(std::memory_order_acquire)}};
  fields.expires_at =
      TimePoint{std::chrono::microseconds{source.expires_at_us.load(std::memory_order_acquire)}};
  fields.user = source.user.Load();
  if (GenerationOf(source.state.load(std::memory_order_relaxed)) != GenerationOf(state)) {
    return std::nullopt;
  }
  return fields;
}

}  // namespace hotdeal::engine::detail
