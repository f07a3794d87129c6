// Engine::Impl: ties the campaign table, striped stock, ledgers, order slots, timer wheels and
// idempotency keys into decisions, and turns each decision into exactly one event. Must never
// read a clock, do I/O, or allocate or lock on the data plane in the steady state.
#include "hotdeal/engine/engine.h"

#include <array>
#include <limits>
#include <mutex>
#include <random>

#include "campaign_table.h"
#include "check.h"
#include "idempotency_table.h"
#include "ids.h"
#include "timer_wheel.h"

namespace hotdeal::engine {
namespace {

using detail::Book;
using detail::Campaign;
using detail::CouponHold;
using detail::IdempotencyTable;
using detail::LedgerEntry;
using detail::OrderSlot;
using detail::UserLedger;

std::array<std::uint64_t, 2> RandomKey(std::random_device& device) {
  auto word = [&device] { return (std::uint64_t{device()} << 32) | device(); };
  return {word(), word()};
}

std::int64_t Second(TimePoint time) {
  return std::chrono::floor<std::chrono::seconds>(time).time_since_epoch().count();
}

constexpr std::uint8_t Raw(OrderStatus status) {
  return static_cast<std::uint8_t>(status);
}

// The book an order's units are in while its slot has `status`; nullopt if it holds none. An
// unacknowledged move is in the book of the status it becomes.
constexpr std::optional<Book> BookOf(std::uint8_t status) {
  status = detail::Acknowledged(status);
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
  Decision<Order> CancelOrder(WorkerId worker, OrderId id, const UserId& user, TimePoint now);
  Decision<Order> GetOrder(OrderId id, TimePoint now) const;
  std::size_t ExpireDue(WorkerId worker, TimePoint now);
  void Acknowledge(const Event& event);
  void Revert(const Event& event);
  void MarkInDoubt(const Event& event);
  std::optional<Event> SettleInDoubt(const Event& event, bool persisted);
  // False if the void found nothing to drop (the decision is not held).
  bool ApplyVoid(const Event& void_event);
  void Apply(const Event& event);
  EngineStats Stats() const;
  std::optional<CampaignBooks> Books(const CampaignId& id) const;

 private:
  struct Located {
    Campaign* campaign = nullptr;
    OrderSlot* slot = nullptr;
    std::uint32_t slot_index = 0;
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
                    std::uint32_t slot_index, TimePoint now);
  // True if a decision whose event got `ticket` must wait for the log's report to be final.
  bool Unacknowledged(LogTicket ticket) const {
    return options_.await_acknowledgement && ticket.value != 0;
  }
  // The status a confirm or cancel moves an order to before its event is appended: unacknowledged
  // if the log may report it, so that no one sees the move final before the log has it.
  std::uint8_t MovedStatus(OrderStatus next) const {
    return options_.await_acknowledgement ? detail::Unacked(next) : Raw(next);
  }
  // Once the move's event is appended: a ticket 0 is never reported, so the move is final now.
  void FinishMove(OrderSlot& slot, OrderStatus next, LogTicket ticket) const {
    if (options_.await_acknowledgement && !Unacknowledged(ticket)) {
      slot.status.store(Raw(next), std::memory_order_release);
    }
  }
  // Off the data plane: makes the order's unacknowledged `status` final; false if the order
  // is not in that unacknowledged status.
  static bool AcknowledgeMove(OrderSlot& slot, OrderStatus status);
  // Confirm and cancel alike: the answer to a move towards `target` of an order in `status`
  // that the move leaves alone (unacknowledged, in doubt, or already `target`: the same request
  // again), or nullopt when the move goes on.
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
  // The order's slot, published or not; Locate only answers published ones.
  Located SlotOf(OrderId id) const;
  Located Locate(OrderId id) const;
  // Locate, for confirm and cancel: only `user`'s own order (another user's reads as absent).
  Located LocateOwn(OrderId id, const UserId& user) const {
    Located found = Locate(id);
    if (found.slot && !detail::SameId(found.slot->user, user)) return {};
    return found;
  }
  // Off the data plane: the slot's status once its deciding worker published it. A log report
  // can come before the worker's publish, a few instructions after its Append returned.
  static std::uint8_t PublishedStatus(const OrderSlot& slot);
  Order ViewOrder(const Campaign& campaign, std::uint32_t slot_index, TimePoint now,
                  bool as_reserved = false) const;
  // Moves a reserved order past expires_at to expired and returns its units. False if the
  // order was no longer reserved or the log refused the event (it stays reserved).
  bool Expire(std::uint32_t worker, Campaign& campaign, std::uint32_t slot_index, TimePoint now);
  void ReturnUnits(std::uint32_t worker, Campaign& campaign, const OrderSlot& slot);
  // Off the data plane (Revert, voids, Apply): drops the user's claim `id` and returns its
  // unit to `worker`'s stripe; false, and nothing done, if the user does not hold `id`.
  bool ReleaseClaim(std::uint32_t worker, Campaign& campaign, const UserId& user, ClaimId id);
  // Off the data plane: moves an order that holds units (reserved, in doubt or confirmed) to
  // `next` and returns its units; false, and nothing done, if it holds none.
  bool ReleaseOrder(std::uint32_t worker, Campaign& campaign, OrderSlot& slot, std::uint8_t next);
  // The ledger record of a claim event's user: the decision that logged the event made it.
  // nullptr for a sale campaign, or for a decision this process did not make (none to move).
  LedgerEntry* ClaimEntry(Campaign& campaign, const Event& event);
  std::uint32_t OwnWorker(std::uint32_t worker) const { return worker % options_.workers; }
  std::uint64_t& WheelLink(std::uint64_t node) const;
  // Looks up an idempotency key (if any): kOverCapacity when its bucket is full, kReplayed
  // with `replay` set when it was seen, else kOk with the key held pending in `hold`.
  Outcome BeginKey(const Campaign& campaign, const UserId& user,
                   const std::optional<IdempotencyKey>& key, TimePoint now, KeyHold& hold,
                   KeyReplay& replay);
  // The rest of PlaceOrder once the user's units are raised: stock, slot, event, publish.
  Decision<Order> Reserve(WorkerId worker, Campaign& campaign, LedgerEntry& entry,
                          std::uint32_t units, const std::optional<IdempotencyKey>& key,
                          TimePoint now, KeyHold& key_hold);
  void ApplyControl(const Event& event);
  void ApplyClaim(Campaign& campaign, std::uint32_t worker, const Event& event);
  // Remembers a logged decision's idempotency key (if it has one) as the live call did.
  void RestoreKey(const Campaign& campaign, const Event& event, std::uint64_t first_id);
  void ApplyReserved(Campaign& campaign, std::uint32_t worker, const Event& event);
  // False if the move found no order to move (see Apply).
  bool ApplyOrderMove(Campaign& campaign, std::uint32_t worker, const Event& event);
  void RestoreControlSerial(std::uint64_t seq);

  EngineOptions options_;
  EventSink& sink_;
  std::uint64_t ledger_seed_;
  detail::CampaignTable campaigns_;
  std::unique_ptr<IdempotencyTable> keys_;
  std::vector<std::unique_ptr<WorkerState>> workers_;
  mutable std::mutex control_mutex_;
  std::uint64_t control_serial_ = 0;  // guarded by control_mutex_
  // Written by Apply's one thread, read by Stats from any thread.
  std::atomic<std::uint64_t> orphan_events_{0};
};

Engine::Impl::Impl(EngineOptions options, EventSink& sink)
    : options_(options),
      sink_(sink),
      ledger_seed_(std::random_device{}()),
      campaigns_(options.campaigns_max, ledger_seed_ * 0x9E3779B97F4A7C15ull) {
  HOTDEAL_ASSERT(options.workers >= 1 && options.workers <= detail::kWorkersMax);
  HOTDEAL_ASSERT(options.campaigns_max >= 1 && options.campaigns_max <= detail::kCampaignsMax);
  // Order slots are 32-bit in wheel nodes: twice the largest stock must fit.
  HOTDEAL_ASSERT(options.stock_max <= std::numeric_limits<std::uint32_t>::max() / 2);
  std::random_device device;
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
  auto campaign = std::make_unique<Campaign>(0, spec, options_.workers, ledger_seed_);
  std::lock_guard lock(control_mutex_);
  if (std::optional<Outcome> refused = refusal()) return Answer<CampaignView>(*refused);
  campaign->set_index(campaigns_.next_index());
  Event event = ControlEvent(EventType::kCampaignCreated, *campaign, now);
  event.spec = spec;
  event.campaign_index = campaign->index();
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
  LedgerEntry* entry = campaign->ledger().FindOrInsert(user, campaign->share(worker.value).users);
  if (!entry) return Decide<Claim>(worker, kOperation, Outcome::kOverCapacity);
  detail::ClaimRecord record;
  if (CouponHold held = campaign->ledger().BeginClaim(*entry, record); held != CouponHold::kNone) {
    Outcome outcome = HeldOutcome(held, Outcome::kAlreadyClaimed);
    if (outcome == Outcome::kPending) return Decide<Claim>(worker, kOperation, outcome);
    Claim existing{record.id, id, user, record.code, record.created_at};
    return Decide<Claim>(worker, kOperation, outcome, existing);
  }
  // The user is marked pending: no duplicate can pass until this decision is settled, and a
  // failed take below unmarks the user, so losing the race leaves no trace (but a filter bit,
  // which only costs a probe). The bit is set before the take, whose seq_cst write the scan
  // that may set the sold-out flag reads, so a reader that sees the flag sees the bit.
  campaign->holders().Add(entry->hash);
  if (!campaign->stock().Take(worker.value, 1)) {
    campaign->ledger().AbortClaim(*entry);
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
    campaign->ledger().AbortClaim(*entry);
    return Decide<Claim>(worker, kOperation, Outcome::kLogUnavailable);
  }
  campaign->ledger().CommitClaim(
      *entry, record, Unacknowledged(*ticket) ? CouponHold::kUnacked : CouponHold::kClaimed);
  campaign->Count(worker.value, Book::kClaimed, 1);
  key_hold.Finish(record.id.value);
  Claim claim{record.id, id, user, record.code, record.created_at};
  return Decide<Claim>(worker, kOperation, Outcome::kCreated, claim, *ticket);
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
  const CampaignId& id = campaign.spec().id;
  const LedgerEntry* entry = campaign.ledger().Find(user);
  if (!entry) return Answer<Claim>(Outcome::kNotFound);
  unsigned spins = 0;
  for (;;) {
    CouponHold state = UserLedger::State(*entry);
    if (!UserLedger::Holds(state)) return Answer<Claim>(Outcome::kNotFound);
    if (std::optional<detail::ClaimRecord> record = UserLedger::ReadClaim(*entry, &state)) {
      return Answer<Claim>(HeldOutcome(state, Outcome::kOk),
                           Claim{record->id, id, user, record->code, record->created_at});
    }
    detail::SpinWait(spins);  // the claim changed while being copied: read it again
  }
}

// ---- orders --------------------------------------------------------------------------------

Order Engine::Impl::ViewOrder(const Campaign& campaign, std::uint32_t slot_index, TimePoint now,
                              bool as_reserved) const {
  const OrderSlot& slot = campaign.orders().Slot(slot_index);
  Order order;
  order.id = detail::MakeOrderId(campaign.index(), slot_index);
  order.campaign = campaign.spec().id;
  order.user = slot.user;
  order.quantity = slot.quantity;
  order.amount = campaign.spec().price * slot.quantity;
  order.created_at = slot.created_at;
  order.expires_at = slot.expires_at;
  std::uint8_t status = detail::Acknowledged(slot.status.load(std::memory_order_acquire));
  order.status = as_reserved || status == detail::kReservedInDoubt
                     ? OrderStatus::kReserved
                     : static_cast<OrderStatus>(status);
  // A reservation past expires_at is expired whether or not ExpireDue has run yet.
  if (order.status == OrderStatus::kReserved && !as_reserved && now >= slot.expires_at) {
    order.status = OrderStatus::kExpired;
  }
  return order;
}

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
                                std::uint32_t slot_index, TimePoint now) {
  const OrderSlot& slot = campaign.orders().Slot(slot_index);
  Event& event = DataEvent(worker, type, detail::MakeSeq(campaign.NextSerial(worker), worker), now,
                           campaign.spec().id);
  event.user = slot.user;
  event.order_id = detail::MakeOrderId(campaign.index(), slot_index);
  event.quantity = slot.quantity;
  event.amount = campaign.spec().price * slot.quantity;
  event.expires_at = slot.expires_at;
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
      std::uint8_t status = first.slot->status.load(std::memory_order_acquire);
      if (status == detail::Unacked(OrderStatus::kReserved)) {
        return Decide<Order>(worker, kOperation, Outcome::kPending);
      }
      Order order = ViewOrder(*campaign, first.slot_index, now, /*as_reserved=*/true);
      bool in_doubt = status == detail::kReservedInDoubt;
      return Decide<Order>(worker, kOperation, in_doubt ? Outcome::kInDoubt : Outcome::kReplayed,
                           order);
    }
    // The reservation was undone since (reverted, or voided in doubt): decided afresh, as for
    // a claim.
    if (!key_hold.Reclaim(replay.ref, replay.first_id, now)) {
      return Decide<Order>(worker, kOperation, Outcome::kPending);
    }
  }
  if (Outcome window = campaign->Window(now); window != Outcome::kOk) {
    return Decide<Order>(worker, kOperation, window);
  }
  if (campaign->stock().SoldOut()) return Decide<Order>(worker, kOperation, Outcome::kSoldOut);
  LedgerEntry* entry = campaign->ledger().FindOrInsert(user, campaign->share(worker.value).users);
  if (!entry) return Decide<Order>(worker, kOperation, Outcome::kOverCapacity);
  // The user's units are raised first, so two concurrent orders of one user cannot both pass
  // the limit; every failure in Reserve lowers them again.
  if (!UserLedger::AddUnits(*entry, units, spec.per_user_limit)) {
    return Decide<Order>(worker, kOperation, Outcome::kLimitExceeded);
  }
  return Reserve(worker, *campaign, *entry, units, key, now, key_hold);
}

