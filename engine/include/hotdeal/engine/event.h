// Events: one per decision, the only thing the engine tells the outside world. The durable log
// (persistence/) stores them; replaying them through Engine::Apply rebuilds the engine's state.
// The engine defines the sink interface and never knows what is behind it.
#pragma once

#include <cstdint>
#include <optional>

#include "hotdeal/engine/types.h"

namespace hotdeal::engine {

enum class EventType : std::uint8_t {
  kCampaignCreated,  // spec
  kCampaignClosed,   // closed early by an admin
  kClaimGranted,     // claim_id, user, coupon_code
  kClaimVoided,      // an in-doubt claim settled as not persisted; its unit returns to stock
  kOrderReserved,    // order_id, user, quantity, amount, expires_at
  kOrderConfirmed,   // order_id
  kOrderCancelled,   // order_id, quantity returns to stock
  kOrderExpired,     // order_id, quantity returns to stock
  kOrderVoided,      // an in-doubt reservation settled as not persisted
  kCampaignPaused,   // an admin paused claims and orders; the newest pause or resume (by seq)
  kCampaignResumed,  // wins, so the two may reach the log in either order
  kCouponRedeemed,   // claim_id, user, coupon_code, order_ref, use; the coupon's newest use
  kCouponRestored,   // (by `use`) wins, so a redeem and a restore may reach the log in either order
  kCampaignChanged,  // spec (the whole spec after the change), amount (units added or taken
                     // back); the newest change (by seq) wins, so copies may land in any order
  kCampaignArchived,  // an admin archived the ended campaign: it leaves memory, recovery skips it
};
// The last type, for code that walks them all (the codec's name lookup).
inline constexpr EventType kLastEventType = EventType::kCampaignArchived;

// Fixed-size value: building one on the hot path allocates nothing (`spec.name` is empty for
// every type but kCampaignCreated and kCampaignChanged, and an empty std::string does not
// allocate).
struct Event {
  EventType type = EventType::kCampaignCreated;
  // Unique within the campaign. Events appended by one worker carry increasing numbers; no
  // counter is shared between workers, so a hot campaign does not fight over one cache line.
  std::uint64_t seq = 0;
  TimePoint at{};
  CampaignId campaign;
  UserId user;
  ClaimId claim_id;
  OrderId order_id;
  CouponCode coupon_code;
  std::uint32_t quantity = 0;
  std::int64_t amount = 0;  // an order's price; kCampaignChanged: its stock delta
  TimePoint expires_at{};
  CampaignSpec spec;  // kCampaignCreated and kCampaignChanged only
  // kCampaignCreated only: the campaign's slot in the engine's table. Claim and order ids embed
  // it, so replay must put the campaign back at the same index; the log has to store it.
  std::uint32_t campaign_index = 0;
  // kCampaignCreated only: the key of the campaign's id tags, so ids handed out before a
  // restart still match after it. {0, 0} in events logged before tags (ids not tagged).
  IdKey id_key{};
  // kClaimGranted and kOrderReserved: the Idempotency-Key the client sent, if any. Apply
  // remembers it again, so a client retrying with its key after a restart gets the original
  // answer (within the idempotency window, counted from `at`). kClaimVoided and kOrderVoided
  // repeat the voided decision's key, so the key is known to be free again.
  std::optional<IdempotencyKey> idempotency_key;
  // kCouponRedeemed and kCouponRestored: the order the coupon was redeemed on, and the number
  // of the change among the coupon's redeems and restores (1, 2, ...; the newest wins).
  OrderRef order_ref;
  std::uint32_t use = 0;
};

// The durable log's policy for an event it could not persist for certain (docs/durability.md):
// true for the events that end an order or a claim's doubt, record a payment, change a
// campaign's pause, spec or a coupon's use. Those are
// appended again until the log has them (the engine keeps what they would return or undo
// until then); every other event is reverted when certainly not persisted and marked in doubt
// when possibly persisted. One definition, for the log and for the simulation that models it.
constexpr bool AppendedUntilPersisted(EventType type) noexcept {
  switch (type) {
    case EventType::kClaimVoided:
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
    case EventType::kOrderVoided:
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
    case EventType::kCampaignChanged:
    case EventType::kCampaignArchived:
      return true;
    case EventType::kCampaignCreated:
    case EventType::kCampaignClosed:
    case EventType::kClaimGranted:
    case EventType::kOrderReserved:
      return false;
  }
  return false;
}

// The control plane's events: appended under the engine's control mutex by WorkerId{workers}.
constexpr bool IsControl(EventType type) noexcept {
  switch (type) {
    case EventType::kCampaignCreated:
    case EventType::kCampaignClosed:
    case EventType::kCampaignPaused:
    case EventType::kCampaignResumed:
    case EventType::kCampaignChanged:
    case EventType::kCampaignArchived:
      return true;
    case EventType::kClaimGranted:
    case EventType::kClaimVoided:
    case EventType::kOrderReserved:
    case EventType::kOrderConfirmed:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired:
    case EventType::kOrderVoided:
    case EventType::kCouponRedeemed:
    case EventType::kCouponRestored:
      return false;
  }
  return false;
}

// Where a ticket for an appended event can be found again; 0 means "nothing to wait for".
struct LogTicket {
  std::uint64_t value = 0;
};

// Implemented by the durable log. Control-plane events (campaign created or closed) are
// appended under the engine's control mutex with WorkerId{workers}, one past the last data-plane
// worker, so per-worker queues in a sink need workers + 1 entries.
// Called on the deciding worker's thread after the decision is
// made and before anyone else can see it, so one claim's or order's events arrive in causal
// order. Must not block and must not throw.
class EventSink {
 public:
  virtual ~EventSink() = default;

  // nullopt: the log cannot take the event now (queue full, broker gone). The engine then
  // undoes the decision and answers Outcome::kLogUnavailable.
  virtual std::optional<LogTicket> Append(WorkerId worker, const Event& event) noexcept = 0;
};

// Accepts everything and keeps nothing: `--log none`, benchmarks and engine unit tests.
class DiscardSink final : public EventSink {
 public:
  std::optional<LogTicket> Append(WorkerId, const Event&) noexcept override { return LogTicket{}; }
};

}  // namespace hotdeal::engine
