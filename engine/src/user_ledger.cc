// The user ledger's probe table, its lock-free insert-if-absent and the coupon claim protocol.
#include "user_ledger.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "check.h"
#include "hash.h"

namespace hotdeal::engine::detail {
namespace {
// Linear probing at load <= 1/2 rarely goes past a handful of slots; the bound caps the work
// of one request when the table is (nearly) full.
constexpr std::uint64_t kProbeMax = 1024;
// A slot's low half is a record index + 1, and 0 means empty.
constexpr std::uint64_t kRecordsMax = std::numeric_limits<std::uint32_t>::max() - 1;
constexpr std::uint32_t kStateBits = 3;
constexpr std::uint32_t kStateMask = (1u << kStateBits) - 1;
static_assert(static_cast<std::uint32_t>(CouponHold::kUnacked) <= kStateMask);

constexpr std::uint32_t Hold(std::uint32_t generation, CouponHold state) {
  return (generation << kStateBits) | static_cast<std::uint32_t>(state);
}
constexpr CouponHold StateOf(std::uint32_t hold) {
  return static_cast<CouponHold>(hold & kStateMask);
}
constexpr std::uint32_t GenerationOf(std::uint32_t hold) {
  return hold >> kStateBits;
}
constexpr std::uint32_t NextGeneration(std::uint32_t hold) {
  return GenerationOf(hold) + 1;
}

// The entry's hold once no request of the user is pending.
std::uint32_t Settled(const LedgerEntry& entry) noexcept {
  unsigned spins = 0;
  std::uint32_t hold = entry.hold.load(std::memory_order_acquire);
  while (StateOf(hold) == CouponHold::kPending) {
    SpinWait(spins);
    hold = entry.hold.load(std::memory_order_acquire);
  }
  return hold;
}
}  // namespace

std::uint64_t UserLedger::SlotsFor(std::uint32_t users_max) noexcept {
  return std::bit_ceil(std::uint64_t{users_max} * 2 < 16 ? 16 : std::uint64_t{users_max} * 2);
}

// As many records as slots, plus every worker's chunk of holes: the probe table alone decides
// when the ledger is full, as it did when records lived in the slots (users whose claim failed
// or whose orders ended keep their record, so live units do not bound the users).
std::uint32_t UserLedger::RecordsFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  std::uint64_t slots = SlotsFor(users_max);
  std::uint64_t holes = std::uint64_t{workers} * ChunkAllocator::ChunkFor(slots, workers);
  return static_cast<std::uint32_t>(std::min(slots + holes, kRecordsMax));
}

std::size_t UserLedger::BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  return SlotsFor(users_max) * sizeof(std::atomic<std::uint64_t>) +
         std::size_t{RecordsFor(users_max, workers)} * sizeof(LedgerEntry);
}

UserLedger::UserLedger(std::uint32_t users_max, std::uint32_t workers, std::uint64_t seed)
    : mask_(SlotsFor(users_max) - 1),
      probe_max_(mask_ + 1 < kProbeMax ? mask_ + 1 : kProbeMax),
      seed_(seed),
      records_max_(RecordsFor(users_max, workers)),
      records_(MakeFixedArray<LedgerEntry>(records_max_)),
      slots_(MakeFixedArray<std::atomic<std::uint64_t>>(mask_ + 1)),
      chunks_(records_max_, ChunkAllocator::ChunkFor(mask_ + 1, workers)) {}

// The record is written before the slot names it, and the acq_rel CAS publishes both fields:
// whoever acquires the slot sees them. No slot ever goes back to 0, so a lost CAS leaves the
// winner's value in `slot`, which is compared like any other (two requests of one new user
// end with one record). The loser's record was never named: the cursor stays on it.
template <class BeforePublish>
LedgerEntry* UserLedger::Insert(const UserId& user, RecordCursor& cursor,
                                BeforePublish&& before_publish) {
  std::uint64_t hash = Hash(user);
  std::uint64_t tag = TagOf(hash);
  for (std::uint64_t step = 0; step < probe_max_; ++step) {
    std::atomic<std::uint64_t>& slot = slots_[(hash + step) & mask_];
    std::uint64_t value = slot.load(std::memory_order_acquire);
    if (value == 0) {
      std::optional<std::uint32_t> index = chunks_.Next(cursor);
      if (!index) return nullptr;
      LedgerEntry& record = records_[*index];
      record.hash = hash;
      record.user = user;
      before_publish();
      if (slot.compare_exchange_strong(value, tag | (std::uint64_t{*index} + 1),
                                       std::memory_order_acq_rel, std::memory_order_acquire)) {
        ChunkAllocator::Take(cursor);
        return &record;
      }
    }
    if (Names(value, tag, user)) return &records_[RecordOf(value)];
  }
  return nullptr;
}

