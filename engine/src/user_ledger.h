// Who holds what in one campaign: a fixed open-addressing table keyed by user id, sized when
// the campaign is created. Coupon campaigns keep each user's claim here; sale campaigns keep
// the units each user holds in reserved and confirmed orders. Never grows, never removes a
// key (a user's entry, once made, stays at the same place), never blocks on a full table: the
// caller answers kOverCapacity.
//
// Threading: any thread may call any method. An entry's key is written once, by the thread
// that won the empty slot, before a release store of `key_state`; readers acquire it first.
// Everything the entry says about the user lives in atomics (`hold` and the claim fields),
// whose protocol is in user_ledger.cc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

struct LedgerEntry {
  std::atomic<std::uint32_t> key_state{0};  // kEmpty, kWriting or kKeyed (user_ledger.cc)
  // Sale: units held. Coupon: (generation << 3) | claim state; see CouponHold below.
  std::atomic<std::uint32_t> hold{0};
  std::uint64_t hash = 0;
  UserId user;
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

struct ClaimRecord {
  ClaimId id;
  CouponCode code;
  TimePoint created_at{};
};

class UserLedger {
 public:
  UserLedger(std::uint32_t users_max, std::uint64_t seed);

  // The user's entry, made if absent; nullptr when the probe bound is reached (table full).
  LedgerEntry* FindOrInsert(const UserId& user) noexcept;
  // The hash an entry of `user` carries in LedgerEntry::hash.
  std::uint64_t Hash(const UserId& user) const noexcept;
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

  template <class Visit>
  void ForEach(Visit&& visit) const {
    for (std::uint64_t i = 0; i <= mask_; ++i) {
      if (entries_[i].key_state.load(std::memory_order_acquire) == 2) visit(entries_[i]);
    }
  }

  std::size_t bytes() const noexcept { return (mask_ + 1) * sizeof(LedgerEntry); }
  static std::size_t BytesFor(std::uint32_t users_max) noexcept;

 private:
  static std::uint64_t SlotsFor(std::uint32_t users_max) noexcept;
  std::uint64_t mask_;
  std::uint64_t probe_max_;
  std::uint64_t seed_;
  std::unique_ptr<LedgerEntry[]> entries_;
};

}  // namespace hotdeal::engine::detail