Decision<Order> Engine::Impl::Reserve(WorkerId worker, Campaign& campaign, LedgerEntry& entry,
                                      std::uint32_t units, const std::optional<IdempotencyKey>& key,
                                      TimePoint now, KeyHold& key_hold) {
  constexpr Operation kOperation = Operation::kPlaceOrder;
  if (!campaign.stock().Take(worker.value, units)) {
    UserLedger::RemoveUnits(entry, units);
    return Decide<Order>(worker, kOperation, Outcome::kSoldOut);
  }
  std::optional<std::uint32_t> slot_index =
      campaign.orders().Allocate(campaign.share(worker.value).orders);
  if (!slot_index) {
    campaign.stock().Give(worker.value, units);
    UserLedger::RemoveUnits(entry, units);
    return Decide<Order>(worker, kOperation, Outcome::kOverCapacity);
  }
  OrderSlot& slot = campaign.orders().Slot(*slot_index);
  slot.quantity = units;
  slot.created_at = now;
  slot.expires_at = now + std::chrono::seconds(campaign.spec().hold_seconds);
  slot.user = entry.user;
  Event& event = OrderEvent(EventType::kOrderReserved, campaign, worker.value, *slot_index, now);
  event.idempotency_key = key;
  std::optional<LogTicket> ticket = Append(worker.value, event);
  if (!ticket) {
    // The slot stays unpublished (answers kNotFound for ever); the units and the user's
    // count go back.
    campaign.stock().Give(worker.value, units);
    UserLedger::RemoveUnits(entry, units);
    return Decide<Order>(worker, kOperation, Outcome::kLogUnavailable);
  }
  // Release: whoever reads the status sees the fields written above.
  slot.status.store(Unacknowledged(*ticket) ? detail::Unacked(OrderStatus::kReserved)
                                            : Raw(OrderStatus::kReserved),
                    std::memory_order_release);
  campaign.Count(worker.value, Book::kHeld, units);
  workers_[worker.value]->wheel.Push(
      WheelNode(campaign.index(), *slot_index), Second(slot.expires_at), Second(now),
      [this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); });
  key_hold.Finish(event.order_id.value);
  return Decide<Order>(worker, kOperation, Outcome::kCreated, ViewOrder(campaign, *slot_index, now),
                       *ticket);
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
      replay = {found.value, found.ref};
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
  if (id.value == 0) return {};
  Campaign* campaign = campaigns_.At(detail::OrderCampaign(id));
  if (!campaign || campaign->withdrawn() || campaign->spec().kind != CampaignKind::kSale) return {};
  std::uint64_t slot_index = detail::OrderSlotIndex(id);
  if (slot_index >= std::numeric_limits<std::uint32_t>::max()) return {};
  OrderSlot* slot = campaign->orders().At(static_cast<std::uint32_t>(slot_index));
  if (!slot) return {};
  return {campaign, slot, static_cast<std::uint32_t>(slot_index)};
}

