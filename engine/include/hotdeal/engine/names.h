// The one text name of each engine enum. The API, the events, the MySQL rows and the metrics
// all spell a kind or a status this way, so there is exactly one place to change it.
// Header-only, constexpr, no allocation.
#pragma once

#include <optional>
#include <string_view>

#include "hotdeal/engine/event.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine {

constexpr std::string_view Name(CampaignKind kind) noexcept {
  switch (kind) {
    case CampaignKind::kCoupon:
      return "coupon";
    case CampaignKind::kSale:
      return "sale";
  }
  return "unknown";
}

constexpr std::string_view Name(CampaignStatus status) noexcept {
  switch (status) {
    case CampaignStatus::kScheduled:
      return "scheduled";
    case CampaignStatus::kLive:
      return "live";
    case CampaignStatus::kSoldOut:
      return "sold_out";
    case CampaignStatus::kEnded:
      return "ended";
    case CampaignStatus::kPaused:
      return "paused";
  }
  return "unknown";
}

constexpr std::string_view Name(OrderStatus status) noexcept {
  switch (status) {
    case OrderStatus::kReserved:
      return "reserved";
    case OrderStatus::kConfirmed:
      return "confirmed";
    case OrderStatus::kCancelled:
      return "cancelled";
    case OrderStatus::kExpired:
      return "expired";
  }
  return "unknown";
}

constexpr std::string_view Name(DiscountKind kind) noexcept {
  switch (kind) {
    case DiscountKind::kNone:
      return "none";
    case DiscountKind::kPercent:
      return "percent";
    case DiscountKind::kAmount:
      return "amount";
  }
  return "unknown";
}

constexpr std::optional<DiscountKind> ParseDiscountKind(std::string_view text) noexcept {
  for (DiscountKind kind : {DiscountKind::kNone, DiscountKind::kPercent, DiscountKind::kAmount}) {
    if (Name(kind) == text) return kind;
  }
  return std::nullopt;
}

constexpr std::optional<CampaignKind> ParseCampaignKind(std::string_view text) noexcept {
  for (CampaignKind kind : {CampaignKind::kCoupon, CampaignKind::kSale}) {
    if (Name(kind) == text) return kind;
  }
  return std::nullopt;
}

constexpr std::optional<OrderStatus> ParseOrderStatus(std::string_view text) noexcept {
  for (OrderStatus status : {OrderStatus::kReserved, OrderStatus::kConfirmed,
                             OrderStatus::kCancelled, OrderStatus::kExpired}) {
    if (Name(status) == text) return status;
  }
  return std::nullopt;
}

constexpr std::string_view Name(EventType type) noexcept {
  switch (type) {
    case EventType::kCampaignCreated:
      return "campaign_created";
    case EventType::kCampaignClosed:
      return "campaign_closed";
    case EventType::kClaimGranted:
      return "claim_granted";
    case EventType::kClaimVoided:
      return "claim_voided";
    case EventType::kOrderReserved:
      return "order_reserved";
    case EventType::kOrderConfirmed:
      return "order_confirmed";
    case EventType::kOrderCancelled:
      return "order_cancelled";
    case EventType::kOrderExpired:
      return "order_expired";
    case EventType::kOrderVoided:
      return "order_voided";
    case EventType::kCampaignPaused:
      return "campaign_paused";
    case EventType::kCampaignResumed:
      return "campaign_resumed";
  }
  return "unknown";
}

}  // namespace hotdeal::engine
