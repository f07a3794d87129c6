// Engine::Impl: ties the campaign table, striped stock, ledgers, order slots, timer wheels and
// idempotency keys into decisions, and turns each decision into exactly one event. Must never
// read a clock, do I/O, or allocate or lock on the data plane in the steady state.
#include "hotdeal/engine/engine.h"

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <random>

#include "campaign_table.h"
#include "check.h"
#include "hotdeal/engine/names.h"
#include "idempotency_table.h"
#include "ids.h"
#include "timer_wheel.h"

namespace hotdeal::engine {
namespace {

using detail::Book;
using detail::Campaign;
using detail::CouponHold;
using detail::CouponLedger;
using detail::IdempotencyTable;
using detail::OrderSlot;

std::array<std::uint64_t, 2> RandomKey(std::random_device& device) {
  auto word = [&device] { return (std::uint64_t{device()} << 32) | device(); };
  return {word(), word()};
}
std::array<std::uint64_t, 2> OsRandomKey() {
  std::random_device device;
  return RandomKey(device);
}

std::int64_t Second(TimePoint time) {
  return std::chrono::floor<std::chrono::seconds>(time).time_since_epoch().count();
}

using detail::GenerationOf;
using detail::Raw;
using detail::SlotFields;
using detail::SlotState;
using detail::StatusOf;

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

// An order as its slot's fields show it at `now`.
Order OrderView(const Campaign& campaign, std::uint32_t slot_index, std::uint32_t generation,
                const SlotFields& fields, TimePoint now, bool as_reserved = false) {
  Order order;
  order.id = detail::MakeOrderId(campaign.index(), slot_index, generation);
  order.id.tag = campaign.ids().Tag(order.id.value);
  order.campaign = campaign.spec().id;
  order.user = fields.user;
  order.quantity = fields.quantity;
  order.amount = campaign.spec().price * fields.quantity;
  order.created_at = fields.created_at;
  order.expires_at = fields.expires_at;
  std::uint8_t status = detail::Shown(fields.status);
  order.status = as_reserved || status == detail::kReservedInDoubt
                     ? OrderStatus::kReserved
                     : static_cast<OrderStatus>(status);
  // A reservation past expires_at is expired whether or not ExpireDue has run yet.
  if (order.status == OrderStatus::kReserved && !as_reserved && now >= fields.expires_at) {
    order.status = OrderStatus::kExpired;
  }
  return order;
}

// A claim as its ledger record shows it, with its id tagged for the client.
Claim ClaimView(const Campaign& campaign, const UserId& user, const detail::ClaimRecord& record) {
  ClaimId id{record.id.value, campaign.ids().Tag(record.id.value)};
  return Claim{id, campaign.spec().id, user, record.code, record.created_at};
}

// Where recovery folds an order's logged moves: an order only moves forward.
constexpr int Rank(std::uint8_t status) {
  if (status == Raw(OrderStatus::kReserved)) return 0;
  if (status == Raw(OrderStatus::kConfirmed)) return 1;
  return 2;  // cancelled, expired: final
}

ReplayError ReplayFailure(const Event& event, std::string_view what) {
  std::string message;
  message.append("campaign \"").append(event.campaign.view()).append("\", ");
  message.append(Name(event.type));
  // Ids as the log and MySQL rows hold them (the value; a client's text form adds a tag).
  if (event.order_id.value != 0) {
    message.append(" order_id ").append(std::to_string(event.order_id.value));
  }
  if (event.claim_id.value != 0) {
    message.append(" claim_id ").append(std::to_string(event.claim_id.value));
  }
  if (!event.user.empty()) message.append(" of user \"").append(event.user.view()).append("\"");
  message.append(": ").append(what);
  return {message};
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

// What a claim's holder hears instead of `final` while the claim is in doubt or unacknowledged.
constexpr Outcome HeldOutcome(CouponHold state, Outcome final) {
  if (state == CouponHold::kInDoubt) return Outcome::kInDoubt;
  if (state == CouponHold::kUnacked) return Outcome::kPending;
  return final;
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

}  // namespace

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
  // The event being built: reused so that a decision does not construct and destroy an Event
  // (its CampaignSpec holds a std::string and an optional) every time.
  Event scratch;
};

class Engine::Impl {
 public:
  Impl(EngineOptions options, EventSink& sink);

  Decision<CampaignView> CreateCampaign(const CampaignSpec& spec, TimePoint now);
  Decision<CampaignView> CloseCampaign(const CampaignId& id, TimePoint now);
  Decision<CampaignView> GetCampaign(const CampaignId& id, TimePoint now) const;
  std::vector<CampaignView> ListCampaigns(TimePoint now) const;
  std::optional<CampaignFootprint> Footprint(const CampaignId& id) const;

