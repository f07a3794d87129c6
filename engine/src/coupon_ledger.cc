// The coupon ledger: the claim protocol over fingerprint buckets (drawn in coupon_ledger.h and
// fingerprint_buckets.h).
#include "coupon_ledger.h"

#include <cstring>

#include "hotdeal/base/check.h"
#include "spin_lock.h"

namespace hotdeal::engine::detail {
namespace {
constexpr std::uint32_t Raw(CouponHold hold) {
  return static_cast<std::uint32_t>(hold);
}
constexpr CouponHold HoldOf(std::uint64_t state) {
  return static_cast<CouponHold>(RecordValue(state));
}
}  // namespace

std::size_t CouponLedger::BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  return Buckets::CountFor(std::uint64_t{users_max} + workers, kUsersPerBucket) *
         Buckets::kBucketBytes;
}

CouponLedger::CouponLedger(std::uint32_t users_max, std::uint32_t workers,
                           std::array<std::uint64_t, 2> secret, std::uint64_t filter_seed)
    : buckets_(Buckets::CountFor(std::uint64_t{users_max} + workers, kUsersPerBucket), secret),
      filter_seed_(filter_seed) {}

bool CouponLedger::Holds(CouponHold state) noexcept {
  return state == CouponHold::kClaimed || state == CouponHold::kUnacked ||
         state == CouponHold::kInDoubt;
}

CouponLedger::Found CouponLedger::Settled(const Bucket& bucket, const Key& key) const noexcept {
  unsigned spins = 0;
  for (;;) {
    Found found = Buckets::Find(bucket, key);
    if (!found || HoldOf(found.state) != CouponHold::kPending) return found;
    SpinWait(spins);
  }
}

std::optional<ClaimRecord> CouponLedger::ReadAt(const Record& record,
                                                std::uint64_t state) noexcept {
  ClaimRecord claim;
  claim.id.value = record.claim_id.load(std::memory_order_acquire);
  claim.created_at =
      TimePoint(std::chrono::microseconds(record.created_at_us.load(std::memory_order_acquire)));
  std::array<std::uint64_t, 2> words{record.code_words[0].load(std::memory_order_acquire),
                                     record.code_words[1].load(std::memory_order_acquire)};
  std::memcpy(claim.code.text.data(), words.data(), sizeof(words));
  if (record.state.load(std::memory_order_relaxed) != state) return std::nullopt;
  return claim;
}

CouponLedger::Begun CouponLedger::Begin(const UserId& user, Pending& pending, ClaimRecord& existing,
                                        CouponHold& held) noexcept {
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  for (;;) {
    Found found = Settled(bucket, key);
    if (!found) {
      SpinGuard guard(bucket.lock);
      // Records turn live only under this lock: none of the user's found now means none exists.
      found = Buckets::Find(bucket, key);
      if (!found) {
        found = Buckets::Fill(bucket, key, Raw(CouponHold::kPending));
        if (!found) return Begun::kFull;
        pending = {&bucket, found.way, found.state};
        return Begun::kPending;
      }
    }
    // Another request of the user is deciding: wait for its outcome (Settled, again).
    if (HoldOf(found.state) == CouponHold::kPending) continue;
    if (std::optional<ClaimRecord> claim = ReadAt(bucket.records[found.way], found.state)) {
      existing = *claim;
      held = HoldOf(found.state);
      return Begun::kHeld;
    }
  }
}

void CouponLedger::Commit(const Pending& pending, const ClaimRecord& claim,
                          CouponHold state) noexcept {
  Record& record = pending.bucket->records[pending.way];
  HOTDEAL_ASSERT(record.state.load(std::memory_order_relaxed) == pending.state);
  HOTDEAL_DEBUG_ASSERT(state == CouponHold::kClaimed || state == CouponHold::kUnacked);
  std::array<std::uint64_t, 2> words{};
  std::memcpy(words.data(), claim.code.text.data(), sizeof(words));
  // Release on each field: a reader that sees one of these values also sees the fill's
  // generation change that came before it, so its final check of the state fails (ReadAt).
  record.claim_id.store(claim.id.value, std::memory_order_release);
  record.created_at_us.store(claim.created_at.time_since_epoch().count(),
                             std::memory_order_release);
  record.code_words[0].store(words[0], std::memory_order_release);
  record.code_words[1].store(words[1], std::memory_order_release);
  // Release: a reader that acquires the state sees the fields stored above.
  record.state.store(RecordState(RecordGeneration(pending.state), Raw(state)),
                     std::memory_order_release);
}

void CouponLedger::Abort(const Pending& pending) noexcept {
  Record& record = pending.bucket->records[pending.way];
  HOTDEAL_ASSERT(record.state.load(std::memory_order_relaxed) == pending.state);
  record.state.store(RecordState(RecordGeneration(pending.state), 0), std::memory_order_release);
  Buckets::Free(*pending.bucket, pending.way);
}

// One CAS from a state read before the claim id matched: a concurrent move of the same claim
// changes the state, so exactly one of two racing calls wins, and a record freed and refilled
// since carries another generation. A move to kNone frees the record.
CouponHold CouponLedger::MoveHeld(const UserId& user, ClaimId id, std::optional<CouponHold> from,
                                  CouponHold to) noexcept {
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  Found found = Settled(bucket, key);
  if (!found) return CouponHold::kNone;
  const CouponHold state = HoldOf(found.state);
  if (from && state != *from) return CouponHold::kNone;
  Record& record = bucket.records[found.way];
  if (record.claim_id.load(std::memory_order_acquire) != id.value) return CouponHold::kNone;
  if (!record.state.compare_exchange_strong(found.state,
                                            RecordState(RecordGeneration(found.state), Raw(to)),
                                            std::memory_order_acq_rel)) {
    return CouponHold::kNone;
  }
  if (to == CouponHold::kNone) Buckets::Free(bucket, found.way);
  return state;
}

bool CouponLedger::Move(const UserId& user, ClaimId id, CouponHold from, CouponHold to) noexcept {
  return MoveHeld(user, id, from, to) != CouponHold::kNone;
}

CouponHold CouponLedger::Drop(const UserId& user, ClaimId id) noexcept {
  return MoveHeld(user, id, std::nullopt, CouponHold::kNone);
}

std::optional<ClaimRecord> CouponLedger::Read(const UserId& user,
                                              CouponHold* state) const noexcept {
  Key key = buckets_.KeyOf(user);
  const Bucket& bucket = buckets_.BucketOf(key);
  for (;;) {
    Found found = Buckets::Find(bucket, key);
    if (!found || !Holds(HoldOf(found.state))) return std::nullopt;
    if (std::optional<ClaimRecord> claim = ReadAt(bucket.records[found.way], found.state)) {
      if (state) *state = HoldOf(found.state);
      return claim;
    }
  }
}

}  // namespace hotdeal::engine::detail
