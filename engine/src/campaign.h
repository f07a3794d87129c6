// One campaign: its spec, striped stock, ledgers, order slots and per-worker counters, all
// sized when it is created and never resized. Decides nothing by itself (Engine::Impl does);
// answers window and status questions at a given `now` and never reads a clock.
//
// Threading: spec, index, id key and the tables' sizes are immutable once the campaign is
// published (release store in CampaignTable); the index and id key are set before that
// (set_index, set_id_key). `closed_`, `pause_`,
// `gone_` and `creation_unacknowledged_` are relaxed flags: a request racing a close or an
// acknowledgement may be decided either way, and both are correct linearisations. Archiving
// orders `gone_` against the workers through the engine's quiescent points, not the flag. Each
// WorkerShare is written only by its worker, or by Apply before workers start.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coupon_ledger.h"
#include "holder_filter.h"
#include "hotdeal/engine/engine.h"
#include "ids.h"
#include "order_table.h"
#include "striped_stock.h"
#include "unit_ledger.h"

namespace hotdeal::engine::detail {

// Where the units a campaign sold are, as signed deltas: a unit may be counted in by one
// worker and out by another (a cross-worker cancel), so only the sum over rows is meaningful.
// kRedeemed: coupons redeemed now (redeems less restores); kRestored: restores made.
enum class Book : std::uint8_t { kClaimed, kHeld, kConfirmed, kInDoubt, kRedeemed, kRestored };
inline constexpr std::size_t kBookCount = 6;

// Per campaign and worker: the serial behind that worker's event sequence numbers and claim
// ids, its cursor into the order slots, and its book deltas. Padded
// so that two workers never share a line.
struct alignas(64) WorkerShare {
  std::uint64_t serial = 0;
  OrderCursor orders;
  std::array<std::atomic<std::int64_t>, kBookCount> books{};
};

class Campaign {
 public:
  // `seed` keys the holder filter's hash, `secret` both ledgers' fingerprints.
  Campaign(std::uint32_t index, const CampaignSpec& spec, std::uint32_t workers, std::uint64_t seed,
           std::array<std::uint64_t, 2> secret);

  // kInvalid unless the spec is one the API allows; kOk otherwise.
  static Outcome Validate(const CampaignSpec& spec, std::uint32_t stock_max) noexcept;
  // A coupon's terms: one discount of its kind's range, a spend >= 0, at most one validity
  // bound, and valid_until after the campaign starts.
  static bool ValidTerms(const CouponTerms& terms, TimePoint starts_at) noexcept;
  // Order slots of a sale of `stock` units run by `workers` (slots are reused once their order
  // ended).
  static std::uint64_t OrderSlotsFor(std::uint64_t stock, std::uint32_t workers) noexcept;
  // The fixed sizes a spec will get, computed before anything is allocated.
  static CampaignFootprint FootprintFor(const CampaignSpec& spec, std::uint32_t workers) noexcept;

  // kOk inside the sale window, else kNotStarted or kEnded (closed counts as ended), kPaused
  // while an admin paused it, or kPending inside it while the log has not acknowledged the
  // campaign's creation: a sale logged before its campaign could outlive a creation the log
  // then loses.
  Outcome Window(TimePoint now) const noexcept {
    if (now < spec_.starts_at) return Outcome::kNotStarted;
    if (closed_.load(std::memory_order_relaxed)) return Outcome::kEnded;
    if (EndedAt(now)) return Outcome::kEnded;
    if (paused()) return Outcome::kPaused;
    if (creation_unacknowledged_.load(std::memory_order_relaxed)) return Outcome::kPending;
    return Outcome::kOk;
  }
  CampaignView View(TimePoint now) const;
  // At or after ends_at as it stands now (a PATCH may move it).
  bool EndedAt(TimePoint now) const noexcept;

  std::uint64_t NextSerial(std::uint32_t worker) noexcept;
  void RestoreSerial(std::uint64_t seq) noexcept;

  // The spec as created: id, kind, limits and terms never change. Stock, ends_at and name may
  // (PATCH): Spec() is the spec as it stands, a copy (its name) for the control plane and reads.
  const CampaignSpec& spec() const noexcept { return spec_; }
  CampaignSpec Spec() const;
  // Makes `spec` (a change's whole spec) the campaign's, unless a change newer than `seq` did
  // already, so copies appended again and replay in any order end where the engine did. Stock
  // units move separately (stock(), AwaitTopUp). Control mutex, or Apply's one thread.
  void Change(const CampaignSpec& spec, std::uint64_t seq);
  std::uint64_t changed_seq() const noexcept { return changed_seq_; }
  // Units of a top-up whose change the log has not acknowledged: counted in the stock, not yet
  // free to sell. JoinTopUp frees them once it has (any thread).
  void AwaitTopUp(std::uint32_t units) noexcept {
    topping_up_.fetch_add(units, std::memory_order_relaxed);
  }
  void JoinTopUp(std::uint32_t units) noexcept;
  // A top-up the log refused: its units never join.
  void DropTopUp(std::uint32_t units) noexcept {
    topping_up_.fetch_sub(units, std::memory_order_relaxed);
  }
  std::uint32_t topping_up() const noexcept { return topping_up_.load(std::memory_order_relaxed); }
  // The stock less the units still topping up: what the books close against.
  std::uint32_t stock_in_play() const noexcept;
  std::uint32_t index() const noexcept { return index_; }
  // Before the campaign is published: the engine builds a campaign outside its control mutex
  // and takes the index under it.
  void set_index(std::uint32_t index) noexcept { index_ = index; }
  const CampaignFootprint& footprint() const noexcept { return footprint_; }
  // The tags of the campaign's ids. Set once, before the campaign is published.
  const IdTagger& ids() const noexcept { return ids_; }
  void set_id_key(const IdKey& key) noexcept { ids_ = IdTagger(key); }
  StripedStock& stock() noexcept { return stock_; }
  const StripedStock& stock() const noexcept { return stock_; }
  // Coupon campaigns only: each user's claim (empty for sales).
  // Coupon campaigns only: each user's claim (one bucket, unused, for sales).
  CouponLedger& ledger() noexcept { return ledger_; }
  const CouponLedger& ledger() const noexcept { return ledger_; }
  // Sale campaigns only: the units each user holds (empty for coupons).
  UnitLedger& units() noexcept { return units_; }
  // Coupon campaigns only: users who may hold a claim.
  HolderFilter& holders() noexcept { return holders_; }
  // Empty (no slots) for coupon campaigns.
  OrderTable& orders() noexcept { return orders_; }
  const OrderTable& orders() const noexcept { return orders_; }
  WorkerShare& share(std::uint32_t worker) noexcept { return shares_[worker]; }

