// Value types shared by the engine's callers: ids, times, outcomes and the records the engine
// hands out. Plain data only; nothing here allocates on the hot path or does I/O.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hotdeal::engine {

// The engine never reads a clock: every call takes `now`, so tests and replay are exact.
using TimePoint = std::chrono::sys_time<std::chrono::microseconds>;

// A client-given id: `[A-Za-z0-9_-]{1,64}`, stored inline so that a request never allocates.
// Distinct tags make a user id and a campaign id different types.
template <class Tag>
class ShortId {
 public:
  static constexpr std::size_t kSizeMax = 64;

  // Empty if `text` is not a valid id; the only way to make a non-empty one.
  static std::optional<ShortId> Parse(std::string_view text) noexcept {
    if (text.empty() || text.size() > kSizeMax) return std::nullopt;
    for (char c : text) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
      if (!ok) return std::nullopt;
    }
    ShortId id;
    id.size_ = static_cast<std::uint8_t>(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
      id.bytes_[i] = text[i];
    return id;
  }

  std::string_view view() const noexcept { return {bytes_.data(), size_}; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  friend bool operator==(const ShortId& a, const ShortId& b) noexcept {
    return a.view() == b.view();
  }

 private:
  std::array<char, kSizeMax> bytes_{};
  std::uint8_t size_ = 0;
};

using CampaignId = ShortId<struct CampaignIdTag>;
using UserId = ShortId<struct UserIdTag>;
// Clients choose idempotency keys under the same rules as ids.
using IdempotencyKey = ShortId<struct IdempotencyKeyTag>;
// The shop's name for the order a coupon is redeemed on (redeem and restore), same rules.
using OrderRef = ShortId<struct OrderRefTag>;

// Ids the server makes. Opaque to clients; the engine formats and parses their text form.
// `value` is the id itself: it names the campaign, so `/v1/orders/{id}` needs no campaign in the
// path, and it is all that events and MySQL rows store. `tag` proves the id came from the server:
// a keyed hash of `value` under the campaign's IdKey (engine/README.md, "Ids"), set on the ids
// the engine hands out and checked on every lookup a client asks for (an id with a wrong tag
// answers kNotFound). Ids read from the log carry tag 0 and are looked up by `value` alone.
// Equality compares `value` only: the tag is a proof about an id, not part of which id it is,
// so an event's id and the id a decision handed out for it are equal. Never use == to decide
// whether a client may use an id; the engine's lookups check the tag.
struct ClaimId {
  std::uint64_t value = 0;
  std::uint64_t tag = 0;
  friend bool operator==(ClaimId a, ClaimId b) noexcept { return a.value == b.value; }
};
struct OrderId {
  std::uint64_t value = 0;
  std::uint64_t tag = 0;
  friend bool operator==(OrderId a, OrderId b) noexcept { return a.value == b.value; }
};
// A campaign's secret key for the tags of its ids (SipHash-2-4's k0, k1), drawn at creation and
// carried in its campaign_created event. {0, 0}: the campaign's ids are not tagged (their tag
// is 0), as for campaigns logged before tags existed.
using IdKey = std::array<std::uint64_t, 2>;
// The text form of a server-made id, held inline so that formatting one for a reply does not
// allocate (a std::string of 33 characters would: past the small-string buffer).
struct IdText {
  std::array<char, 40> bytes{};
  std::uint8_t size = 0;
  std::string_view view() const noexcept { return {bytes.data(), size}; }
};

// Random, unguessable (not derived from a counter): whoever holds it can redeem the coupon.
// Crockford base32: four characters of the campaign's index (so that /v1/coupons/{code} finds
// the campaign without a search), then 16 of a keyed PRF (80 bits). Codes made before the
// prefix are the 16 characters alone (size 16); their claims read back with the prefix.
struct CouponCode {
  static constexpr std::size_t kPrefixSize = 4;
  static constexpr std::size_t kSecretSize = 16;
  std::array<char, kPrefixSize + kSecretSize> text{};
  std::uint8_t size = 0;
  std::string_view view() const noexcept { return {text.data(), size}; }
  // The 16 characters after the prefix (the whole code if it has none).
  std::string_view secret() const noexcept { return view().substr(size - kSecretSize); }
  friend bool operator==(const CouponCode& a, const CouponCode& b) noexcept {
    return a.view() == b.view();
  }
  // `text` as a code if it has a code's length (with its prefix, or from before prefixes); the
  // characters are the caller's to check.
  static std::optional<CouponCode> OfLength(std::string_view text) noexcept {
    if (text.size() != kPrefixSize + kSecretSize && text.size() != kSecretSize) return std::nullopt;
    CouponCode code;
    text.copy(code.text.data(), text.size());
    code.size = static_cast<std::uint8_t>(text.size());
    return code;
  }
};

enum class CampaignKind : std::uint8_t { kCoupon, kSale };
// kPaused: paused by an admin inside its window (an ended campaign shows kEnded, paused or not).
enum class CampaignStatus : std::uint8_t { kScheduled, kLive, kSoldOut, kEnded, kPaused };
enum class OrderStatus : std::uint8_t { kReserved, kConfirmed, kCancelled, kExpired };
// A claimed coupon: usable (kIssued), used on an order (kRedeemed), or past its expires_at
// unused (kExpired, which the engine's clock decides: no event).
enum class CouponStatus : std::uint8_t { kIssued, kRedeemed, kExpired };

// What a decision came to. The gateway maps each to one HTTP status in a single switch with
// no `default:`, so adding a value here makes the compiler point at every place to update.
enum class Outcome : std::uint8_t {
  kOk,
  kCreated,          // a new claim, order or campaign
  kReplayed,         // an idempotency key seen before: the first decision, answered again
  kInvalid,          // an argument the API forbids (quantity <= 0, ...)
  kNotFound,         // unknown campaign, claim or order, or an order of another user
  kNotStarted,       // before starts_at
  kEnded,            // at or after ends_at, or closed early
  kPaused,           // inside the window, but paused by an admin: no claim or order now
  kSoldOut,          // no unit free
  kAlreadyClaimed,   // this user holds a coupon of this campaign already
  kAlreadyRedeemed,  // the coupon is redeemed on another order (409)
  kExpired,          // the coupon is past its expires_at (409)
  kLimitExceeded,    // the order would take the user past per_user_limit
  kConflict,         // campaign id taken, wrong kind, or an order not in a state to move
  kOverCapacity,     // a table fixed at creation is full; retry later (503)
  kCapacity,         // a campaign that can never fit: stock, campaign table or memory budget (409)
  kLogUnavailable,   // the durable log refused the event; the decision was undone (503)
  kInDoubt,          // the log could not say whether the decision is in it; being settled (503)
  kPending,          // decided, but the log has not acknowledged it yet, or its campaign is in
                     // an archive attempt (confirm, cancel, redeem, restore); retry shortly (503)
};

// A coupon campaign's terms: what the shop's checkout applies to an order the coupon is redeemed
// on, and how long an issued coupon stays usable. All zero: a coupon with no terms.
enum class DiscountKind : std::uint8_t { kNone, kPercent, kAmount };
struct CouponTerms {
  DiscountKind discount = DiscountKind::kNone;
  std::int64_t discount_value = 0;       // percent 1..100, or minor units (> 0)
  std::int64_t min_spend = 0;            // minor units an order must reach; 0: any
  std::uint32_t valid_seconds = 0;       // usable this long after its claim; 0: not bounded so
  std::optional<TimePoint> valid_until;  // usable until then; at most one of the two bounds
  friend bool operator==(const CouponTerms&, const CouponTerms&) = default;

