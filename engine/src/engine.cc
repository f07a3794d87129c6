// The Engine: its construction, the control plane (campaigns created, closed, listed), stats and
// books, and the public methods, which forward to Impl (engine_impl.h).
#include <algorithm>
#include <chrono>
#include <random>
#include <shared_mutex>
#include <thread>

#include "engine_impl.h"

namespace hotdeal::engine {
namespace {

std::array<std::uint64_t, 2> RandomKey(std::random_device& device) {
  auto word = [&device] { return (std::uint64_t{device()} << 32) | device(); };
  return {word(), word()};
}
std::array<std::uint64_t, 2> OsRandomKey() {
  std::random_device device;
  return RandomKey(device);
}

}  // namespace

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

Decision<CampaignView> Engine::Impl::CreateCampaign(const CampaignSpec& requested, TimePoint now) {
  CampaignSpec spec = requested;
  if (spec.stock_max == 0) {
    spec.stock_max = static_cast<std::uint32_t>(std::min<std::uint64_t>(
        options_.stock_max, std::uint64_t{spec.stock} + EngineOptions::kTopUpHeadroom));
  }
  if (spec.stock > options_.stock_max || spec.stock_max > options_.stock_max)
    return Answer<CampaignView>(Outcome::kCapacity);
  if (Campaign::Validate(spec, options_.stock_max) != Outcome::kOk)
    return Answer<CampaignView>(Outcome::kInvalid);
  const std::size_t bytes = Campaign::FootprintFor(spec, options_.workers).bytes;
  // What refuses the creation; under control_mutex_. Checked once before the campaign is built,
  // so a refused one allocates nothing, and again once it is built, for a creation that raced.
  auto refusal = [&]() -> std::optional<Outcome> {
    if (campaigns_.FindAny(spec.id) || archived_ids_.contains(std::string(spec.id.view())))
      return Outcome::kConflict;
    if (campaigns_.size() + archives_unlogged_.size() >= campaigns_.capacity() ||
        campaigns_.next_index() >= detail::kCampaignsMax)
      return Outcome::kCapacity;
    if (options_.memory_budget_bytes == 0) return std::nullopt;
    std::uint64_t taken = bytes;
    for (std::uint32_t i = 0; i < campaigns_.next_index(); ++i) {
      if (Campaign* campaign = campaigns_.At(i)) taken += campaign->footprint().bytes;
    }
    for (const Retired& retired : retired_) {  // unpublished, not freed yet
      if (retired.owned) taken += retired.owned->footprint().bytes;
    }
    if (taken > options_.memory_budget_bytes) return Outcome::kCapacity;
    return std::nullopt;
  };
  Reclaim(std::nullopt);  // what earlier archives left, so its memory counts no more
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

Decision<CampaignView> Engine::Impl::SetPaused(const CampaignId& id, bool paused, TimePoint now) {
  std::lock_guard lock(control_mutex_);
  Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return Answer<CampaignView>(Outcome::kNotFound);
  if (campaign->paused() == paused) return Answer<CampaignView>(Outcome::kOk, campaign->View(now));
  Event event = ControlEvent(paused ? EventType::kCampaignPaused : EventType::kCampaignResumed,
                             *campaign, now);
  std::optional<LogTicket> ticket = Append(options_.workers, event);
  if (!ticket) return Answer<CampaignView>(Outcome::kLogUnavailable);
  // Appended until the log has it (AppendedUntilPersisted): it stands from now on.
  campaign->SetPaused(paused, event.seq);
  return Answer<CampaignView>(Outcome::kOk, campaign->View(now), *ticket);
}

Decision<CampaignView> Engine::Impl::ChangeCampaign(const CampaignId& id,
                                                    const CampaignChange& change, TimePoint now) {
  if (change.empty() || (change.name && change.name->empty()))
    return Answer<CampaignView>(Outcome::kInvalid);
  std::lock_guard lock(control_mutex_);
  Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return Answer<CampaignView>(Outcome::kNotFound);
  CampaignSpec spec = campaign->Spec();
  const std::int64_t add = change.stock_add.value_or(0);
  const std::int64_t stock = std::int64_t{spec.stock} + add;
  if (change.ends_at) spec.ends_at = *change.ends_at;
  if (change.name) spec.name = *change.name;
  // The view lets the caller say which rule the change broke.
  if (stock < 1 || (spec.ends_at && *spec.ends_at <= spec.starts_at))
    return Answer<CampaignView>(Outcome::kInvalid, campaign->View(now));
  if (stock > spec.stock_max) return Answer<CampaignView>(Outcome::kCapacity, campaign->View(now));
  spec.stock = static_cast<std::uint32_t>(stock);
  const auto units = static_cast<std::uint32_t>(add < 0 ? -add : add);
  // A take-back leaves at once, so no claim takes a unit the shop no longer offers; only free
  // units can be taken back.
  if (add < 0 && !campaign->stock().Take(0, units))
    return Answer<CampaignView>(Outcome::kConflict, campaign->View(now));
  // A top-up waits for the log before it is sold: a crash that loses the change must not leave
  // grants of units the log never added. Counted before the append, which may report at once.
  if (add > 0) campaign->AwaitTopUp(units);
  Event event = ControlEvent(EventType::kCampaignChanged, *campaign, now);
  event.spec = spec;
  event.amount = add;
  std::optional<LogTicket> ticket = Append(options_.workers, event);
  if (!ticket) {
    if (add < 0) campaign->stock().Give(0, units);
    if (add > 0) campaign->DropTopUp(units);
    return Answer<CampaignView>(Outcome::kLogUnavailable);
  }
  // Appended until the log has it (AppendedUntilPersisted): it stands from now on.
  campaign->Change(spec, event.seq);
  if (add > 0 && ticket->value == 0) campaign->JoinTopUp(units);  // no report will come
  return Answer<CampaignView>(Outcome::kOk, campaign->View(now), *ticket);
}

// ---- archiving -----------------------------------------------------------------------------
//
// A campaign leaves in three generations of the workers' quiescent points (Quiesce, at every
// ExpireDue), so that no thread ever touches freed memory and no hot-path call pays for it:
//  1. retiring: no decision takes it; once every worker passed, none is inside one that found
//     it before, so what is in play can no longer change and is checked for good;
//  2. archived and unlisted (the event is appended): finding it by id fails; each worker drops
//     it from its cache and its wheel at its next quiescent point;
//  3. unpublished: finding it by index fails too; once every worker passed again, and no log
//     report is inside it (reports_mutex_), it is freed.

bool Engine::Impl::Archivable(const Campaign& campaign, TimePoint now) const {
  if (campaign.View(now).status != CampaignStatus::kEnded) return false;
  if (campaign.Total(Book::kHeld) != 0 || campaign.Total(Book::kInDoubt) != 0 ||
      campaign.creation_unacknowledged() || campaign.topping_up() != 0)
    return false;
  const CampaignSpec& spec = campaign.spec();
  if (spec.kind != CampaignKind::kCoupon) return true;
  // Coupons handed out and not redeemed may still be redeemed at checkout: archiving would void
  // them, until the last of them expired.
  if (campaign.Total(Book::kClaimed) == campaign.Total(Book::kRedeemed)) return true;
  const std::optional<TimePoint> last = spec.terms.LastExpiry(campaign.Spec().ends_at);
  return last && now >= *last;
}

bool Engine::Impl::GenerationPassed(std::uint64_t gen) const {
  for (const auto& worker : workers_) {
    if (worker->quiescent_gen.load(std::memory_order_acquire) < gen) return false;
  }
  return true;
}

bool Engine::Impl::AwaitGeneration(std::uint64_t gen,
                                   std::chrono::steady_clock::time_point deadline) {
  if (options_.workers_idle_in_control) {
    for (std::uint32_t worker = 0; worker < options_.workers; ++worker)
      Quiesce(worker);
  }
  while (!GenerationPassed(gen)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void Engine::Impl::Quiesce(std::uint32_t worker) {
  WorkerState& state = *workers_[worker];
  const std::uint64_t gen = retire_gen_.load(std::memory_order_acquire);
  if (state.quiescent_gen.load(std::memory_order_relaxed) == gen) return;
  state.last_campaign = nullptr;
  state.wheel.RemoveIf([this](std::uint64_t node) -> std::uint64_t& { return WheelLink(node); },
                       [this](std::uint64_t node) {
                         return campaigns_.Get(static_cast<std::uint32_t>(node >> 32)).archived();
                       });
  state.quiescent_gen.store(gen, std::memory_order_release);
}

void Engine::Impl::Reclaim(std::optional<std::chrono::steady_clock::time_point> deadline) {
  while (true) {
    std::vector<std::unique_ptr<Campaign>> freed;
    {
      std::lock_guard lock(control_mutex_);
      for (auto it = retired_.begin(); it != retired_.end();) {
        if (!GenerationPassed(it->gen)) {
          ++it;
        } else if (!it->owned) {
          it->owned = campaigns_.Unpublish(it->index);
          it->gen = NextGeneration();
          ++it;
        } else {
          freed.push_back(std::move(it->owned));
          it = retired_.erase(it);
        }
      }
    }
    if (!freed.empty()) {
      std::unique_lock alone(reports_mutex_);  // no report is inside one of them now
    }
    freed.clear();
    std::uint64_t waiting = 0;
    {
      std::lock_guard lock(control_mutex_);
      if (retired_.empty()) return;
      waiting = retired_.front().gen;
    }
    if (!deadline || !AwaitGeneration(waiting, *deadline)) return;
  }
}

Decision<CampaignView> Engine::Impl::ArchiveCampaign(const CampaignId& id, TimePoint now) {
  const auto deadline = std::chrono::steady_clock::now() + options_.archive_wait;
  Campaign* campaign = nullptr;
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(control_mutex_);
    campaign = campaigns_.Find(id);
    if (!campaign) return Answer<CampaignView>(Outcome::kNotFound);
    if (!Archivable(*campaign, now))
      return Answer<CampaignView>(Outcome::kConflict, campaign->View(now));
    campaign->set_retiring(true);
    gen = NextGeneration();
  }
  // Step 1. The campaign stays in the table throughout, so the pointer stays valid here.
  const bool quiet = AwaitGeneration(gen, deadline);
  Decision<CampaignView> decision;
  {
    std::lock_guard lock(control_mutex_);
    if (!quiet || !Archivable(*campaign, now)) {
      campaign->set_retiring(false);
      return quiet ? Answer<CampaignView>(Outcome::kConflict, campaign->View(now))
                   : Answer<CampaignView>(Outcome::kPending);
    }
    Event event = ControlEvent(EventType::kCampaignArchived, *campaign, now);
    event.campaign_index = campaign->index();  // recovery keeps it from being given again
    std::optional<LogTicket> ticket = Append(options_.workers, event);
    if (!ticket) {
      campaign->set_retiring(false);
      return Answer<CampaignView>(Outcome::kLogUnavailable);
    }
    // Appended until the log has it (AppendedUntilPersisted): it stands from now on. Step 2.
    decision = Answer<CampaignView>(Outcome::kOk, campaign->View(now), *ticket);
    campaign->Archive();
    campaigns_.Unlist(*campaign);
    archived_ids_.insert(std::string(id.view()));
    // Its place is free only once the log has the archive: a crash before then brings the
    // campaign back, and recovery must find room for it beside every creation since.
    if (ticket->value != 0) archives_unlogged_.insert(std::string(id.view()));
    retired_.push_back({campaign->index(), NextGeneration(), nullptr});
  }
  Reclaim(deadline);  // step 3; what the deadline leaves, a later control call frees
  return decision;
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
    if (campaign && campaign->visible()) views.push_back(campaign->View(now));
  }
  return views;
}

std::optional<CampaignFootprint> Engine::Impl::Footprint(const CampaignId& id) const {
  std::lock_guard lock(control_mutex_);  // no archive frees it meanwhile
  Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return std::nullopt;
  return campaign->footprint();
}

Campaign* Engine::Impl::FindAndCache(std::uint32_t worker, const CampaignId& id) {
  Campaign* found = campaigns_.Find(id);
  if (found && found->serving()) workers_[worker]->last_campaign = found;
  return found;
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
  stats.campaigns_archived = archived_ids_.size();
  stats.campaigns_retiring = retired_.size();
  stats.campaigns_archiving = archives_unlogged_.size();
  return stats;
}

std::optional<CampaignBooks> Engine::Impl::Books(const CampaignId& id) const {
  std::lock_guard lock(control_mutex_);  // no archive frees it meanwhile
  const Campaign* campaign = campaigns_.Find(id);
  if (!campaign) return std::nullopt;
  CampaignBooks books;
  books.stock = campaign->stock_in_play();
  books.stock_max = campaign->spec().stock_max;
  books.remaining = campaign->stock().Free();
  books.claimed = campaign->Total(Book::kClaimed);
  books.held = campaign->Total(Book::kHeld);
  books.confirmed = campaign->Total(Book::kConfirmed);
  books.in_doubt = campaign->Total(Book::kInDoubt);
  books.redeemed = campaign->Total(Book::kRedeemed);
  books.restored = campaign->Total(Book::kRestored);
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
Decision<CampaignView> Engine::ArchiveCampaign(const CampaignId& id, TimePoint now) {
  return impl_->ArchiveCampaign(id, now);
}
Decision<CampaignView> Engine::PauseCampaign(const CampaignId& id, TimePoint now) {
  return impl_->SetPaused(id, true, now);
}
Decision<CampaignView> Engine::ResumeCampaign(const CampaignId& id, TimePoint now) {
  return impl_->SetPaused(id, false, now);
}
Decision<CampaignView> Engine::ChangeCampaign(const CampaignId& id, const CampaignChange& change,
                                              TimePoint now) {
  return impl_->ChangeCampaign(id, change, now);
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
Decision<Claim> Engine::GetCoupon(std::string_view code, const UserId& user) const {
  return impl_->GetCoupon(code, user);
}
Decision<Claim> Engine::RedeemCoupon(WorkerId worker, std::string_view code, const UserId& user,
                                     const OrderRef& order, TimePoint now) {
  return impl_->ChangeUse(worker, code, user, order, now, true);
}
Decision<Claim> Engine::RestoreCoupon(WorkerId worker, std::string_view code, const UserId& user,
                                      const OrderRef& order, TimePoint now) {
  return impl_->ChangeUse(worker, code, user, order, now, false);
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
LogReports::Next Engine::Report(const Event& event, Durability durability) noexcept {
  std::shared_lock lock(impl_->reports_mutex());
  const Next next = NextAfter(event.type, durability);
  if (durability == Durability::kPersisted) {
    impl_->Acknowledge(event);
  } else if (next == Next::kDone) {
    impl_->Revert(event);
  } else if (next == Next::kSettle) {
    impl_->MarkInDoubt(event);
  }
  return next;
}

void Engine::Acknowledge(const Event& event) {
  std::shared_lock lock(impl_->reports_mutex());
  impl_->Acknowledge(event);
}
void Engine::Revert(const Event& event) {
  std::shared_lock lock(impl_->reports_mutex());
  impl_->Revert(event);
}
void Engine::MarkInDoubt(const Event& event) {
  std::shared_lock lock(impl_->reports_mutex());
  impl_->MarkInDoubt(event);
}
std::optional<Event> Engine::SettleInDoubt(const Event& event, bool persisted) {
  std::shared_lock lock(impl_->reports_mutex());
  return impl_->SettleInDoubt(event, persisted);
}
void Engine::ApplyVoid(const Event& void_event) {
  std::shared_lock lock(impl_->reports_mutex());
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
