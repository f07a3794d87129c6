// Sale campaigns: the units each user holds in reserved and confirmed orders, against the
// per-user limit. Sized once when the campaign is created; a user's record is freed when their
// units fall to 0, so a sale churned by any number of distinct users (reserve, cancel, expire,
// new users) keeps selling while stock remains (ARCHITECTURE.md, invariant 9). Coupon campaigns
// keep UserLedger, which never frees (a claim is for ever).
//
// Layout. Buckets of kWays records; a user lives only in their home bucket. A user is named by
// a keyed 128-bit SipHash fingerprint of the id (hash.h), never by the id itself: a record is
// three words, a torn read of an id cannot happen, and the 64-byte id is not stored. A bucket is
// one header (spin lock and one 8-bit tag per record: fingerprint bits for the lookup to compare
// 8 records per word) and its records, 3008 bytes for 48 units of stock: ~63 bytes per unit
// (UserLedger: ~240).
//
// A record's `state` word is (generation << 32) | units, beside its tag in the header. units > 0
// is a live record, whose fingerprint names its user; units == 0 is freeing or free (the
// fingerprint is left over). Under the lock a tag of 0 is exactly a free record:
//
//   FREE {g, 0}, tag 0 --Fill--> LIVE {g + 1, q}, tag t --Add, Remove--> LIVE {g + 1, u +- q}
//        ^                                                                        |
//        +--Free-- FREEING {g + 1, 0}, tag t <--Remove of the last units----------+
//
//   Fill: an Add of a user with no live record, under the bucket's lock: tag, fingerprint
//         (release), then the state (release). Add, Remove: one CAS on the state, no lock.
//   Free: the Remove that left 0 units clears the tag, under the lock.
//
// FREEING lasts from the Remove's CAS to its Free: lookups skip it (units 0) and no Fill takes
// it (its tag is set). Free clears the tag so that lookups of the tag's other users do not read
// the record and the next Fill finds it in the header, without reading records.
//
// Why it is exact:
// - One live record per user: a record only turns live under its bucket's lock, after the
//   holder found no live record of the user there, and a user's records are only ever in that
//   bucket. So a user's units are one word, and every Add checks the limit and adds in one CAS
//   on it: two concurrent Adds of one user never pass the limit together.
// - Only the lock holder writes a free record's fields; Add and Remove move live ones only (their
//   CAS expects a live state), so a record being filled cannot be touched, and an Add whose CAS
//   finds the record freed by a Remove does not add to it: it takes the lock and adds to the
//   user's record there, or makes a fresh one. An Add is never lost.
// - No ABA: a reader that found a record live at generation g reads the fingerprint, then uses
//   the record only while its state still carries g with units > 0. Filling a record bumps the
//   generation, so a record freed and refilled for another user since answers a changed state
//   and the reader looks again. (A reader that read a later user's fingerprint synchronised
//   with that fill, which came after the free: its later load of `state` sees the free or
//   later.) The guard is 32 bits: a stale reader would have to sleep between two loads while
//   2^32 other users took and freed that one record (at >= 50 ns a fill, over 3 minutes).
//
// Sizing and the bound. Every user with a live record holds >= 1 unit, so at most `users_max`
// (the stock) users hold units, plus one transient user per worker (PlaceOrder raises units
// before taking stock, and lowers them again if the stock is gone): n = users_max + workers.
// The ledger has ceil(n / 48) buckets of 120 records, a load of at most 0.4. Fingerprints are
// keyed with a secret the clients never see, so which users hold units is independent of where
// they live until the first kFull (the one answer that depends on the key). An Add of a new
// user answers kFull only if the other live users already fill its bucket: with m <= n others,
// each in the bucket with probability 1/B, the count is Binomial(m, 1/B) with mean mu <= 48, and
// P(count >= 120) <= e^-mu (e * mu / 120)^120 <= 3.3e-17 (Chernoff). By the union bound a sale
// of 10^9 Adds sees kFull with probability below 4e-8; a ledger of one bucket (users_max +
// workers <= 48) never does. Recovery replays the live engine's history, whose live users obey
// the same bound but for returns logged after the sale that reused their units (a few per
// worker): n grows by those few, and the bound barely moves. kFull there is the caller's to
// report (ARCHITECTURE.md, invariant 10).
// Fingerprints: two distinct users share one only by a SipHash collision, 2^-128 per pair under
// a secret key; each Add compares against at most n live users, so 10^12 Adds against 2^31 live
// users meet one with probability below 2^-57.
//
// Threading: any thread may call Add, Remove and Units at once, on any users, with no other
// synchronisation; recovery calls them on one thread before the workers start, like any
// caller. Lookups are lock-free: the tags are relaxed hints, a record's state is acquired
// before its fingerprint (so a live state shows its fill's fingerprint), and units move by
// relaxed CAS (units publish nothing else), so the ledger orders nothing of the caller's: a Remove
// of an order's units must follow its Add by the caller's own synchronisation (the engine's
// order slot status, release then acquire), as with UserLedger. The bucket's spin lock is taken by
// an Add of a user with no live record, for a lookup again, the first zero tag from a random tag
// word and four stores, and by a Remove that freed a record, for one tag store. No allocation,
// syscall or call out while held, and only users of the same bucket share it (at most 48 live on
// average), as the idempotency table's bucket locks do.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "fixed_array.h"
#include "hash.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