LedgerEntry* UserLedger::FindOrInsert(const UserId& user, RecordCursor& cursor) noexcept {
  return Insert(user, cursor, [] {});
}

LedgerEntry* UserLedger::TEST_FindOrInsert(const UserId& user, RecordCursor& cursor,
                                           const std::function<void()>& before_publish) {
  return Insert(user, cursor, before_publish);
}

LedgerEntry* UserLedger::Find(const UserId& user) noexcept {
  return const_cast<LedgerEntry*>(std::as_const(*this).Find(user));
}

const LedgerEntry* UserLedger::Find(const UserId& user) const noexcept {
  std::uint64_t hash = Hash(user);
  std::uint64_t tag = TagOf(hash);
  for (std::uint64_t step = 0; step < probe_max_; ++step) {
    std::uint64_t value = slots_[(hash + step) & mask_].load(std::memory_order_acquire);
    if (value == 0) return nullptr;
    if (Names(value, tag, user)) return &records_[RecordOf(value)];
  }
  return nullptr;
}

// The pending mark is the duplicate check: only one request of a user can move hold from
// kNone to kPending, and it keeps the mark until it commits or aborts, so a concurrent
// duplicate waits for the outcome instead of guessing it.
CouponHold UserLedger::BeginClaim(LedgerEntry& entry, ClaimRecord& existing) noexcept {
  unsigned spins = 0;
  std::uint32_t hold = entry.hold.load(std::memory_order_acquire);
  for (;;) {
    switch (StateOf(hold)) {
      case CouponHold::kNone:
        if (entry.hold.compare_exchange_weak(hold, Hold(GenerationOf(hold), CouponHold::kPending),
                                             std::memory_order_acquire)) {
          return CouponHold::kNone;
        }
        continue;
      case CouponHold::kPending:
        SpinWait(spins);
        hold = entry.hold.load(std::memory_order_acquire);
        continue;
      case CouponHold::kClaimed:
      case CouponHold::kUnacked:
      case CouponHold::kInDoubt: {
        CouponHold state = CouponHold::kNone;
        std::optional<ClaimRecord> claim = ReadClaim(entry, &state);
        if (claim) {
          existing = *claim;
          return state;
        }
        hold = entry.hold.load(std::memory_order_acquire);
        continue;
      }
    }
  }
}

void UserLedger::CommitClaim(LedgerEntry& entry, const ClaimRecord& claim,
                             CouponHold state) noexcept {
  std::uint32_t hold = entry.hold.load(std::memory_order_relaxed);
  HOTDEAL_ASSERT(StateOf(hold) == CouponHold::kPending);
  HOTDEAL_DEBUG_ASSERT(state == CouponHold::kClaimed || state == CouponHold::kUnacked);
  std::array<std::uint64_t, 2> words{};
  std::memcpy(words.data(), claim.code.text.data(), sizeof(words));
  // Release on each field: a reader that sees one of these values also sees the generation
  // change that came before it, so its final check of `hold` fails (see ReadClaim).
  entry.claim_id.store(claim.id.value, std::memory_order_release);
  entry.created_at_us.store(claim.created_at.time_since_epoch().count(), std::memory_order_release);
  entry.code_words[0].store(words[0], std::memory_order_release);
  entry.code_words[1].store(words[1], std::memory_order_release);
  // Release: a reader that acquires the state sees the fields stored above.
  entry.hold.store(Hold(GenerationOf(hold), state), std::memory_order_release);
}

