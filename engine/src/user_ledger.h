// Who holds what in one campaign, sized when the campaign is created. Coupon campaigns keep
// each user's claim here; sale campaigns keep the units each user holds in reserved and
// confirmed orders. Never grows, never removes a user (a user's record, once published, stays
// at the same place), never blocks on a full table: the caller answers kOverCapacity.
//
// Two arrays: a probe table of 8-byte slots (open addressing, linear probing; a slot is 0 or a
// hash tag and a record index) and dense records (LedgerEntry) handed out in per-worker chunks,
// so that a new user costs one random read of the small probe table (1 MiB for 65 536 units,
// cache-resident) and a sequential write of its record, not a miss into a 16 MB table.
//
// Threading: any thread may call Find and the claim and unit methods. FindOrInsert is called
// with a RecordCursor that no other thread uses at the same time: a worker's own, kept in its
// WorkerShare (Apply uses it too, alone, before the workers start). A record's `hash` and `user`
// are written with plain stores by the inserting thread before the compare-and-swap (acq_rel) that
// publishes its index in a slot; readers acquire the slot first, so a non-zero slot always names a
// complete record. A record whose publishing CAS lost was never visible to anyone: its index stays
// at the cursor and the worker's next insert overwrites it. Everything a record says about the user
// lives in atomics (`hold` and the claim fields), whose protocol is in user_ledger.cc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "chunk_allocator.h"
#include "fixed_array.h"
#include "hash.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

// One user's record. `hash` and `user` are its key (written once, before it is published);
// the rest moves by the protocols below.
struct LedgerEntry {
  std::uint64_t hash = 0;
  UserId user;
  // Sale: units held. Coupon: (generation << 3) | claim state; see CouponHold below.
  std::atomic<std::uint32_t> hold{0};
  // The coupon claim, valid while `hold` reads claimed; read under the generation check.
  std::atomic<std::uint64_t> claim_id{0};
  std::atomic<std::int64_t> created_at_us{0};
  std::array<std::atomic<std::uint64_t>, 2> code_words{};
};

// Coupon claim states in the low three bits of LedgerEntry::hold. kUnacked is a claim whose
// event the log has not reported yet (durable acks): it holds its unit like kClaimed but is
// not shown until Acknowledge. kInDoubt is a claim whose event the log could not confirm: it
// holds its unit like kClaimed until it is settled.
enum class CouponHold : std::uint32_t {
  kNone = 0,
  kPending = 1,
  kClaimed = 2,
  kInDoubt = 3,
  kUnacked = 4,
};

// A worker's place in the records (chunk_allocator.h).
using RecordCursor = ChunkCursor;

struct ClaimRecord {
  ClaimId id;
  CouponCode code;
  TimePoint created_at{};
};

class UserLedger {
 public:
  UserLedger(std::uint32_t users_max, std::uint32_t workers, std::uint64_t seed);

  // The user's record, made if absent with the next record of `cursor` (owned by the caller,
  // see Threading); nullptr when the probe bound is reached or the records ran out (full).
  LedgerEntry* FindOrInsert(const UserId& user, RecordCursor& cursor) noexcept;
  // Tests only: FindOrInsert that calls `before_publish` after writing a new record and before
  // the CAS that publishes it, where another worker may take the slot first.
  LedgerEntry* TEST_FindOrInsert(const UserId& user, RecordCursor& cursor,
                                 const std::function<void()>& before_publish);
  // The hash an entry of `user` carries in LedgerEntry::hash. Inline: the sold-out path hashes
  // every rejected user for the holder filter (ClaimSoldOut, bench/RESULTS.md).
  std::uint64_t Hash(const UserId& user) const noexcept { return HashId(user, seed_); }
  // The user's record if one was published. Off the data plane the callers look up users
  // whose record a decision made (a logged event names them), so they never need to insert.
  LedgerEntry* Find(const UserId& user) noexcept;
  const LedgerEntry* Find(const UserId& user) const noexcept;

