// FakeLog, Holdings and MysqlModel (world.h).
#include "world.h"

#include <algorithm>

#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/names.h"
#include "hotdeal/persistence/event_codec.h"

namespace hotdeal::sim {

bool SameDecision(const Event& a, const Event& b) {
  if (a.type != b.type || a.seq != b.seq || a.campaign != b.campaign) return false;
  return a.type == EventType::kClaimGranted ? a.claim_id == b.claim_id : a.order_id == b.order_id;
}

std::string Describe(const Event& e) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on `" " + string`.
  std::string text(engine::Name(e.type));
  text.append(" ").append(e.campaign.view());
  if (e.type == EventType::kClaimGranted || e.type == EventType::kClaimVoided) {
    text.append(" claim ").append(engine::Engine::ClaimIdText(e.claim_id).view());
  } else if (!engine::IsControl(e.type)) {
    text.append(" order ").append(engine::Engine::OrderIdText(e.order_id).view());
    text.append(" x").append(std::to_string(e.quantity));
  }
  if (!e.user.empty()) text.append(" user ").append(e.user.view());
  return text.append(" seq ").append(std::to_string(e.seq));
}

// ---- FakeLog -------------------------------------------------------------------------------

std::optional<engine::LogTicket> FakeLog::Append(engine::WorkerId, const Event& event) noexcept {
  if (Refuses()) return std::nullopt;
  in_flight.push_back({++next_ticket_, event, false, {}, std::nullopt});
  appended_.push_back(event);
  return engine::LogTicket{next_ticket_};
}

bool FakeLog::AppendVoid(const Event& void_event) {
  if (Refuses()) return false;
  in_flight.push_back({++next_ticket_, void_event, true, {}, std::nullopt});
  return true;
}

bool FakeLog::Reappend(Appended entry) {
  if (Refuses()) return false;
  entry.landed.reset();  // a new attempt, written after everything appended before it
  in_flight.push_back(std::move(entry));
  return true;
}

void FakeLog::Land(std::size_t i, bool in_log) {
  Appended& entry = in_flight[i];
  if (entry.landed) return;
  if (in_log) {
    for (std::size_t j = 0; j < i; ++j) {
      Appended& earlier = in_flight[j];
      if (earlier.landed || earlier.event.campaign != entry.event.campaign) continue;
      earlier.landed = rng_.Chance(0.5);
      if (*earlier.landed) Persist(earlier.event);
    }
    Persist(entry.event);
  }
  entry.landed = in_log;
}

void FakeLog::Await(engine::LogTicket ticket, const Promise& promise) {
  for (Appended& entry : in_flight) {
    if (entry.ticket == ticket.value) entry.promise = promise;
  }
}

std::vector<Event> FakeLog::TakeAppended() {
  std::vector<Event> taken;
  taken.swap(appended_);
  return taken;
}

bool FakeLog::InLog(const Event& event) const {
  auto it = kafka.find(event.campaign.view());
  if (it == kafka.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const Event& logged) { return SameDecision(logged, event); });
}

// ---- Holdings ------------------------------------------------------------------------------

void Holdings::Apply(const Event& e) {
  const std::string campaign(e.campaign.view());
  switch (e.type) {
    case EventType::kClaimGranted:
      claims_[e.claim_id.value] = {campaign, e.user, e.idempotency_key};
      return;
    case EventType::kOrderReserved:
      orders_[e.order_id.value] = {campaign,     e.user,           e.quantity,
                                   e.expires_at, State::kReserved, e.idempotency_key};
      return;
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired: {
      auto it = orders_.find(e.order_id.value);
      if (it == orders_.end()) return;  // an orphan move: nothing to act on
      State& state = it->second.state;
      // The engine's transitions: confirm and expiry from reserved, cancel from reserved or
      // confirmed.
      if (e.type == EventType::kOrderConfirmed && state == State::kReserved) {
        state = State::kConfirmed;
      } else if (e.type == EventType::kOrderExpired && state == State::kReserved) {
        state = State::kExpired;
      } else if (e.type == EventType::kOrderCancelled &&
                 (state == State::kReserved || state == State::kConfirmed)) {
        state = State::kCancelled;
      }
      return;
    }
    case EventType::kCampaignCreated:
    case EventType::kCampaignClosed:
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
    case EventType::kCampaignChanged:
    case EventType::kCampaignArchived:
    case EventType::kClaimVoided:
    case EventType::kOrderVoided:
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
      return;
  }
}