void UserLedger::AbortClaim(LedgerEntry& entry) noexcept {
  std::uint32_t hold = entry.hold.load(std::memory_order_relaxed);
  HOTDEAL_ASSERT(StateOf(hold) == CouponHold::kPending);
  entry.hold.store(Hold(NextGeneration(hold), CouponHold::kNone), std::memory_order_release);
}

// Both move the state by one CAS from a hold read after the claim id matched: a concurrent
// move of the same claim changes `hold`, so exactly one of two racing calls wins.
bool UserLedger::MoveClaim(LedgerEntry& entry, ClaimId id, CouponHold from,
                           CouponHold to) noexcept {
  std::uint32_t hold = Settled(entry);
  if (StateOf(hold) != from) return false;
  if (entry.claim_id.load(std::memory_order_acquire) != id.value) return false;
  return entry.hold.compare_exchange_strong(hold, Hold(GenerationOf(hold), to),
                                            std::memory_order_acq_rel);
}

CouponHold UserLedger::DropClaim(LedgerEntry& entry, ClaimId id) noexcept {
  std::uint32_t hold = Settled(entry);
  CouponHold state = StateOf(hold);
  if (!Holds(state)) return CouponHold::kNone;
  if (entry.claim_id.load(std::memory_order_acquire) != id.value) return CouponHold::kNone;
  bool dropped = entry.hold.compare_exchange_strong(
      hold, Hold(NextGeneration(hold), CouponHold::kNone), std::memory_order_acq_rel);
  return dropped ? state : CouponHold::kNone;
}

// A seqlock over atomics: the generation in `hold` changes whenever the fields may be rewritten,
// so a copy taken between two equal reads of `hold` is one claim, not a mix of two. The field
// loads are acquire (instead of relaxed loads and a fence, which ThreadSanitizer cannot model):
// the final load of `hold` cannot move above them, and a field value from a newer writer
// brings that writer's generation change with it. On x86 these are plain moves either way.
std::optional<ClaimRecord> UserLedger::ReadClaim(const LedgerEntry& entry,
                                                 CouponHold* state) noexcept {
  std::uint32_t before = entry.hold.load(std::memory_order_acquire);
  if (!Holds(StateOf(before))) return std::nullopt;
  if (state) *state = StateOf(before);
  ClaimRecord claim;
  claim.id.value = entry.claim_id.load(std::memory_order_acquire);
  claim.created_at =
      TimePoint(std::chrono::microseconds(entry.created_at_us.load(std::memory_order_acquire)));
  std::array<std::uint64_t, 2> words{entry.code_words[0].load(std::memory_order_acquire),
                                     entry.code_words[1].load(std::memory_order_acquire)};
  std::memcpy(claim.code.text.data(), words.data(), sizeof(words));
  if (entry.hold.load(std::memory_order_relaxed) != before) return std::nullopt;
  return claim;
}

CouponHold UserLedger::State(const LedgerEntry& entry) noexcept {
  return StateOf(entry.hold.load(std::memory_order_acquire));
}

bool UserLedger::Holds(CouponHold state) noexcept {
  return state == CouponHold::kClaimed || state == CouponHold::kUnacked ||
         state == CouponHold::kInDoubt;
}

bool UserLedger::AddUnits(LedgerEntry& entry, std::uint32_t quantity,
                          std::uint32_t limit) noexcept {
  std::uint32_t units = entry.hold.load(std::memory_order_relaxed);
  do {
    if (quantity > limit || units > limit - quantity) return false;
  } while (!entry.hold.compare_exchange_weak(units, units + quantity, std::memory_order_relaxed));
  return true;
}

void UserLedger::RemoveUnits(LedgerEntry& entry, std::uint32_t quantity) noexcept {
  std::uint32_t before = entry.hold.fetch_sub(quantity, std::memory_order_relaxed);
  // A user's units come only from their own reservations: going below zero would mean a
  // cancel or expiry counted twice, which would also have returned stock twice.
  HOTDEAL_ASSERT(before >= quantity);
}

}  // namespace hotdeal::engine::detail