std::uint8_t Engine::Impl::PublishedStatus(const OrderSlot& slot) {
  unsigned spins = 0;
  std::uint8_t status = slot.status.load(std::memory_order_acquire);
  while (status == detail::kUnpublished) {
    detail::SpinWait(spins);
    status = slot.status.load(std::memory_order_acquire);
  }
  return status;
}

Engine::Impl::Located Engine::Impl::Locate(OrderId id) const {
  Located found = SlotOf(id);
  if (!found.slot || found.slot->status.load(std::memory_order_acquire) == detail::kUnpublished) {
    return {};
  }
  return found;
}

void Engine::Impl::ReturnUnits(std::uint32_t worker, Campaign& campaign, const OrderSlot& slot) {
  campaign.stock().Give(worker, slot.quantity);
  LedgerEntry* entry = campaign.ledger().Find(slot.user);
  // The order's user got a record when it was placed, and records are never removed.
  HOTDEAL_ASSERT(entry != nullptr);
  UserLedger::RemoveUnits(*entry, slot.quantity);
}

bool Engine::Impl::Expire(std::uint32_t worker, Campaign& campaign, std::uint32_t slot_index,
                          TimePoint now) {
  OrderSlot& slot = campaign.orders().Slot(slot_index);
  std::uint8_t status = Raw(OrderStatus::kReserved);
  // The CAS makes this thread the only one moving the order; confirm and cancel race on it.
  if (!slot.status.compare_exchange_strong(status, Raw(OrderStatus::kExpired),
                                           std::memory_order_acq_rel)) {
    return false;
  }
  const Event& event = OrderEvent(EventType::kOrderExpired, campaign, worker, slot_index, now);
  if (!Append(worker, event)) {
    slot.status.store(Raw(OrderStatus::kReserved), std::memory_order_release);
    return false;
  }
  ReturnUnits(worker, campaign, slot);
  campaign.Count(worker, Book::kHeld, -std::int64_t{slot.quantity});
  std::atomic<std::uint64_t>& expired = workers_[worker]->orders_expired;
  expired.store(expired.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

Decision<Order> Engine::Impl::ConfirmOrder(WorkerId worker, OrderId id, const UserId& user,
                                           TimePoint now) {
  constexpr Operation kOperation = Operation::kConfirmOrder;
  Located found = LocateOwn(id, user);
  if (!found.slot) return Decide<Order>(worker, kOperation, Outcome::kNotFound);
  Campaign& campaign = *found.campaign;
  OrderSlot& slot = *found.slot;
  std::uint8_t status = slot.status.load(std::memory_order_acquire);
  // Confirming twice is the same payment reported again: the order stays as it is.
  if (auto answer = Unmoved(worker, kOperation, found, status, OrderStatus::kConfirmed, now)) {
    return *answer;
  }
  if (status == Raw(OrderStatus::kReserved) && now >= slot.expires_at) {
    Expire(worker.value, campaign, found.slot_index, now);
  } else if (status == Raw(OrderStatus::kReserved) &&
             slot.status.compare_exchange_strong(status, MovedStatus(OrderStatus::kConfirmed),
                                                 std::memory_order_acq_rel)) {
    const Event& event =
        OrderEvent(EventType::kOrderConfirmed, campaign, worker.value, found.slot_index, now);
    std::optional<LogTicket> ticket = Append(worker.value, event);
    if (!ticket) {
      slot.status.store(Raw(OrderStatus::kReserved), std::memory_order_release);
      return Decide<Order>(worker, kOperation, Outcome::kLogUnavailable);
    }
    FinishMove(slot, OrderStatus::kConfirmed, *ticket);
    campaign.Count(worker.value, Book::kHeld, -std::int64_t{slot.quantity});
    campaign.Count(worker.value, Book::kConfirmed, slot.quantity);
    return Decide<Order>(worker, kOperation, Outcome::kOk,
                         ViewOrder(campaign, found.slot_index, now), *ticket);
  }
  // Cancelled, expired (now or before), or moved by a concurrent call.
  return Decide<Order>(worker, kOperation, Outcome::kConflict,
                       ViewOrder(campaign, found.slot_index, now));
}

std::optional<Decision<Order>> Engine::Impl::Unmoved(WorkerId worker, Operation operation,
                                                     const Located& found, std::uint8_t status,
                                                     OrderStatus target, TimePoint now) {
  if (detail::IsUnacked(status)) return Decide<Order>(worker, operation, Outcome::kPending);
  Outcome outcome = Outcome::kOk;
  if (status == detail::kReservedInDoubt) {
    outcome = Outcome::kInDoubt;
  } else if (status != Raw(target)) {
    return std::nullopt;
  }
  return Decide<Order>(worker, operation, outcome,
                       ViewOrder(*found.campaign, found.slot_index, now));
}

Decision<Order> Engine::Impl::CancelOrder(WorkerId worker, OrderId id, const UserId& user,
                                          TimePoint now) {
  constexpr Operation kOperation = Operation::kCancelOrder;
  Located found = LocateOwn(id, user);
  if (!found.slot) return Decide<Order>(worker, kOperation, Outcome::kNotFound);
  Campaign& campaign = *found.campaign;
  OrderSlot& slot = *found.slot;
  std::uint8_t status = slot.status.load(std::memory_order_acquire);
  for (;;) {
    if (auto answer = Unmoved(worker, kOperation, found, status, OrderStatus::kCancelled, now)) {
      return *answer;
    }
    if (status == Raw(OrderStatus::kReserved) && now >= slot.expires_at) {
      Expire(worker.value, campaign, found.slot_index, now);
      break;
    }
    if (status != Raw(OrderStatus::kReserved) && status != Raw(OrderStatus::kConfirmed)) break;
    if (!slot.status.compare_exchange_weak(status, MovedStatus(OrderStatus::kCancelled),
                                           std::memory_order_acq_rel)) {
      continue;
    }
    const Event& event =
        OrderEvent(EventType::kOrderCancelled, campaign, worker.value, found.slot_index, now);
    std::optional<LogTicket> ticket = Append(worker.value, event);
    if (!ticket) {
      slot.status.store(status, std::memory_order_release);
      return Decide<Order>(worker, kOperation, Outcome::kLogUnavailable);
    }
    FinishMove(slot, OrderStatus::kCancelled, *ticket);
    ReturnUnits(worker.value, campaign, slot);
    campaign.Count(worker.value, *BookOf(status), -std::int64_t{slot.quantity});
    return Decide<Order>(worker, kOperation, Outcome::kOk,
                         ViewOrder(campaign, found.slot_index, now), *ticket);
  }
  return Decide<Order>(worker, kOperation, Outcome::kConflict,
                       ViewOrder(campaign, found.slot_index, now));
}

Decision<Order> Engine::Impl::GetOrder(OrderId id, TimePoint now) const {
  Located found = Locate(id);
  if (!found.slot) return Answer<Order>(Outcome::kNotFound);
  if (detail::IsUnacked(found.slot->status.load(std::memory_order_acquire))) {
    return Answer<Order>(Outcome::kPending);
  }
  return Answer<Order>(Outcome::kOk, ViewOrder(*found.campaign, found.slot_index, now));
}

std::size_t Engine::Impl::ExpireDue(WorkerId worker, TimePoint now) {
  HOTDEAL_DEBUG_ASSERT(worker.value < options_.workers);
  std::size_t expired = 0;
  auto link = [this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); };
  auto visit = [&](std::uint64_t node) -> std::int64_t {
    Campaign& campaign = campaigns_.Get(static_cast<std::uint32_t>(node >> 32));
    auto slot_index = static_cast<std::uint32_t>(node);
    const OrderSlot& slot = campaign.orders().Slot(slot_index);
    constexpr std::int64_t kDrop = detail::TimerWheel::kDrop;
    std::uint8_t status = slot.status.load(std::memory_order_acquire);
    // In doubt or unacknowledged: it expires once settled or acknowledged as persisted, so it
    // stays, retried on the next call.
    if (status == detail::kReservedInDoubt || status == detail::Unacked(OrderStatus::kReserved))
      return Second(now < slot.expires_at ? slot.expires_at : now);
    if (status != Raw(OrderStatus::kReserved)) return kDrop;
    // Later in this second, or in a later revolution: stays where it is.
    if (now < slot.expires_at) return Second(slot.expires_at);
    if (Expire(worker.value, campaign, slot_index, now)) {
      ++expired;
      return kDrop;
    }
    // Confirmed or cancelled meanwhile (drop it), or the log refused (retry on the next call).
    bool reserved = slot.status.load(std::memory_order_acquire) == Raw(OrderStatus::kReserved);
    return reserved ? Second(now) : kDrop;
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
    if (LedgerEntry* entry = ClaimEntry(*campaign, event)) {
      campaign->ledger().MoveClaim(*entry, event.claim_id, CouponHold::kUnacked,
                                   CouponHold::kClaimed);
    }
    return;
  }
  std::optional<OrderStatus> moved;
  if (event.type == EventType::kOrderReserved) moved = OrderStatus::kReserved;
  if (event.type == EventType::kOrderConfirmed) moved = OrderStatus::kConfirmed;
  if (event.type == EventType::kOrderCancelled) moved = OrderStatus::kCancelled;
  if (!moved) return;
  Located found = SlotOf(event.order_id);
  if (found.slot && found.campaign == campaign) AcknowledgeMove(*found.slot, *moved);
}

bool Engine::Impl::AcknowledgeMove(OrderSlot& slot, OrderStatus status) {
  // While unacknowledged no worker moves the order (they answer kPending and expiry waits), and
  // the log reports each event once, so one strong CAS decides.
  std::uint8_t unacked = detail::Unacked(status);
  return PublishedStatus(slot) == unacked &&
         slot.status.compare_exchange_strong(unacked, Raw(status), std::memory_order_acq_rel);
}

// ---- recovery and undo ---------------------------------------------------------------------

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
  std::uint8_t status = PublishedStatus(*found.slot);
  if (event.type == EventType::kOrderReserved) {
    ReleaseOrder(worker, *campaign, *found.slot, detail::kUnpublished);  // the order never was
    return;
  }
  // Only a confirm can be moved back: its reservation was final before it could be confirmed.
  if (detail::Acknowledged(status) == Raw(OrderStatus::kConfirmed) &&
      found.slot->status.compare_exchange_strong(status, Raw(OrderStatus::kReserved),
                                                 std::memory_order_acq_rel)) {
    campaign->Count(Campaign::kAnyThread, Book::kConfirmed, -std::int64_t{found.slot->quantity});
    campaign->Count(Campaign::kAnyThread, Book::kHeld, found.slot->quantity);
  }
}

