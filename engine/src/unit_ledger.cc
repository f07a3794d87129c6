// The unit ledger: tag scan and validated lookup, lock-free add and remove, and the fill and
// free of a record's tag under the bucket's lock (the protocol is drawn in unit_ledger.h).
#include "unit_ledger.h"

#include <bit>

#include "check.h"
#include "spin_lock.h"

namespace hotdeal::engine::detail {
namespace {
constexpr std::uint64_t kByteOnes = 0x0101010101010101ull;
constexpr std::uint64_t kByteLowBits = 0x7F7F7F7F7F7F7F7Full;
constexpr std::uint64_t kByteHighBits = 0x8080808080808080ull;

constexpr std::uint32_t UnitsOf(std::uint64_t state) {
  return static_cast<std::uint32_t>(state);
}
constexpr std::uint32_t GenerationOf(std::uint64_t state) {
  return static_cast<std::uint32_t>(state >> 32);
}
constexpr std::uint64_t StateOf(std::uint32_t generation, std::uint32_t units) {
  return std::uint64_t{generation} << 32 | units;
}

// The high bit of each byte of `word` equal to `tag`. Exact: the sum of the low seven bits
// cannot carry out of a byte, so a byte's high bit is set below iff the byte is non-zero.
constexpr std::uint64_t MatchingBytes(std::uint64_t word, std::uint64_t tag) {
  std::uint64_t difference = word ^ (tag * kByteOnes);
  std::uint64_t nonzero = ((difference & kByteLowBits) + kByteLowBits) | difference;
  return ~nonzero & kByteHighBits;
}
static_assert(MatchingBytes(0x0000AB0000AB0001ull, 0xAB) == 0x0000800000800000ull);
static_assert(MatchingBytes(0x0100000000000000ull, 0x00) == 0x0080808080808080ull);
}  // namespace

std::uint64_t UnitLedger::BucketsFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  std::uint64_t live_max = std::uint64_t{users_max} + workers;
  std::uint64_t buckets = (live_max + kUsersPerBucket - 1) / kUsersPerBucket;
  return buckets == 0 ? 1 : buckets;
}

std::size_t UnitLedger::BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  return BucketsFor(users_max, workers) * sizeof(Bucket);
}

UnitLedger::UnitLedger(std::uint32_t users_max, std::uint32_t workers,
                       std::array<std::uint64_t, 2> secret)
    : hasher_(secret),
      buckets_count_(BucketsFor(users_max, workers)),
      buckets_(MakeFixedArray<Bucket>(buckets_count_)) {}

// The bucket from the high word's top bits (multiply-shift: any bucket count, no modulo), the
// tag word the search for a free record starts at from its low bits, the tag from the other
// word.
UnitLedger::Key UnitLedger::KeyOf(const UserId& user) const noexcept {
  Key key;
  key.fingerprint = hasher_.Hash(user.view());
  key.bucket =
      static_cast<std::uint64_t>(static_cast<Uint128>(key.fingerprint.high) * buckets_count_ >> 64);
  key.start_word =
      static_cast<std::uint32_t>((key.fingerprint.high & 0xFFFFFFFFull) * kTagWords >> 32);
  key.tag = key.fingerprint.low >> 56;
  if (key.tag == 0) key.tag = 1;
  return key;
}

// A tag is only a hint (a record being freed keeps its own a moment); the state decides. The state
// is acquired before the fingerprint, so a live state shows the fingerprint its fill wrote; the
// state read after it must still be live at the same generation, or the record was freed (and
// perhaps filled for another user) while we looked, and the fingerprint we read proves nothing.
UnitLedger::Found UnitLedger::Find(const Bucket& bucket, const Key& key) noexcept {
  for (std::uint32_t word = 0; word < kTagWords; ++word) {
    std::uint64_t matches =
        MatchingBytes(bucket.tags[word].load(std::memory_order_relaxed), key.tag);
    for (; matches != 0; matches &= matches - 1) {
      auto way = word * kTagsPerWord + static_cast<std::uint32_t>(std::countr_zero(matches)) / 8;
      const Record& record = bucket.records[way];
      std::uint64_t before = record.state.load(std::memory_order_acquire);
      if (UnitsOf(before) == 0) continue;
      if (record.fingerprint_low.load(std::memory_order_acquire) != key.fingerprint.low ||
          record.fingerprint_high.load(std::memory_order_acquire) != key.fingerprint.high) {
        continue;
      }
      // Not above the fingerprint loads: they are acquire.
      std::uint64_t after = record.state.load(std::memory_order_relaxed);
      if (GenerationOf(after) == GenerationOf(before) && UnitsOf(after) != 0) return {way, after};
    }
  }
  return {};
}

// True with `result` set if the user's record found live in `found` took the Add (one CAS) or
// is over the limit. False if it was freed before the CAS landed (the generation moved or the
// units reached 0): the caller looks again under the lock. Each state the loop judges is one of
// the record found, at the generation its fingerprint was read under.
bool UnitLedger::AddToLive(Bucket& bucket, const Found& found, std::uint32_t quantity,
                           std::uint32_t limit, AddResult& result) noexcept {
  std::atomic<std::uint64_t>& state = bucket.records[found.way].state;
  std::uint64_t expected = found.state;
  std::uint32_t generation = GenerationOf(expected);
  for (;;) {
    if (UnitsOf(expected) > limit - quantity) {
      result = AddResult::kOverLimit;
      return true;
    }
    // Relaxed: units publish nothing; the fingerprint was published by the fill's release.
    if (state.compare_exchange_weak(expected, expected + quantity, std::memory_order_relaxed)) {
      result = AddResult::kAdded;
      return true;
    }
    if (GenerationOf(expected) != generation || UnitsOf(expected) == 0) return false;
  }
}