  // Moves `units` into (or, negative, out of) `book`. `worker` is the calling worker: its own
  // row, written by it alone, so the data plane adds with a plain load and store. kAnyThread
  // (Revert, in-doubt settling, Apply) adds to a row shared by those callers, with fetch_add.
  static constexpr std::uint32_t kAnyThread = ~std::uint32_t{0};
  void Count(std::uint32_t worker, Book book, std::int64_t units) noexcept;
  // The sum of every row: exact when no decision runs concurrently, a snapshot otherwise.
  std::int64_t Total(Book book) const noexcept;

  bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }
  void set_closed(bool closed) noexcept { closed_.store(closed, std::memory_order_relaxed); }
  // Paused by an admin. The state is the one the newest pause or resume event (by its control
  // seq) set: SetPaused ignores an older one, so a re-appended event, and replay in whatever
  // order the log took them, end where the engine did. Control mutex for SetPaused.
  bool paused() const noexcept { return (pause_.load(std::memory_order_relaxed) & 1) != 0; }
  // Nothing changes if an event newer than `seq` set the state already.
  void SetPaused(bool paused, std::uint64_t seq) noexcept {
    if ((pause_.load(std::memory_order_relaxed) >> 1) >= seq) return;
    pause_.store((seq << 1) | (paused ? 1 : 0), std::memory_order_relaxed);
  }
  // Withdrawn: its creation was refused by the log; it stays, invisible. Retiring: an archive
  // is under way, so no decision takes it (reads still see it); it may come back. Archived:
  // gone for good, freed once no worker can hold it (Engine::Impl::Reclaim).
  static constexpr std::uint8_t kWithdrawn = 1, kRetiring = 2, kArchived = 4;
  bool withdrawn() const noexcept { return (gone() & kWithdrawn) != 0; }
  void Withdraw() noexcept { gone_.fetch_or(kWithdrawn, std::memory_order_relaxed); }
  // Open to decisions: none of the three.
  bool serving() const noexcept { return gone() == 0; }
  // Seen by reads, lists and control calls: neither withdrawn nor archived.
  bool visible() const noexcept { return (gone() & (kWithdrawn | kArchived)) == 0; }
  bool archived() const noexcept { return (gone() & kArchived) != 0; }
  void set_retiring(bool retiring) noexcept {
    if (retiring) {
      gone_.fetch_or(kRetiring, std::memory_order_relaxed);
    } else {
      gone_.fetch_and(static_cast<std::uint8_t>(~kRetiring), std::memory_order_relaxed);
    }
  }
  void Archive() noexcept { gone_.fetch_or(kArchived, std::memory_order_relaxed); }
  bool creation_unacknowledged() const noexcept {
    return creation_unacknowledged_.load(std::memory_order_relaxed);
  }
  void set_creation_unacknowledged(bool unacknowledged) noexcept {
    creation_unacknowledged_.store(unacknowledged, std::memory_order_relaxed);
  }

 private:
  std::uint32_t index_;
  std::uint32_t workers_;
  CampaignSpec spec_;
  CampaignFootprint footprint_;
  IdTagger ids_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint8_t> gone_{0};
  std::uint8_t gone() const noexcept { return gone_.load(std::memory_order_relaxed); }
  std::atomic<std::uint64_t> pause_{0};  // (seq << 1) | paused
  std::atomic<bool> creation_unacknowledged_{false};
  // What a PATCH changes, read by any thread without the control mutex (relaxed: a request
  // racing a change may be decided either way). A renamed campaign's old names stay until it is
  // freed, so a reader's pointer never dangles.
  std::atomic<std::uint32_t> stock_total_;
  std::atomic<std::uint32_t> topping_up_{0};
  std::atomic<std::int64_t> ends_at_us_;  // kNever: no end
  std::vector<std::unique_ptr<std::string>> names_;
  std::atomic<const std::string*> name_;
  std::uint64_t changed_seq_ = 0;  // control mutex
  StripedStock stock_;
  CouponLedger ledger_;
  UnitLedger units_;
  HolderFilter holders_;
  OrderTable orders_;
  std::unique_ptr<WorkerShare[]> shares_;  // workers_ rows, then the kAnyThread row
};

}  // namespace hotdeal::engine::detail
