// Sale campaigns: the units each user holds in reserved and confirmed orders, against the
// per-user limit. Sized once when the campaign is created; a user's record is freed when their
// units fall to 0, so a sale churned by any number of distinct users (reserve, cancel, expire,
// new users) keeps selling while stock remains (ARCHITECTURE.md, invariant 9). Coupon campaigns
// keep their claims in CouponLedger, over the same buckets.
//
// Layout: buckets of kWays records of 24 bytes, one tag byte each (fingerprint_buckets.h, which
// also draws the records' life and proves it exact). A bucket is 3008 bytes for 48 units of
// stock: ~63 bytes per unit. A record's value is the user's units: live while they hold any.
//
//   Add:    a live record of the user takes the units in one CAS on its state, no lock; with
//           none, the bucket's lock, a lookup again, and a Fill with the units.
//   Remove: one CAS on the state; the Remove that leaves 0 units frees the record.
//
// One live record per user makes a user's units one word, and every Add checks the limit and
// adds in one CAS on it: two concurrent Adds of one user never pass the limit together. An Add
// whose CAS finds the record freed by a Remove does not add to it: it takes the lock and adds to
// the user's record there, or makes a fresh one. An Add is never lost.
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
// Fingerprints: each Add compares against at most one bucket's live users, so 10^12 Adds meet
// a SipHash collision with probability below 2^-57.
//
// Threading: any thread may call Add, Remove and Units at once, on any users, with no other
// synchronisation; recovery calls them on one thread before the workers start, like any
// caller. Units move by relaxed CAS (units publish nothing else), so the ledger orders nothing of
// the caller's: a Remove of an order's units must follow its Add by the caller's own
// synchronisation (the engine's order slot status, release then acquire). The bucket's spin lock
// is taken by an Add of a user with no live record and by a Remove that freed a record; only users
// of the same bucket share it (at most 48 live on average).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "fingerprint_buckets.h"
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
  std::size_t bytes() const noexcept { return buckets_.bytes(); }
  std::uint64_t buckets() const noexcept { return buckets_.count(); }

  // Tests only: Add that calls `after_lookup` once, right after its lock-free lookup, where
  // another thread may add to, free or fill the user's record before this Add acts on what it
  // found (live: its CAS; none: the lock).
  AddResult TEST_Add(const UserId& user, std::uint32_t quantity, std::uint32_t limit,
                     const std::function<void()>& after_lookup);

 private:
  static_assert(kUsersPerBucket * 5 <= kWays * 2, "the bound above needs a load of at most 0.4");
  using Buckets = FingerprintBuckets<FingerprintRecord, kWays>;
  using Bucket = Buckets::Bucket;
  using Key = Buckets::Key;
  using Found = Buckets::Found;

  static bool AddToLive(Bucket& bucket, const Found& found, std::uint32_t quantity,
                        std::uint32_t limit, AddResult& result) noexcept;
  template <class AfterLookup>
  AddResult AddWith(const UserId& user, std::uint32_t quantity, std::uint32_t limit,
                    AfterLookup&& after_lookup) noexcept;

  Buckets buckets_;
};

}  // namespace hotdeal::engine::detail
