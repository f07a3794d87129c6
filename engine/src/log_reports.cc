// What the log reports about a decision: acknowledged, not persisted (undone), in doubt and
// settled, and voids. The only file that moves unacknowledged and in-doubt states.
#include "engine_impl.h"

namespace hotdeal::engine {

// ---- log reports ---------------------------------------------------------------------------

void Engine::Impl::Acknowledge(const Event& event) {
  if (event.type == EventType::kCampaignArchived) {
    std::lock_guard lock(control_mutex_);
    archives_unlogged_.erase(std::string(event.campaign.view()));  // its place is free now
    return;
  }
  Campaign* campaign = campaigns_.FindAny(event.campaign);
  if (!campaign) return;
  if (event.type == EventType::kCampaignCreated) {
    campaign->set_creation_unacknowledged(false);
    return;
  }
  if (event.type == EventType::kCampaignChanged) {
    // The log reports each appended change once as persisted (a copy appended again replaces
    // the report of the one before it), so the top-up joins once.
    if (event.amount > 0) campaign->JoinTopUp(static_cast<std::uint32_t>(event.amount));
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
  // A pause or resume is never reverted: it is appended again until the log has it.
  if (IsControl(event.type)) {
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
    UndoOrder(worker, found, event);  // the order never was, unless it ended already
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
  bool redeemed = false;
  CouponHold dropped = campaign.ledger().Drop(user, id, &redeemed);
  if (dropped == CouponHold::kNone) return false;
  if (redeemed) campaign.Count(Campaign::kAnyThread, Book::kRedeemed, -1);
  campaign.Count(Campaign::kAnyThread,
                 dropped == CouponHold::kInDoubt ? Book::kInDoubt : Book::kClaimed, -1);
  campaign.stock().Give(worker, 1);
  return true;
}

bool Engine::Impl::UndoOrder(std::uint32_t worker, const Located& found, const Event& event) {
  std::uint64_t state = found.slot->state.load(std::memory_order_acquire);
  do {
    // An order that ended already (with --ack memory a reservation's report can come after its
    // cancel or expiry) stands as it ended: its key keeps answering for it.
    if (GenerationOf(state) != found.generation || !BookOf(StatusOf(state))) return false;
  } while (!found.slot->state.compare_exchange_weak(
      state, SlotState(found.generation, detail::kUndoing), std::memory_order_acq_rel));
  // The key after the order, so that it is never undone for an order whose end the log has
  // (that order stands, ended); a retry with it meanwhile finds kUndoing and hears kPending. An
  // end the log has not reported yet goes with its reservation: the log will hold neither.
  if (event.idempotency_key) {
    keys_->Undo(found.campaign->index(), event.user, *event.idempotency_key, event.order_id.value);
  }
  found.slot->state.store(SlotState(found.generation, detail::kUndone), std::memory_order_release);
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
  return UndoOrder(worker, found, void_event);
}

}  // namespace hotdeal::engine
