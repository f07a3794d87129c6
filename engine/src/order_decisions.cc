// Order decisions: reserve, confirm, cancel (or refund), expiry by the timer wheels, and reads of
// an order through its slot.
#include "engine_impl.h"
#include "spin_lock.h"

namespace hotdeal::engine {
namespace {

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

}  // namespace

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
  // In an archive attempt (FindFor): only an ended campaign is tried.
  if (!campaign->serving()) return Decide<Order>(worker, kOperation, Outcome::kEnded);
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
    if (!replay.undone) {
      // Being undone, its key not yet: decided afresh in a moment.
      if (Located undoing = SlotOf(OrderId{replay.first_id});
          undoing.slot && undoing.slot->state.load(std::memory_order_acquire) ==
                              SlotState(undoing.generation, detail::kUndoing)) {
        return Decide<Order>(worker, kOperation, Outcome::kPending);
      }
      // Ended, and its slot reused since: the first answer is gone, and deciding again would
      // make a second order under one key.
      return Decide<Order>(worker, kOperation, Outcome::kConflict);
    }
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

Outcome Engine::Impl::BeginKeyed(const Campaign& campaign, const UserId& user,
                                 const IdempotencyKey& key, TimePoint now, KeyHold& hold,
                                 KeyReplay& replay) {
  IdempotencyTable::Result found = keys_->Begin(campaign.index(), user, key, now);
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
  if (!campaign || !campaign->visible() || campaign->spec().kind != CampaignKind::kSale) return {};
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
  // A campaign in an archive attempt takes no decision: nothing may move into or out of play
  // while the archive checks that nothing is in play (Engine::Impl::ArchiveCampaign). The
  // attempt ends within archive_wait, archived or refused, so the caller retries.
  if (!found.campaign->serving()) return Decide<Order>(worker, kOperation, Outcome::kPending);
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
  // As in ConfirmOrder: no move during an archive attempt.
  if (!found.campaign->serving()) return Decide<Order>(worker, kOperation, Outcome::kPending);
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
  Quiesce(worker.value);
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

}  // namespace hotdeal::engine