  // When a coupon claimed at `claimed_at` stops being usable; nullopt: never.
  std::optional<TimePoint> ExpiresAt(TimePoint claimed_at) const noexcept {
    if (valid_seconds != 0) return claimed_at + std::chrono::seconds{valid_seconds};
    return valid_until;
  }
  // When the last coupon of a campaign ending at `ends_at` stops being usable (every claim
  // comes before the end); nullopt: never, or not bounded while the campaign has no end.
  std::optional<TimePoint> LastExpiry(std::optional<TimePoint> ends_at) const noexcept {
    return ends_at ? ExpiresAt(*ends_at) : valid_until;
  }
};

struct CampaignSpec {
  CampaignId id;
  CampaignKind kind = CampaignKind::kCoupon;
  std::string name;  // control plane only; never touched per request
  std::uint32_t stock = 0;
  // The most `stock` may be topped up to (PATCH stock_add): the campaign's tables are sized for
  // it when it is created. 0 in a creation request: stock plus a headroom (Engine::CreateCampaign).
  std::uint32_t stock_max = 0;
  std::uint32_t per_user_limit = 1;
  TimePoint starts_at{};
  std::optional<TimePoint> ends_at;  // nullopt: never
  std::int64_t price = 0;            // minor units, sale only
  std::uint32_t hold_seconds = 0;    // sale only
  CouponTerms terms;                 // coupon only
};

// An admin's change of a live campaign (PATCH): each field set is changed, the rest kept.
struct CampaignChange {
  std::optional<std::int64_t> stock_add;            // units added (> 0) or taken back (< 0)
  std::optional<std::optional<TimePoint>> ends_at;  // a new end; nullopt inside: never ends
  std::optional<std::string> name;
  bool empty() const noexcept { return !stock_add && !ends_at && !name; }
};

// A campaign as GET shows it, computed at `now`.
struct CampaignView {
  CampaignSpec spec;
  std::uint32_t remaining = 0;  // not claimed and not held by a live reservation
  CampaignStatus status = CampaignStatus::kScheduled;
};

struct Claim {
  ClaimId id;
  CampaignId campaign;
  UserId user;
  CouponCode coupon_code;
  TimePoint created_at{};
  CouponTerms terms;                    // the campaign's
  std::optional<TimePoint> expires_at;  // terms.ExpiresAt(created_at)
  bool redeemed = false;                // on an order, and not restored since

  CouponStatus StatusAt(TimePoint now) const noexcept {
    if (redeemed) return CouponStatus::kRedeemed;
    return expires_at && now >= *expires_at ? CouponStatus::kExpired : CouponStatus::kIssued;
  }
};

struct Order {
  OrderId id;
  CampaignId campaign;
  UserId user;
  std::uint32_t quantity = 0;
  std::int64_t amount = 0;  // price * quantity, minor units
  OrderStatus status = OrderStatus::kReserved;
  TimePoint created_at{};
  TimePoint expires_at{};
};

// Index of the calling worker thread, 0 .. workers-1. Each gateway thread passes its own, so
// per-worker state (stock stripes, id counters, counters for metrics) needs no thread_local
// look-up and is written by one thread only.
struct WorkerId {
  std::uint32_t value = 0;
};

}  // namespace hotdeal::engine
