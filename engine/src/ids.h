// Server-made ids and coupon codes. A claim id's value is (campaign index, worker, per-worker
// serial); an order id's is (campaign index, slot generation, order slot), so GetOrder finds the
// slot without a search and a reused slot's old id finds nothing. Neither depends on a shared
// counter. Those values are countable, so every id also carries a 64-bit tag, a keyed PRF of
// its value under its campaign's IdKey (IdTagger): guessing an id means guessing a tag, one in
// 2^64. Coupon codes come from a keyed PRF over a per-worker counter: unguessable without the
// key, never derived from an id. Must never allocate on the hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
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

// SipHash of one 64-bit word (its bytes in memory order): ids' tags, keys and coupon codes.
inline Hash128 HashWord(const SipHasher& hasher, std::uint64_t word) noexcept {
  std::array<char, sizeof(word)> message{};
  std::memcpy(message.data(), &word, sizeof(word));
  return hasher.Hash({message.data(), message.size()});
}

// `prefix`, then value and tag as 32 lowercase hex digits. ParseId also reads the 16-digit
// form ids had before tags (value only, tag 0), which only an untagged campaign accepts.
struct IdParts {
  std::uint64_t value = 0;
  std::uint64_t tag = 0;
};
IdText FormatId(char prefix, IdParts id) noexcept;
std::optional<IdParts> ParseId(char prefix, std::string_view text) noexcept;

// A campaign's id tags: the low half of SipHash-2-4 (128-bit output) of the id's value under
// the campaign's IdKey. The key never leaves the server but in its campaign_created event and
// MySQL row, so a client who knows any number of ids and their tags cannot make another's tag
// (SipHash is a PRF). Key {0, 0} tags nothing (tag 0): campaigns logged before tags.
// Immutable once made; any thread.
class IdTagger {
 public:
  explicit IdTagger(IdKey key = {}) noexcept : key_(key), hasher_(key) {}
  const IdKey& key() const noexcept { return key_; }
  std::uint64_t Tag(std::uint64_t value) const noexcept {
    return key_ == IdKey{} ? 0 : HashWord(hasher_, value).low;
  }
  // Whether `tag` is `value`'s. Takes the same time wherever the tags differ: one 64-bit
  // compare of their difference, never a digit-by-digit compare that stops at the first
  // mismatch (which would let a client find a tag a digit at a time by timing).
  bool Matches(std::uint64_t value, std::uint64_t tag) const noexcept {
    return (Tag(value) ^ tag) == 0;
  }

 private:
  IdKey key_;
  SipHasher hasher_;
};

// Campaign keys: SipHash-2-4 in counter mode (a PRF over a counter is a stream of independent
// random keys to anyone without its own key) under a key the engine draws once from the OS, so
// a creation costs no syscall. Any thread: the counter is atomic.
class IdKeyGenerator {
 public:
  explicit IdKeyGenerator(std::array<std::uint64_t, 2> key) noexcept : hasher_(key) {}
  IdKey Next() noexcept;

 private:
  SipHasher hasher_;
  std::atomic<std::uint64_t> counter_{0};
};

// A coupon code's text (types.h): `campaign`'s index as its four-character prefix, then
// `secret` (16 characters). CouponCampaign reads the index back from a code of the full size,
// checking every character is of the alphabet; nullopt for anything else.
CouponCode MakeCouponCode(std::uint32_t campaign, std::string_view secret) noexcept;
std::optional<std::uint32_t> CouponCampaign(std::string_view code) noexcept;

// One per worker: a counter run through SipHash-2-4 under a key drawn once from the OS.
class CouponCodeGenerator {
 public:
  explicit CouponCodeGenerator(std::array<std::uint64_t, 2> key) noexcept : hasher_(key) {}
  // A new code of `campaign`.
  CouponCode Next(std::uint32_t campaign) noexcept;

 private:
  SipHasher hasher_;
  std::uint64_t counter_ = 0;
};

}  // namespace hotdeal::engine::detail
