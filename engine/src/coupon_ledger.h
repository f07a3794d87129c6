// Coupon campaigns: each user's claim, one per user. Sized once when the campaign is created; a
// record lives only while its user's claim is pending or held, so users whose claim failed (the
// stock ran out under them, the log refused it) or was undone (reverted, voided in doubt) leave
// nothing behind, and a campaign asked by any number of distinct users keeps granting while
// stock remains (ARCHITECTURE.md, invariant 9).
//
// Layout: buckets of kWays records of 64 bytes, one tag byte each (fingerprint_buckets.h, which
// also draws the records' life and proves it exact). A bucket is 16 128 bytes for 128 units of
// stock: ~127 bytes per unit (with the buckets rounded up). A record's value is its claim's
// CouponHold and its use (below); kNone (0) is free.
//
//   Begin:  with a live record of the user, wait out its pending mark or answer the claim it
//           holds; with none, the bucket's lock, a lookup again, and a Fill with kPending. The
//           pending mark is the duplicate check: a concurrent request of the same user finds it
//           and waits for the outcome instead of guessing it.
//   Commit: the pending owner writes the claim's fields, then its held state (release).
//   Abort, Drop: the state's CAS to kNone, then Free. Move: one CAS between held states.
//
// Reads of a claim's fields are a seqlock over the state word: its generation changes whenever
// the fields may be rewritten (a refill), so a copy taken between two equal reads of the state is
// one claim, not a mix of two. The field loads are acquire (instead of relaxed loads and a fence,
// which ThreadSanitizer cannot model): the final load of the state cannot move above them, and a
// field value from a newer writer brings that writer's generation change with it.
//
// Sizing and the bound. Every live record is a held claim, which holds a unit, or a pending one,
// at most one per worker: n = users_max (the stock) + workers. The ledger has ceil(n / 128)
// buckets of 248 records, a load of at most 0.52. A Begin of a new user answers kFull only if the
// other live users already fill its bucket: the count is Binomial(m <= n, 1/B) with mean
// mu <= 128, and P(count >= 248) <= e^-mu (e * mu / 248)^248 <= 7.6e-20 (Chernoff): a campaign of
// 10^9 Begins sees kFull with probability below 1e-10. Recovery replays claims in log order with
// the same live users, so the bound holds there too; kFull there is the caller's to report.
//
// A coupon's use (redeem and restore) lives in the same state word as its hold, so one CAS
// decides it against every other move of the claim: the value is hold (bits 0-3), use (4-5:
// issued, changing, redeemed) and the count of changes so far (6-31). A change is two steps
// around its event's append, as a claim is: BeginUse CASes the state to changing with the count
// one up, and CommitUse writes the order's fingerprint and then the final state (release), or
// AbortUse puts the state back. While changing, every other call on the claim waits (it lasts
// one append), so the fingerprint has one writer and readers see it with the state that
// carries it. The count is what replay and MySQL compare (newest wins), since two changes may
// reach the log in either order; it is compared modulo 2^26 (a coupon would need 2^25 changes
// between two copies of one event to confuse it).
//
// Threading: any thread may call every method at once, on any users; recovery calls them on one
// thread before the workers start. Commit and Abort are the Begin's caller's alone, CommitUse
// and AbortUse the BeginUse's.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "fingerprint_buckets.h"
#include "hash.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

// Coupon claim states, a record's value. kUnacked is a claim whose event the log has not
// reported yet (durable acks): it holds its unit like kClaimed but is not shown until
// Acknowledge. kInDoubt is a claim whose event the log could not confirm: it holds its unit like
// kClaimed until it is settled.
enum class CouponHold : std::uint32_t {
  kNone = 0,
  kPending = 1,
  kClaimed = 2,
  kInDoubt = 3,
  kUnacked = 4,
};

// What Read answers. `code` is its stored part, the 16 characters after the campaign's prefix.
struct ClaimRecord {
  ClaimId id;
  CouponCode code;
  TimePoint created_at{};
  bool redeemed = false;
  std::uint32_t use = 0;           // changes of its use so far (redeems and restores)
  std::uint64_t order_ref_fp = 0;  // OrderFingerprint of the last redeem's order; 0: none
};

class CouponLedger {
 public:
  static constexpr std::uint32_t kWays = 248;
  static constexpr std::uint32_t kUsersPerBucket = 128;

 private:
  struct Record : FingerprintRecord {
    std::atomic<std::uint64_t> claim_id{0};
    std::atomic<std::int64_t> created_at_us{0};
    std::array<std::atomic<std::uint64_t>, 2> code_words{};
    std::atomic<std::uint64_t> order_ref_fp{0};
  };
  using Buckets = FingerprintBuckets<Record, kWays>;
  using Bucket = Buckets::Bucket;
  using Key = Buckets::Key;
  using Found = Buckets::Found;
  static_assert(kUsersPerBucket * 100 <= kWays * 52, "the bound above needs a load <= 0.52");

