// Per-user records that are freed and refilled, for both ledgers (unit_ledger.h for sales,
// coupon_ledger.h for coupons). Sized once; a user's record lives only in their home bucket.
//
// A user is named by a keyed 128-bit SipHash fingerprint of the id (hash.h), never by the id
// itself: a record's key is two words, a torn read of an id cannot happen, and the 64-byte id is
// not stored. A bucket is one header (spin lock and one 8-bit tag per record: fingerprint bits for
// the lookup to compare 8 records per word) and its records. Fingerprints are keyed with a secret
// the clients never see, so where a user lives is independent of their id until the first full
// bucket (the one answer that depends on the key): each ledger bounds that chance for its load.
//
// A record's `state` word is (generation << 32) | value. value != 0 is a live record, whose
// fingerprint names its user; value == 0 is freeing or free (the fingerprint is left over). What
// a live value means is the ledger's (units held, a claim's state). Under the lock a tag of 0 is
// exactly a free record:
//
//   FREE {g, 0}, tag 0 --Fill--> LIVE {g + 1, v}, tag t --the ledger's CAS--> LIVE {g + 1, v'}
//        ^                                                                        |
//        +--Free-- FREEING {g + 1, 0}, tag t <--the ledger's CAS to value 0-------+
//
//   Fill: under the bucket's lock, after a lookup there found no live record of the user: tag,
//         fingerprint (release), then the state (release).
//   Free: the caller that moved the state to value 0 clears the tag, under the lock.
//
// FREEING lasts from that CAS to Free: lookups skip it (value 0) and no Fill takes it (its tag is
// set). Free clears the tag so that lookups of the tag's other users do not read the record and
// the next Fill finds it in the header, without reading records.
//
// Why it is exact:
// - One live record per user: a record only turns live under its bucket's lock, after the holder
//   found no live record of the user there, and a user's records are only ever in that bucket.
// - Only the lock holder writes a free record's key; the ledgers' CASes expect a live state, so a
//   record being filled cannot be touched, and a CAS that finds the record freed fails.
// - No ABA: a reader that found a record live at generation g reads the fingerprint, then uses
//   the record only while its state still carries g with a live value. Filling a record bumps the
//   generation, so a record freed and refilled for another user since answers a changed state
//   and the reader looks again. (A reader that read a later user's fingerprint synchronised with
//   that fill, which came after the free: its later load of `state` sees the free or later.) The
//   guard is 32 bits: a stale reader would have to sleep between two loads while 2^32 other users
//   took and freed that one record (at >= 50 ns a fill, over 3 minutes).
// Fingerprints: two distinct users share one only by a SipHash collision, 2^-128 per pair under a
// secret key; a lookup compares against at most one bucket's live users.
//
// Threading: lookups are lock-free (the tags are relaxed hints, a record's state is acquired
// before its fingerprint, so a live state shows its fill's fingerprint). The lock is held for a
// lookup again, the first zero tag from a random tag word and a few stores, or for one tag store:
// no allocation, syscall or call out while held, and only users of the same bucket share it.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "fixed_array.h"
#include "hash.h"
#include "hotdeal/base/check.h"
#include "hotdeal/engine/types.h"
#include "spin_lock.h"

