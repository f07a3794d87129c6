// The coupon ledger: the claim protocol over fingerprint buckets (drawn in coupon_ledger.h and
// fingerprint_buckets.h).
#include "coupon_ledger.h"

#include <cstring>

#include "hotdeal/base/check.h"
#include "spin_lock.h"

namespace hotdeal::engine::detail {
namespace {
// A record's value: hold (bits 0-3), use (4-5), count of use changes (6-31).
enum class Use : std::uint32_t { kIssued = 0, kChanging = 1, kRedeemed = 2 };
constexpr std::uint32_t kHoldMask = 0xF;
constexpr std::uint32_t kUseShift = 4;
constexpr std::uint32_t kCountShift = 6;
constexpr std::uint32_t kCountMask = (1u << (32 - kCountShift)) - 1;

constexpr std::uint32_t Raw(CouponHold hold) {
  return static_cast<std::uint32_t>(hold);
}
constexpr CouponHold HoldOf(std::uint64_t state) {
  return static_cast<CouponHold>(RecordValue(state) & kHoldMask);
}
constexpr Use UseOf(std::uint64_t state) {
  return static_cast<Use>((RecordValue(state) >> kUseShift) & 3);
}
constexpr std::uint32_t CountOf(std::uint64_t state) {
  return RecordValue(state) >> kCountShift;
}
constexpr std::uint64_t WithHold(std::uint64_t state, CouponHold hold) {
  return RecordState(RecordGeneration(state), (RecordValue(state) & ~kHoldMask) | Raw(hold));
}
constexpr std::uint64_t WithUse(std::uint64_t state, Use use, std::uint32_t count) {
  return RecordState(RecordGeneration(state), Raw(HoldOf(state)) |
                                                  static_cast<std::uint32_t>(use) << kUseShift |
                                                  (count & kCountMask) << kCountShift);
}
// `a` came after `b` among a coupon's changes, modulo 2^26.
constexpr bool Newer(std::uint32_t a, std::uint32_t b) {
  return a != b && ((a - b) & kCountMask) < (1u << (31 - kCountShift));
}
static_assert(Newer(1, 0) && !Newer(0, 1) && Newer(0, kCountMask) && !Newer(5, 5));
// A settled state: no claim being decided and no use changing.
constexpr bool IsSettled(std::uint64_t state) {
  return HoldOf(state) != CouponHold::kPending && UseOf(state) != Use::kChanging;
}
}  // namespace

std::size_t CouponLedger::BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  return Buckets::CountFor(std::uint64_t{users_max} + workers, kUsersPerBucket) *
         Buckets::kBucketBytes;
}

CouponLedger::CouponLedger(std::uint32_t users_max, std::uint32_t workers,
                           std::array<std::uint64_t, 2> secret, std::uint64_t filter_seed)
    : buckets_(Buckets::CountFor(std::uint64_t{users_max} + workers, kUsersPerBucket), secret),
      filter_seed_(filter_seed),
      order_hasher_({secret[1], secret[0]}) {}

std::uint64_t CouponLedger::OrderFingerprint(const OrderRef& order) const noexcept {
  return order_hasher_.Hash(order.view()).low | 1;
}

bool CouponLedger::Holds(CouponHold state) noexcept {
  return state == CouponHold::kClaimed || state == CouponHold::kUnacked ||
         state == CouponHold::kInDoubt;
}

