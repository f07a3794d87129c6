// A one-word spin lock for the engine's per-bucket critical sections (idempotency keys, the unit
// ledger's inserts): held for a few dozen instructions over one bucket, never across an
// allocation, a syscall or a call out, so a waiter spins briefly (check.h's SpinWait) instead of
// sleeping in the kernel.
#pragma once

#include <atomic>
#include <cstdint>

#include "check.h"

namespace hotdeal::engine::detail {

// Holds `lock` (0 free, 1 held) for its scope. Acquire on taking and release on leaving: what the
// holder wrote is seen by the next holder, so fields guarded by the lock alone may be plain.
class SpinGuard {
 public:
  explicit SpinGuard(std::atomic<std::uint32_t>& lock) noexcept : lock_(lock) {
    unsigned spins = 0;
    while (lock_.exchange(1, std::memory_order_acquire) != 0)
      SpinWait(spins);
  }
  ~SpinGuard() { lock_.store(0, std::memory_order_release); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  std::atomic<std::uint32_t>& lock_;
};

}  // namespace hotdeal::engine::detail