LedgerEntry* Engine::Impl::ClaimEntry(Campaign& campaign, const Event& event) {
  if (campaign.spec().kind != CampaignKind::kCoupon) return nullptr;
  return campaign.ledger().Find(event.user);
}

bool Engine::Impl::ReleaseClaim(std::uint32_t worker, Campaign& campaign, const UserId& user,
                                ClaimId id) {
  LedgerEntry* entry = campaign.ledger().Find(user);
  if (!entry) return false;
  CouponHold dropped = campaign.ledger().DropClaim(*entry, id);
  if (dropped == CouponHold::kNone) return false;
  campaign.Count(Campaign::kAnyThread,
                 dropped == CouponHold::kInDoubt ? Book::kInDoubt : Book::kClaimed, -1);
  campaign.stock().Give(worker, 1);
  return true;
}

bool Engine::Impl::ReleaseOrder(std::uint32_t worker, Campaign& campaign, OrderSlot& slot,
                                std::uint8_t next) {
  std::uint8_t status = slot.status.load(std::memory_order_acquire);
  do {
    if (!BookOf(status)) return false;
  } while (!slot.status.compare_exchange_weak(status, next, std::memory_order_acq_rel));
  campaign.Count(Campaign::kAnyThread, *BookOf(status), -std::int64_t{slot.quantity});
  ReturnUnits(worker, campaign, slot);
  return true;
}