CouponLedger::Found CouponLedger::Settled(const Bucket& bucket, const Key& key) const noexcept {
  unsigned spins = 0;
  for (;;) {
    Found found = Buckets::Find(bucket, key);
    if (!found || IsSettled(found.state)) return found;
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
  static_assert(sizeof(words) == CouponCode::kSecretSize);
  std::memcpy(claim.code.text.data(), words.data(), sizeof(words));
  claim.code.size = CouponCode::kSecretSize;
  claim.order_ref_fp = record.order_ref_fp.load(std::memory_order_acquire);
  if (record.state.load(std::memory_order_relaxed) != state) return std::nullopt;
  claim.redeemed = UseOf(state) == Use::kRedeemed;
  claim.use = CountOf(state);
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
    if (!IsSettled(found.state)) continue;
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
  std::memcpy(words.data(), claim.code.secret().data(), sizeof(words));
  // Release on each field: a reader that sees one of these values also sees the fill's
  // generation change that came before it, so its final check of the state fails (ReadAt).
  record.claim_id.store(claim.id.value, std::memory_order_release);
  record.created_at_us.store(claim.created_at.time_since_epoch().count(),
                             std::memory_order_release);
  record.code_words[0].store(words[0], std::memory_order_release);
  record.code_words[1].store(words[1], std::memory_order_release);
  record.order_ref_fp.store(0, std::memory_order_release);
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
                                  CouponHold to, bool* redeemed) noexcept {
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  Found found = Settled(bucket, key);
  if (!found) return CouponHold::kNone;
  const CouponHold state = HoldOf(found.state);
  if (from && state != *from) return CouponHold::kNone;
  Record& record = bucket.records[found.way];
  if (record.claim_id.load(std::memory_order_acquire) != id.value) return CouponHold::kNone;
  const std::uint64_t moved = to == CouponHold::kNone
                                  ? RecordState(RecordGeneration(found.state), 0)
                                  : WithHold(found.state, to);
  if (!record.state.compare_exchange_strong(found.state, moved, std::memory_order_acq_rel)) {
    return CouponHold::kNone;
  }
  if (to == CouponHold::kNone) Buckets::Free(bucket, found.way);
  if (redeemed) *redeemed = UseOf(found.state) == Use::kRedeemed;
  return state;
}

bool CouponLedger::Move(const UserId& user, ClaimId id, CouponHold from, CouponHold to) noexcept {
  return MoveHeld(user, id, from, to) != CouponHold::kNone;
}

CouponHold CouponLedger::Drop(const UserId& user, ClaimId id, bool* redeemed) noexcept {
  return MoveHeld(user, id, std::nullopt, CouponHold::kNone, redeemed);
}

std::optional<ClaimRecord> CouponLedger::Read(const UserId& user,
                                              CouponHold* state) const noexcept {
  Key key = buckets_.KeyOf(user);
  const Bucket& bucket = buckets_.BucketOf(key);
  unsigned spins = 0;
  for (;;) {
    Found found = Buckets::Find(bucket, key);
    if (!found || !Holds(HoldOf(found.state))) return std::nullopt;  // a pending claim too
    if (UseOf(found.state) == Use::kChanging) {  // one append: the use it comes to
      SpinWait(spins);
      continue;
    }
    if (std::optional<ClaimRecord> claim = ReadAt(bucket.records[found.way], found.state)) {
      if (state) *state = HoldOf(found.state);
      return claim;
    }
  }
}

CouponLedger::UseBegun CouponLedger::BeginUse(const UserId& user, ClaimId id, bool redeem,
                                              std::uint64_t order_fp, UseChange& change) noexcept {
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  for (;;) {
    Found found = Settled(bucket, key);
    if (!found) return UseBegun::kNotFound;
    Record& record = bucket.records[found.way];
    if (record.claim_id.load(std::memory_order_acquire) != id.value) return UseBegun::kNotFound;
    if (HoldOf(found.state) != CouponHold::kClaimed) return UseBegun::kUnsettled;
    // The fingerprint is written only while changing, before the state that ends it (release):
    // acquiring that state shows it.
    if (record.state.load(std::memory_order_acquire) != found.state) continue;
    const bool same_order = record.order_ref_fp.load(std::memory_order_acquire) == order_fp;
    const bool redeemed = UseOf(found.state) == Use::kRedeemed;
    if (redeem == redeemed || (!same_order && !redeem)) {
      // Answered from the fingerprint: only if it belongs to the state found.
      if (record.state.load(std::memory_order_relaxed) != found.state) continue;
      if (redeem == redeemed && same_order) return UseBegun::kUnchanged;
      return UseBegun::kRefused;
    }
    const std::uint32_t use = (CountOf(found.state) + 1) & kCountMask;
    const std::uint64_t changing = WithUse(found.state, Use::kChanging, use);
    if (!record.state.compare_exchange_strong(found.state, changing, std::memory_order_acq_rel))
      continue;
    change = {&bucket, found.way, found.state, changing, use};
    return UseBegun::kChanging;
  }
}

void CouponLedger::CommitUse(const UseChange& change, bool redeem,
                             std::uint64_t order_fp) noexcept {
  Record& record = change.bucket->records[change.way];
  HOTDEAL_ASSERT(record.state.load(std::memory_order_relaxed) == change.changing);
  record.order_ref_fp.store(order_fp, std::memory_order_release);
  // Release: a reader that acquires the state sees the fingerprint.
  record.state.store(WithUse(change.changing, redeem ? Use::kRedeemed : Use::kIssued, change.use),
                     std::memory_order_release);
}

void CouponLedger::AbortUse(const UseChange& change) noexcept {
  Record& record = change.bucket->records[change.way];
  HOTDEAL_ASSERT(record.state.load(std::memory_order_relaxed) == change.changing);
  record.state.store(change.before, std::memory_order_release);
}

bool CouponLedger::ApplyUse(const UserId& user, ClaimId id, bool redeemed, std::uint32_t use,
                            std::uint64_t order_fp) noexcept {
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  for (;;) {
    Found found = Settled(bucket, key);
    if (!found) return false;
    Record& record = bucket.records[found.way];
    if (record.claim_id.load(std::memory_order_acquire) != id.value) return false;
    if (!Newer(use & kCountMask, CountOf(found.state))) return false;
    const std::uint64_t changing = WithUse(found.state, Use::kChanging, use);
    if (!record.state.compare_exchange_strong(found.state, changing, std::memory_order_acq_rel))
      continue;
    CommitUse({&bucket, found.way, found.state, changing, use & kCountMask}, redeemed, order_fp);
    return true;
  }
}

}  // namespace hotdeal::engine::detail
