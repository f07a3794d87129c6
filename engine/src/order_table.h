// The orders of one sale campaign: a fixed array of slots, each written once. A slot's index
// is part of the order's id, so finding an order by id is one index, not a search. Never
// grows and never reuses a slot (an id stays valid for the campaign's life); when every slot
// is taken the caller answers kOverCapacity.
//
// Threading: Allocate is called by the worker that owns `cursor` (a per-worker chunk cursor
// kept in the campaign's per-worker state; chunk_allocator.h). The fields of a slot are written
// by its allocating thread before the release store that publishes its status, and never
// change afterwards; only `status` moves (compare-and-swap by any thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "chunk_allocator.h"
#include "fixed_array.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

// OrderStatus values, plus kUnpublished for a slot that holds no order (never written, or
// written for a decision that was refused or reverted).
inline constexpr std::uint8_t kUnpublished = 0xFF;
// A reservation whose event the log could not confirm: it holds its units like kReserved, but
// confirm, cancel and expiry leave it alone until it is settled (shown as kReserved).
inline constexpr std::uint8_t kReservedInDoubt = 0xFE;
// A move (reserved, confirmed, cancelled) whose event the log has not reported yet (durable
// acks): the OrderStatus with this bit set. It holds units as the plain status does, but is not
// shown, moved or expired until Engine::Acknowledge clears the bit.
inline constexpr std::uint8_t kUnackedBit = 0x10;
constexpr std::uint8_t Unacked(OrderStatus status) {
  return kUnackedBit | static_cast<std::uint8_t>(status);
}
constexpr bool IsUnacked(std::uint8_t status) {
  return (status & 0xF0) == kUnackedBit;
}
// The status an unacknowledged one becomes once acknowledged; any other status unchanged.
constexpr std::uint8_t Acknowledged(std::uint8_t status) {
  return IsUnacked(status) ? static_cast<std::uint8_t>(status & ~kUnackedBit) : status;
}

struct OrderSlot {
  std::atomic<std::uint8_t> status{kUnpublished};
  std::uint32_t quantity = 0;
  TimePoint created_at{};
  TimePoint expires_at{};
  UserId user;
  // Intrusive link of the expiring worker's timer wheel; touched by that worker only.
  std::uint64_t wheel_next = 0;
};

using OrderCursor = ChunkCursor;

class OrderTable {
 public:
  OrderTable(std::uint32_t orders_max, std::uint32_t workers);

  std::optional<std::uint32_t> Allocate(OrderCursor& cursor) noexcept;
  // Recovery: the slot a logged order used is taken, whatever chunk it came from.
  void MarkUsed(std::uint32_t slot) noexcept { chunks_.MarkUsed(slot); }

  // For an index the caller knows is in range (it came from Allocate or a checked At).
  OrderSlot& Slot(std::uint32_t slot) noexcept { return slots_[slot]; }
  const OrderSlot& Slot(std::uint32_t slot) const noexcept { return slots_[slot]; }
  OrderSlot* At(std::uint32_t slot) noexcept { return slot < slots_max_ ? &slots_[slot] : nullptr; }
  const OrderSlot* At(std::uint32_t slot) const noexcept {
    return slot < slots_max_ ? &slots_[slot] : nullptr;
  }
  std::uint32_t slots_max() const noexcept { return slots_max_; }

  static std::size_t BytesFor(std::uint32_t orders_max) noexcept;

 private:
  std::uint32_t slots_max_;
  FixedArray<OrderSlot> slots_;
  ChunkAllocator chunks_;
};

}  // namespace hotdeal::engine::detail