  // Coupon protocol. Begin marks the user's claim pending (the duplicate check), waiting out a
  // concurrent request of the same user; it answers kClaimed, kUnacked or kInDoubt (and fills
  // `existing`) when the user already holds a claim. Commit publishes the claim in `state`
  // (kClaimed, or kUnacked until the log reports it); Abort forgets the pending mark.
  CouponHold BeginClaim(LedgerEntry& entry, ClaimRecord& existing) noexcept;
  void CommitClaim(LedgerEntry& entry, const ClaimRecord& claim, CouponHold state) noexcept;
  void AbortClaim(LedgerEntry& entry) noexcept;
  // Moves claim `id` from state `from` to `to` (kUnacked -> kClaimed or kInDoubt,
  // kClaimed <-> kInDoubt), first waiting out a
  // pending mark: the worker that appended the claim's event commits it right after Append
  // returns, so a log report can arrive before the commit. False if `id` is not the user's
  // claim in state `from`.
  bool MoveClaim(LedgerEntry& entry, ClaimId id, CouponHold from, CouponHold to) noexcept;
  // Drops claim `id` (Revert or a void), waiting out a pending mark as MoveClaim does. Answers
  // the state it was dropped from (kClaimed, kUnacked or kInDoubt), or kNone if `id` is not
  // held.
  CouponHold DropClaim(LedgerEntry& entry, ClaimId id) noexcept;
  // The claim while the entry holds one (kClaimed, kUnacked or kInDoubt), with its state in
  // `state`.
  static std::optional<ClaimRecord> ReadClaim(const LedgerEntry& entry,
                                              CouponHold* state = nullptr) noexcept;
  // The entry's claim state now (acquire): whether it holds a claim, and in which state.
  static CouponHold State(const LedgerEntry& entry) noexcept;
  static bool Holds(CouponHold state) noexcept;

  // Sale protocol: add `quantity` to the user's units unless that passes `limit`.
  static bool AddUnits(LedgerEntry& entry, std::uint32_t quantity, std::uint32_t limit) noexcept;
  static void RemoveUnits(LedgerEntry& entry, std::uint32_t quantity) noexcept;

  // Every published user, in probe-table order (acquire: each record is complete).
  template <class Visit>
  void ForEach(Visit&& visit) const {
    for (std::uint64_t i = 0; i <= mask_; ++i) {
      std::uint64_t slot = slots_[i].load(std::memory_order_acquire);
      if (slot != 0) visit(records_[RecordOf(slot)]);
    }
  }

  static std::size_t BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept;

 private:
  static std::uint64_t SlotsFor(std::uint32_t users_max) noexcept;
  static std::uint32_t RecordsFor(std::uint32_t users_max, std::uint32_t workers) noexcept;
  // A slot holds the hash's high half as a tag and the record index + 1 in its low half (0 is
  // empty). The probe position comes from the hash's low bits, so the tag adds other bits.
  static std::uint64_t TagOf(std::uint64_t hash) noexcept { return hash >> 32 << 32; }
  static std::uint32_t RecordOf(std::uint64_t slot) noexcept {
    return static_cast<std::uint32_t>(slot) - 1;
  }
  template <class BeforePublish>
  LedgerEntry* Insert(const UserId& user, RecordCursor& cursor, BeforePublish&& before_publish);
  // True if the non-empty `slot` is `user`'s: a 32-bit tag is not an identity, the id decides.
  bool Names(std::uint64_t slot, std::uint64_t tag, const UserId& user) const noexcept {
    return TagOf(slot) == tag && SameId(records_[RecordOf(slot)].user, user);
  }

  std::uint64_t mask_;
  std::uint64_t probe_max_;
  std::uint64_t seed_;
  std::uint32_t records_max_;
  // Records before slots: the probe table, made last, is the one left in cache after creation.
  FixedArray<LedgerEntry> records_;
  FixedArray<std::atomic<std::uint64_t>> slots_;
  ChunkAllocator chunks_;
};

}  // namespace hotdeal::engine::detail
