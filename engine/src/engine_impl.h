// Engine::Impl, shared by the files that hold its jobs: engine.cc (construction, the control
// plane, stats), coupon_decisions.cc, order_decisions.cc, log_reports.cc (the only file that moves
// unacknowledged and in-doubt states) and replay.cc. Included by those files and nothing else.
//
// Impl ties the campaign table, striped stock, ledgers, order slots, timer wheels and idempotency
// keys into decisions, and turns each decision into exactly one event. Must never read a clock,
// do I/O, or allocate or lock on the data plane in the steady state.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "campaign_table.h"
#include "hotdeal/base/check.h"
#include "hotdeal/engine/engine.h"
#include "idempotency_table.h"
#include "ids.h"
#include "timer_wheel.h"

namespace hotdeal::engine {

// The vocabulary of Impl's files.
namespace impl {

using detail::Book;
using detail::Campaign;
using detail::CouponHold;
using detail::CouponLedger;
using detail::IdempotencyTable;
using detail::OrderSlot;

using detail::GenerationOf;
using detail::Raw;
using detail::SlotFields;
using detail::SlotState;
using detail::StatusOf;

inline std::int64_t Second(TimePoint time) {
  return std::chrono::floor<std::chrono::seconds>(time).time_since_epoch().count();
}

// The book an order's units are in while its slot has `status`; nullopt if it holds none. An
// unacknowledged reservation or confirm is in the book of the status it becomes; an
// unacknowledged end still holds its units, in the book it ends (order_table.h).
constexpr std::optional<Book> BookOf(std::uint8_t status) {
  if (detail::IsHeldEnd(status)) {
    return (status & detail::kRefundBit) != 0 ? Book::kConfirmed : Book::kHeld;
  }
  status = detail::Shown(status);
  if (status == Raw(OrderStatus::kReserved)) return Book::kHeld;
  if (status == Raw(OrderStatus::kConfirmed)) return Book::kConfirmed;
  if (status == detail::kReservedInDoubt) return Book::kInDoubt;
  return std::nullopt;
}

// Wheel node: campaign index in the high half, order slot in the low half.
constexpr std::uint64_t WheelNode(std::uint32_t campaign, std::uint32_t slot) {
  return (std::uint64_t{campaign} << 32) | slot;
}

// Decision is an aggregate; this spells out every member once, so call sites stay short.
template <class T>
Decision<T> Answer(Outcome outcome, std::optional<T> value = std::nullopt, LogTicket ticket = {}) {
  Decision<T> decision;
  decision.outcome = outcome;
  decision.value = std::move(value);
  decision.ticket = ticket;
  return decision;
}

// Undoes an idempotency key's pending mark unless the decision it guards was finished.
class KeyHold {
 public:
  KeyHold(IdempotencyTable& table) : table_(table) {}
  ~KeyHold() {
    if (ref_) table_.Forget(*ref_);
  }
  KeyHold(const KeyHold&) = delete;
  KeyHold& operator=(const KeyHold&) = delete;
  void Hold(IdempotencyTable::Ref ref) { ref_ = ref; }
  void Finish(std::uint64_t value) {
    if (ref_) table_.Finish(*ref_, value);
    ref_.reset();
  }
  // The key replays `first`, whose decision was undone since: hold it for a new decision.
  bool Reclaim(IdempotencyTable::Ref replayed, std::uint64_t first, TimePoint now) {
    if (!table_.Reclaim(replayed, first, now)) return false;
    ref_ = replayed;
    return true;
  }

 private:
  IdempotencyTable& table_;
  std::optional<IdempotencyTable::Ref> ref_;
};

// What a replayed key answered: the id its first decision made, and the key's place.
struct KeyReplay {
  std::uint64_t first_id = 0;
  bool undone = false;  // the first decision was undone since (IdempotencyTable::Undo)
  IdempotencyTable::Ref ref;
};

}  // namespace impl
using namespace impl;

// Per worker: the coupon code generator, this worker's timer wheel and its counters. Written by
// its worker only (counters are atomics so that Stats may read them from another thread).
struct alignas(64) WorkerState {
  explicit WorkerState(std::array<std::uint64_t, 2> key) : codes(key) {}
  detail::CouponCodeGenerator codes;
  detail::TimerWheel wheel;
  std::array<std::array<std::atomic<std::uint64_t>, kOutcomeCount>, kOperationCount> decisions{};
  std::atomic<std::uint64_t> orders_expired{0};
  // The campaign this worker looked up last: a flash crowd sends one campaign id again and
  // again, and comparing it is cheaper than hashing it (ClaimSoldOut spent ~45% in lookup).
  Campaign* last_campaign = nullptr;
  // The archive generation this worker has passed a quiescent point in (Quiesce): it holds no
  // campaign archived before it, in its cache or its wheel. Written by the worker only.
  std::atomic<std::uint64_t> quiescent_gen{0};
  // The event being built: reused so that a decision does not construct and destroy an Event
  // (its CampaignSpec holds a std::string and an optional) every time.
  Event scratch;
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, EventSink& sink);