  Decision<Claim> ClaimCoupon(WorkerId worker, const CampaignId& id, const UserId& user,
                              const std::optional<IdempotencyKey>& key, TimePoint now);
  Decision<Claim> GetClaim(const CampaignId& id, const UserId& user) const;
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
  // crowd hits the cache on every call; campaigns are never freed, so a cached pointer stays
  // valid and only withdrawal is rechecked.
  Campaign* FindFor(std::uint32_t worker, const CampaignId& id) {
    Campaign* last = workers_[worker]->last_campaign;
    if (last && detail::SameId(last->spec().id, id) && !last->withdrawn()) return last;
    return FindAndCache(worker, id);
  }
  // FindFor past the cache: the table, and the answer cached if there is one.
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
  // Off the data plane: moves an order that holds units (reserved, in doubt or confirmed) to
  // `next`, returns its units and frees its slot; false, and nothing done, if it holds none.
  bool ReleaseOrder(std::uint32_t worker, const Located& found, std::uint8_t next);
  std::uint32_t OwnWorker(std::uint32_t worker) const { return worker % options_.workers; }
  std::uint64_t& WheelLink(std::uint64_t node) const;
  // Looks up an idempotency key (if any): kOverCapacity when its bucket is full, kReplayed
  // with `replay` set when it was seen, else kOk with the key held pending in `hold`.
  Outcome BeginKey(const Campaign& campaign, const UserId& user,
                   const std::optional<IdempotencyKey>& key, TimePoint now, KeyHold& hold,
                   KeyReplay& replay);
  // The rest of PlaceOrder once the user's units are raised: stock, slot, event, publish.
  Decision<Order> Reserve(WorkerId worker, Campaign& campaign, const UserId& user,
                          std::uint32_t units, const std::optional<IdempotencyKey>& key,
                          TimePoint now, KeyHold& key_hold);
  std::optional<ReplayError> ApplyControl(const Event& event);
  std::optional<ReplayError> ApplyClaim(Campaign& campaign, std::uint32_t worker,
                                        const Event& event);
  // Remembers a logged decision's idempotency key (if it has one) as the live call did.
  void RestoreKey(const Campaign& campaign, const Event& event, std::uint64_t first_id);
  // The order `event` names (its reservation, reverted, or its void) was undone: its key, if
  // it had one, may decide afresh (PlaceOrder).
  void UndoKey(const Campaign& campaign, const Event& event);
  // Recovery folds orders into their slots without taking units (FinishRecovery does), so the
  // order in which the log and the snapshot hold them does not matter.
  std::optional<ReplayError> ApplyReserved(Campaign& campaign, const Event& event);
  // False if the move found no order to move (see Apply).
  bool ApplyOrderMove(const Event& event);
  void RestoreControlSerial(std::uint64_t seq);

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
};

Engine::Impl::Impl(EngineOptions options, EventSink& sink)
    : options_(options),
      sink_(sink),
      ledger_seed_(std::random_device{}()),
      id_keys_(OsRandomKey()),
      campaigns_(options.campaigns_max, ledger_seed_ * 0x9E3779B97F4A7C15ull) {
  HOTDEAL_ASSERT(options.workers >= 1 && options.workers <= detail::kWorkersMax);
  HOTDEAL_ASSERT(options.campaigns_max >= 1 && options.campaigns_max <= detail::kCampaignsMax);
  // Order ids hold the slot in kOrderSlotBits: the slots of the largest sale must fit.
  HOTDEAL_ASSERT(Campaign::OrderSlotsFor(options.stock_max, options.workers) <=
                 detail::kOrderSlotsMax);
  std::random_device device;
  units_secret_ = RandomKey(device);
  keys_ = std::make_unique<IdempotencyTable>(options.idempotency_keys_max,
                                             options.idempotency_window, RandomKey(device));
  workers_.reserve(options.workers);
  for (std::uint32_t i = 0; i < options.workers; ++i) {
    workers_.push_back(std::make_unique<WorkerState>(RandomKey(device)));
  }
}

// ---- control plane -------------------------------------------------------------------------

Event Engine::Impl::ControlEvent(EventType type, const Campaign& campaign, TimePoint now) {
  Event event;
  event.type = type;
  event.seq = detail::MakeSeq(++control_serial_, detail::kControlWorker);
  event.at = now;
  event.campaign = campaign.spec().id;
  return event;
}

Decision<CampaignView> Engine::Impl::CreateCampaign(const CampaignSpec& spec, TimePoint now) {
  if (spec.stock > options_.stock_max) return Answer<CampaignView>(Outcome::kCapacity);
  if (Campaign::Validate(spec, options_.stock_max) != Outcome::kOk)
    return Answer<CampaignView>(Outcome::kInvalid);
  const std::size_t bytes = Campaign::FootprintFor(spec, options_.workers).bytes;
  // What refuses the creation; under control_mutex_. Checked once before the campaign is built,
  // so a refused one allocates nothing, and again once it is built, for a creation that raced.
  auto refusal = [&]() -> std::optional<Outcome> {
    if (campaigns_.FindAny(spec.id)) return Outcome::kConflict;
    if (campaigns_.next_index() >= campaigns_.capacity()) return Outcome::kCapacity;
    if (options_.memory_budget_bytes == 0) return std::nullopt;
    std::uint64_t taken = bytes;
    for (std::uint32_t i = 0; i < campaigns_.next_index(); ++i) {
      if (Campaign* campaign = campaigns_.At(i)) taken += campaign->footprint().bytes;
    }
    if (taken > options_.memory_budget_bytes) return Outcome::kCapacity;
    return std::nullopt;
  };
  {
    std::lock_guard lock(control_mutex_);
    if (std::optional<Outcome> refused = refusal()) return Answer<CampaignView>(*refused);
  }
  // The big allocation (seconds and gigabytes for millions of units) outside the mutex, so that
  // reads, Stats and other control calls go on meanwhile. Declared before the lock: a campaign
  // that lost a race is freed after the mutex is released.
  auto campaign =
      std::make_unique<Campaign>(0, spec, options_.workers, ledger_seed_, units_secret_);
  campaign->set_id_key(id_keys_.Next());
  std::lock_guard lock(control_mutex_);
  if (std::optional<Outcome> refused = refusal()) return Answer<CampaignView>(*refused);
  campaign->set_index(campaigns_.next_index());
  Event event = ControlEvent(EventType::kCampaignCreated, *campaign, now);
  event.spec = spec;
  event.campaign_index = campaign->index();
  event.id_key = campaign->ids().key();
  std::optional<LogTicket> ticket = Append(options_.workers, event);
  if (!ticket) return Answer<CampaignView>(Outcome::kLogUnavailable);
  campaign->set_creation_unacknowledged(Unacknowledged(*ticket));
  CampaignView view = campaign->View(now);
  campaigns_.Insert(std::move(campaign));
  return Answer<CampaignView>(Outcome::kCreated, view, *ticket);
}

Decision<CampaignView> Engine::Impl::CloseCampaign(const CampaignId& id, TimePoint now) {
  std::lock_guard lock(control_mutex_);
  Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return Answer<CampaignView>(Outcome::kNotFound);
  if (campaign->closed()) return Answer<CampaignView>(Outcome::kOk, campaign->View(now));
  Event event = ControlEvent(EventType::kCampaignClosed, *campaign, now);
  std::optional<LogTicket> ticket = Append(options_.workers, event);
  if (!ticket) return Answer<CampaignView>(Outcome::kLogUnavailable);
  campaign->set_closed(true);
  return Answer<CampaignView>(Outcome::kOk, campaign->View(now), *ticket);
}

Decision<CampaignView> Engine::Impl::GetCampaign(const CampaignId& id, TimePoint now) const {
  Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return Answer<CampaignView>(Outcome::kNotFound);
  return Answer<CampaignView>(Outcome::kOk, campaign->View(now));
}

std::vector<CampaignView> Engine::Impl::ListCampaigns(TimePoint now) const {
  std::lock_guard lock(control_mutex_);
  std::vector<CampaignView> views;
  for (std::uint32_t i = 0; i < campaigns_.next_index(); ++i) {
    Campaign* campaign = campaigns_.At(i);
    if (campaign && !campaign->withdrawn()) views.push_back(campaign->View(now));
  }
  return views;
}

std::optional<CampaignFootprint> Engine::Impl::Footprint(const CampaignId& id) const {
  Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return std::nullopt;
  return campaign->footprint();
}

Campaign* Engine::Impl::FindAndCache(std::uint32_t worker, const CampaignId& id) {
  Campaign* found = campaigns_.Find(id);
  if (found) workers_[worker]->last_campaign = found;
  return found;
}

// ---- coupons -------------------------------------------------------------------------------

Decision<Claim> Engine::Impl::ClaimCoupon(WorkerId worker, const CampaignId& id, const UserId& user,
                                          const std::optional<IdempotencyKey>& key, TimePoint now) {
  HOTDEAL_DEBUG_ASSERT(worker.value < options_.workers);
  constexpr Operation kOperation = Operation::kClaim;
  Campaign* campaign = FindFor(worker.value, id);
  if (!campaign) return Decide<Claim>(worker, kOperation, Outcome::kNotFound);
  if (campaign->spec().kind != CampaignKind::kCoupon) {
    return Decide<Claim>(worker, kOperation, Outcome::kConflict);
  }
  KeyHold key_hold(*keys_);
  KeyReplay replay;
  if (Outcome keyed = BeginKey(*campaign, user, key, now, key_hold, replay);
      keyed == Outcome::kOverCapacity) {
    return Decide<Claim>(worker, kOperation, keyed);
  } else if (keyed == Outcome::kReplayed) {
    Decision<Claim> first = ClaimOf(*campaign, user);
    if (first.value && first.value->id.value == replay.first_id) {
      if (first.outcome == Outcome::kPending)
        return Decide<Claim>(worker, kOperation, first.outcome);
      Outcome again = first.outcome == Outcome::kInDoubt ? Outcome::kInDoubt : Outcome::kReplayed;
      return Decide<Claim>(worker, kOperation, again, *first.value);
    }
    // The claim the key made was undone since (reverted, or voided in doubt): its client heard
    // 503, so this retry is decided afresh under the key. Another retry reclaiming it first is
    // deciding now.
    if (!key_hold.Reclaim(replay.ref, replay.first_id, now)) {
      return Decide<Claim>(worker, kOperation, Outcome::kPending);
    }
  }
  if (Outcome window = campaign->Window(now); window != Outcome::kOk) {
    return Decide<Claim>(worker, kOperation, window);
  }
  // The sold-out fast path: after a sell-out a rejection costs this plus the lookup, and the
  // filter answers for users without a claim. A holder retrying without a key hears
  // kAlreadyClaimed with its claim (API.md), found by a ledger probe made only on a filter hit.
  if (campaign->stock().SoldOut()) {
    if (campaign->holders().MayHold(campaign->ledger().Hash(user))) {
      Decision<Claim> held = ClaimOf(*campaign, user);
      if (held.outcome == Outcome::kPending) return Decide<Claim>(worker, kOperation, held.outcome);
      if (held.value) {
        Outcome outcome =
            held.outcome == Outcome::kInDoubt ? Outcome::kInDoubt : Outcome::kAlreadyClaimed;
        return Decide<Claim>(worker, kOperation, outcome, *held.value);
      }
    }
    return Decide<Claim>(worker, kOperation, Outcome::kSoldOut);
  }
  CouponLedger& ledger = campaign->ledger();
  CouponLedger::Pending pending;
  detail::ClaimRecord record;
  CouponHold held = CouponHold::kNone;
  switch (ledger.Begin(user, pending, record, held)) {
    case CouponLedger::Begun::kFull:
      return Decide<Claim>(worker, kOperation, Outcome::kOverCapacity);
    case CouponLedger::Begun::kHeld: {
      Outcome outcome = HeldOutcome(held, Outcome::kAlreadyClaimed);
      if (outcome == Outcome::kPending) return Decide<Claim>(worker, kOperation, outcome);
      return Decide<Claim>(worker, kOperation, outcome, ClaimView(*campaign, user, record));
    }
    case CouponLedger::Begun::kPending:
      break;
  }
  // The user is marked pending: no duplicate can pass until this decision is settled, and a
  // failed take below unmarks the user, so losing the race leaves no trace (but a filter bit,
  // which only costs a probe). The bit is set before the take, whose seq_cst write the scan
  // that may set the sold-out flag reads, so a reader that sees the flag sees the bit.
  campaign->holders().Add(ledger.Hash(user));
  if (!campaign->stock().Take(worker.value, 1)) {
    ledger.Abort(pending);
    return Decide<Claim>(worker, kOperation, Outcome::kSoldOut);
  }
  std::uint64_t serial = campaign->NextSerial(worker.value);
  record.id = detail::MakeClaimId(campaign->index(), worker.value, serial);
  record.code = workers_[worker.value]->codes.Next();
  record.created_at = now;
  Event& event = DataEvent(worker.value, EventType::kClaimGranted,
                           detail::MakeSeq(serial, worker.value), now, id);
  event.user = user;
  event.claim_id = record.id;
  event.coupon_code = record.code;
  event.quantity = 1;
  event.idempotency_key = key;
  std::optional<LogTicket> ticket = Append(worker.value, event);
  if (!ticket) {
    campaign->stock().Give(worker.value, 1);
    ledger.Abort(pending);
    return Decide<Claim>(worker, kOperation, Outcome::kLogUnavailable);
  }
  ledger.Commit(pending, record,
                Unacknowledged(*ticket) ? CouponHold::kUnacked : CouponHold::kClaimed);
  campaign->Count(worker.value, Book::kClaimed, 1);
  key_hold.Finish(record.id.value);
  return Decide<Claim>(worker, kOperation, Outcome::kCreated, ClaimView(*campaign, user, record),
                       *ticket);
}

Decision<Claim> Engine::Impl::GetClaim(const CampaignId& id, const UserId& user) const {
  const Campaign* campaign = campaigns_.Find(id);
  if (!campaign || campaign->spec().kind != CampaignKind::kCoupon)
    return Answer<Claim>(Outcome::kNotFound);
  Decision<Claim> claim = ClaimOf(*campaign, user);
  if (claim.outcome == Outcome::kPending) claim.value.reset();  // not revealed until final
  return claim;
}

Decision<Claim> Engine::Impl::ClaimOf(const Campaign& campaign, const UserId& user) const {
  CouponHold state = CouponHold::kNone;
  std::optional<detail::ClaimRecord> record = campaign.ledger().Read(user, &state);
  if (!record) return Answer<Claim>(Outcome::kNotFound);
  return Answer<Claim>(HeldOutcome(state, Outcome::kOk), ClaimView(campaign, user, *record));
}

// ---- orders --------------------------------------------------------------------------------

Event& Engine::Impl::DataEvent(std::uint32_t worker, EventType type, std::uint64_t seq,
                               TimePoint now, const CampaignId& campaign) {
  Event& event = workers_[worker]->scratch;
  event.type = type;
  event.idempotency_key.reset();
  event.seq = seq;
  event.at = now;
  event.campaign = campaign;
  event.user = UserId{};
  event.claim_id = ClaimId{};
  event.order_id = OrderId{};
  event.coupon_code = CouponCode{};
  event.quantity = 0;
  event.amount = 0;
  event.expires_at = TimePoint{};
  return event;
}

Event& Engine::Impl::OrderEvent(EventType type, Campaign& campaign, std::uint32_t worker,
                                std::uint32_t slot_index, std::uint32_t generation,
                                const SlotFields& fields, TimePoint now) {
  Event& event = DataEvent(worker, type, detail::MakeSeq(campaign.NextSerial(worker), worker), now,
                           campaign.spec().id);
  event.user = fields.user;
  event.order_id = detail::MakeOrderId(campaign.index(), slot_index, generation);
  event.quantity = fields.quantity;
  event.amount = campaign.spec().price * fields.quantity;
  event.expires_at = fields.expires_at;
  return event;
}

Decision<Order> Engine::Impl::PlaceOrder(WorkerId worker, const CampaignId& id, const UserId& user,
                                         std::int64_t quantity,
                                         const std::optional<IdempotencyKey>& key, TimePoint now) {
  HOTDEAL_DEBUG_ASSERT(worker.value < options_.workers);
  constexpr Operation kOperation = Operation::kPlaceOrder;
  Campaign* campaign = FindFor(worker.value, id);
  if (!campaign) return Decide<Order>(worker, kOperation, Outcome::kNotFound);
  const CampaignSpec& spec = campaign->spec();
  if (spec.kind != CampaignKind::kSale) {
    return Decide<Order>(worker, kOperation, Outcome::kConflict);
  }
  if (quantity <= 0) return Decide<Order>(worker, kOperation, Outcome::kInvalid);
  if (quantity > spec.per_user_limit) {
    return Decide<Order>(worker, kOperation, Outcome::kLimitExceeded);
  }
  auto units = static_cast<std::uint32_t>(quantity);
  KeyHold key_hold(*keys_);
  KeyReplay replay;
  if (Outcome keyed = BeginKey(*campaign, user, key, now, key_hold, replay);
      keyed == Outcome::kOverCapacity) {
    return Decide<Order>(worker, kOperation, keyed);
  } else if (keyed == Outcome::kReplayed) {
    if (Located first = Locate(OrderId{replay.first_id}); first.slot) {
      std::uint8_t status = first.fields.status;
      if (status == detail::Unacked(OrderStatus::kReserved)) {
        return Decide<Order>(worker, kOperation, Outcome::kPending);
      }
      Order order = OrderView(*campaign, first.slot_index, first.generation, first.fields, now,
                              /*as_reserved=*/true);
      bool in_doubt = status == detail::kReservedInDoubt;
      return Decide<Order>(worker, kOperation, in_doubt ? Outcome::kInDoubt : Outcome::kReplayed,
                           order);
    }
    // Ended, and its slot reused since: the first answer is gone, and deciding again would make
    // a second order under one key.
    if (!replay.undone) return Decide<Order>(worker, kOperation, Outcome::kConflict);
    // Undone since (reverted, or voided in doubt): decided afresh, as for a claim.
    if (!key_hold.Reclaim(replay.ref, replay.first_id, now)) {
      return Decide<Order>(worker, kOperation, Outcome::kPending);
    }
  }
  if (Outcome window = campaign->Window(now); window != Outcome::kOk) {
    return Decide<Order>(worker, kOperation, window);
  }
  if (campaign->stock().SoldOut()) return Decide<Order>(worker, kOperation, Outcome::kSoldOut);
  // The user's units are raised first, so two concurrent orders of one user cannot both pass
  // the limit; every failure in Reserve lowers them again.
  switch (campaign->units().Add(user, units, spec.per_user_limit)) {
    case detail::UnitLedger::AddResult::kAdded:
      return Reserve(worker, *campaign, user, units, key, now, key_hold);
    case detail::UnitLedger::AddResult::kOverLimit:
      return Decide<Order>(worker, kOperation, Outcome::kLimitExceeded);
    case detail::UnitLedger::AddResult::kFull:
      break;
  }
  return Decide<Order>(worker, kOperation, Outcome::kOverCapacity);
}

Decision<Order> Engine::Impl::Reserve(WorkerId worker, Campaign& campaign, const UserId& user,
                                      std::uint32_t units, const std::optional<IdempotencyKey>& key,
                                      TimePoint now, KeyHold& key_hold) {
  constexpr Operation kOperation = Operation::kPlaceOrder;
  if (!campaign.stock().Take(worker.value, units)) {
    campaign.units().Remove(user, units);
    return Decide<Order>(worker, kOperation, Outcome::kSoldOut);
  }
  std::uint32_t generation = 0;
  std::optional<std::uint32_t> slot_index =
      campaign.orders().Allocate(campaign.share(worker.value).orders, &generation);
  if (!slot_index) {
    // Every slot holds a live order: unreachable while slots outnumber the units a sale can
    // hand out (Campaign::OrderSlotsFor), kept as the table's bound.
    campaign.stock().Give(worker.value, units);
    campaign.units().Remove(user, units);
    return Decide<Order>(worker, kOperation, Outcome::kOverCapacity);
  }
  SlotFields fields;
  fields.quantity = units;
  fields.created_at = now;
  fields.expires_at = now + std::chrono::seconds(campaign.spec().hold_seconds);
  fields.user = user;
  campaign.orders().Write(*slot_index, generation, fields);
  Event& event = OrderEvent(EventType::kOrderReserved, campaign, worker.value, *slot_index,
                            generation, fields, now);
  event.idempotency_key = key;
  std::optional<LogTicket> ticket = Append(worker.value, event);
  if (!ticket) {
    // The order never was: its id answers kNotFound, and the slot is free again.
    campaign.stock().Give(worker.value, units);
    campaign.units().Remove(user, units);
    campaign.orders().Free(*slot_index);
    return Decide<Order>(worker, kOperation, Outcome::kLogUnavailable);
  }
  fields.status = Unacknowledged(*ticket) ? detail::Unacked(OrderStatus::kReserved)
                                          : Raw(OrderStatus::kReserved);
  // Publishes the fields written above (release), and is seq_cst for Schedule's hand-over.
  campaign.orders()
      .Slot(*slot_index)
      .state.store(SlotState(generation, fields.status), std::memory_order_seq_cst);
  campaign.Count(worker.value, Book::kHeld, units);
  Schedule(worker.value, campaign, *slot_index, fields.expires_at, now);
  key_hold.Finish(event.order_id.value);
  return Decide<Order>(worker, kOperation, Outcome::kCreated,
                       OrderView(campaign, *slot_index, generation, fields, now), *ticket);
}

void Engine::Impl::Schedule(std::uint32_t worker, Campaign& campaign, std::uint32_t slot_index,
                            TimePoint expires_at, TimePoint now) {
  OrderSlot& slot = campaign.orders().Slot(slot_index);
  std::uint8_t owner = slot.wheel_owner.load(std::memory_order_seq_cst);
  // Linked already (this worker's wheel or another's, from an order the slot held before): that
  // wheel visits the slot no later than this order is due, since every order of a campaign
  // holds for the same hold_seconds, and reads this order then. If it lets the slot go first,
  // ReleaseWheel sees this reservation and keeps it.
  if (owner != detail::kNoWheel) return;
  if (!slot.wheel_owner.compare_exchange_strong(owner, static_cast<std::uint8_t>(worker),
                                                std::memory_order_seq_cst)) {
    return;  // a releasing wheel kept it (ReleaseWheel)
  }
  workers_[worker]->wheel.Push(
      WheelNode(campaign.index(), slot_index), Second(expires_at), Second(now),
      [this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); });
}

std::int64_t Engine::Impl::ReleaseWheel(std::uint32_t worker, OrderSlot& slot, TimePoint now) {
  slot.wheel_owner.store(detail::kNoWheel, std::memory_order_seq_cst);
  if (!detail::IsReservation(StatusOf(slot.state.load(std::memory_order_seq_cst)))) {
    return detail::TimerWheel::kDrop;
  }
  std::uint8_t none = detail::kNoWheel;
  if (!slot.wheel_owner.compare_exchange_strong(none, static_cast<std::uint8_t>(worker),
                                                std::memory_order_seq_cst)) {
    return detail::TimerWheel::kDrop;  // the reusing worker's own wheel has it
  }
  return Second(now);  // kept: read on the next call
}

Outcome Engine::Impl::BeginKey(const Campaign& campaign, const UserId& user,
                               const std::optional<IdempotencyKey>& key, TimePoint now,
                               KeyHold& hold, KeyReplay& replay) {
  if (!key) return Outcome::kOk;
  IdempotencyTable::Result found = keys_->Begin(campaign.index(), user, *key, now);
  switch (found.lookup) {
    case IdempotencyTable::Lookup::kFull:
      return Outcome::kOverCapacity;
    case IdempotencyTable::Lookup::kReplay:
      replay = {found.value, found.undone, found.ref};
      return Outcome::kReplayed;
    case IdempotencyTable::Lookup::kNew:
      hold.Hold(found.ref);
      return Outcome::kOk;
  }
  return Outcome::kOverCapacity;
}

std::uint64_t& Engine::Impl::WheelLink(std::uint64_t node) const {
  Campaign& campaign = campaigns_.Get(static_cast<std::uint32_t>(node >> 32));
  return campaign.orders().Slot(static_cast<std::uint32_t>(node)).wheel_next;
}

Engine::Impl::Located Engine::Impl::SlotOf(OrderId id) const {
  if ((id.value & detail::kOrderSlotsMax) == 0) return {};
  Campaign* campaign = campaigns_.At(detail::OrderCampaign(id));
  if (!campaign || campaign->withdrawn() || campaign->spec().kind != CampaignKind::kSale) return {};
  std::uint32_t slot_index = detail::OrderSlotIndex(id);
  OrderSlot* slot = campaign->orders().At(slot_index);
  if (!slot) return {};
  return {campaign, slot, slot_index, detail::OrderGeneration(id), {}};
}

std::uint64_t Engine::Impl::PublishedState(const Located& found) {
  unsigned spins = 0;
  const std::uint64_t unpublished = SlotState(found.generation, detail::kUnpublished);
  std::uint64_t state = found.slot->state.load(std::memory_order_acquire);
  while (state == unpublished) {
    detail::SpinWait(spins);
    state = found.slot->state.load(std::memory_order_acquire);
  }
  return state;
}

Engine::Impl::Located Engine::Impl::ReadSlot(Located found) const {
  if (!found.slot) return {};
  std::optional<SlotFields> fields =
      found.campaign->orders().Read(found.slot_index, found.generation);
  if (!fields || detail::HoldsNoOrder(fields->status)) return {};
  found.fields = *fields;
  return found;
}

Engine::Impl::Located Engine::Impl::LocateSent(OrderId id) const {
  // The tag is checked before the slot is read, so how long a wrong tag takes does not depend
  // on what the slot holds; the campaign and slot index it names are no secret.
  Located found = SlotOf(id);
  if (!found.slot || !found.campaign->ids().Matches(id.value, id.tag)) return {};
  return ReadSlot(found);
}

std::optional<Order> Engine::Impl::ReadOrder(const Located& found, TimePoint now) const {
  std::optional<SlotFields> fields =
      found.campaign->orders().Read(found.slot_index, found.generation);
  if (!fields || detail::HoldsNoOrder(fields->status)) return std::nullopt;
  return OrderView(*found.campaign, found.slot_index, found.generation, *fields, now);
}

bool Engine::Impl::Expire(std::uint32_t worker, const Located& found, TimePoint now) {
  Campaign& campaign = *found.campaign;
  std::uint64_t reserved = SlotState(found.generation, Raw(OrderStatus::kReserved));
  const std::uint8_t moved = MovedStatus(Raw(OrderStatus::kReserved), OrderStatus::kExpired);
  // The CAS makes this thread the only one moving the order; confirm and cancel race on it.
  if (!found.slot->state.compare_exchange_strong(reserved, SlotState(found.generation, moved),
                                                 std::memory_order_acq_rel)) {
    return false;
  }
  const Event& event = OrderEvent(EventType::kOrderExpired, campaign, worker, found.slot_index,
                                  found.generation, found.fields, now);
  std::optional<LogTicket> ticket = Append(worker, event);
  if (!ticket) {
    found.slot->state.store(reserved, std::memory_order_release);
    return false;
  }
  std::atomic<std::uint64_t>& expired = workers_[worker]->orders_expired;
  expired.store(expired.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Else the units come back once the log has the expiry (AcknowledgeEnd).
  if (FinishMove(found, moved, *ticket)) Restock(worker, worker, found, Book::kHeld);
  return true;
}

void Engine::Impl::Restock(std::uint32_t worker, std::uint32_t row, const Located& found,
                           Book book) {
  Campaign& campaign = *found.campaign;
  campaign.stock().Give(worker, found.fields.quantity);
  campaign.units().Remove(found.fields.user, found.fields.quantity);
  campaign.Count(row, book, -std::int64_t{found.fields.quantity});
  // Last: from here the slot may be taken for another order at once.
  campaign.orders().Free(found.slot_index);
}

Decision<Order> Engine::Impl::ConfirmOrder(WorkerId worker, OrderId id, const UserId& user,
                                           TimePoint now) {
  constexpr Operation kOperation = Operation::kConfirmOrder;
  Located found = LocateOwn(id, user);
  if (!found.slot) return Decide<Order>(worker, kOperation, Outcome::kNotFound);
  OrderSlot& slot = *found.slot;
  std::uint64_t state = slot.state.load(std::memory_order_acquire);
  if (GenerationOf(state) != found.generation) {
    return Decide<Order>(worker, kOperation, Outcome::kNotFound);  // ended and reused since
  }
  std::uint8_t status = StatusOf(state);
  // Confirming twice is the same payment reported again: the order stays as it is.
  if (auto answer = Unmoved(worker, kOperation, found, status, OrderStatus::kConfirmed, now)) {
    return *answer;
  }
  if (status == Raw(OrderStatus::kReserved) && now >= found.fields.expires_at) {
    Expire(worker.value, found, now);
  } else if (const std::uint8_t moved = MovedStatus(status, OrderStatus::kConfirmed);
             status == Raw(OrderStatus::kReserved) &&
             slot.state.compare_exchange_strong(state, SlotState(found.generation, moved),
                                                std::memory_order_acq_rel)) {
    Campaign& campaign = *found.campaign;
    const Event& event = OrderEvent(EventType::kOrderConfirmed, campaign, worker.value,
                                    found.slot_index, found.generation, found.fields, now);
    std::optional<LogTicket> ticket = Append(worker.value, event);
    if (!ticket) {
      slot.state.store(SlotState(found.generation, Raw(OrderStatus::kReserved)),
                       std::memory_order_release);
      return Decide<Order>(worker, kOperation, Outcome::kLogUnavailable);
    }
    FinishMove(found, moved, *ticket);
    campaign.Count(worker.value, Book::kHeld, -std::int64_t{found.fields.quantity});
    campaign.Count(worker.value, Book::kConfirmed, found.fields.quantity);
    SlotFields confirmed = found.fields;
    confirmed.status = Raw(OrderStatus::kConfirmed);
    return Decide<Order>(worker, kOperation, Outcome::kOk,
                         OrderView(campaign, found.slot_index, found.generation, confirmed, now),
                         *ticket);
  }
  // Cancelled, expired (now or before), or moved by a concurrent call.
  return Moved(worker, kOperation, found, now);
}

Decision<Order> Engine::Impl::Moved(WorkerId worker, Operation operation, const Located& found,
                                    TimePoint now) {
  std::optional<Order> order = ReadOrder(found, now);
  if (!order) return Decide<Order>(worker, operation, Outcome::kNotFound);
  return Decide<Order>(worker, operation, Outcome::kConflict, *order);
}

std::optional<Decision<Order>> Engine::Impl::Unmoved(WorkerId worker, Operation operation,
                                                     const Located& found, std::uint8_t status,
                                                     OrderStatus target, TimePoint now) {
  if (detail::IsUnacked(status)) return Decide<Order>(worker, operation, Outcome::kPending);
  Outcome outcome = Outcome::kOk;
  if (status == detail::kReservedInDoubt) {
    outcome = Outcome::kInDoubt;
  } else if (detail::Shown(status) != Raw(target)) {
    return std::nullopt;
  }
  SlotFields fields = found.fields;
  fields.status = status;
  return Decide<Order>(worker, operation, outcome,
                       OrderView(*found.campaign, found.slot_index, found.generation, fields, now));
}

Decision<Order> Engine::Impl::CancelOrder(WorkerId worker, OrderId id, const UserId& user,
                                          TimePoint now, CancelScope scope) {
  constexpr Operation kOperation = Operation::kCancelOrder;
  Located found = LocateOwn(id, user);
  if (!found.slot) return Decide<Order>(worker, kOperation, Outcome::kNotFound);
  Campaign& campaign = *found.campaign;
  OrderSlot& slot = *found.slot;
  std::uint64_t state = slot.state.load(std::memory_order_acquire);
  for (;;) {
    if (GenerationOf(state) != found.generation) {
      return Decide<Order>(worker, kOperation, Outcome::kNotFound);  // ended and reused since
    }
    std::uint8_t status = StatusOf(state);
    if (auto answer = Unmoved(worker, kOperation, found, status, OrderStatus::kCancelled, now)) {
      return *answer;
    }
    if (status == Raw(OrderStatus::kReserved) && now >= found.fields.expires_at) {
      Expire(worker.value, found, now);
      break;
    }
    const bool refund =
        status == Raw(OrderStatus::kConfirmed) && scope == CancelScope::kReservationOrRefund;
    if (status != Raw(OrderStatus::kReserved) && !refund) break;
    const std::uint8_t moved = MovedStatus(status, OrderStatus::kCancelled);
    if (!slot.state.compare_exchange_weak(state, SlotState(found.generation, moved),
                                          std::memory_order_acq_rel)) {
      continue;
    }
    const Event& event = OrderEvent(EventType::kOrderCancelled, campaign, worker.value,
                                    found.slot_index, found.generation, found.fields, now);
    std::optional<LogTicket> ticket = Append(worker.value, event);
    if (!ticket) {
      slot.state.store(state, std::memory_order_release);
      return Decide<Order>(worker, kOperation, Outcome::kLogUnavailable);
    }
    SlotFields cancelled = found.fields;
    cancelled.status = Raw(OrderStatus::kCancelled);
    Order order = OrderView(campaign, found.slot_index, found.generation, cancelled, now);
    // Else the units come back once the log has the cancel (AcknowledgeEnd).
    if (FinishMove(found, moved, *ticket)) {
      Restock(worker.value, worker.value, found, *BookOf(status));
    }
    return Decide<Order>(worker, kOperation, Outcome::kOk, order, *ticket);
  }
  return Moved(worker, kOperation, found, now);
}

Decision<Order> Engine::Impl::GetOrder(OrderId id, TimePoint now) const {
  Located found = LocateSent(id);
  if (!found.slot) return Answer<Order>(Outcome::kNotFound);
  if (detail::IsUnacked(found.fields.status)) return Answer<Order>(Outcome::kPending);
  return Answer<Order>(Outcome::kOk, OrderView(*found.campaign, found.slot_index, found.generation,
                                               found.fields, now));
}

std::size_t Engine::Impl::ExpireDue(WorkerId worker, TimePoint now) {
  HOTDEAL_DEBUG_ASSERT(worker.value < options_.workers);
  std::size_t expired = 0;
  auto link = [this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); };
  // The wheel visits a slot, not an order: it reads whichever order the slot holds now (a
  // reused slot stays linked; Schedule).
  auto visit = [&](std::uint64_t node) -> std::int64_t {
    Campaign& campaign = campaigns_.Get(static_cast<std::uint32_t>(node >> 32));
    Located found;
    found.campaign = &campaign;
    found.slot_index = static_cast<std::uint32_t>(node);
    found.slot = &campaign.orders().Slot(found.slot_index);
    found.generation = GenerationOf(found.slot->state.load(std::memory_order_acquire));
    std::optional<SlotFields> fields = campaign.orders().Read(found.slot_index, found.generation);
    if (!fields) return Second(now);  // reused while read: look again on the next call
    found.fields = *fields;
    std::uint8_t status = fields->status;
    if (!detail::IsReservation(status)) return ReleaseWheel(worker.value, *found.slot, now);
    // In doubt or unacknowledged: it expires once settled or acknowledged as persisted, so it
    // stays, retried on the next call.
    if (status != Raw(OrderStatus::kReserved))
      return Second(now < fields->expires_at ? fields->expires_at : now);
    // Later in this second, or in a later revolution: stays where it is.
    if (now < fields->expires_at) return Second(fields->expires_at);
    if (Expire(worker.value, found, now)) {
      ++expired;
      return ReleaseWheel(worker.value, *found.slot, now);
    }
    // Confirmed or cancelled meanwhile, or the log refused: looked at again on the next call.
    return Second(now);
  };
  workers_[worker.value]->wheel.Advance(Second(now), link, visit);
  return expired;
}

// ---- log reports ---------------------------------------------------------------------------

void Engine::Impl::Acknowledge(const Event& event) {
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return;
  if (event.type == EventType::kCampaignCreated) {
    campaign->set_creation_unacknowledged(false);
    return;
  }
  if (event.type == EventType::kClaimGranted) {
    // The books count an unacknowledged claim as claimed already: nothing moves there.
    campaign->ledger().Move(event.user, event.claim_id, CouponHold::kUnacked, CouponHold::kClaimed);
    return;
  }
  std::optional<OrderStatus> moved;
  if (event.type == EventType::kOrderReserved) moved = OrderStatus::kReserved;
  if (event.type == EventType::kOrderConfirmed) moved = OrderStatus::kConfirmed;
  const bool end =
      event.type == EventType::kOrderCancelled || event.type == EventType::kOrderExpired;
  if (!moved && !end) return;
  Located found = SlotOf(event.order_id);
  if (!found.slot || found.campaign != campaign) return;
  if (moved) {
    AcknowledgeMove(found, *moved);
  } else {
    AcknowledgeEnd(OwnWorker(detail::SeqWorker(event.seq)), found);
  }
}

void Engine::Impl::AcknowledgeEnd(std::uint32_t worker, const Located& found) {
  std::uint64_t state = PublishedState(found);
  const std::uint8_t status = StatusOf(state);
  // Acknowledged already (a repeated report), or the order is not this end's.
  if (GenerationOf(state) != found.generation || !detail::IsHeldEnd(status)) return;
  // While the end is unacknowledged nothing else moves the order, and its slot is not free.
  Located ended = ReadSlot(found);
  HOTDEAL_ASSERT(ended.slot != nullptr);
  if (!found.slot->state.compare_exchange_strong(
          state, SlotState(found.generation, detail::Shown(status)), std::memory_order_acq_rel)) {
    return;
  }
  Restock(worker, Campaign::kAnyThread, ended, *BookOf(status));
}

bool Engine::Impl::AcknowledgeMove(const Located& found, OrderStatus status) {
  // While unacknowledged no worker moves the order (they answer kPending and expiry waits), and
  // the log reports each event once, so one strong CAS decides. An unacknowledged cancel may
  // have freed its slot for another order already: the generation then differs and nothing
  // changes.
  std::uint64_t unacked = SlotState(found.generation, detail::Unacked(status));
  return PublishedState(found) == unacked &&
         found.slot->state.compare_exchange_strong(
             unacked, SlotState(found.generation, Raw(status)), std::memory_order_acq_rel);
}

// ---- undo ----------------------------------------------------------------------------------

void Engine::Impl::Revert(const Event& event) {
  if (event.type == EventType::kCampaignCreated || event.type == EventType::kCampaignClosed) {
    std::lock_guard lock(control_mutex_);
    Campaign* campaign = campaigns_.FindAny(event.campaign);
    if (!campaign) return;
    if (event.type == EventType::kCampaignCreated) campaign->Withdraw();
    if (event.type == EventType::kCampaignClosed) campaign->set_closed(false);
    return;
  }
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return;
  std::uint32_t worker = OwnWorker(detail::SeqWorker(event.seq));
  if (event.type == EventType::kClaimGranted) {
    ReleaseClaim(worker, *campaign, event.user, event.claim_id);
    return;
  }
  if (event.type != EventType::kOrderReserved && event.type != EventType::kOrderConfirmed) return;
  Located found = SlotOf(event.order_id);
  if (!found.slot) return;
  std::uint64_t state = PublishedState(found);
  if (event.type == EventType::kOrderReserved) {
    // The key first, so a retry that no longer finds the order knows it may decide afresh.
    UndoKey(*campaign, event);
    ReleaseOrder(worker, found, detail::kUndone);  // the order never was
    return;
  }
  // Only a confirm can be moved back: its reservation was final before it could be confirmed.
  if (GenerationOf(state) == found.generation &&
      detail::Shown(StatusOf(state)) == Raw(OrderStatus::kConfirmed) &&
      found.slot->state.compare_exchange_strong(
          state, SlotState(found.generation, Raw(OrderStatus::kReserved)),
          std::memory_order_acq_rel)) {
    campaign->Count(Campaign::kAnyThread, Book::kConfirmed, -std::int64_t{event.quantity});
    campaign->Count(Campaign::kAnyThread, Book::kHeld, event.quantity);
  }
}

bool Engine::Impl::ReleaseClaim(std::uint32_t worker, Campaign& campaign, const UserId& user,
                                ClaimId id) {
  CouponHold dropped = campaign.ledger().Drop(user, id);
  if (dropped == CouponHold::kNone) return false;
  campaign.Count(Campaign::kAnyThread,
                 dropped == CouponHold::kInDoubt ? Book::kInDoubt : Book::kClaimed, -1);
  campaign.stock().Give(worker, 1);
  return true;
}

bool Engine::Impl::ReleaseOrder(std::uint32_t worker, const Located& found, std::uint8_t next) {
  std::uint64_t state = found.slot->state.load(std::memory_order_acquire);
  do {
    if (GenerationOf(state) != found.generation || !BookOf(StatusOf(state))) return false;
  } while (!found.slot->state.compare_exchange_weak(state, SlotState(found.generation, next),
                                                    std::memory_order_acq_rel));
  // This thread ended the order: its slot keeps the fields until Restock frees it.
  Located ended = found;
  std::optional<SlotFields> fields =
      found.campaign->orders().Read(found.slot_index, found.generation);
  HOTDEAL_ASSERT(fields.has_value());
  ended.fields = *fields;
  Restock(worker, Campaign::kAnyThread, ended, *BookOf(StatusOf(state)));
  return true;
}

// ---- in doubt ------------------------------------------------------------------------------

void Engine::Impl::MarkInDoubt(const Event& event) {
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return;
  if (event.type == EventType::kClaimGranted) {
    // Unacknowledged with durable acks, claimed already without them.
    auto mark = [&](CouponHold from) {
      return campaign->ledger().Move(event.user, event.claim_id, from, CouponHold::kInDoubt);
    };
    if (mark(CouponHold::kUnacked) || mark(CouponHold::kClaimed)) {
      campaign->Count(Campaign::kAnyThread, Book::kClaimed, -1);
      campaign->Count(Campaign::kAnyThread, Book::kInDoubt, 1);
    }
    return;
  }
  Located found = SlotOf(event.order_id);
  if (!found.slot) return;
  if (event.type == EventType::kOrderConfirmed) {
    // A confirm cannot be undone and nothing settles one yet: it stands, as it would have
    // without durable acks (docs/durability.md).
    AcknowledgeMove(found, OrderStatus::kConfirmed);
    return;
  }
  if (event.type != EventType::kOrderReserved) return;
  std::uint64_t state = PublishedState(found);
  if (GenerationOf(state) == found.generation &&
      detail::Shown(StatusOf(state)) == Raw(OrderStatus::kReserved) &&
      found.slot->state.compare_exchange_strong(
          state, SlotState(found.generation, detail::kReservedInDoubt),
          std::memory_order_acq_rel)) {
    campaign->Count(Campaign::kAnyThread, Book::kHeld, -std::int64_t{event.quantity});
    campaign->Count(Campaign::kAnyThread, Book::kInDoubt, event.quantity);
  }
}

std::optional<Event> Engine::Impl::SettleInDoubt(const Event& event, bool persisted) {
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return std::nullopt;
  EventType void_type = EventType::kClaimVoided;
  if (event.type == EventType::kClaimGranted) {
    if (persisted) {
      if (campaign->ledger().Move(event.user, event.claim_id, CouponHold::kInDoubt,
                                  CouponHold::kClaimed)) {
        campaign->Count(Campaign::kAnyThread, Book::kInDoubt, -1);
        campaign->Count(Campaign::kAnyThread, Book::kClaimed, 1);
      }
      return std::nullopt;
    }
    CouponHold state = CouponHold::kNone;
    std::optional<detail::ClaimRecord> claim = campaign->ledger().Read(event.user, &state);
    if (!claim || claim->id != event.claim_id || state != CouponHold::kInDoubt) return std::nullopt;
  } else if (event.type == EventType::kOrderReserved) {
    void_type = EventType::kOrderVoided;
    Located found = Locate(event.order_id);
    if (!found.slot) return std::nullopt;
    std::uint64_t in_doubt = SlotState(found.generation, detail::kReservedInDoubt);
    if (persisted) {
      if (found.slot->state.compare_exchange_strong(
              in_doubt, SlotState(found.generation, Raw(OrderStatus::kReserved)),
              std::memory_order_acq_rel)) {
        campaign->Count(Campaign::kAnyThread, Book::kInDoubt, -std::int64_t{event.quantity});
        campaign->Count(Campaign::kAnyThread, Book::kHeld, event.quantity);
      }
      return std::nullopt;
    }
    if (found.slot->state.load(std::memory_order_acquire) != in_doubt) return std::nullopt;
  } else {
    return std::nullopt;
  }
  Event voided;
  voided.type = void_type;
  {
    std::lock_guard lock(control_mutex_);
    voided.seq = detail::MakeSeq(++control_serial_, detail::kControlWorker);
  }
  voided.at = event.at;
  voided.campaign = event.campaign;
  voided.user = event.user;
  voided.claim_id = event.claim_id;
  voided.order_id = event.order_id;
  voided.quantity = event.quantity;
  voided.idempotency_key = event.idempotency_key;
  return voided;
}

bool Engine::Impl::ApplyVoid(const Event& void_event) {
  Campaign* campaign = campaigns_.FindAny(void_event.campaign);
  if (!campaign) return false;
  std::uint32_t worker = OwnWorker(detail::SeqWorker(void_event.seq));
  if (void_event.type == EventType::kClaimVoided) {
    return campaign->spec().kind == CampaignKind::kCoupon &&
           ReleaseClaim(worker, *campaign, void_event.user, void_event.claim_id);
  }
  if (void_event.type != EventType::kOrderVoided) return false;
  // A void of an order the log never had (its reservation was not persisted) finds nothing.
  Located found = Locate(void_event.order_id);
  if (!found.slot || found.campaign != campaign) return false;
  UndoKey(*campaign, void_event);  // before the order goes, as in Revert
  return ReleaseOrder(worker, found, detail::kUndone);
}

void Engine::Impl::UndoKey(const Campaign& campaign, const Event& event) {
  if (event.idempotency_key) {
    keys_->Undo(campaign.index(), event.user, *event.idempotency_key, event.order_id.value);
  }
}

// ---- recovery ------------------------------------------------------------------------------

// Replay re-checks what the live path checked before logging (spec, limit, stock, one claim
// per user), so a log that breaks an invariant stops recovery with a ReplayError instead of
// being served. docs/durability.md ("Histories recovery accepts") lists the orders of events the
// log and the snapshot can hold and why each is replayed correctly; in short:
//
// Orders are folded, not replayed step by step: Apply writes each reservation into its slot (a
// newer generation of the slot supersedes an older one, which must have ended for the slot to
// be reused) and moves it only forward (reserved -> confirmed -> cancelled; reserved ->
// expired), taking no units; FinishRecovery then takes the units of what is live. So neither
// the order the snapshot's rows come back in nor a returning event logged after the sale that
// reused its units (a cancel appended again after a failed delivery) can make replay oversell
// on the way.
//
// Moves and voids that find nothing to act on are counted no-ops (orphan_events), never a
// restock and never an error: the durable path legitimately logs them. Without
// await_acknowledgement (--ack memory) a reservation whose delivery report is late can be moved
// in memory first and then be reported not persisted; a returning event appended again after a
// doubtful report arrives twice; a void may name a decision the log never had; a move may name
// a slot generation that was reused since. An absent reservation never took units in the
// replayed state, so a move of it has nothing to give back. An order_confirmed without its
// reservation cannot be honoured (the units may be sold); the count tells ops that a confirmed
// order was lost.
std::optional<ReplayError> Engine::Impl::Apply(const Event& event) {
  replaying_ = true;
  if (event.type == EventType::kCampaignCreated || event.type == EventType::kCampaignClosed) {
    return ApplyControl(event);
  }
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  // Every later event of a campaign follows its creation in the log (one partition per id),
  // and with await_acknowledgement nothing is decided before the creation is persisted. Without
  // it (--ack memory) a creation the log lost can leave its campaign's decisions behind: they
  // are orphans, as moves without their reservation are, not a reason to stop every sale.
  if (!campaign) {
    orphan_events_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  campaign->RestoreSerial(event.seq);
  RestoreControlSerial(event.seq);  // voids are sequenced by the control plane
  std::uint32_t worker = OwnWorker(detail::SeqWorker(event.seq));
  bool acted = true;
  switch (event.type) {
    case EventType::kClaimGranted:
      return ApplyClaim(*campaign, worker, event);
    case EventType::kClaimVoided:
      acted = ApplyVoid(event);
      break;
    case EventType::kOrderReserved:
      return ApplyReserved(*campaign, event);
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
    case EventType::kOrderVoided:
      acted = ApplyOrderMove(event);
      break;
    case EventType::kCampaignCreated:
    case EventType::kCampaignClosed:
      break;
  }
  if (!acted) orphan_events_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void Engine::Impl::RestoreControlSerial(std::uint64_t seq) {
  if (detail::SeqWorker(seq) != detail::kControlWorker) return;
  std::lock_guard lock(control_mutex_);
  if (control_serial_ < detail::SeqSerial(seq)) control_serial_ = detail::SeqSerial(seq);
}

std::optional<ReplayError> Engine::Impl::ApplyControl(const Event& event) {
  {
    std::lock_guard lock(control_mutex_);
    if (event.type == EventType::kCampaignCreated) {
      if (Campaign::Validate(event.spec, options_.stock_max) != Outcome::kOk) {
        return ReplayFailure(event,
                             "the campaign's spec is not one this server accepts "
                             "(its stock may be over --stock-max)");
      }
      if (campaigns_.FindAny(event.campaign) || campaigns_.At(event.campaign_index) ||
          event.campaign_index >= campaigns_.capacity()) {
        return ReplayFailure(event,
                             "the campaign's id or index is taken, or its index is over "
                             "--campaigns-max");
      }
      auto campaign = std::make_unique<Campaign>(event.campaign_index, event.spec, options_.workers,
                                                 ledger_seed_, units_secret_);
      campaign->set_id_key(event.id_key);  // ids handed out before the restart still match
      campaigns_.Insert(std::move(campaign));
    } else if (Campaign* campaign = campaigns_.FindAny(event.campaign)) {
      campaign->set_closed(true);
    } else {
      orphan_events_.fetch_add(1, std::memory_order_relaxed);  // as in Apply
    }
  }
  RestoreControlSerial(event.seq);
  return std::nullopt;
}

std::optional<ReplayError> Engine::Impl::ApplyClaim(Campaign& campaign, std::uint32_t worker,
                                                    const Event& event) {
  if (campaign.spec().kind != CampaignKind::kCoupon) {
    return ReplayFailure(event, "a claim of a sale campaign");
  }
  CouponLedger& ledger = campaign.ledger();
  CouponLedger::Pending pending;
  detail::ClaimRecord existing;
  CouponHold held = CouponHold::kNone;
  // A second grant to one user in the log would be a lost invariant, not a replay detail. Claims
  // replay in log order: a voided claim's unit is given again only after the void is persisted
  // (ApplyVoid), so the log holds every void before the grant that reused its unit.
  switch (ledger.Begin(event.user, pending, existing, held)) {
    case CouponLedger::Begun::kFull:
      return ReplayFailure(event, "more claimants than the campaign's ledger holds");
    case CouponLedger::Begun::kHeld:
      return ReplayFailure(event, "the user holds another claim of the campaign already");
    case CouponLedger::Begun::kPending:
      break;
  }
  if (!campaign.stock().Take(worker, 1)) {
    ledger.Abort(pending);
    return ReplayFailure(event, "the campaign's stock is granted already (oversold log)");
  }
  // Replayed from the log: acknowledged by definition.
  ledger.Commit(pending, {event.claim_id, event.coupon_code, event.at}, CouponHold::kClaimed);
  campaign.Count(Campaign::kAnyThread, Book::kClaimed, 1);
  RestoreKey(campaign, event, event.claim_id.value);
  return std::nullopt;
}

void Engine::Impl::RestoreKey(const Campaign& campaign, const Event& event,
                              std::uint64_t first_id) {
  if (!event.idempotency_key) return;
  IdempotencyTable::Result found =
      keys_->Begin(campaign.index(), event.user, *event.idempotency_key, event.at);
  // kReplay: the key made an earlier decision, which stays its answer, as it did live. kFull:
  // the table is bounded; the key is forgotten and a retry is decided afresh.
  if (found.lookup == IdempotencyTable::Lookup::kNew) keys_->Finish(found.ref, first_id);
}

std::optional<ReplayError> Engine::Impl::ApplyReserved(Campaign& campaign, const Event& event) {
  if (campaign.spec().kind != CampaignKind::kSale) {
    return ReplayFailure(event, "an order of a coupon campaign");
  }
  Located found = SlotOf(event.order_id);
  if (!found.slot || found.campaign != &campaign) {
    return ReplayFailure(event, "the order id names no slot of this campaign");
  }
  if (event.quantity < 1 || event.quantity > campaign.spec().per_user_limit) {
    return ReplayFailure(event, "the order's quantity is outside 1..per_user_limit");
  }
  // Whatever the slot holds now: a retry with the key must not decide again even once the
  // order's answer is gone (PlaceOrder answers kConflict then).
  RestoreKey(campaign, event, event.order_id.value);
  std::uint64_t state = found.slot->state.load(std::memory_order_relaxed);
  std::uint32_t held = GenerationOf(state);
  // A later order of the slot is in already (this one ended before the slot was reused), or
  // this very reservation is: nothing to write.
  if (detail::NewerGeneration(held, found.generation)) return std::nullopt;
  if (held == found.generation && StatusOf(state) != detail::kUnpublished) return std::nullopt;
  SlotFields fields;
  fields.quantity = event.quantity;
  fields.created_at = event.at;
  fields.expires_at = event.expires_at;
  fields.user = event.user;
  campaign.orders().Write(found.slot_index, found.generation, fields);
  found.slot->state.store(SlotState(found.generation, Raw(OrderStatus::kReserved)),
                          std::memory_order_relaxed);
  campaign.orders().MarkUsed(found.slot_index);
  return std::nullopt;
}

bool Engine::Impl::ApplyOrderMove(const Event& event) {
  Located found = SlotOf(event.order_id);
  if (!found.slot || found.campaign->spec().id.view() != event.campaign.view()) return false;
  std::uint64_t state = found.slot->state.load(std::memory_order_relaxed);
  std::uint8_t status = StatusOf(state);
  // A move of an older generation of the slot (the order ended and the slot was reused; its
  // final event landed later), of a reservation the log never had, or a repeat: nothing to do.
  if (GenerationOf(state) != found.generation || detail::HoldsNoOrder(status)) return false;
  std::uint8_t next = detail::kUndone;  // a void: the order never was
  if (event.type == EventType::kOrderConfirmed) next = Raw(OrderStatus::kConfirmed);
  if (event.type == EventType::kOrderCancelled) next = Raw(OrderStatus::kCancelled);
  if (event.type == EventType::kOrderExpired) next = Raw(OrderStatus::kExpired);
  // Only forward, as live: confirm and expiry only from reserved (an expiry never ends a paid
  // order), cancel from reserved or confirmed, a void of a reservation.
  bool forward = event.type == EventType::kOrderVoided
                     ? status == Raw(OrderStatus::kReserved)
                     : Rank(next) > Rank(status) && (event.type == EventType::kOrderCancelled ||
                                                     status == Raw(OrderStatus::kReserved));
  if (!forward) return false;
  found.slot->state.store(SlotState(found.generation, next), std::memory_order_relaxed);
  return true;
}

std::optional<ReplayError> Engine::Impl::FinishRecovery() {
  if (!replaying_) return std::nullopt;
  replaying_ = false;
  std::lock_guard lock(control_mutex_);  // next_index() is control-plane state
  for (std::uint32_t i = 0; i < campaigns_.next_index(); ++i) {
    Campaign* campaign = campaigns_.At(i);
    if (!campaign || campaign->spec().kind != CampaignKind::kSale) continue;
    if (std::optional<ReplayError> error = RecoverOrders(*campaign)) return error;
  }
  return std::nullopt;
}

bool Engine::Impl::TakeUnits(Campaign& campaign, std::uint32_t worker, const SlotFields& fields,
                             std::uint32_t limit) {
  if (campaign.units().Add(fields.user, fields.quantity, limit) !=
      detail::UnitLedger::AddResult::kAdded) {
    return false;
  }
  if (!campaign.stock().Take(worker, fields.quantity)) {
    campaign.units().Remove(fields.user, fields.quantity);
    return false;
  }
  return true;
}

std::optional<ReplayError> Engine::Impl::RecoverOrders(Campaign& campaign) {
  detail::OrderTable& orders = campaign.orders();
  std::vector<std::pair<TimePoint, std::uint32_t>> reservations;
  for (std::uint32_t slot_index = 0; slot_index < orders.used_max(); ++slot_index) {
    std::uint64_t state = orders.Slot(slot_index).state.load(std::memory_order_relaxed);
    std::optional<SlotFields> fields = orders.Read(slot_index, GenerationOf(state));
    std::uint32_t worker = slot_index % options_.workers;
    if (fields->status == Raw(OrderStatus::kConfirmed)) {
      // Paid: it keeps its units whatever else the log says, and the stock must hold them all.
      // The per-user limit does not drop a paid order (only a lost refund could pass it).
      if (!TakeUnits(campaign, worker, *fields, std::numeric_limits<std::uint32_t>::max())) {
        Event named;
        named.type = EventType::kOrderConfirmed;
        named.campaign = campaign.spec().id;
        named.order_id = detail::MakeOrderId(campaign.index(), slot_index, GenerationOf(state));
        return ReplayFailure(named, "the confirmed orders hold more units than the stock");
      }
      campaign.Count(Campaign::kAnyThread, Book::kConfirmed, fields->quantity);
    } else if (fields->status == Raw(OrderStatus::kReserved)) {
      reservations.emplace_back(fields->created_at, slot_index);
    } else {
      orders.Free(slot_index);  // ended (readable by its id until reused) or never published
    }
  }
  // Newest first: a reservation whose end the log lost (a cancel still being appended again at
  // a stop) is older than the sale that reused its units, so it is the one left without units.
  std::sort(reservations.begin(), reservations.end(),
            [](const auto& a, const auto& b) { return a > b; });
  for (const auto& [created_at, slot_index] : reservations) {
    OrderSlot& slot = orders.Slot(slot_index);
    std::uint32_t generation = GenerationOf(slot.state.load(std::memory_order_relaxed));
    std::optional<SlotFields> fields = orders.Read(slot_index, generation);
    std::uint32_t worker = slot_index % options_.workers;
    if (!TakeUnits(campaign, worker, *fields, campaign.spec().per_user_limit)) {
      slot.state.store(SlotState(generation, Raw(OrderStatus::kExpired)),
                       std::memory_order_relaxed);
      orders.Free(slot_index);
      reservations_dropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    campaign.Count(Campaign::kAnyThread, Book::kHeld, fields->quantity);
    // Reservations keep their expires_at: the wheel expires them as the live engine would have.
    slot.wheel_owner.store(static_cast<std::uint8_t>(worker), std::memory_order_relaxed);
    workers_[worker]->wheel.Push(
        WheelNode(campaign.index(), slot_index), Second(fields->expires_at), Second(created_at),
        [this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); });
  }
  return std::nullopt;
}

EngineStats Engine::Impl::Stats() const {
  EngineStats stats;
  for (const auto& worker : workers_) {
    for (std::size_t op = 0; op < kOperationCount; ++op) {
      for (std::size_t outcome = 0; outcome < kOutcomeCount; ++outcome) {
        stats.decisions[op][outcome] +=
            worker->decisions[op][outcome].load(std::memory_order_relaxed);
      }
    }
    stats.orders_expired += worker->orders_expired.load(std::memory_order_relaxed);
  }
  stats.orphan_events = orphan_events_.load(std::memory_order_relaxed);
  stats.reservations_dropped = reservations_dropped_.load(std::memory_order_relaxed);
  std::lock_guard lock(control_mutex_);  // next_index() is control-plane state
  for (std::uint32_t i = 0; i < campaigns_.next_index(); ++i) {
    if (Campaign* campaign = campaigns_.At(i))
      stats.units_in_doubt += campaign->Total(Book::kInDoubt);
  }
  return stats;
}

std::optional<CampaignBooks> Engine::Impl::Books(const CampaignId& id) const {
  const Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return std::nullopt;
  CampaignBooks books;
  books.stock = campaign->spec().stock;
  books.remaining = campaign->stock().Free();
  books.claimed = campaign->Total(Book::kClaimed);
  books.held = campaign->Total(Book::kHeld);
  books.confirmed = campaign->Total(Book::kConfirmed);
  books.in_doubt = campaign->Total(Book::kInDoubt);
  return books;
}

// ---- Engine: forwards to Impl --------------------------------------------------------------

Engine::Engine(EngineOptions options, EventSink& sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}
Engine::~Engine() = default;

Decision<CampaignView> Engine::CreateCampaign(const CampaignSpec& spec, TimePoint now) {
  return impl_->CreateCampaign(spec, now);
}
Decision<CampaignView> Engine::CloseCampaign(const CampaignId& id, TimePoint now) {
  return impl_->CloseCampaign(id, now);
}
Decision<CampaignView> Engine::GetCampaign(const CampaignId& id, TimePoint now) const {
  return impl_->GetCampaign(id, now);
}
std::vector<CampaignView> Engine::ListCampaigns(TimePoint now) const {
  return impl_->ListCampaigns(now);
}
std::optional<CampaignFootprint> Engine::Footprint(const CampaignId& id) const {
  return impl_->Footprint(id);
}
std::optional<CampaignBooks> Engine::Books(const CampaignId& id) const {
  return impl_->Books(id);
}
Decision<Claim> Engine::ClaimCoupon(WorkerId worker, const CampaignId& campaign, const UserId& user,
                                    const std::optional<IdempotencyKey>& key, TimePoint now) {
  return impl_->ClaimCoupon(worker, campaign, user, key, now);
}
Decision<Claim> Engine::GetClaim(const CampaignId& campaign, const UserId& user) const {
  return impl_->GetClaim(campaign, user);
}
Decision<Order> Engine::PlaceOrder(WorkerId worker, const CampaignId& campaign, const UserId& user,
                                   std::int64_t quantity, const std::optional<IdempotencyKey>& key,
                                   TimePoint now) {
  return impl_->PlaceOrder(worker, campaign, user, quantity, key, now);
}
Decision<Order> Engine::ConfirmOrder(WorkerId worker, OrderId id, const UserId& user,
                                     TimePoint now) {
  return impl_->ConfirmOrder(worker, id, user, now);
}
Decision<Order> Engine::CancelOrder(WorkerId worker, OrderId id, const UserId& user, TimePoint now,
                                    CancelScope scope) {
  return impl_->CancelOrder(worker, id, user, now, scope);
}
Decision<Order> Engine::GetOrder(OrderId id, TimePoint now) const {
  return impl_->GetOrder(id, now);
}
std::size_t Engine::ExpireDue(WorkerId worker, TimePoint now) {
  return impl_->ExpireDue(worker, now);
}
void Engine::Acknowledge(const Event& event) {
  impl_->Acknowledge(event);
}
void Engine::Revert(const Event& event) {
  impl_->Revert(event);
}
void Engine::MarkInDoubt(const Event& event) {
  impl_->MarkInDoubt(event);
}
std::optional<Event> Engine::SettleInDoubt(const Event& event, bool persisted) {
  return impl_->SettleInDoubt(event, persisted);
}
void Engine::ApplyVoid(const Event& void_event) {
  impl_->ApplyVoid(void_event);
}
std::optional<ReplayError> Engine::Apply(const Event& event) {
  return impl_->Apply(event);
}
std::optional<ReplayError> Engine::FinishRecovery() {
  return impl_->FinishRecovery();
}
EngineStats Engine::Stats() const {
  return impl_->Stats();
}

IdText Engine::ClaimIdText(ClaimId id) noexcept {
  return detail::FormatId('c', {id.value, id.tag});
}
IdText Engine::OrderIdText(OrderId id) noexcept {
  return detail::FormatId('o', {id.value, id.tag});
}

std::optional<ClaimId> Engine::ParseClaimId(std::string_view text) {
  std::optional<detail::IdParts> parts = detail::ParseId('c', text);
  if (!parts) return std::nullopt;
  ClaimId id{parts->value, parts->tag};
  detail::ClaimIdParts fields = detail::SplitClaimId(id);
  if (fields.serial == 0 || fields.worker >= detail::kWorkersMax) return std::nullopt;
  return id;
}

std::optional<OrderId> Engine::ParseOrderId(std::string_view text) {
  std::optional<detail::IdParts> parts = detail::ParseId('o', text);
  if (!parts) return std::nullopt;
  OrderId id{parts->value, parts->tag};
  if ((id.value & detail::kOrderSlotsMax) == 0) return std::nullopt;
  return id;
}

}  // namespace hotdeal::engine
