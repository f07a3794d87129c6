// Rounds of one race: every round releases all threads at once into the same step, waits for
// each to finish it, then checks the round on the calling thread while they wait for the next.
// Test code only.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "hotdeal/base/check.h"
#include "spin_lock.h"

namespace hotdeal::engine::testing {

// Runs `step(thread, round)` on `threads` threads for rounds 1..`rounds`, and `check(round)` after
// each round. A check that fails fatally (ASSERT_*) ends the checks; the threads run out their
// remaining rounds unchecked and are joined, so the test ends cleanly.
template <class Step, class Check>
void RaceRounds(std::uint32_t threads, long long rounds, Step&& step, Check&& check) {
  std::atomic<long long> round{0};
  std::atomic<long long> arrived{0};
  std::vector<std::thread> workers;
  for (std::uint32_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (long long r = 1; r <= rounds; ++r) {
        unsigned spins = 0;
        while (round.load(std::memory_order_acquire) < r)
          detail::SpinWait(spins);
        step(t, r);
        arrived.fetch_add(1, std::memory_order_acq_rel);
      }
    });
  }
  for (long long r = 1; r <= rounds; ++r) {
    round.store(r, std::memory_order_release);
    unsigned spins = 0;
    while (arrived.load(std::memory_order_acquire) < threads * r)
      detail::SpinWait(spins);
    check(r);
    if (::testing::Test::HasFatalFailure()) break;
  }
  round.store(rounds, std::memory_order_release);
  for (std::thread& worker : workers)
    worker.join();
}

}  // namespace hotdeal::engine::testing
