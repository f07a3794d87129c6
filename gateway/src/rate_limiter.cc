// RateLimiter: GCRA over a set-associative table of packed words (16-bit tag, 48-bit
// arrival time in microseconds since the limiter was made: 8.9 years before it wraps).
#include "rate_limiter.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace hotdeal::gateway {
namespace {

constexpr std::uint64_t kMicrosPerSecond = 1'000'000;
constexpr int kTagShift = 48;
constexpr std::uint64_t kTimeMask = (std::uint64_t{1} << kTagShift) - 1;

// MurmurHash3's 64-bit finalizer: a bijection that spreads every input bit over the output.
std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

std::uint64_t Pack(std::uint64_t tag, std::uint64_t arrival_micros) {
  return tag << kTagShift | (arrival_micros & kTimeMask);
}

}  // namespace

RateLimiter::RateLimiter(RateLimit limit, std::uint32_t slots, std::uint64_t seed)
    : limit_(limit),
      interval_micros_(limit.per_second == 0 ? 0 : kMicrosPerSecond / limit.per_second),
      burst_micros_(interval_micros_ * std::max<std::uint32_t>(limit.burst, 1)),
      seed_(seed),
      set_count_(std::bit_ceil(std::max<std::size_t>(slots / kSetSlots, 1))),
      epoch_(Clock::now()),
      // Value-initialised: every word 0, an arrival time long past, so every slot is free.
      sets_(enabled() ? std::make_unique<Set[]>(set_count_) : nullptr) {}

std::uint64_t RateLimiter::Hash(std::string_view key) const {
  std::uint64_t hash = Mix(seed_ ^ (key.size() * 0x9e3779b97f4a7c15ULL));
  while (!key.empty()) {
    std::uint64_t chunk = 0;
    std::size_t n = std::min(key.size(), sizeof chunk);
    std::memcpy(&chunk, key.data(), n);
    hash = Mix(hash ^ chunk);
    key.remove_prefix(n);
  }
  return hash;
}

RateDecision RateLimiter::Take(std::uint64_t key_hash, Clock::time_point now) {
  // A worker's cached clock may have been read just before the limiter was made.
  auto now_micros =
      now <= epoch_
          ? 0
          : static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(now - epoch_).count());
  Set& set = sets_[key_hash & (set_count_ - 1)];
  const std::uint64_t tag = key_hash >> kTagShift;
  // Each failed CAS means another thread changed the word (a refusal writes nothing), so some
  // take made progress: the loop is lock-free.
  while (true) {
    std::size_t chosen = kSetSlots;
    std::uint64_t chosen_word = 0;
    for (std::size_t i = 0; i < kSetSlots; ++i) {
      std::uint64_t word = set.slots[i].load(std::memory_order_relaxed);
      if (word >> kTagShift == tag) {
        chosen = i;
        chosen_word = word;
        break;
      }
      // A bucket whose arrival time has passed is full again: any key may take the slot.
      if (chosen == kSetSlots && (word & kTimeMask) <= now_micros) {
        chosen = i;
        chosen_word = word;
      }
    }
    if (chosen == kSetSlots) return {RateVerdict::kAllowedTableFull, 0};
    bool same_key = chosen_word >> kTagShift == tag;
    std::uint64_t arrival = same_key ? std::max(chosen_word & kTimeMask, now_micros) : now_micros;
    std::uint64_t next_arrival = arrival + interval_micros_;
    if (next_arrival - now_micros > burst_micros_) {
      std::uint64_t wait_micros = next_arrival - now_micros - burst_micros_;
      auto seconds =
          static_cast<std::uint32_t>((wait_micros + kMicrosPerSecond - 1) / kMicrosPerSecond);
      return {RateVerdict::kLimited, std::max<std::uint32_t>(seconds, 1)};
    }
    if (set.slots[chosen].compare_exchange_weak(chosen_word, Pack(tag, next_arrival),
                                                std::memory_order_relaxed)) {
      bool evicted = !same_key && chosen_word != 0;
      return {evicted ? RateVerdict::kAllowedEvicted : RateVerdict::kAllowed, 0};
    }
  }
}

}  // namespace hotdeal::gateway
