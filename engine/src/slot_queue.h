// A bounded first-in first-out queue of 32-bit indexes that any thread may push and pop: the
// campaign's free order slots. Fixed capacity, set at creation; one 8-byte cell per place.
//
// The scheme is Dmitry Vyukov's bounded MPMC queue with the cell's sequence number and its
// value packed into one word, so a pop reads both with one load: a place is free for the push
// at position p when its sequence reads p, and holds a value for the pop at p when it reads
// p + 1; the pop hands the place on to position p + capacity. Sequence numbers are the low 32
// bits of the 64-bit positions, compared by their signed difference, which is exact while the
// capacity stays below 2^31.
//
// Threading: any thread, no lock. Head and tail are only claimed by compare-and-swap (relaxed;
// a claim only orders positions); the cell store that fills or empties a place is a release
// and the load that reads it an acquire, so a popped index comes with everything written
// before it was pushed.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <optional>

#include "fixed_array.h"

namespace hotdeal::engine::detail {

class SlotQueue {
 public:
  explicit SlotQueue(std::uint32_t capacity_min)
      : mask_(capacity_min == 0 ? 0 : std::bit_ceil(capacity_min) - 1),
        cells_(MakeFixedArray<std::atomic<std::uint64_t>>(capacity_min == 0 ? 0 : mask_ + 1)) {
    for (std::uint64_t place = 0; capacity_min != 0 && place <= mask_; ++place) {
      cells_[place].store(Cell(place, 0), std::memory_order_relaxed);
    }
  }

  // False only when every place is taken (a caller that never pushes more indexes than the
  // capacity never sees it).
  bool Push(std::uint32_t value) noexcept {
    if (!cells_) return false;
    std::uint64_t position = tail_.load(std::memory_order_relaxed);
    for (;;) {
      std::atomic<std::uint64_t>& cell = cells_[position & mask_];
      auto lag = Lag(cell.load(std::memory_order_acquire), position);
      if (lag == 0) {
        if (tail_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          cell.store(Cell(position + 1, value), std::memory_order_release);
          return true;
        }
      } else if (lag < 0) {
        return false;  // the place still holds the value pushed one lap ago: full
      } else {
        position = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // The oldest index pushed and not popped yet; nullopt when there is none.
  std::optional<std::uint32_t> Pop() noexcept {
    if (!cells_) return std::nullopt;
    std::uint64_t position = head_.load(std::memory_order_relaxed);
    for (;;) {
      std::atomic<std::uint64_t>& cell = cells_[position & mask_];
      std::uint64_t word = cell.load(std::memory_order_acquire);
      auto lag = Lag(word, position + 1);
      if (lag == 0) {
        if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          cell.store(Cell(position + mask_ + 1, 0), std::memory_order_release);
          return static_cast<std::uint32_t>(word);
        }
      } else if (lag < 0) {
        return std::nullopt;  // nothing pushed at this position yet: empty
      } else {
        position = head_.load(std::memory_order_relaxed);
      }
    }
  }

  static std::size_t BytesFor(std::uint32_t capacity_min) noexcept {
    return capacity_min == 0 ? 0 : std::bit_ceil(capacity_min) * sizeof(std::uint64_t);
  }

 private:
  static std::uint64_t Cell(std::uint64_t sequence, std::uint32_t value) noexcept {
    return (sequence << 32) | value;
  }
  // How far the cell's sequence is ahead of `expected` (0: it is the cell's turn).
  static std::int32_t Lag(std::uint64_t word, std::uint64_t expected) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(word >> 32) -
                                     static_cast<std::uint32_t>(expected));
  }

  std::uint64_t mask_;
  FixedArray<std::atomic<std::uint64_t>> cells_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

}  // namespace hotdeal::engine::detail