namespace hotdeal::engine::detail {

// The key and state every record starts with; a ledger's record adds its payload after them.
struct FingerprintRecord {
  std::atomic<std::uint64_t> state{0};  // (generation << 32) | value; value 0: free or freeing
  std::atomic<std::uint64_t> fingerprint_low{0};
  std::atomic<std::uint64_t> fingerprint_high{0};
};

constexpr std::uint32_t RecordValue(std::uint64_t state) {
  return static_cast<std::uint32_t>(state);
}
constexpr std::uint32_t RecordGeneration(std::uint64_t state) {
  return static_cast<std::uint32_t>(state >> 32);
}
constexpr std::uint64_t RecordState(std::uint32_t generation, std::uint32_t value) {
  return std::uint64_t{generation} << 32 | value;
}

// The high bit of each byte of `word` equal to `tag`. Exact: the sum of the low seven bits
// cannot carry out of a byte, so a byte's high bit is set below iff the byte is non-zero.
constexpr std::uint64_t MatchingBytes(std::uint64_t word, std::uint64_t tag) {
  constexpr std::uint64_t kByteOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kByteLowBits = 0x7F7F7F7F7F7F7F7Full;
  constexpr std::uint64_t kByteHighBits = 0x8080808080808080ull;
  std::uint64_t difference = word ^ (tag * kByteOnes);
  std::uint64_t nonzero = ((difference & kByteLowBits) + kByteLowBits) | difference;
  return ~nonzero & kByteHighBits;
}
static_assert(MatchingBytes(0x0000AB0000AB0001ull, 0xAB) == 0x0000800000800000ull);
static_assert(MatchingBytes(0x0100000000000000ull, 0x00) == 0x0080808080808080ull);

template <class Record, std::uint32_t Ways>
class FingerprintBuckets {
  static_assert(std::is_base_of_v<FingerprintRecord, Record>);

 public:
  static constexpr std::uint32_t kWays = Ways;
  static constexpr std::uint32_t kTagsPerWord = 8;
  static constexpr std::uint32_t kTagWords = kWays / kTagsPerWord;
  static_assert(kWays % kTagsPerWord == 0);

  struct Bucket {
    // Taken to fill a free record and to free one; the holder is the only writer of the tags.
    std::atomic<std::uint32_t> lock{0};
    std::array<std::atomic<std::uint64_t>, kTagWords> tags{};
    std::array<Record, kWays> records{};
  };
  // Where a user lives and what names them there.
  struct Key {
    Hash128 fingerprint;
    std::uint64_t bucket = 0;
    std::uint64_t tag = 0;         // 1..255: 0 is a free record's
    std::uint32_t start_word = 0;  // the tag word the search for a free record begins at
  };
  // A live record of the user and a state of it read after its fingerprint matched.
  struct Found {
    std::uint32_t way = kWays;  // kWays: none
    std::uint64_t state = 0;
    explicit operator bool() const noexcept { return way != kWays; }
  };

  FingerprintBuckets(std::uint64_t buckets, std::array<std::uint64_t, 2> secret)
      : hasher_(secret), count_(buckets), buckets_(MakeFixedArray<Bucket>(buckets)) {}

  // Buckets for `live_max` live records at most, `per_bucket` on average; at least one.
  static constexpr std::uint64_t CountFor(std::uint64_t live_max, std::uint32_t per_bucket) {
    std::uint64_t buckets = (live_max + per_bucket - 1) / per_bucket;
    return buckets == 0 ? 1 : buckets;
  }
  static constexpr std::size_t kBucketBytes = sizeof(Bucket);
  std::uint64_t count() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return count_ * sizeof(Bucket); }

  // The bucket from the high word's top bits (multiply-shift: any bucket count, no modulo), the
  // tag word the search for a free record starts at from its low bits, the tag from the other
  // word.
  Key KeyOf(const UserId& user) const noexcept {
    Key key;
    key.fingerprint = hasher_.Hash(user.view());
    key.bucket =
        static_cast<std::uint64_t>(static_cast<Uint128>(key.fingerprint.high) * count_ >> 64);
    key.start_word =
        static_cast<std::uint32_t>((key.fingerprint.high & 0xFFFFFFFFull) * kTagWords >> 32);
    key.tag = key.fingerprint.low >> 56;
    if (key.tag == 0) key.tag = 1;
    return key;
  }
  Bucket& BucketOf(const Key& key) noexcept { return buckets_[key.bucket]; }
  const Bucket& BucketOf(const Key& key) const noexcept { return buckets_[key.bucket]; }

