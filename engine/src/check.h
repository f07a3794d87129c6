// Assertions for the engine. HOTDEAL_ASSERT is always on (independent of NDEBUG): it guards
// invariants whose breach would oversell or lose a decision, where stopping is safer than
// going on. HOTDEAL_DEBUG_ASSERT checks the rest in debug builds only. Never used for
// operating errors (a full table, a refused event): those are Outcome values.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace hotdeal::engine::detail {

[[noreturn]] inline void AssertFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "hotdeal engine: assertion failed: %s (%s:%d)\n", condition, file, line);
  std::abort();
}

// One step of a bounded spin: a pause hint first, then a yield so that a waiter on a 2-core box
// does not starve the thread it waits for. Only reached on rare races (a concurrent duplicate,
// a stock transfer in flight), never in the steady state.
inline void SpinWait(unsigned& spins) noexcept {
  if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}

}  // namespace hotdeal::engine::detail

#define HOTDEAL_ASSERT(condition)                                              \
  do {                                                                         \
    if (__builtin_expect(!(condition), 0))                                     \
      ::hotdeal::engine::detail::AssertFailed(#condition, __FILE__, __LINE__); \
  } while (0)

#ifdef NDEBUG
#define HOTDEAL_DEBUG_ASSERT(condition) \
  do {                                  \
  } while (0)
#else
#define HOTDEAL_DEBUG_ASSERT(condition) HOTDEAL_ASSERT(condition)
#endif