 public:
  // A pending claim Begin made: the record its caller commits or aborts.
  struct Pending {
    Bucket* bucket = nullptr;
    std::uint32_t way = 0;
    std::uint64_t state = 0;  // the pending state Begin filled
  };
  enum class Begun : std::uint8_t {
    kPending,  // the user is marked pending in `pending`: Commit or Abort it
    kHeld,     // the user holds a claim already: `existing`, in state `held`
    kFull,     // nothing changed: the user's bucket has no free record (kOverCapacity)
  };

  // Room for `users_max` claims (the stock) plus one pending per worker. `secret` keys the
  // fingerprints, `filter_seed` the holder filter's hash (Hash): both random per engine.
  CouponLedger(std::uint32_t users_max, std::uint32_t workers, std::array<std::uint64_t, 2> secret,
               std::uint64_t filter_seed);

  Begun Begin(const UserId& user, Pending& pending, ClaimRecord& existing,
              CouponHold& held) noexcept;
  // Publishes the claim in `state` (kClaimed, or kUnacked until the log reports it).
  void Commit(const Pending& pending, const ClaimRecord& claim, CouponHold state) noexcept;
  // Forgets the pending mark: the user holds nothing.
  void Abort(const Pending& pending) noexcept;
  // Moves claim `id` from state `from` to `to` (kUnacked -> kClaimed or kInDoubt, kClaimed <->
  // kInDoubt), first waiting out a pending mark: the worker that appended the claim's event
  // commits it right after Append returns, so a log report can arrive before the commit. False if
  // `id` is not the user's claim in state `from`.
  bool Move(const UserId& user, ClaimId id, CouponHold from, CouponHold to) noexcept;
  // Drops claim `id` (Revert or a void), waiting out a pending mark as Move does. Answers the
  // state it was dropped from (kClaimed, kUnacked or kInDoubt), or kNone if `id` is not held;
  // `redeemed`, if given, whether the coupon was redeemed.
  CouponHold Drop(const UserId& user, ClaimId id, bool* redeemed = nullptr) noexcept;
  // The user's claim while they hold one, with its state in `state`; none while pending.
  std::optional<ClaimRecord> Read(const UserId& user, CouponHold* state = nullptr) const noexcept;

  // A redeem (`redeem`) or restore of the user's claim `id` on the order `order_fp` names.
  struct UseChange {
    Bucket* bucket = nullptr;
    std::uint32_t way = 0;
    std::uint64_t before = 0;    // the state BeginUse moved from
    std::uint64_t changing = 0;  // the state it moved to
    std::uint32_t use = 0;       // the change's count, for its event
  };
  enum class UseBegun : std::uint8_t {
    kChanging,   // `change` holds the claim: CommitUse or AbortUse it
    kUnchanged,  // it is so already, by this order: the same answer again
    kRefused,    // redeemed by another order; for a restore, not redeemed by this one
    kNotFound,   // no such claim of the user
    kUnsettled,  // the claim is not final (unacknowledged or in doubt)
  };
  UseBegun BeginUse(const UserId& user, ClaimId id, bool redeem, std::uint64_t order_fp,
                    UseChange& change) noexcept;
  void CommitUse(const UseChange& change, bool redeem, std::uint64_t order_fp) noexcept;
  void AbortUse(const UseChange& change) noexcept;
  // Recovery: claim `id`'s use becomes (`redeemed`, `order_fp`) if `use` is newer than the
  // count it has. False if not (an older copy) or if the user holds no claim `id`.
  bool ApplyUse(const UserId& user, ClaimId id, bool redeemed, std::uint32_t use,
                std::uint64_t order_fp) noexcept;
  // A keyed 64-bit fingerprint of an order ref, never 0 (0 is "no order").
  std::uint64_t OrderFingerprint(const OrderRef& order) const noexcept;

  // The holder filter's hash of `user`. Inline and cheaper than the fingerprint: the sold-out
  // path hashes every rejected user (ClaimSoldOut, bench/RESULTS.md).
  std::uint64_t Hash(const UserId& user) const noexcept { return HashId(user, filter_seed_); }

  static bool Holds(CouponHold state) noexcept;
  static std::size_t BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept;
  std::size_t bytes() const noexcept { return buckets_.bytes(); }

 private:
  // Move and Drop: the user's settled claim `id`, if in state `from` (any held state if none),
  // moved to `to`; answers the state it left, or kNone if nothing moved.
  CouponHold MoveHeld(const UserId& user, ClaimId id, std::optional<CouponHold> from, CouponHold to,
                      bool* redeemed = nullptr) noexcept;
  // The user's live record with a settled state (not pending, no use changing), or none.
  Found Settled(const Bucket& bucket, const Key& key) const noexcept;
  // The claim `record` holds at `state`, if its fields read whole (the seqlock above).
  static std::optional<ClaimRecord> ReadAt(const Record& record, std::uint64_t state) noexcept;

  Buckets buckets_;
  std::uint64_t filter_seed_;
  SipHasher order_hasher_;
};

}  // namespace hotdeal::engine::detail
