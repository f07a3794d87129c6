// Server-made ids and coupon codes. A claim id is (campaign index, worker, per-worker serial);
// an order id is (campaign index, slot generation, order slot), so GetOrder finds the slot
// without a search and a reused slot's old id finds nothing.
// Neither depends on a shared counter. Coupon codes come from a keyed PRF over a per-worker
// counter: unguessable without the key, never derived from an id. Must never allocate on the
// hot path.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "hash.h"
#include "hotdeal/engine/types.h"
#include "order_table.h"

namespace hotdeal::engine::detail {

inline constexpr std::uint32_t kCampaignIndexBits = 20;
inline constexpr std::uint32_t kWorkerBits = 8;
inline constexpr std::uint32_t kSerialBits = 64 - kCampaignIndexBits - kWorkerBits;
// Order ids: campaign index, slot generation (order_table.h, kGenerationBits), slot + 1.
inline constexpr std::uint32_t kOrderSlotBits = 64 - kCampaignIndexBits - kGenerationBits;
inline constexpr std::uint32_t kOrderSlotsMax = (1u << kOrderSlotBits) - 1;
inline constexpr std::uint32_t kCampaignsMax = 1u << kCampaignIndexBits;
// The top worker value is the control plane's, in event sequence numbers.
inline constexpr std::uint32_t kControlWorker = (1u << kWorkerBits) - 1;
inline constexpr std::uint32_t kWorkersMax = kControlWorker;
inline constexpr std::uint64_t kSerialMax = (std::uint64_t{1} << kSerialBits) - 1;

struct ClaimIdParts {
  std::uint32_t campaign = 0;
  std::uint32_t worker = 0;
  std::uint64_t serial = 0;
};

constexpr ClaimId MakeClaimId(std::uint32_t campaign, std::uint32_t worker,
                              std::uint64_t serial) noexcept {
  return ClaimId{(std::uint64_t{campaign} << (kWorkerBits + kSerialBits)) |
                 (std::uint64_t{worker} << kSerialBits) | serial};
}
constexpr ClaimIdParts SplitClaimId(ClaimId id) noexcept {
  return {static_cast<std::uint32_t>(id.value >> (kWorkerBits + kSerialBits)),
          static_cast<std::uint32_t>((id.value >> kSerialBits) & kControlWorker),
          id.value & kSerialMax};
}
// Slot + 1, so that no order id is 0. A slot's first order has generation 0, so ids made
// before slots were reused read the same.
constexpr OrderId MakeOrderId(std::uint32_t campaign, std::uint32_t slot,
                              std::uint32_t generation) noexcept {
  return OrderId{(std::uint64_t{campaign} << (kGenerationBits + kOrderSlotBits)) |
                 (std::uint64_t{generation & kGenerationMask} << kOrderSlotBits) |
                 (std::uint64_t{slot} + 1)};
}
constexpr std::uint32_t OrderCampaign(OrderId id) noexcept {
  return static_cast<std::uint32_t>(id.value >> (kGenerationBits + kOrderSlotBits));
}
constexpr std::uint32_t OrderGeneration(OrderId id) noexcept {
  return static_cast<std::uint32_t>(id.value >> kOrderSlotBits) & kGenerationMask;
}
// Meaningful only for ids with a non-zero slot part (ParseOrderId guarantees it).
constexpr std::uint32_t OrderSlotIndex(OrderId id) noexcept {
  return static_cast<std::uint32_t>(id.value & kOrderSlotsMax) - 1;
}

// Event sequence numbers: (per-worker serial, worker); unique within a campaign.
constexpr std::uint64_t MakeSeq(std::uint64_t serial, std::uint32_t worker) noexcept {
  return (serial << kWorkerBits) | worker;
}
constexpr std::uint64_t SeqSerial(std::uint64_t seq) noexcept {
  return seq >> kWorkerBits;
}
constexpr std::uint32_t SeqWorker(std::uint64_t seq) noexcept {
  return static_cast<std::uint32_t>(seq & kControlWorker);
}

IdText FormatId(char prefix, std::uint64_t value) noexcept;
std::optional<std::uint64_t> ParseId(char prefix, std::string_view text) noexcept;

// One per worker: a counter run through SipHash-2-4 under a key drawn once from the OS.
class CouponCodeGenerator {
 public:
  explicit CouponCodeGenerator(std::array<std::uint64_t, 2> key) noexcept : hasher_(key) {}
  CouponCode Next() noexcept;

 private:
  SipHasher hasher_;
  std::uint64_t counter_ = 0;
};

}  // namespace hotdeal::engine::detail
