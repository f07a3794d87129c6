// The orders of one sale campaign: a fixed array of slots, recycled. A slot's index and its
// generation are part of the order's id, so finding an order by id is one index and one
// compare, not a search. An order that ended (cancelled, expired, voided, reverted) frees its
// slot into a first-in first-out queue, so the longest-ended order is reused first and an
// ended order stays readable by its id for as long as possible; its reuse bumps the
// generation, and the old id then reads as absent. Never grows: the caller answers
// kOverCapacity only when every slot holds a live order.
//
// A slot's `state` word is (generation << 8) | status. Every move of an order compares the
// whole word, so a thread holding a stale id can never move the order that reused its slot.
// The other fields are written only by the thread that took the slot (from a fresh chunk or the
// free queue) before the store that publishes it, and never change while the order lives; a
// reader that does not hold a live order reads them under the generation check of ReadSlot
// (a sequence lock: the writer stores the new generation, then the fields by release stores;
// the reader loads the word, the fields by acquire loads, and the word again).
//
// Timer wheel membership (order_decisions.cc, ExpireDue): a slot is linked in at most one worker's
// wheel, named by `wheel_owner`; only that worker reads or writes `wheel_next`. A reused slot
// that is still linked stays where it is (the owner's visit reads whichever order the slot
// holds then); see Engine::Impl::Schedule and ReleaseWheel for the hand-over.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "chunk_allocator.h"
#include "fixed_array.h"
#include "hotdeal/engine/types.h"
#include "slot_queue.h"

namespace hotdeal::engine::detail {

// Status bytes: the OrderStatus values, plus kUnpublished for a slot that holds no order yet
// (never written, being written, or written for a decision the log refused, which no report
// names), and kUndone for an order that was undone (reverted, or voided in doubt): no order
// either, but final, so that a late report of the undone order's moves does not wait for a
// publish that never comes.
inline constexpr std::uint8_t kUnpublished = 0xFF;
inline constexpr std::uint8_t kUndone = 0xFD;
// Being undone (Engine's UndoOrder): no order any more, but its idempotency key is not undone
// yet, so a retry with that key waits (kPending) instead of hearing the key is spent.
inline constexpr std::uint8_t kUndoing = 0xFC;
// A slot that shows no order: not yet published, undone or being undone.
constexpr bool HoldsNoOrder(std::uint8_t status) {
  return status == kUnpublished || status == kUndone || status == kUndoing;
}
// A reservation whose event the log could not confirm: it holds its units like kReserved, but
// confirm, cancel and expiry leave it alone until it is settled (shown as kReserved).
inline constexpr std::uint8_t kReservedInDoubt = 0xFE;
// Bits over an OrderStatus while the log has not reported a move yet:
// - kUnackedBit (durable acks): the move is not shown, moved or expired until
//   Engine::Acknowledge clears the bit. A reservation or confirm holds its units as the plain
//   status does.
// - kHeldEndBit (--ack memory): an end (cancel, expiry) shown final at once.
// An end, with either bit, keeps its units out of stock and in the book it ends until the log
// has it, so that no unit is sold again on the strength of an end a crash could lose (the log
// would then hold the old reservation live beside the sale that reused its units). kRefundBit
// marks the end of a confirmed order, whose units stay in the confirmed book meanwhile.
inline constexpr std::uint8_t kUnackedBit = 0x10;
inline constexpr std::uint8_t kRefundBit = 0x20;
inline constexpr std::uint8_t kHeldEndBit = 0x40;
constexpr std::uint8_t Raw(OrderStatus status) {
  return static_cast<std::uint8_t>(status);
}
constexpr std::uint8_t Unacked(OrderStatus status) {
  return kUnackedBit | Raw(status);
}
// Every status with bits is below the special bytes (kUndone and up).
constexpr bool HasBits(std::uint8_t status) {
  return status < 0x80;
}
constexpr bool IsUnacked(std::uint8_t status) {
  return HasBits(status) && (status & kUnackedBit) != 0;
}
// The OrderStatus a status shows (or will show, once acknowledged); special bytes unchanged.
constexpr std::uint8_t Shown(std::uint8_t status) {
  return HasBits(status) ? static_cast<std::uint8_t>(status & 0x0F) : status;
}
// An end the log has not reported yet: it still holds its units.
constexpr bool IsHeldEnd(std::uint8_t status) {
  const std::uint8_t shown = Shown(status);
  return HasBits(status) && (status & (kUnackedBit | kHeldEndBit)) != 0 &&
         (shown == Raw(OrderStatus::kCancelled) || shown == Raw(OrderStatus::kExpired));
}
// A reservation not ended yet: reserved (acknowledged or not) or in doubt. Such an order is in
// a wheel, or about to be.
constexpr bool IsReservation(std::uint8_t status) {
  return Shown(status) == Raw(OrderStatus::kReserved) || status == kReservedInDoubt;
}

// Generations as order ids carry them (ids.h): they wrap, so compare them on the circle.
inline constexpr std::uint32_t kGenerationBits = 18;
inline constexpr std::uint32_t kGenerationMask = (1u << kGenerationBits) - 1;
constexpr std::uint64_t SlotState(std::uint32_t generation, std::uint8_t status) {
  return (std::uint64_t{generation & kGenerationMask} << 8) | status;
}
constexpr std::uint8_t StatusOf(std::uint64_t state) {
  return static_cast<std::uint8_t>(state);
}
constexpr std::uint32_t GenerationOf(std::uint64_t state) {
  return static_cast<std::uint32_t>(state >> 8);
}
// True if generation `a` came after `b` (within half the circle).
constexpr bool NewerGeneration(std::uint32_t a, std::uint32_t b) {
  std::uint32_t ahead = (a - b) & kGenerationMask;
  return ahead != 0 && ahead < (1u << (kGenerationBits - 1));
}

inline constexpr std::uint8_t kNoWheel = 0xFF;

// A user id in atomic words (release stores, acquire loads: OrderTable::Write), so that a reader
// racing a slot's reuse reads stale or new words, which the generation check then rejects.
class AtomicUserId {
 public:
  void Store(const UserId& user) noexcept;
  UserId Load() const noexcept;

