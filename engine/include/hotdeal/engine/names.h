// The one text name of each engine enum. The API, the events, the MySQL rows and the metrics
// all spell a kind or a status this way, so there is exactly one place to change it.
// Header-only, constexpr, no allocation.
#pragma once

#include <cstddef>
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

constexpr std::string_view Name(CouponStatus status) noexcept {
  switch (status) {
    case CouponStatus::kIssued:
      return "issued";
    case CouponStatus::kRedeemed:
      return "redeemed";
    case CouponStatus::kExpired:
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

// The value among `values` whose Name is `text`: the one reverse of the tables above.
template <class Enum, std::size_t N>
constexpr std::optional<Enum> ParseNamed(std::string_view text, const Enum (&values)[N]) noexcept {
  for (Enum value : values) {
    if (Name(value) == text) return value;
  }
  return std::nullopt;
}

constexpr std::optional<DiscountKind> ParseDiscountKind(std::string_view text) noexcept {
  constexpr DiscountKind kAll[] = {DiscountKind::kNone, DiscountKind::kPercent,
                                   DiscountKind::kAmount};
  return ParseNamed(text, kAll);
}

constexpr std::optional<CampaignKind> ParseCampaignKind(std::string_view text) noexcept {
  constexpr CampaignKind kAll[] = {CampaignKind::kCoupon, CampaignKind::kSale};
  return ParseNamed(text, kAll);
}

constexpr std::optional<OrderStatus> ParseOrderStatus(std::string_view text) noexcept {
  constexpr OrderStatus kAll[] = {OrderStatus::kReserved, OrderStatus::kConfirmed,
                                  OrderStatus::kCancelled, OrderStatus::kExpired};
  return ParseNamed(text, kAll);
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
    case EventType::kCouponRedeemed:
      return "coupon_redeemed";
    case EventType::kCouponRestored:
      return "coupon_restored";
    case EventType::kCampaignChanged:
      return "campaign_changed";
    case EventType::kCampaignArchived:
      return "campaign_archived";
  }
  return "unknown";
}

}  // namespace hotdeal::engine