  Decision<CampaignView> CreateCampaign(const CampaignSpec& spec, TimePoint now);
  Decision<CampaignView> CloseCampaign(const CampaignId& id, TimePoint now);
  Decision<CampaignView> SetPaused(const CampaignId& id, bool paused, TimePoint now);
  Decision<CampaignView> ChangeCampaign(const CampaignId& id, const CampaignChange& change,
                                        TimePoint now);
  Decision<CampaignView> ArchiveCampaign(const CampaignId& id, TimePoint now);
  // A worker's quiescent point (ExpireDue calls it): it holds no campaign pointer now, so once
  // the archive generation moved it drops its cache and its wheel's nodes of archived
  // campaigns, and says it passed.
  void Quiesce(std::uint32_t worker);
  // Frees the archived campaigns no reader can hold any more; with a deadline, waits for them
  // until then. Control plane, without control_mutex_ held.
  void Reclaim(std::optional<std::chrono::steady_clock::time_point> deadline);
  // Report handlers (Engine's LogReports) hold this shared; Reclaim takes it alone before it
  // frees, so no report is inside a campaign it frees.
  std::shared_mutex& reports_mutex() const { return reports_mutex_; }
  Decision<CampaignView> GetCampaign(const CampaignId& id, TimePoint now) const;
  std::vector<CampaignView> ListCampaigns(TimePoint now) const;
  std::optional<CampaignFootprint> Footprint(const CampaignId& id) const;

  Decision<Claim> ClaimCoupon(WorkerId worker, const CampaignId& id, const UserId& user,
                              const std::optional<IdempotencyKey>& key, TimePoint now);
  Decision<Claim> GetClaim(const CampaignId& id, const UserId& user) const;
  Decision<Claim> GetCoupon(std::string_view code, const UserId& user) const;
  // Redeem (`redeem`) or restore: Engine::RedeemCoupon and RestoreCoupon.
  Decision<Claim> ChangeUse(WorkerId worker, std::string_view code, const UserId& user,
                            const OrderRef& order, TimePoint now, bool redeem);
  // The campaign `code` names, if the user's claim there has that code: the claim in `record`
  // and its hold in `hold`. Null otherwise.
  Campaign* FindCoupon(std::string_view code, const UserId& user, CouponHold& hold,
                       detail::ClaimRecord& record) const;
  // The user's claim in a coupon campaign: kOk, kInDoubt, kPending (all with the claim, which
  // callers must not reveal for kPending) or kNotFound.
  Decision<Claim> ClaimOf(const Campaign& campaign, const UserId& user) const;
  Decision<Order> PlaceOrder(WorkerId worker, const CampaignId& id, const UserId& user,
                             std::int64_t quantity, const std::optional<IdempotencyKey>& key,
                             TimePoint now);
  Decision<Order> ConfirmOrder(WorkerId worker, OrderId id, const UserId& user, TimePoint now);
  Decision<Order> CancelOrder(WorkerId worker, OrderId id, const UserId& user, TimePoint now,
                              CancelScope scope);
  Decision<Order> GetOrder(OrderId id, TimePoint now) const;
  std::size_t ExpireDue(WorkerId worker, TimePoint now);
  void Acknowledge(const Event& event);
  void Revert(const Event& event);
  void MarkInDoubt(const Event& event);
  std::optional<Event> SettleInDoubt(const Event& event, bool persisted);
  // False if the void found nothing to drop (the decision is not held).
  bool ApplyVoid(const Event& void_event);
  std::optional<ReplayError> Apply(const Event& event);
  std::optional<ReplayError> FinishRecovery();
  EngineStats Stats() const;
  std::optional<CampaignBooks> Books(const CampaignId& id) const;

 private:
  // An order's place: its slot and generation, and (from Locate) its fields as read then.
  struct Located {
    Campaign* campaign = nullptr;
    OrderSlot* slot = nullptr;
    std::uint32_t slot_index = 0;
    std::uint32_t generation = 0;
    SlotFields fields;
  };

