// A one-word spin lock for the engine's per-bucket critical sections (idempotency keys, the unit
// ledger's inserts): held for a few dozen instructions over one bucket, never across an
// allocation, a syscall or a call out, so a waiter spins briefly (SpinWait) instead of
// sleeping in the kernel.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace hotdeal::engine::detail {

// One step of a bounded spin: a pause hint first, then a yield so that a waiter on a 2-core box
// does not starve the thread it waits for. Only reached on rare races (a concurrent duplicate,
// a stock transfer in flight, a held bucket lock), never in the steady state.
inline void SpinWait(unsigned& spins) noexcept {
  if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}

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