void Holdings::Revert(const Event& e) {
  if (e.type == EventType::kClaimGranted) {
    claims_.erase(e.claim_id.value);
    return;
  }
  auto it = orders_.find(e.order_id.value);
  if (it == orders_.end()) return;
  State& state = it->second.state;
  // A reverted reservation never was, unless it gave its units back already.
  if (e.type == EventType::kOrderReserved &&
      (state == State::kReserved || state == State::kConfirmed)) {
    orders_.erase(it);
  } else if (e.type == EventType::kOrderConfirmed && state == State::kConfirmed) {
    state = State::kReserved;
  }
}

void Holdings::Drop(const Event& void_event) {
  if (void_event.type == EventType::kClaimVoided) {
    claims_.erase(void_event.claim_id.value);
    return;
  }
  auto it = orders_.find(void_event.order_id.value);
  if (it == orders_.end()) return;
  if (it->second.state == State::kReserved || it->second.state == State::kConfirmed)
    orders_.erase(it);
}

void Holdings::End(std::uint64_t order_id) {
  auto it = orders_.find(order_id);
  if (it != orders_.end() && it->second.state == State::kReserved)
    it->second.state = State::kExpired;
}

std::int64_t Holdings::Units(std::string_view campaign) const {
  std::int64_t units = 0;
  for (const auto& [id, claim] : claims_)
    units += claim.campaign == campaign ? 1 : 0;
  for (const auto& [id, order] : orders_) {
    bool holds = order.state == State::kReserved || order.state == State::kConfirmed;
    if (order.campaign == campaign && holds) units += order.quantity;
  }
  return units;
}

std::int64_t Holdings::UserUnits(std::string_view campaign, const engine::UserId& user) const {
  std::int64_t units = 0;
  for (const auto& [id, claim] : claims_)
    units += claim.campaign == campaign && claim.user == user ? 1 : 0;
  for (const auto& [id, order] : orders_) {
    bool holds = order.state == State::kReserved || order.state == State::kConfirmed;
    if (order.campaign == campaign && order.user == user && holds) units += order.quantity;
  }
  return units;
}

std::pair<std::string, std::int64_t> Holdings::TopHolder(std::string_view campaign) const {
  std::map<std::string, std::int64_t, std::less<>> units;
  for (const auto& [id, claim] : claims_) {
    if (claim.campaign == campaign) ++units[std::string(claim.user.view())];
  }
  for (const auto& [id, order] : orders_) {
    bool holds = order.state == State::kReserved || order.state == State::kConfirmed;
    if (order.campaign == campaign && holds)
      units[std::string(order.user.view())] += order.quantity;
  }
  std::pair<std::string, std::int64_t> top{"", 0};
  for (const auto& [user, held] : units) {
    if (held > top.second) top = {user, held};
  }
  return top;
}

std::string Holdings::DoubleClaims() const {
  std::map<std::pair<std::string, std::string>, int> per_user;
  for (const auto& [id, claim] : claims_) {
    if (++per_user[{claim.campaign, std::string(claim.user.view())}] == 2)
      return claim.campaign + "/" + std::string(claim.user.view());
  }
  return {};
}

// ---- MysqlModel ----------------------------------------------------------------------------

void MysqlModel::CatchUp(const std::vector<Event>& log, std::size_t end) {
  if (log.empty()) return;
  std::size_t& applied = applied_[std::string(log.front().campaign.view())];
  for (; applied < end && applied < log.size(); ++applied)
    Write(log[applied]);
}

std::size_t MysqlModel::applied(std::string_view campaign) const {
  auto it = applied_.find(campaign);
  return it == applied_.end() ? 0 : it->second;
}