  // Counts the decision for metrics and builds it in place (Decision<Claim> is a few hundred
  // bytes: copying it through helpers showed up as a third of a sold-out rejection's cost).
  template <class T>
  Decision<T> Decide(WorkerId worker, Operation operation, Outcome outcome) {
    std::atomic<std::uint64_t>& counter =
        workers_[worker.value]
            ->decisions[static_cast<std::size_t>(operation)][static_cast<std::size_t>(outcome)];
    // Single writer: a relaxed load and store, no locked instruction.
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    Decision<T> decision;
    decision.outcome = outcome;
    return decision;
  }
  template <class T>
  Decision<T> Decide(WorkerId worker, Operation operation, Outcome outcome, const T& value,
                     LogTicket ticket = {}) {
    Decision<T> decision = Decide<T>(worker, operation, outcome);
    decision.value.emplace(value);
    decision.ticket = ticket;
    return decision;
  }

  std::optional<LogTicket> Append(std::uint32_t worker, const Event& event) {
    return sink_.Append(WorkerId{worker}, event);
  }
  Event ControlEvent(EventType type, const Campaign& campaign, TimePoint now);
  // The worker's scratch event with every per-decision field reset; `spec` is never set on it.
  Event& DataEvent(std::uint32_t worker, EventType type, std::uint64_t seq, TimePoint now,
                   const CampaignId& campaign);
  Event& OrderEvent(EventType type, Campaign& campaign, std::uint32_t worker,
                    std::uint32_t slot_index, std::uint32_t generation, const SlotFields& fields,
                    TimePoint now);
  // True if a decision whose event got `ticket` must wait for the log's report to be final.
  bool Unacknowledged(LogTicket ticket) const {
    return options_.await_acknowledgement && ticket.value != 0;
  }
  // The status a move from `from` to `next` sets before its event is appended, in case the
  // log reports it: unacknowledged with durable acks, so that no one sees the move final before
  // the log has it; for an end, one that keeps its units until then in either mode
  // (order_table.h). FinishMove settles it if no report will come.
  std::uint8_t MovedStatus(std::uint8_t from, OrderStatus next) const {
    const bool end = next == OrderStatus::kCancelled || next == OrderStatus::kExpired;
    std::uint8_t status = Raw(next);
    if (options_.await_acknowledgement) status |= detail::kUnackedBit;
    if (end && !options_.await_acknowledgement) status |= detail::kHeldEndBit;
    if (end && from == Raw(OrderStatus::kConfirmed)) status |= detail::kRefundBit;
    return status;
  }
  // True if the move's report will settle it: a move with bits and a ticket from the log.
  static bool Reported(std::uint8_t moved, LogTicket ticket) {
    return moved != detail::Shown(moved) && ticket.value != 0;
  }
  // Once the move's event is appended: without a report to come (ticket 0), the move is final
  // now. False if the report will finish it (Acknowledge), which may have happened already.
  bool FinishMove(const Located& found, std::uint8_t moved, LogTicket ticket) const {
    if (Reported(moved, ticket)) return false;
    if (moved != detail::Shown(moved)) {
      found.slot->state.store(SlotState(found.generation, detail::Shown(moved)),
                              std::memory_order_release);
    }
    return true;
  }
  // Off the data plane: makes the order's unacknowledged `status` final; false if the order
  // is not in that unacknowledged status.
  static bool AcknowledgeMove(const Located& found, OrderStatus status);
  // Off the data plane: an unacknowledged end (cancel, refund, expiry) is in the log; the
  // order's units go back to stock now.
  void AcknowledgeEnd(std::uint32_t worker, const Located& found);
  // The order ended for good (this thread ended or undid it, or the log acknowledged its end):
  // its units, in `book` until now, go back to stock (`worker`'s stripe) and its slot may be
  // reused. `row` is the books row to count in: the worker's own, or Campaign::kAnyThread off
  // the data plane.
  void Restock(std::uint32_t worker, std::uint32_t row, const Located& found, Book book);
  // Confirm and cancel alike: the answer to a move towards `target` of an order in `status`
  // that the move leaves alone (unacknowledged, in doubt, or already `target`: the same request
  // again), or nullopt when the move goes on.
  // Confirm and cancel alike: the answer to a move that lost to another (kConflict with the
  // order as it is now, or kNotFound once its slot was reused).
  Decision<Order> Moved(WorkerId worker, Operation operation, const Located& found, TimePoint now);
  std::optional<Decision<Order>> Unmoved(WorkerId worker, Operation operation, const Located& found,
                                         std::uint8_t status, OrderStatus target, TimePoint now);
  // Find for a data-plane call of `worker`, through its one-entry cache. Inline, since a flash
  // crowd hits the cache on every call. A cached campaign is freed only after the worker's
  // next quiescent point, which empties the cache (Quiesce); until then only its flags are
  // rechecked. May answer a campaign that is not serving (in an archive attempt), which takes
  // no decision: the caller answers kEnded.
  Campaign* FindFor(std::uint32_t worker, const CampaignId& id) {
    Campaign* last = workers_[worker]->last_campaign;
    if (last && detail::SameId(last->spec().id, id) && last->serving()) return last;
    return FindAndCache(worker, id);
  }
  // FindFor past the cache: the table, and the answer cached if it is serving.
  Campaign* FindAndCache(std::uint32_t worker, const CampaignId& id);
  // The slot and generation an order id names (fields not read); Locate also reads the fields
  // and answers only an order the slot still holds, published. Both look at the id's value
  // alone: for ids from the log and from the engine's own tables.
  Located SlotOf(OrderId id) const;
  Located Locate(OrderId id) const { return ReadSlot(SlotOf(id)); }
  // `found` with its fields, or empty if its slot no longer holds its order, published.
  Located ReadSlot(Located found) const;
  // Locate for an id a client sent: also empty unless its tag is its campaign's for its value.
  Located LocateSent(OrderId id) const;
  // LocateSent, for confirm and cancel: only `user`'s own order (another user's reads as absent).
  Located LocateOwn(OrderId id, const UserId& user) const {
    Located found = LocateSent(id);
    if (found.slot && !detail::SameId(found.fields.user, user)) return {};
    return found;
  }
  // The order `found` names as it is now; nullopt once its slot was taken for another order.
  std::optional<Order> ReadOrder(const Located& found, TimePoint now) const;
  // Off the data plane: the slot's state once its deciding worker published generation
  // `found.generation`. A log report can come before the worker's publish, a few
  // instructions after its Append returned.
  static std::uint64_t PublishedState(const Located& found);
  // Moves a reserved order past expires_at to expired, returns its units (once the log has the
  // expiry, with durable acks) and frees its slot. False if the order was no longer reserved or
  // the log refused the event (it stays reserved).
  bool Expire(std::uint32_t worker, const Located& found, TimePoint now);
  // After a reservation is published in `slot_index`: puts the slot in `worker`'s wheel,
  // unless a wheel links it already (from an order it held before), whose visit then reads
  // this one. Pairs with ReleaseWheel (seq_cst on both sides).
  void Schedule(std::uint32_t worker, Campaign& campaign, std::uint32_t slot_index,
                TimePoint expires_at, TimePoint now);
  // The wheel of `worker` lets a slot go (its order ended). A worker that reused the slot
  // meanwhile may have left its reservation to this wheel (Schedule saw it linked), so the
  // slot is looked at once more: kDrop, or now to keep it.
  std::int64_t ReleaseWheel(std::uint32_t worker, OrderSlot& slot, TimePoint now);
  // Recovery: the live orders of a sale take their units (confirmed first, then reservations
  // from the newest), the rest of the used slots are freed.
  std::optional<ReplayError> RecoverOrders(Campaign& campaign);
  // Recovery: `fields`' user takes `fields.quantity` units within `limit`; false, and nothing
  // taken, if the stock or the limit does not allow it.
  bool TakeUnits(Campaign& campaign, std::uint32_t worker, const SlotFields& fields,
                 std::uint32_t limit);
  // Off the data plane (Revert, voids, Apply): drops the user's claim `id` and returns its
  // unit to `worker`'s stripe; false, and nothing done, if the user does not hold `id`.
  bool ReleaseClaim(std::uint32_t worker, Campaign& campaign, const UserId& user, ClaimId id);
  // Off the data plane: undoes the order `event` names (its reservation reverted, or its void)
  // if it still holds units (reserved, in doubt or confirmed): its idempotency key may decide
  // afresh, its units return and its slot is freed. False, and nothing done, if it holds none.
  bool UndoOrder(std::uint32_t worker, const Located& found, const Event& event);
  std::uint32_t OwnWorker(std::uint32_t worker) const { return worker % options_.workers; }
  std::uint64_t& WheelLink(std::uint64_t node) const;
  // Looks up an idempotency key (if any): kOverCapacity when its bucket is full, kReplayed
  // with `replay` set when it was seen, else kOk with the key held pending in `hold`. Inline
  // for the keyless request, which the claim paths' callers in other files must not pay a call
  // for (bench/RESULTS.md, "The renovation, before and after").
  Outcome BeginKey(const Campaign& campaign, const UserId& user,
                   const std::optional<IdempotencyKey>& key, TimePoint now, KeyHold& hold,
                   KeyReplay& replay) {
    return key ? BeginKeyed(campaign, user, *key, now, hold, replay) : Outcome::kOk;
  }
  Outcome BeginKeyed(const Campaign& campaign, const UserId& user, const IdempotencyKey& key,
                     TimePoint now, KeyHold& hold, KeyReplay& replay);
  // The rest of PlaceOrder once the user's units are raised: stock, slot, event, publish.
  Decision<Order> Reserve(WorkerId worker, Campaign& campaign, const UserId& user,
                          std::uint32_t units, const std::optional<IdempotencyKey>& key,
                          TimePoint now, KeyHold& key_hold);
  std::optional<ReplayError> ApplyControl(const Event& event);
  // A logged change: the campaign's stock moves to the change's, unless a newer change was
  // applied already. Control mutex held.
  std::optional<ReplayError> ApplyChange(Campaign& campaign, const Event& event);
  // A redeem or restore found in the log: the newest change of the coupon (by `use`) stands.
  // False if the user holds no such claim (an orphan).
  bool ApplyUse(Campaign& campaign, const Event& event);
  std::optional<ReplayError> ApplyClaim(Campaign& campaign, std::uint32_t worker,
                                        const Event& event);
  // Remembers a logged decision's idempotency key (if it has one) as the live call did.
  void RestoreKey(const Campaign& campaign, const Event& event, std::uint64_t first_id);
  // Recovery folds orders into their slots without taking units (FinishRecovery does), so the
  // order in which the log and the snapshot hold them does not matter.
  std::optional<ReplayError> ApplyReserved(Campaign& campaign, const Event& event);
  // False if the move found no order to move (see Apply).
  bool ApplyOrderMove(const Event& event);
  void RestoreControlSerial(std::uint64_t seq);
  // ---- archiving (engine.cc) ----
  // An ended campaign holding nothing in play: no live or in-doubt units, no unacknowledged
  // creation or top-up, and, for coupons, no coupon still redeemable. Control mutex held.
  bool Archivable(const Campaign& campaign, TimePoint now) const;
  // Moves the archive generation on; every worker passes it at its next quiescent point.
  std::uint64_t NextGeneration() { return retire_gen_.fetch_add(1, std::memory_order_seq_cst) + 1; }
  bool GenerationPassed(std::uint64_t gen) const;
  // Until every worker passed `gen`, or the deadline. With workers_idle_in_control, the caller
  // passes the quiescent points for them (no worker thread runs meanwhile).
  bool AwaitGeneration(std::uint64_t gen, std::chrono::steady_clock::time_point deadline);
  // An archived campaign on its way out: unlisted, its memory waits for a generation.
  struct Retired {
    std::uint32_t index = 0;
    std::uint64_t gen = 0;
    std::unique_ptr<Campaign> owned;  // set once unpublished: the last generation to wait
  };

  EngineOptions options_;
  EventSink& sink_;
  std::uint64_t ledger_seed_;
  std::array<std::uint64_t, 2> units_secret_;  // keys the sale ledgers' user fingerprints
  detail::IdKeyGenerator id_keys_;             // campaigns' id keys
  detail::CampaignTable campaigns_;
  std::unique_ptr<IdempotencyTable> keys_;
  std::vector<std::unique_ptr<WorkerState>> workers_;
  mutable std::mutex control_mutex_;
  std::uint64_t control_serial_ = 0;  // guarded by control_mutex_
  // Written by Apply's one thread, read by Stats from any thread.
  std::atomic<std::uint64_t> orphan_events_{0};
  std::atomic<std::uint64_t> reservations_dropped_{0};
  // Between the first Apply and FinishRecovery (one thread, before serving).
  bool replaying_ = false;
  std::atomic<std::uint64_t> retire_gen_{0};
  std::vector<Retired> retired_;                       // control mutex
  std::unordered_set<std::string> archived_ids_;       // control mutex; never taken again
  std::unordered_set<std::string> archives_unlogged_;  // control mutex; archived, not yet logged
  mutable std::shared_mutex reports_mutex_;
};

}  // namespace hotdeal::engine
