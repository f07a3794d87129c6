// One rate limit (per user id, or per client address) shared by every worker thread: a token
// bucket per key, kept as a GCRA "theoretical arrival time" in one 64-bit word, in a fixed
// table sized at start. Taking a token is loads of one cache line and at most one CAS; a
// refusal writes nothing, so a bot hammering one key does not make its line bounce between
// cores. Must never allocate or lock after construction, and never block a worker.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "hotdeal/gateway/server.h"

namespace hotdeal::gateway {

enum class RateVerdict : std::uint8_t {
  kAllowed,
  kAllowedEvicted,    // allowed; the key took the slot of another key whose bucket was full
                      // again (idle), which loses nothing: a full bucket equals a new one
  kAllowedTableFull,  // allowed without a bucket: every slot of the key's set is in use by
                      // other keys still below their burst (fail open, counted)
  kLimited,
};

struct RateDecision {
  RateVerdict verdict = RateVerdict::kAllowed;
  std::uint32_t retry_after_seconds = 0;  // kLimited: until one token is back, at least 1
};

// Keys hash into sets of 8 slots (one cache line). Within its set a key is found by a 16-bit
// tag; a slot whose bucket has refilled (its arrival time has passed) is free for any key.
// Collisions: two keys with the same set and tag share a bucket (about 1 in 65 536 per pair
// in a set), which can only limit them sooner, never let more through than twice the rate.
// A set with no free slot lets the request through and says so (kAllowedTableFull): a full
// table must not refuse users the limit knows nothing about.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `slots` is rounded up to a power of two, at least one set. `seed` keys the hash, so
  // clients cannot pick ids that collide on purpose.
  RateLimiter(RateLimit limit, std::uint32_t slots, std::uint64_t seed);

  bool enabled() const { return limit_.per_second != 0; }
  const RateLimit& limit() const { return limit_; }
  std::size_t slots() const { return set_count_ * kSetSlots; }

  // The hash of a key (a user id, an address's bytes).
  std::uint64_t Hash(std::string_view key) const;

  // Takes one token for `key_hash` at `now`. Any thread, concurrently: the slot's word is
  // only ever replaced by a CAS from the value the decision was computed on, so racing takes
  // of one bucket are exact. (Two threads inserting the same new key at once may, rarely, put
  // it in two slots of its set; that key then gets at most one extra burst.)
  RateDecision Take(std::uint64_t key_hash, Clock::time_point now);

 private:
  static constexpr std::size_t kSetSlots = 8;
  struct alignas(64) Set {
    std::array<std::atomic<std::uint64_t>, kSetSlots> slots{};
  };

  const RateLimit limit_;
  const std::uint64_t interval_micros_;  // one token's worth of time
  const std::uint64_t burst_micros_;     // how far ahead of now the arrival time may run
  const std::uint64_t seed_;
  const std::size_t set_count_;
  const Clock::time_point epoch_;
  std::unique_ptr<Set[]> sets_;
};

}  // namespace hotdeal::gateway
