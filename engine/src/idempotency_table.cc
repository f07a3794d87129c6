// Idempotency keys: bucket lock, lookup, aging.
#include "idempotency_table.h"

#include <bit>
#include <cstring>

#include "hotdeal/base/check.h"
#include "spin_lock.h"

namespace hotdeal::engine::detail {

IdempotencyTable::IdempotencyTable(std::uint32_t keys_max, std::chrono::seconds window,
                                   std::array<std::uint64_t, 2> secret)
    : hasher_(secret),
      window_us_(std::chrono::duration_cast<std::chrono::microseconds>(window).count()),
      buckets_count_(std::bit_ceil((std::uint64_t{keys_max} + kWays - 1) / kWays)),
      buckets_(std::make_unique<Bucket[]>(buckets_count_)) {}

Hash128 IdempotencyTable::Fingerprint(std::uint32_t campaign, const UserId& user,
                                      const IdempotencyKey& key) const noexcept {
  // Lengths are part of the message, so ("ab","c") and ("a","bc") differ.
  std::array<char, 4 + 2 + UserId::kSizeMax + IdempotencyKey::kSizeMax> message{};
  std::size_t size = 0;
  std::memcpy(message.data(), &campaign, 4);
  size += 4;
  message[size++] = static_cast<char>(user.size());
  message[size++] = static_cast<char>(key.size());
  std::memcpy(message.data() + size, user.view().data(), user.size());
  size += user.size();
  std::memcpy(message.data() + size, key.view().data(), key.size());
  size += key.size();
  return hasher_.Hash({message.data(), size});
}

IdempotencyTable::Result IdempotencyTable::Begin(std::uint32_t campaign, const UserId& user,
                                                 const IdempotencyKey& key,
                                                 TimePoint now) noexcept {
  Hash128 fingerprint = Fingerprint(campaign, user, key);
  std::uint32_t bucket_index = static_cast<std::uint32_t>(fingerprint.low & (buckets_count_ - 1));
  Bucket& bucket = buckets_[bucket_index];
  std::int64_t now_us = now.time_since_epoch().count();
  unsigned spins = 0;
  for (;;) {
    {
      SpinGuard guard(bucket.lock);
      bool pending = false;
      std::uint32_t free_way = kWays;
      for (std::uint32_t i = 0; i < kWays; ++i) {
        Way& way = bucket.ways[i];
        const bool decided = way.state == WayState::kDone || way.state == WayState::kRevoked;
        bool aged = decided && now_us - way.created_at_us >= window_us_;
        if (way.state == WayState::kEmpty || aged) {
          if (free_way == kWays) free_way = i;
          continue;
        }
        if (way.fingerprint != fingerprint) continue;
        if (way.state == WayState::kPending) {
          pending = true;
          break;
        }
        return {Lookup::kReplay, way.value, way.state == WayState::kRevoked, {bucket_index, i}};
      }
      if (!pending) {
        if (free_way == kWays) return {Lookup::kFull, 0, false, {}};
        Way& way = bucket.ways[free_way];
        way = Way{fingerprint, 0, now_us, WayState::kPending};
        return {Lookup::kNew, 0, false, {bucket_index, free_way}};
      }
    }
    // The same key is being decided by another request right now: wait for its outcome.
    SpinWait(spins);
  }
}

void IdempotencyTable::Finish(Ref ref, std::uint64_t value) noexcept {
  Bucket& bucket = buckets_[ref.bucket];
  SpinGuard guard(bucket.lock);
  Way& way = bucket.ways[ref.way];
  HOTDEAL_ASSERT(way.state == WayState::kPending);
  way.value = value;
  way.state = WayState::kDone;
}

bool IdempotencyTable::Reclaim(Ref ref, std::uint64_t undone, TimePoint now) noexcept {
  Bucket& bucket = buckets_[ref.bucket];
  SpinGuard guard(bucket.lock);
  Way& way = bucket.ways[ref.way];
  const bool decided = way.state == WayState::kDone || way.state == WayState::kRevoked;
  if (!decided || way.value != undone) return false;
  way.state = WayState::kPending;
  way.created_at_us = now.time_since_epoch().count();
  return true;
}

void IdempotencyTable::Undo(std::uint32_t campaign, const UserId& user, const IdempotencyKey& key,
                            std::uint64_t value) noexcept {
  Hash128 fingerprint = Fingerprint(campaign, user, key);
  Bucket& bucket = buckets_[fingerprint.low & (buckets_count_ - 1)];
  SpinGuard guard(bucket.lock);
  for (Way& way : bucket.ways) {
    if (way.fingerprint == fingerprint && way.state == WayState::kDone && way.value == value) {
      way.state = WayState::kRevoked;
      return;
    }
  }
}

void IdempotencyTable::Forget(Ref ref) noexcept {
  Bucket& bucket = buckets_[ref.bucket];
  SpinGuard guard(bucket.lock);
  Way& way = bucket.ways[ref.way];
  HOTDEAL_ASSERT(way.state == WayState::kPending);
  way.state = WayState::kEmpty;
}

}  // namespace hotdeal::engine::detail