 private:
  static constexpr std::size_t kWords = UserId::kSizeMax / 8;
  std::array<std::atomic<std::uint64_t>, kWords> words_{};
  std::atomic<std::uint8_t> size_{0};
};

struct OrderSlot {
  std::atomic<std::uint64_t> state{SlotState(0, kUnpublished)};
  std::atomic<std::uint8_t> wheel_owner{kNoWheel};  // the worker whose wheel links the slot
  std::atomic<std::uint32_t> quantity{0};
  std::atomic<std::int64_t> created_at_us{0};
  std::atomic<std::int64_t> expires_at_us{0};
  AtomicUserId user;
  // Intrusive link of the owner's timer wheel; touched by that worker only.
  std::uint64_t wheel_next = 0;
};

// The fields of one order, as read from its slot.
struct SlotFields {
  std::uint8_t status = kUnpublished;
  std::uint32_t quantity = 0;
  TimePoint created_at{};
  TimePoint expires_at{};
  UserId user;
};

using OrderCursor = ChunkCursor;

class OrderTable {
 public:
  OrderTable(std::uint32_t orders_max, std::uint32_t workers);

  // A slot for a new order, written as generation `*generation` (the slot's next one) by the
  // caller with Write, then published by storing its state. From the calling worker's fresh
  // chunk (`cursor`, owned by the caller) first, else the oldest freed slot; nullopt when
  // every slot holds a live order.
  std::optional<std::uint32_t> Allocate(OrderCursor& cursor, std::uint32_t* generation) noexcept;
  // Writes a taken slot's fields under `generation` (state left unpublished until the caller
  // publishes it).
  void Write(std::uint32_t slot, std::uint32_t generation, const SlotFields& fields) noexcept;
  // The slot no longer holds a live order: it may be taken again. Once per ended order.
  void Free(std::uint32_t slot) noexcept;
  // The order of `generation` in `slot` if the slot still holds it (published or not: see
  // `status`); nullopt once the slot was taken for another order.
  std::optional<SlotFields> Read(std::uint32_t slot, std::uint32_t generation) const noexcept;

  // Recovery, one thread: the slot a logged order used is taken, whatever chunk it came from;
  // FreeUnused then frees every slot up to the highest one taken that holds no live order.
  void MarkUsed(std::uint32_t slot) noexcept { chunks_.MarkUsed(slot); }
  std::uint32_t used_max() const noexcept { return chunks_.handed_out(); }

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
  SlotQueue free_;
};

}  // namespace hotdeal::engine::detail
