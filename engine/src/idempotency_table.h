// Idempotency keys: a fixed set-associative table remembering, for (campaign, user, key), the
// id the first decision made. Keys are compared by a keyed 128-bit SipHash fingerprint, so two
// users' keys never collide by accident or by design. A key older than the window is treated
// as absent and its way is reused. Never grows: a bucket whose ways are all young answers
// "full" (kOverCapacity).
//
// Threading: any thread. Each bucket has a one-word spin lock held only while its ways are
// scanned or one way is written (no allocation, no syscall, no call out while held). Only
// requests that carry a key touch this table, so the plain claim path never takes it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "hash.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine::detail {

class IdempotencyTable {
 public:
  enum class Lookup : std::uint8_t { kNew, kReplay, kFull };
  struct Ref {
    std::uint32_t bucket = 0;
    std::uint32_t way = 0;
  };
  struct Result {
    Lookup lookup = Lookup::kFull;
    std::uint64_t value = 0;  // kReplay: what Finish stored
    bool undone = false;      // kReplay: Undo was called for that decision since
    Ref ref;                  // kNew: the way to Finish or Forget
  };

  IdempotencyTable(std::uint32_t keys_max, std::chrono::seconds window,
                   std::array<std::uint64_t, 2> secret);

  // kNew marks the key pending: a concurrent request with the same key waits until Finish or
  // Forget, then replays or decides afresh.
  Result Begin(std::uint32_t campaign, const UserId& user, const IdempotencyKey& key,
               TimePoint now) noexcept;
  void Finish(Ref ref, std::uint64_t value) noexcept;
  void Forget(Ref ref) noexcept;
  // A replayed key (Begin's kReplay ref) whose decision `undone` was undone since (reverted or
  // voided: its client heard 503): marks the key pending again, as kNew does, so the retry is
  // decided afresh under it. False if another request reclaimed it first (or it aged out).
  bool Reclaim(Ref ref, std::uint64_t undone, TimePoint now) noexcept;
  // The decision `value` the key made was undone (reverted, or voided): a later Begin says so,
  // so a retry can tell it from a decision that ended and was forgotten since (an order whose
  // slot was reused). A no-op if the key is absent, aged out or names another decision.
  void Undo(std::uint32_t campaign, const UserId& user, const IdempotencyKey& key,
            std::uint64_t value) noexcept;

  std::size_t bytes() const noexcept { return buckets_count_ * sizeof(Bucket); }

 private:
  static constexpr std::uint32_t kWays = 8;
  enum class WayState : std::uint8_t { kEmpty, kPending, kDone, kRevoked };
  struct Way {
    Hash128 fingerprint;
    std::uint64_t value = 0;
    std::int64_t created_at_us = 0;
    WayState state = WayState::kEmpty;
  };
  struct alignas(64) Bucket {
    std::atomic<std::uint32_t> lock{0};
    std::array<Way, kWays> ways;
  };

  Hash128 Fingerprint(std::uint32_t campaign, const UserId& user,
                      const IdempotencyKey& key) const noexcept;

  SipHasher hasher_;
  std::int64_t window_us_;
  std::uint64_t buckets_count_;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace hotdeal::engine::detail
