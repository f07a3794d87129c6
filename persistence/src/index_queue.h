// A bounded multi-producer multi-consumer queue of slot indices (Vyukov's sequence-numbered
// ring): the free list of KafkaLog's slot table. Lock-free, fixed size, no allocation after
// construction.
//
// Must never: grow, block, or hand out an index twice (each index is pushed once per pop).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

namespace hotdeal::persistence {

class IndexQueue {
 public:
  // `capacity` must be a power of two.
  explicit IndexQueue(std::uint32_t capacity)
      : mask_(capacity - 1), cells_(std::make_unique<Cell[]>(capacity)) {
    for (std::uint32_t i = 0; i < capacity; ++i)
      cells_[i].sequence.store(i);
  }

  // False only if full, which a free list of `capacity` indices never is.
  bool Push(std::uint32_t value) noexcept {
    std::uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const std::uint64_t sequence = cell.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(sequence - pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = value;
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  std::optional<std::uint32_t> Pop() noexcept {
    std::uint64_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const std::uint64_t sequence = cell.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(sequence - (pos + 1));
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          const std::uint32_t value = cell.value;
          cell.sequence.store(pos + mask_ + 1, std::memory_order_release);
          return value;
        }
      } else if (diff < 0) {
        return std::nullopt;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

 private:
  struct Cell {
    std::atomic<std::uint64_t> sequence{0};
    std::uint32_t value = 0;
  };
  const std::uint64_t mask_;
  std::unique_ptr<Cell[]> cells_;
  // Producers and consumers each hammer their own end: keep them on separate cache lines.
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

}  // namespace hotdeal::persistence