// ---- in doubt ------------------------------------------------------------------------------

void Engine::Impl::MarkInDoubt(const Event& event) {
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return;
  if (event.type == EventType::kClaimGranted) {
    LedgerEntry* entry = ClaimEntry(*campaign, event);
    // Unacknowledged with durable acks, claimed already without them.
    auto mark = [&](CouponHold from) {
      return campaign->ledger().MoveClaim(*entry, event.claim_id, from, CouponHold::kInDoubt);
    };
    if (entry && (mark(CouponHold::kUnacked) || mark(CouponHold::kClaimed))) {
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
    AcknowledgeMove(*found.slot, OrderStatus::kConfirmed);
    return;
  }
  if (event.type != EventType::kOrderReserved) return;
  std::uint8_t status = PublishedStatus(*found.slot);
  if (detail::Acknowledged(status) == Raw(OrderStatus::kReserved) &&
      found.slot->status.compare_exchange_strong(status, detail::kReservedInDoubt,
                                                 std::memory_order_acq_rel)) {
    campaign->Count(Campaign::kAnyThread, Book::kHeld, -std::int64_t{found.slot->quantity});
    campaign->Count(Campaign::kAnyThread, Book::kInDoubt, found.slot->quantity);
  }
}

std::optional<Event> Engine::Impl::SettleInDoubt(const Event& event, bool persisted) {
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return std::nullopt;
  EventType void_type = EventType::kClaimVoided;
  if (event.type == EventType::kClaimGranted) {
    LedgerEntry* entry = ClaimEntry(*campaign, event);
    if (!entry) return std::nullopt;
    if (persisted) {
      if (campaign->ledger().MoveClaim(*entry, event.claim_id, CouponHold::kInDoubt,
                                       CouponHold::kClaimed)) {
        campaign->Count(Campaign::kAnyThread, Book::kInDoubt, -1);
        campaign->Count(Campaign::kAnyThread, Book::kClaimed, 1);
      }
      return std::nullopt;
    }
    CouponHold state = CouponHold::kNone;
    std::optional<detail::ClaimRecord> claim = UserLedger::ReadClaim(*entry, &state);
    if (!claim || claim->id != event.claim_id || state != CouponHold::kInDoubt) return std::nullopt;
  } else if (event.type == EventType::kOrderReserved) {
    void_type = EventType::kOrderVoided;
    Located found = Locate(event.order_id);
    if (!found.slot) return std::nullopt;
    std::uint8_t status = detail::kReservedInDoubt;
    if (persisted) {
      if (found.slot->status.compare_exchange_strong(status, Raw(OrderStatus::kReserved),
                                                     std::memory_order_acq_rel)) {
        campaign->Count(Campaign::kAnyThread, Book::kInDoubt, -std::int64_t{found.slot->quantity});
        campaign->Count(Campaign::kAnyThread, Book::kHeld, found.slot->quantity);
      }
      return std::nullopt;
    }
    if (found.slot->status.load(std::memory_order_acquire) != status) return std::nullopt;
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
  return found.slot && found.campaign == campaign &&
         ReleaseOrder(worker, *campaign, *found.slot, detail::kUnpublished);
}

// ---- recovery ------------------------------------------------------------------------------

// Replay re-checks what the live path checked before logging (spec, limit, stock, one claim
// per user), so a log that breaks an invariant stops recovery instead of being served.
//
// Except moves and voids that find nothing to act on: the durable path legitimately logs them.
// Without await_acknowledgement (--ack memory), a reservation whose delivery report is late
// (producer recreated after a fatal error, delivery timeout longer than the hold) can expire,
// be cancelled or be confirmed in memory first, and then be reported not persisted (reverted)
// or possibly persisted and absent (with it, nothing moves an unacknowledged order); a returning
// event appended again after a doubtful report arrives twice; a void may name a decision the log
// never had. Each is a counted no-op (orphan_events), never a restock and never an abort, which is
// safe: an absent reservation never took units in the replayed state, so a cancel, expiry or
// void of it has nothing to give back, and a repeated one gave its units back the first time.
// An order_confirmed without its reservation cannot be honoured (the units it would confirm
// may be sold); the order stays unknown (GetOrder answers kNotFound) and the count tells ops
// that a confirmed order was lost. Aborting would not save it either, and a crash loop would
// stop every sale. Everything that takes units (grants, reservations) is still checked.
void Engine::Impl::Apply(const Event& event) {
  if (event.type == EventType::kCampaignCreated || event.type == EventType::kCampaignClosed) {
    ApplyControl(event);
    return;
  }
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  // Every later event of a campaign follows its creation in the log (one partition per id),
  // and with await_acknowledgement nothing is decided before the creation is persisted. Without
  // it (--ack memory) a creation the log lost can leave its campaign's decisions behind: they
  // are orphans, as moves without their reservation are, not a reason to stop every sale.
  if (!campaign) {
    orphan_events_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  campaign->RestoreSerial(event.seq);
  RestoreControlSerial(event.seq);  // voids are sequenced by the control plane
  std::uint32_t worker = OwnWorker(detail::SeqWorker(event.seq));
  switch (event.type) {
    case EventType::kClaimGranted:
      ApplyClaim(*campaign, worker, event);
      return;
    case EventType::kClaimVoided:
    case EventType::kOrderVoided:
      if (!ApplyVoid(event)) orphan_events_.fetch_add(1, std::memory_order_relaxed);
      return;
    case EventType::kOrderReserved:
      ApplyReserved(*campaign, worker, event);
      return;
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
      if (!ApplyOrderMove(*campaign, worker, event)) {
        orphan_events_.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    case EventType::kCampaignCreated:
    case EventType::kCampaignClosed:
      return;
  }
}

void Engine::Impl::RestoreControlSerial(std::uint64_t seq) {
  if (detail::SeqWorker(seq) != detail::kControlWorker) return;
  std::lock_guard lock(control_mutex_);
  if (control_serial_ < detail::SeqSerial(seq)) control_serial_ = detail::SeqSerial(seq);
}

void Engine::Impl::ApplyControl(const Event& event) {
  {
    std::lock_guard lock(control_mutex_);
    if (event.type == EventType::kCampaignCreated) {
      HOTDEAL_ASSERT(Campaign::Validate(event.spec, options_.stock_max) == Outcome::kOk);
      campaigns_.Insert(std::make_unique<Campaign>(event.campaign_index, event.spec,
                                                   options_.workers, ledger_seed_));
    } else if (Campaign* campaign = campaigns_.FindAny(event.campaign)) {
      campaign->set_closed(true);
    } else {
      orphan_events_.fetch_add(1, std::memory_order_relaxed);  // as in Apply
    }
  }
  RestoreControlSerial(event.seq);
}

void Engine::Impl::ApplyClaim(Campaign& campaign, std::uint32_t worker, const Event& event) {
  UserLedger& ledger = campaign.ledger();
  // Recovery runs alone, before the workers start: the worker's record cursor is free.
  LedgerEntry* entry = ledger.FindOrInsert(event.user, campaign.share(worker).users);
  HOTDEAL_ASSERT(entry != nullptr);
  detail::ClaimRecord existing;
  // A second grant to one user in the log would be a lost invariant, not a replay detail.
  CouponHold before = ledger.BeginClaim(*entry, existing);
  HOTDEAL_ASSERT(before == CouponHold::kNone);
  bool taken = campaign.stock().Take(worker, 1);
  HOTDEAL_ASSERT(taken);
  // Replayed from the log: acknowledged by definition.
  ledger.CommitClaim(*entry, {event.claim_id, event.coupon_code, event.at}, CouponHold::kClaimed);
  campaign.Count(Campaign::kAnyThread, Book::kClaimed, 1);
  RestoreKey(campaign, event, event.claim_id.value);
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

void Engine::Impl::ApplyReserved(Campaign& campaign, std::uint32_t worker, const Event& event) {
  HOTDEAL_ASSERT(campaign.spec().kind == CampaignKind::kSale);
  HOTDEAL_ASSERT(detail::OrderCampaign(event.order_id) == campaign.index());
  auto slot_index = static_cast<std::uint32_t>(detail::OrderSlotIndex(event.order_id));
  HOTDEAL_ASSERT(slot_index < campaign.orders().slots_max());
  OrderSlot& slot = campaign.orders().Slot(slot_index);
  HOTDEAL_ASSERT(slot.status.load(std::memory_order_relaxed) == detail::kUnpublished);
  campaign.orders().MarkUsed(slot_index);
  // Recovery runs alone, before the workers start: the worker's record cursor is free.
  LedgerEntry* entry = campaign.ledger().FindOrInsert(event.user, campaign.share(worker).users);
  HOTDEAL_ASSERT(entry != nullptr);
  bool within_limit = UserLedger::AddUnits(*entry, event.quantity, campaign.spec().per_user_limit);
  HOTDEAL_ASSERT(within_limit);
  bool taken = campaign.stock().Take(worker, event.quantity);
  HOTDEAL_ASSERT(taken);
  slot.quantity = event.quantity;
  slot.created_at = event.at;
  slot.expires_at = event.expires_at;
  slot.user = event.user;
  slot.status.store(Raw(OrderStatus::kReserved), std::memory_order_release);
  campaign.Count(Campaign::kAnyThread, Book::kHeld, event.quantity);
  RestoreKey(campaign, event, event.order_id.value);
  // Reservations keep their expires_at: the wheel expires them as the live engine would have.
  workers_[worker]->wheel.Push(
      WheelNode(campaign.index(), slot_index), Second(event.expires_at), Second(event.at),
      [this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); });
}

bool Engine::Impl::ApplyOrderMove(Campaign& campaign, std::uint32_t worker, const Event& event) {
  Located found = Locate(event.order_id);
  if (!found.slot || found.campaign != &campaign) return false;
  std::uint8_t status = found.slot->status.load(std::memory_order_relaxed);
  // Only a held reservation can be confirmed or expire (live, both move it from kReserved); a
  // repeat, or a move of an order the replayed state moved otherwise, changes nothing. Above
  // all, an expiry never gives back the units of a confirmed (paid) order.
  if (event.type != EventType::kOrderCancelled && status != Raw(OrderStatus::kReserved))
    return false;
  if (event.type == EventType::kOrderConfirmed) {
    found.slot->status.store(Raw(OrderStatus::kConfirmed), std::memory_order_release);
    campaign.Count(Campaign::kAnyThread, Book::kHeld, -std::int64_t{found.slot->quantity});
    campaign.Count(Campaign::kAnyThread, Book::kConfirmed, found.slot->quantity);
    return true;
  }
  // Cancelled (reserved or confirmed, as live) or expired: the units go back.
  return ReleaseOrder(worker, campaign, *found.slot,
                      event.type == EventType::kOrderCancelled ? Raw(OrderStatus::kCancelled)
                                                               : Raw(OrderStatus::kExpired));
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
Decision<Order> Engine::CancelOrder(WorkerId worker, OrderId id, const UserId& user,
                                    TimePoint now) {
  return impl_->CancelOrder(worker, id, user, now);
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
void Engine::Apply(const Event& event) {
  impl_->Apply(event);
}
EngineStats Engine::Stats() const {
  return impl_->Stats();
}

IdText Engine::ClaimIdText(ClaimId id) noexcept {
  return detail::FormatId('c', id.value);
}
IdText Engine::OrderIdText(OrderId id) noexcept {
  return detail::FormatId('o', id.value);
}

std::optional<ClaimId> Engine::ParseClaimId(std::string_view text) {
  std::optional<std::uint64_t> value = detail::ParseId('c', text);
  if (!value) return std::nullopt;
  detail::ClaimIdParts parts = detail::SplitClaimId(ClaimId{*value});
  if (parts.serial == 0 || parts.worker >= detail::kWorkersMax) return std::nullopt;
  return ClaimId{*value};
}

std::optional<OrderId> Engine::ParseOrderId(std::string_view text) {
  std::optional<std::uint64_t> value = detail::ParseId('o', text);
  if (!value) return std::nullopt;
  OrderId id{*value};
  if ((id.value & ((std::uint64_t{1} << detail::kOrderSlotBits) - 1)) == 0) return std::nullopt;
  return id;
}

}  // namespace hotdeal::engine