void UnitLedger::SetTag(Bucket& bucket, std::uint32_t way, std::uint64_t tag) noexcept {
  std::atomic<std::uint64_t>& tags = bucket.tags[way / kTagsPerWord];
  unsigned shift = way % kTagsPerWord * 8;
  std::uint64_t others = tags.load(std::memory_order_relaxed) & ~(std::uint64_t{0xFF} << shift);
  tags.store(others | tag << shift, std::memory_order_relaxed);
}

// Under the bucket's lock, with no live record of the user in the bucket. Under the lock a tag
// of 0 is exactly a free record: Fill sets it, Free clears it, both holding the lock. A free
// record is written by the lock holder alone (every CAS expects a live state), so plain stores
// cannot lose a concurrent change. The fingerprint's release stores come after the load that
// saw the record free: a reader that reads them sees that free state or later, never the old
// user's.
UnitLedger::AddResult UnitLedger::Fill(Bucket& bucket, const Key& key,
                                       std::uint32_t quantity) noexcept {
  std::uint32_t word = key.start_word;
  for (std::uint32_t probe = 0; probe < kTagWords;
       ++probe, word = word + 1 == kTagWords ? 0 : word + 1) {
    std::uint64_t free = MatchingBytes(bucket.tags[word].load(std::memory_order_relaxed), 0);
    if (free == 0) continue;
    auto way = word * kTagsPerWord + static_cast<std::uint32_t>(std::countr_zero(free)) / 8;
    Record& record = bucket.records[way];
    std::uint64_t state = record.state.load(std::memory_order_relaxed);
    HOTDEAL_ASSERT(UnitsOf(state) == 0);
    SetTag(bucket, way, key.tag);
    record.fingerprint_low.store(key.fingerprint.low, std::memory_order_release);
    record.fingerprint_high.store(key.fingerprint.high, std::memory_order_release);
    // Release: whoever acquires the live state sees the fingerprint (and the tag) above.
    record.state.store(StateOf(GenerationOf(state) + 1, quantity), std::memory_order_release);
    return AddResult::kAdded;
  }
  return AddResult::kFull;
}

// The record's units reached 0 (its state is free since): its tag goes to 0, which hands it to
// the next Fill and keeps lookups of the tag's other users from reading it.
void UnitLedger::Free(Bucket& bucket, std::uint32_t way) noexcept {
  SpinGuard guard(bucket.lock);
  // No Fill takes a record whose tag is set: it is still the free state the Remove left.
  HOTDEAL_DEBUG_ASSERT(UnitsOf(bucket.records[way].state.load(std::memory_order_relaxed)) == 0);
  SetTag(bucket, way, 0);
}

template <class AfterLookup>
UnitLedger::AddResult UnitLedger::AddWith(const UserId& user, std::uint32_t quantity,
                                          std::uint32_t limit,
                                          AfterLookup&& after_lookup) noexcept {
  // A record of 0 units would be a free one: every holder holds at least one unit.
  HOTDEAL_ASSERT(quantity >= 1);
  if (quantity > limit) return AddResult::kOverLimit;
  Key key = KeyOf(user);
  Bucket& bucket = buckets_[key.bucket];
  AddResult result = AddResult::kFull;
  Found found = Find(bucket, key);
  after_lookup();
  if (found.way != kWays && AddToLive(bucket, found, quantity, limit, result)) return result;
  SpinGuard guard(bucket.lock);
  // Records turn live only under this lock: none of the user's found now means none exists.
  found = Find(bucket, key);
  if (found.way != kWays && AddToLive(bucket, found, quantity, limit, result)) return result;
  return Fill(bucket, key, quantity);
}

UnitLedger::AddResult UnitLedger::Add(const UserId& user, std::uint32_t quantity,
                                      std::uint32_t limit) noexcept {
  return AddWith(user, quantity, limit, [] {});
}

UnitLedger::AddResult UnitLedger::TEST_Add(const UserId& user, std::uint32_t quantity,
                                           std::uint32_t limit,
                                           const std::function<void()>& after_lookup) {
  return AddWith(user, quantity, limit, after_lookup);
}

// The caller's units keep the record live and at its generation: only other orders of the same
// user move it meanwhile, each by its own units. A record not found, or too few units, means
// units given back twice, which would also have returned stock twice.
void UnitLedger::Remove(const UserId& user, std::uint32_t quantity) noexcept {
  Key key = KeyOf(user);
  Bucket& bucket = buckets_[key.bucket];
  Found found = Find(bucket, key);
  HOTDEAL_ASSERT(found.way != kWays);
  std::atomic<std::uint64_t>& state = bucket.records[found.way].state;
  std::uint64_t expected = found.state;
  std::uint32_t generation = GenerationOf(expected);
  do {
    HOTDEAL_ASSERT(GenerationOf(expected) == generation);
    HOTDEAL_ASSERT(UnitsOf(expected) >= quantity);
  } while (!state.compare_exchange_weak(expected, expected - quantity, std::memory_order_relaxed));
  if (UnitsOf(expected) == quantity) Free(bucket, found.way);
}

std::uint32_t UnitLedger::Units(const UserId& user) const noexcept {
  Key key = KeyOf(user);
  Found found = Find(buckets_[key.bucket], key);
  return found.way == kWays ? 0 : UnitsOf(found.state);
}

}  // namespace hotdeal::engine::detail