// persister.cc, one event at a time (its batches have the same net effect): a campaign or claim
// already there is a replay (or, for another claim of the same user, a conflict kept aside);
// an order's status moves only forward; a void deletes the row.
void MysqlModel::Write(const Event& e) {
  using engine::OrderStatus;
  switch (e.type) {
    case EventType::kCampaignCreated: {
      persistence::CampaignRow row;
      row.spec = e.spec;
      row.campaign_index = e.campaign_index;
      row.created_at = e.at;
      row.created_seq = e.seq;
      row.id_key = e.id_key;  // as persister.cc writes id_key_0/1
      campaigns_.try_emplace(std::string(e.campaign.view()), row);
      return;
    }
    case EventType::kCampaignClosed:
      if (auto it = campaigns_.find(e.campaign.view()); it != campaigns_.end()) {
        it->second.closed_at = e.at;
        it->second.closed_seq = e.seq;
      }
      return;
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
      // The UPDATE's guard: only a newer seq than the row's changes it.
      if (auto it = campaigns_.find(e.campaign.view());
          it != campaigns_.end() && it->second.pause_seq < e.seq) {
        it->second.paused = e.type == EventType::kCampaignPaused;
        it->second.pause_seq = e.seq;
        it->second.pause_at = e.at;
      }
      return;
    case EventType::kCampaignChanged:
      // The UPDATE's guard, and the columns it sets.
      if (auto it = campaigns_.find(e.campaign.view());
          it != campaigns_.end() && it->second.change_seq < e.seq) {
        it->second.spec.name = e.spec.name;
        it->second.spec.stock = e.spec.stock;
        it->second.spec.ends_at = e.spec.ends_at;
        it->second.change_seq = e.seq;
        it->second.changed_at = e.at;
      }
      return;
    case EventType::kCampaignArchived:
      // The UPDATE's guard: the first archive stands.
      if (auto it = campaigns_.find(e.campaign.view());
          it != campaigns_.end() && !it->second.archived_seq) {
        it->second.archived_seq = e.seq;
        it->second.archived_at = e.at;
      }
      return;
    case EventType::kClaimGranted: {
      bool conflict = std::any_of(claims_.begin(), claims_.end(), [&](const auto& entry) {
        return entry.second.campaign == e.campaign && entry.second.user == e.user;
      });
      if (conflict || claims_.count(e.claim_id.value)) return;
      persistence::ClaimRow row;
      row.claim_id = e.claim_id;
      row.campaign = e.campaign;
      row.user = e.user;
      row.coupon_code = e.coupon_code;
      row.created_at = e.at;
      row.seq = e.seq;
      row.idempotency_key = e.idempotency_key;
      claims_[e.claim_id.value] = row;
      return;
    }
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
      // The UPDATE's guard: only a newer use than the row's changes it.
      if (auto it = claims_.find(e.claim_id.value); it != claims_.end() && it->second.use < e.use) {
        it->second.redeemed = e.type == EventType::kCouponRedeemed;
        it->second.use = e.use;
        it->second.order_ref = e.order_ref;
        it->second.used_at = e.at;
      }
      return;
    case EventType::kClaimVoided:
      claims_.erase(e.claim_id.value);
      return;
    case EventType::kOrderReserved: {
      persistence::OrderRow row;
      row.order_id = e.order_id;
      row.campaign = e.campaign;
      row.user = e.user;
      row.quantity = e.quantity;
      row.amount = e.amount;
      row.created_at = e.at;
      row.expires_at = e.expires_at;
      row.seq = e.seq;
      row.status = OrderStatus::kReserved;
      row.status_at = e.at;
      row.status_seq = e.seq;
      row.idempotency_key = e.idempotency_key;
      orders_.try_emplace(e.order_id.value, row);
      return;
    }
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired: {
      auto it = orders_.find(e.order_id.value);
      if (it == orders_.end()) return;
      persistence::OrderRow& row = it->second;
      const OrderStatus target = e.type == EventType::kOrderConfirmed   ? OrderStatus::kConfirmed
                                 : e.type == EventType::kOrderCancelled ? OrderStatus::kCancelled
                                                                        : OrderStatus::kExpired;
      const bool moves =
          row.status == OrderStatus::kReserved ||
          (target == OrderStatus::kCancelled && row.status == OrderStatus::kConfirmed);
      if (!moves) return;
      row.status = target;
      row.status_at = e.at;
      row.status_seq = e.seq;
      return;
    }
    case EventType::kOrderVoided:
      orders_.erase(e.order_id.value);
      return;
  }
}

persistence::SnapshotRows MysqlModel::Rows(Rng* shuffle) const {
  persistence::SnapshotRows rows;
  for (const auto& [id, row] : campaigns_)
    rows.campaigns.push_back(row);
  std::sort(rows.campaigns.begin(), rows.campaigns.end(),
            [](const auto& a, const auto& b) { return a.campaign_index < b.campaign_index; });
  // recovery.cc's filter: an archived campaign's claims and orders are history, not read.
  auto live = [&](const engine::CampaignId& campaign) {
    auto it = campaigns_.find(campaign.view());
    return it == campaigns_.end() || !it->second.archived_seq;
  };
  for (const auto& [id, row] : claims_) {
    if (live(row.campaign)) rows.claims.push_back(row);
  }
  for (const auto& [id, row] : orders_) {
    if (live(row.campaign)) rows.orders.push_back(row);
  }
  if (shuffle) {
    shuffle->Shuffle(rows.claims);
    shuffle->Shuffle(rows.orders);
  }
  return rows;
}

std::int64_t MysqlModel::Units(std::string_view campaign) const {
  std::int64_t units = 0;
  for (const auto& [id, row] : claims_)
    units += row.campaign.view() == campaign ? 1 : 0;
  for (const auto& [id, row] : orders_) {
    bool holds = row.status == engine::OrderStatus::kReserved ||
                 row.status == engine::OrderStatus::kConfirmed;
    if (row.campaign.view() == campaign && holds) units += row.quantity;
  }
  return units;
}

}  // namespace hotdeal::sim
