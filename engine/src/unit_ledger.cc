// The unit ledger: lock-free add and remove of a user's units over fingerprint buckets (the
// protocol is drawn in unit_ledger.h and fingerprint_buckets.h).
#include "unit_ledger.h"

#include "hotdeal/base/check.h"

namespace hotdeal::engine::detail {

std::size_t UnitLedger::BytesFor(std::uint32_t users_max, std::uint32_t workers) noexcept {
  return Buckets::CountFor(std::uint64_t{users_max} + workers, kUsersPerBucket) *
         Buckets::kBucketBytes;
}

UnitLedger::UnitLedger(std::uint32_t users_max, std::uint32_t workers,
                       std::array<std::uint64_t, 2> secret)
    : buckets_(Buckets::CountFor(std::uint64_t{users_max} + workers, kUsersPerBucket), secret) {}

// True with `result` set if the user's record found live in `found` took the Add (one CAS) or
// is over the limit. False if it was freed before the CAS landed (the generation moved or the
// units reached 0): the caller looks again under the lock. Each state the loop judges is one of
// the record found, at the generation its fingerprint was read under.
bool UnitLedger::AddToLive(Bucket& bucket, const Found& found, std::uint32_t quantity,
                           std::uint32_t limit, AddResult& result) noexcept {
  std::atomic<std::uint64_t>& state = bucket.records[found.way].state;
  std::uint64_t expected = found.state;
  std::uint32_t generation = RecordGeneration(expected);
  for (;;) {
    if (RecordValue(expected) > limit - quantity) {
      result = AddResult::kOverLimit;
      return true;
    }
    // Relaxed: units publish nothing; the fingerprint was published by the fill's release.
    if (state.compare_exchange_weak(expected, expected + quantity, std::memory_order_relaxed)) {
      result = AddResult::kAdded;
      return true;
    }
    if (RecordGeneration(expected) != generation || RecordValue(expected) == 0) return false;
  }
}

template <class AfterLookup>
UnitLedger::AddResult UnitLedger::AddWith(const UserId& user, std::uint32_t quantity,
                                          std::uint32_t limit,
                                          AfterLookup&& after_lookup) noexcept {
  // A record of 0 units would be a free one: every holder holds at least one unit.
  HOTDEAL_ASSERT(quantity >= 1);
  if (quantity > limit) return AddResult::kOverLimit;
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  AddResult result = AddResult::kFull;
  Found found = Buckets::Find(bucket, key);
  after_lookup();
  if (found && AddToLive(bucket, found, quantity, limit, result)) return result;
  SpinGuard guard(bucket.lock);
  // Records turn live only under this lock: none of the user's found now means none exists.
  found = Buckets::Find(bucket, key);
  if (found && AddToLive(bucket, found, quantity, limit, result)) return result;
  return Buckets::Fill(bucket, key, quantity) ? AddResult::kAdded : AddResult::kFull;
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
  Key key = buckets_.KeyOf(user);
  Bucket& bucket = buckets_.BucketOf(key);
  Found found = Buckets::Find(bucket, key);
  HOTDEAL_ASSERT(found);
  std::atomic<std::uint64_t>& state = bucket.records[found.way].state;
  std::uint64_t expected = found.state;
  std::uint32_t generation = RecordGeneration(expected);
  do {
    HOTDEAL_ASSERT(RecordGeneration(expected) == generation);
    HOTDEAL_ASSERT(RecordValue(expected) >= quantity);
  } while (!state.compare_exchange_weak(expected, expected - quantity, std::memory_order_relaxed));
  if (RecordValue(expected) == quantity) Buckets::Free(bucket, found.way);
}

std::uint32_t UnitLedger::Units(const UserId& user) const noexcept {
  Key key = buckets_.KeyOf(user);
  Found found = Buckets::Find(buckets_.BucketOf(key), key);
  return found ? RecordValue(found.state) : 0;
}

}  // namespace hotdeal::engine::detail
