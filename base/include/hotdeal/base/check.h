// Checks for every module. HOTDEAL_ASSERT is always on (independent of NDEBUG): it guards
// invariants whose breach would oversell, lose a decision or answer the wrong client, where
// stopping is safer than going on. HOTDEAL_DEBUG_ASSERT checks the rest in debug builds only;
// HOTDEAL_UNREACHABLE marks a branch no input can reach. Never used for operating errors (a full
// table, a refused event, a lost connection): those are values the caller handles.
#pragma once

namespace hotdeal::base {

// Writes one log line naming the condition and where, then aborts.
[[noreturn]] void CheckFailed(const char* what, const char* condition, const char* file, int line);

}  // namespace hotdeal::base

#define HOTDEAL_ASSERT(condition)                                                       \
  do {                                                                                  \
    if (__builtin_expect(!(condition), 0))                                              \
      ::hotdeal::base::CheckFailed("assertion failed", #condition, __FILE__, __LINE__); \
  } while (0)

#define HOTDEAL_UNREACHABLE() \
  ::hotdeal::base::CheckFailed("unreachable code reached", "", __FILE__, __LINE__)

#ifdef NDEBUG
#define HOTDEAL_DEBUG_ASSERT(condition) \
  do {                                  \
  } while (0)
#else
#define HOTDEAL_DEBUG_ASSERT(condition) HOTDEAL_ASSERT(condition)
#endif
