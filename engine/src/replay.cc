// Recovery: the engine rebuilt from the snapshot and the log tail, one event at a time before
// the workers start, with always-on checks that stop an impossible history.
#include <algorithm>
#include <limits>
#include <string>

#include "engine_impl.h"
#include "hotdeal/engine/names.h"

namespace hotdeal::engine {
namespace {

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

}  // namespace

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
  if (IsControl(event.type)) return ApplyControl(event);
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
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
      acted = ApplyUse(*campaign, event);
      break;
    case EventType::kCampaignCreated:
    case EventType::kCampaignClosed:
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
    case EventType::kCampaignChanged:
    case EventType::kCampaignArchived:
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
    // An archived campaign's events (its creation included, from the log's start) are skipped:
    // recovery allocates nothing for it.
    if (archived_ids_.contains(std::string(event.campaign.view()))) {
      orphan_events_.fetch_add(1, std::memory_order_relaxed);
    } else if (event.type == EventType::kCampaignArchived) {
      // Before FinishRecovery no wheel links a slot and no worker runs: it is freed at once. A
      // snapshot's archived row comes without its creation: only its index is kept from reuse.
      if (event.campaign_index >= detail::kCampaignsMax) {
        return ReplayFailure(event, "the archived campaign's index is invalid");
      }
      if (Campaign* campaign = campaigns_.FindAny(event.campaign)) {
        if (campaign->index() != event.campaign_index) {
          return ReplayFailure(event, "the archive names another index than the creation");
        }
        campaigns_.Unlist(*campaign);
        campaigns_.Unpublish(campaign->index());
      } else if (campaigns_.At(event.campaign_index)) {
        return ReplayFailure(event, "the archived campaign's index is another campaign's");
      }
      campaigns_.Skip(event.campaign_index);
      archived_ids_.insert(std::string(event.campaign.view()));
    } else if (event.type == EventType::kCampaignCreated) {
      CampaignSpec spec = event.spec;
      if (spec.stock_max == 0) spec.stock_max = spec.stock;  // logged before top-ups existed
      if (Campaign::Validate(spec, options_.stock_max) != Outcome::kOk) {
        return ReplayFailure(event,
                             "the campaign's spec is not one this server accepts "
                             "(its stock may be over --stock-max)");
      }
      if (campaigns_.FindAny(event.campaign) || campaigns_.At(event.campaign_index) ||
          event.campaign_index >= detail::kCampaignsMax) {
        return ReplayFailure(event, "the campaign's id or index is taken, or its index is invalid");
      }
      auto campaign = std::make_unique<Campaign>(event.campaign_index, spec, options_.workers,
                                                 ledger_seed_, units_secret_);
      campaign->set_id_key(event.id_key);  // ids handed out before the restart still match
      campaigns_.InsertUnread(std::move(campaign));  // FinishRecovery checks the count
    } else if (Campaign* campaign = campaigns_.FindAny(event.campaign)) {
      if (event.type == EventType::kCampaignClosed) campaign->set_closed(true);
      // A pause or resume older than the state's (a copy appended again) changes nothing.
      if (event.type == EventType::kCampaignPaused) campaign->SetPaused(true, event.seq);
      if (event.type == EventType::kCampaignResumed) campaign->SetPaused(false, event.seq);
      if (event.type == EventType::kCampaignChanged) {
        if (auto error = ApplyChange(*campaign, event)) return error;
      }
    } else {
      orphan_events_.fetch_add(1, std::memory_order_relaxed);  // as in Apply
    }
  }
  RestoreControlSerial(event.seq);
  return std::nullopt;
}

std::optional<ReplayError> Engine::Impl::ApplyChange(Campaign& campaign, const Event& event) {
  if (event.seq <= campaign.changed_seq()) return std::nullopt;  // a copy, or an older change
  const CampaignSpec& spec = event.spec;
  if (spec.stock < 1 || spec.stock > campaign.spec().stock_max) {
    return ReplayFailure(event, "the change's stock is outside 1..the campaign's stock_max");
  }
  // The stock the change set, from the stock replayed so far: a lost older change (logged with
  // --ack memory) still ends at the newest change's stock.
  const std::int64_t delta = std::int64_t{spec.stock} - campaign.Spec().stock;
  if (delta < 0 && !campaign.stock().Take(0, static_cast<std::uint32_t>(-delta))) {
    return ReplayFailure(event, "the change takes back units that are granted (oversold log)");
  }
  if (delta > 0) campaign.stock().Give(0, static_cast<std::uint32_t>(delta));
  campaign.Change(spec, event.seq);
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

bool Engine::Impl::ApplyUse(Campaign& campaign, const Event& event) {
  if (campaign.spec().kind != CampaignKind::kCoupon) return false;
  CouponLedger& ledger = campaign.ledger();
  // A claim the log lost with --ack memory (reverted, or never persisted) is not there.
  std::optional<detail::ClaimRecord> before = ledger.Read(event.user);
  if (!before || before->id != event.claim_id) return false;
  const bool redeem = event.type == EventType::kCouponRedeemed;
  // A change older than the claim's (a copy appended again) changes nothing, and is no orphan.
  if (!ledger.ApplyUse(event.user, event.claim_id, redeem, event.use,
                       ledger.OrderFingerprint(event.order_ref))) {
    return true;
  }
  if (before->redeemed != redeem)
    campaign.Count(Campaign::kAnyThread, Book::kRedeemed, redeem ? 1 : -1);
  if (!redeem) campaign.Count(Campaign::kAnyThread, Book::kRestored, 1);
  return true;
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
  if (campaigns_.size() > campaigns_.capacity()) {
    return ReplayError{"the log leaves " + std::to_string(campaigns_.size()) +
                       " campaigns live, more than --campaigns-max " +
                       std::to_string(campaigns_.capacity()) + " holds"};
  }
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

}  // namespace hotdeal::engine
