// LogBooks; see log_books.h.
#include "log_books.h"

#include "mysql/tables.h"

namespace hotdeal::persistence {

using engine::EventType;

void LogBooks::Keep(const std::string& campaign, std::int64_t created_at_us) {
  if (!campaigns_.try_emplace(campaign, created_at_us).second) return;
  if (campaigns_.size() <= campaigns_max_) return;
  auto oldest = campaigns_.begin();  // ids ascend: of equal times the smaller id goes
  for (auto it = campaigns_.begin(); it != campaigns_.end(); ++it) {
    if (it->second.created_at_us < oldest->second.created_at_us) oldest = it;
  }
  campaigns_.erase(oldest);
}

void LogBooks::SeedOrder(const std::string& campaign, std::uint64_t order_id,
                         std::uint32_t quantity, engine::OrderStatus status) {
  Books* b = Find(campaign);
  if (b == nullptr) return;
  if (status == engine::OrderStatus::kReserved) {
    Reserve(*b, order_id, quantity);
  } else if (status == engine::OrderStatus::kConfirmed) {
    Reserve(*b, order_id, quantity);
    Move(*b, order_id, EventType::kOrderConfirmed);
  } else {
    b->ended.insert(order_id);
  }
}

void LogBooks::Apply(const engine::Event& e) {
  if (e.type == EventType::kCampaignCreated) {
    return Keep(std::string(e.campaign.view()), mysql::Micros(e.at));
  }
  if (e.type == EventType::kCampaignArchived) {
    if (auto it = campaigns_.find(e.campaign.view()); it != campaigns_.end()) campaigns_.erase(it);
    return;
  }
  Books* b = Find(e.campaign.view());
  if (b == nullptr) return;
  switch (e.type) {
    case EventType::kClaimGranted:
      return Grant(*b, e.claim_id.value);
    case EventType::kClaimVoided:
      if (b->claims.erase(e.claim_id.value) != 0) --b->units.claimed;
      return;
    case EventType::kOrderReserved:
      return Reserve(*b, e.order_id.value, e.quantity);
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
    case EventType::kOrderVoided:
      return Move(*b, e.order_id.value, e.type);
    default:
      return;
  }
}

std::vector<std::string> LogBooks::Campaigns() const {
  std::vector<std::string> ids;
  ids.reserve(campaigns_.size());
  for (const auto& [id, books] : campaigns_)
    ids.push_back(id);
  return ids;
}

void LogBooks::Reserve(Books& b, std::uint64_t order_id, std::uint32_t quantity) {
  if (b.ended.contains(order_id)) return;
  if (b.orders.try_emplace(order_id, Order{quantity, EventType::kOrderReserved}).second) {
    b.units.held += quantity;
  }
}

void LogBooks::Move(Books& b, std::uint64_t order_id, EventType move) {
  auto it = b.orders.find(order_id);
  if (it == b.orders.end()) return;  // ended, or reserved before the kept history
  Order& order = it->second;
  // A void ends an in-doubt reservation; the others only as the engine moves it.
  if (move != EventType::kOrderVoided && !Moves(order.state, move)) return;
  (order.state == EventType::kOrderConfirmed ? b.units.confirmed : b.units.held) -= order.quantity;
  if (move == EventType::kOrderConfirmed) {
    order.state = move;
    b.units.confirmed += order.quantity;
    return;
  }
  b.ended.insert(order_id);
  b.orders.erase(it);
}

}  // namespace hotdeal::persistence