  // A tag is only a hint (a record being freed keeps its own a moment); the state decides. The
  // state is acquired before the fingerprint, so a live state shows the fingerprint its fill
  // wrote; the state read after it must still be live at the same generation, or the record was
  // freed (and perhaps filled for another user) while we looked, and the fingerprint we read
  // proves nothing.
  static Found Find(const Bucket& bucket, const Key& key) noexcept {
    for (std::uint32_t word = 0; word < kTagWords; ++word) {
      std::uint64_t matches =
          MatchingBytes(bucket.tags[word].load(std::memory_order_relaxed), key.tag);
      for (; matches != 0; matches &= matches - 1) {
        auto way = word * kTagsPerWord + static_cast<std::uint32_t>(std::countr_zero(matches)) / 8;
        const Record& record = bucket.records[way];
        std::uint64_t before = record.state.load(std::memory_order_acquire);
        if (RecordValue(before) == 0) continue;
        if (record.fingerprint_low.load(std::memory_order_acquire) != key.fingerprint.low ||
            record.fingerprint_high.load(std::memory_order_acquire) != key.fingerprint.high) {
          continue;
        }
        // Not above the fingerprint loads: they are acquire.
        std::uint64_t after = record.state.load(std::memory_order_relaxed);
        if (RecordGeneration(after) == RecordGeneration(before) && RecordValue(after) != 0)
          return {way, after};
      }
    }
    return {};
  }

  // Under the bucket's lock, with no live record of the user in the bucket: makes one live with
  // `value` (non-zero) and answers it, or none if every record is taken. Under the lock a tag of
  // 0 is exactly a free record: Fill sets it, Free clears it, both holding the lock. A free record
  // is written by the lock holder alone (every CAS expects a live state), so plain stores cannot
  // lose a concurrent change. The fingerprint's release stores come after the load that saw the
  // record free: a reader that reads them sees that free state or later, never the old user's.
  static Found Fill(Bucket& bucket, const Key& key, std::uint32_t value) noexcept {
    HOTDEAL_ASSERT(value != 0);
    std::uint32_t word = key.start_word;
    for (std::uint32_t probe = 0; probe < kTagWords;
         ++probe, word = word + 1 == kTagWords ? 0 : word + 1) {
      std::uint64_t free = MatchingBytes(bucket.tags[word].load(std::memory_order_relaxed), 0);
      if (free == 0) continue;
      auto way = word * kTagsPerWord + static_cast<std::uint32_t>(std::countr_zero(free)) / 8;
      Record& record = bucket.records[way];
      std::uint64_t state = record.state.load(std::memory_order_relaxed);
      HOTDEAL_ASSERT(RecordValue(state) == 0);
      SetTag(bucket, way, key.tag);
      record.fingerprint_low.store(key.fingerprint.low, std::memory_order_release);
      record.fingerprint_high.store(key.fingerprint.high, std::memory_order_release);
      // Release: whoever acquires the live state sees the fingerprint (and the tag) above.
      std::uint64_t live = RecordState(RecordGeneration(state) + 1, value);
      record.state.store(live, std::memory_order_release);
      return {way, live};
    }
    return {};
  }

  // The record's value was moved to 0 by the caller (its state is freeing since): its tag goes to
  // 0, which hands it to the next Fill and keeps lookups of the tag's other users from reading it.
  static void Free(Bucket& bucket, std::uint32_t way) noexcept {
    SpinGuard guard(bucket.lock);
    // No Fill takes a record whose tag is set: it is still the state the caller left.
    HOTDEAL_DEBUG_ASSERT(RecordValue(bucket.records[way].state.load(std::memory_order_relaxed)) ==
                         0);
    SetTag(bucket, way, 0);
  }

 private:
  // Whole cache lines: in an array of buckets none shares a line with the next.
  static_assert(sizeof(Bucket) % 64 == 0);

  static void SetTag(Bucket& bucket, std::uint32_t way, std::uint64_t tag) noexcept {
    std::atomic<std::uint64_t>& tags = bucket.tags[way / kTagsPerWord];
    unsigned shift = way % kTagsPerWord * 8;
    std::uint64_t others = tags.load(std::memory_order_relaxed) & ~(std::uint64_t{0xFF} << shift);
    tags.store(others | tag << shift, std::memory_order_relaxed);
  }

  SipHasher hasher_;
  std::uint64_t count_;
  FixedArray<Bucket> buckets_;
};

}  // namespace hotdeal::engine::detail
