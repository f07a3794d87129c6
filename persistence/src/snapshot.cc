// Snapshot rows -> the events that would have built them -> Engine::Apply.
#include "hotdeal/persistence/snapshot.h"

#include "hotdeal/engine/engine.h"

namespace hotdeal::persistence {
namespace {

using engine::Event;
using engine::EventType;

// An event of `type` naming the row's campaign.
Event OfCampaign(const CampaignRow& row, EventType type) {
  Event e;
  e.type = type;
  e.campaign = row.spec.id;
  e.campaign_index = row.campaign_index;
  return e;
}

Event Created(const CampaignRow& row) {
  Event e = OfCampaign(row, EventType::kCampaignCreated);
  e.spec = row.spec;
  e.at = row.created_at;
  e.seq = row.created_seq;
  e.id_key = row.id_key;
  return e;
}

// An archived campaign's row stands for the whole of it: recovery frees nothing, only keeps its
// id and index from being given again.
Event Archived(const CampaignRow& row) {
  Event e = OfCampaign(row, EventType::kCampaignArchived);
  e.at = row.archived_at;
  e.seq = *row.archived_seq;
  return e;
}

Event Granted(const ClaimRow& row) {
  Event e;
  e.type = EventType::kClaimGranted;
  e.claim_id = row.claim_id;
  e.campaign = row.campaign;
  e.user = row.user;
  e.coupon_code = row.coupon_code;
  e.at = row.created_at;
  e.seq = row.seq;
  e.idempotency_key = row.idempotency_key;
  return e;
}

// The claim's newest redeem or restore.
Event Used(const ClaimRow& row) {
  Event e = Granted(row);
  e.idempotency_key.reset();  // only the grant carries it
  e.type = row.redeemed ? EventType::kCouponRedeemed : EventType::kCouponRestored;
  e.order_ref = row.order_ref;
  e.use = row.use;
  e.at = row.used_at;
  return e;
}

Event Reserved(const OrderRow& row) {
  Event e;
  e.type = EventType::kOrderReserved;
  e.order_id = row.order_id;
  e.campaign = row.campaign;
  e.user = row.user;
  e.quantity = row.quantity;
  e.amount = row.amount;
  e.at = row.created_at;
  e.expires_at = row.expires_at;
  e.seq = row.seq;
  e.idempotency_key = row.idempotency_key;
  return e;
}

// The event that moved a reserved order to `row.status`; the reservation's fields otherwise.
Event Moved(const OrderRow& row) {
  Event e = Reserved(row);
  e.idempotency_key.reset();  // only the reservation carries it
  e.type = row.status == engine::OrderStatus::kConfirmed   ? EventType::kOrderConfirmed
           : row.status == engine::OrderStatus::kCancelled ? EventType::kOrderCancelled
                                                           : EventType::kOrderExpired;
  e.at = row.status_at;
  e.seq = row.status_seq;
  return e;
}

}  // namespace

std::optional<engine::ReplayError> ApplySnapshot(engine::Engine& engine, const SnapshotRows& rows,
                                                 RecoveryReport& report) {
  for (const CampaignRow& row : rows.campaigns) {
    if (auto error = engine.Apply(row.archived_seq ? Archived(row) : Created(row))) return error;
    ++(row.archived_seq ? report.archived : report.campaigns);
  }
  for (const ClaimRow& row : rows.claims) {
    if (auto error = engine.Apply(Granted(row))) return error;
    ++report.claims;
    if (row.use == 0) continue;
    if (auto error = engine.Apply(Used(row))) return error;
  }
  for (const OrderRow& row : rows.orders) {
    if (auto error = engine.Apply(Reserved(row))) return error;
    ++report.orders;
    if (row.status == engine::OrderStatus::kReserved) continue;
    if (auto error = engine.Apply(Moved(row))) return error;
  }
  // A campaign's close, its newest pause or resume and its newest change, after everything it
  // sold. The creation above has the row's spec already, changes included; the change sets only
  // its seq, so older copies in the tail change nothing.
  for (const CampaignRow& row : rows.campaigns) {
    if (row.archived_seq) continue;
    Event control;
    control.campaign = row.spec.id;
    if (row.change_seq != 0) {
      control.type = EventType::kCampaignChanged;
      control.spec = row.spec;
      control.at = row.changed_at;
      control.seq = row.change_seq;
      if (auto error = engine.Apply(control)) return error;
      control.spec = {};
    }
    if (row.closed_at) {
      control.type = EventType::kCampaignClosed;
      control.at = *row.closed_at;
      control.seq = row.closed_seq;
      if (auto error = engine.Apply(control)) return error;
    }
    if (row.pause_seq != 0) {
      control.type = row.paused ? EventType::kCampaignPaused : EventType::kCampaignResumed;
      control.at = row.pause_at;
      control.seq = row.pause_seq;
      if (auto error = engine.Apply(control)) return error;
    }
  }
  return std::nullopt;
}

}  // namespace hotdeal::persistence