class UnitLedger {
 public:
  enum class AddResult : std::uint8_t {
    kAdded,      // the user holds `quantity` more units
    kOverLimit,  // nothing changed: the units would pass `limit`
    kFull,       // nothing changed: the user's bucket has no free record (kOverCapacity)
  };

  // Records per bucket and the live users a bucket is sized for (load <= 0.4, see above).
  static constexpr std::uint32_t kWays = 120;
  static constexpr std::uint32_t kUsersPerBucket = 48;

  // Room for `users_max` users holding units (the stock) plus one in flight per worker.
  // `secret` keys the fingerprints: random per engine, never shown to clients.
  UnitLedger(std::uint32_t users_max, std::uint32_t workers, std::array<std::uint64_t, 2> secret);

  // Adds `quantity` (>= 1) to the user's units unless that passes `limit`; makes the user's
  // record if they hold none. A concurrent Add of the same user is ordered before or after
  // this one, never beside it.
  AddResult Add(const UserId& user, std::uint32_t quantity, std::uint32_t limit) noexcept;
  // Gives back `quantity` of the user's units; the caller holds at least that many (an order of
  // theirs that an Add counted and nothing removed since; asserted). At 0 the record is freed.
  void Remove(const UserId& user, std::uint32_t quantity) noexcept;
  // The user's units now (0 if they hold none).
  std::uint32_t Units(const UserId& user) const noexcept;

  static std::size_t BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept;
  std::size_t bytes() const noexcept { return buckets_count_ * sizeof(Bucket); }
  std::uint64_t buckets() const noexcept { return buckets_count_; }

  // Tests only: Add that calls `after_lookup` once, right after its lock-free lookup, where
  // another thread may add to, free or fill the user's record before this Add acts on what it
  // found (live: its CAS; none: the lock).
  AddResult TEST_Add(const UserId& user, std::uint32_t quantity, std::uint32_t limit,
                     const std::function<void()>& after_lookup);

 private:
  static constexpr std::uint32_t kTagsPerWord = 8;
  static constexpr std::uint32_t kTagWords = kWays / kTagsPerWord;
  static_assert(kWays % kTagsPerWord == 0);
  static_assert(kUsersPerBucket * 5 <= kWays * 2, "the bound above needs a load of at most 0.4");

  struct Record {
    std::atomic<std::uint64_t> state{0};  // (generation << 32) | units
    std::atomic<std::uint64_t> fingerprint_low{0};
    std::atomic<std::uint64_t> fingerprint_high{0};
  };
  struct Bucket {
    // Taken to fill a free record and to free one; the holder is the only writer of the tags.
    std::atomic<std::uint32_t> lock{0};
    std::array<std::atomic<std::uint64_t>, kTagWords> tags{};
    std::array<Record, kWays> records{};
  };
  // Whole cache lines: in an array of buckets none shares a line with the next.
  static_assert(sizeof(Bucket) % 64 == 0);
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
  };

  static std::uint64_t BucketsFor(std::uint32_t users_max, std::uint32_t workers) noexcept;
  Key KeyOf(const UserId& user) const noexcept;
  static Found Find(const Bucket& bucket, const Key& key) noexcept;
  static bool AddToLive(Bucket& bucket, const Found& found, std::uint32_t quantity,
                        std::uint32_t limit, AddResult& result) noexcept;
  static void SetTag(Bucket& bucket, std::uint32_t way, std::uint64_t tag) noexcept;
  static AddResult Fill(Bucket& bucket, const Key& key, std::uint32_t quantity) noexcept;
  static void Free(Bucket& bucket, std::uint32_t way) noexcept;
  template <class AfterLookup>
  AddResult AddWith(const UserId& user, std::uint32_t quantity, std::uint32_t limit,
                    AfterLookup&& after_lookup) noexcept;

  SipHasher hasher_;
  std::uint64_t buckets_count_;
  FixedArray<Bucket> buckets_;
};

}  // namespace hotdeal::engine::detail
