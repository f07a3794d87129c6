// The campaign allocator: decides every claim and order in memory. Knows nothing of HTTP,
// Kafka or MySQL, reads no clock and does no I/O.
//
// Threading: the data-plane calls (claims, orders, reads) may be made from any number of
// worker threads at once, each passing its own WorkerId (two threads must never share one).
// They take no lock and do not allocate in the steady state. The control-plane calls
// (CreateCampaign, CloseCampaign, ListCampaigns) may take a mutex; they never block the data
// plane. Apply is for recovery and runs before any worker starts.
//
// Memory ordering, in one place (each internal header argues its own part): a campaign is
// built before the release store that publishes it; stock moves are seq_cst (the sold-out
// proof needs one total order, striped_stock.cc); a user's ledger record (its fingerprint) is
// written before the release store of its live state, and an order slot before a release store
// of its status, and both are read after an acquire load of those; a coupon claim is copied under
// a generation check (coupon_ledger.h). Per-worker state (id serials, code generator, timer wheel,
// counters) has a single writer, its worker.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotdeal/engine/event.h"
#include "hotdeal/engine/log.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::engine {

struct EngineOptions {
  std::uint32_t workers = 1;             // WorkerId values are 0 .. workers-1
  std::uint32_t campaigns_max = 1024;    // the campaign table is sized once
  std::uint32_t stock_max = 10'000'000;  // per campaign; bounds what one creation may reserve
  // A creation that names no spec.stock_max may be topped up by this many units.
  static constexpr std::uint32_t kTopUpHeadroom = 1024;
  // Bytes all campaigns' fixed tables may take together (the sum of their Footprint().bytes,
  // withdrawn ones included, and archived ones until their memory is freed); a creation past it
  // answers kCapacity.
  // 0: no budget. Recovery (Apply) rebuilds what the log holds and is not bounded by it.
  std::uint64_t memory_budget_bytes = 0;
  // Idempotency keys are remembered for at least this long, in a table of fixed size; a key
  // older than the window is forgotten and a retry with it is decided afresh, as is a retry
  // whose key's decision was undone since (reverted, or voided in doubt: its client heard 503).
  std::chrono::seconds idempotency_window{600};
  std::uint32_t idempotency_keys_max = 1 << 20;
  // Durable acks (`--ack durable`): a decision whose event the sink answered with a non-zero
  // ticket stays *unacknowledged* until the log reports it (Acknowledge, Revert, MarkInDoubt):
  // it holds its units, but retries, repeat claims, confirm, cancel and reads answer kPending
  // and expiry waits. A cancel or expiry keeps the order's units out of stock until the log
  // reports it persisted, so no unit is sold again on an end a crash could lose. A campaign whose
  // creation is unacknowledged answers kPending to claims and orders inside its window (a
  // possibly-persisted creation stays so until a restart decides it from the log). False (`--ack
  // memory`, `--log none`, tests that do not model reports): every decision is final as soon as its
  // event is appended.
  bool await_acknowledgement = false;
  // How long ArchiveCampaign waits for every worker to pass a quiescent point (ExpireDue) at
  // each of its steps; a worker that ticks every 20 ms passes within one tick.
  std::chrono::milliseconds archive_wait{2000};
  // The caller never runs a control call while a worker thread is inside the engine (the
  // simulation, single-threaded tests): an archive then passes the workers' quiescent points
  // itself instead of waiting for their ExpireDue.
  bool workers_idle_in_control = false;
};

// The result of a data-plane decision. `value` is set for kCreated, kReplayed and kOk, for
// kAlreadyClaimed (the user's existing claim) and for kInDoubt (the claim or order in doubt);
// never for kPending (an unacknowledged decision is not revealed, not even its id).
// `ticket` is what the durable log gave the event, for callers that wait for it before answering.
template <class T>
struct Decision {
  // Written out: with a default member initializer on `outcome` GCC 12 zeroes the whole
  // object (192 bytes for a Claim, 24 stores) before every rejection; this only sets it.
  Decision() noexcept : outcome(Outcome::kInvalid) {}
  Outcome outcome;
  std::optional<T> value;
  LogTicket ticket;
};

// What a cancel may end: a reservation only (a buyer's own cancel), or a confirmed order too
// (a refund, the shop's service). Decided in the same compare-and-swap as the cancel, so a
// buyer's cancel racing the service's confirm never refunds a paid order.
enum class CancelScope : std::uint8_t { kReservation, kReservationOrRefund };

// What a decision was about, for the per-outcome counters.
enum class Operation : std::uint8_t {
  kClaim,
  kPlaceOrder,
  kConfirmOrder,
  kCancelOrder,
  kRedeemCoupon,
  kRestoreCoupon,
};
inline constexpr std::size_t kOperationCount = 6;
inline constexpr std::size_t kOutcomeCount = static_cast<std::size_t>(Outcome::kPending) + 1;

// Counters for metrics, kept per worker in padded structs (each written by its worker alone)
// and summed when read, so counting costs no shared write on the hot path.
struct EngineStats {
  std::array<std::array<std::uint64_t, kOutcomeCount>, kOperationCount> decisions{};
  std::uint64_t orders_expired = 0;  // by ExpireDue or found past expires_at by confirm/cancel
  std::int64_t units_in_doubt = 0;   // all campaigns; per campaign in CampaignBooks::in_doubt
  // Logged order moves and voids that Apply found nothing to act on (the order or claim is
  // not held in the replayed state, or was moved already), and events of a campaign the log
  // never created or archived: counted no-ops, see Apply.
  std::uint64_t orphan_events = 0;
  // Reservations recovery found live beyond the stock or their user's limit and ended: their
  // end (a cancel still being appended again when the process stopped) never reached the log,
  // and their units had been sold again. Each is a reservation nobody had paid for.
  std::uint64_t reservations_dropped = 0;
  std::uint64_t campaigns_archived = 0;  // ids archived (never taken again), replayed ones too
  // Archived campaigns whose memory waits for every worker to pass a quiescent point.
  std::uint64_t campaigns_retiring = 0;
  // Archived campaigns whose archive the log has not acknowledged: each still holds its place in
  // campaigns_max (a crash before the log has it brings the campaign back).
  std::uint64_t campaigns_archiving = 0;
  std::uint64_t count(Operation operation, Outcome outcome) const noexcept {
    return decisions[static_cast<std::size_t>(operation)][static_cast<std::size_t>(outcome)];
  }
};

// Per-campaign memory, known when the campaign is created (bytes for its fixed tables).
struct CampaignFootprint {
  std::size_t bytes = 0;
  std::uint32_t users_max = 0;   // distinct users the ledger can hold
  std::uint32_t orders_max = 0;  // orders the order table can hold
};

// Where a campaign's units are (ARCHITECTURE.md invariant 6, "the books close"). Counted per
// worker and summed when read: exact when no decision runs concurrently (then
// stock - remaining - in_doubt == claimed + held + confirmed), a snapshot otherwise.
struct CampaignBooks {
  std::uint32_t stock = 0;      // in play: a top-up joins once the log has it
  std::uint32_t stock_max = 0;  // what the campaign's tables were sized for
  std::uint32_t remaining = 0;  // as CampaignView::remaining
  std::int64_t claimed = 0;     // coupons granted and not in doubt
  std::int64_t held = 0;        // units of reserved orders not in doubt (until they expire)
  std::int64_t confirmed = 0;   // units of confirmed orders
  std::int64_t in_doubt = 0;    // units of claims and reservations marked in doubt
  std::int64_t redeemed = 0;    // coupons redeemed and not restored (of the claimed)
  std::int64_t restored = 0;    // restores decided (since the log began, once replayed)
};

// A history recovery cannot accept: what is wrong, with the campaign and the event named.
struct ReplayError {
  std::string message;
};

class Engine final : public LogReports {
 public:
  Engine(EngineOptions options, EventSink& sink);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Control plane: any thread, serialised by the engine's control mutex; events are appended
  // with WorkerId{workers}. GetCampaign takes no lock. Reads without a WorkerId (GetCampaign,
  // GetClaim, GetCoupon, GetOrder) run on a worker's thread, between two of its ExpireDue calls
  // (an archived campaign is freed only after every worker's next one), or on a thread that
  // never overlaps an ArchiveCampaign.
  Decision<CampaignView> CreateCampaign(const CampaignSpec& spec, TimePoint now);
  Decision<CampaignView> CloseCampaign(const CampaignId& id, TimePoint now);
  // While paused, claims and orders inside the window answer kPaused; reads, confirms, cancels
  // and expiry go on. kOk with the campaign (no event) if it is in that state already. The event
  // is appended again until the log has it, so the change stands once answered kOk.
  Decision<CampaignView> PauseCampaign(const CampaignId& id, TimePoint now);
  Decision<CampaignView> ResumeCampaign(const CampaignId& id, TimePoint now);
  // PATCH: tops up or takes back stock, moves ends_at, renames. kInvalid for an empty change, an
  // empty name, an ends_at not after starts_at or a stock below 1; kCapacity (with the campaign)
  // past spec.stock_max, which sized its tables; kConflict (with it) for a take-back of more
  // units than are free. Units taken back leave at once; units added join the stock once the log
  // has the change (at once without a durable log), so nothing is sold on a top-up a crash could
  // lose. Appended again until the log has it, so the change stands once answered kOk.
  Decision<CampaignView> ChangeCampaign(const CampaignId& id, const CampaignChange& change,
                                        TimePoint now);
  // DELETE: archives an ended campaign that holds nothing in play (no live reservation, nothing
  // in doubt or waiting for the log). It leaves the table at once (every read answers
  // kNotFound, its id is never taken again, its place in campaigns_max is free once the log
  // has the archive, so recovery always has room for what it brings back); its memory is
  // freed once every worker has passed a quiescent point (ExpireDue), which this call waits for,
  // up to options.archive_wait per step (what is left is freed by a later control call).
  // kNotFound; kConflict (with the campaign) if it has not ended or holds units in play;
  // kPending if the workers did not pass a quiescent point in time (nothing changed; retry);
  // kLogUnavailable. Appended again until the log has it, so it stands once answered kOk.
  Decision<CampaignView> ArchiveCampaign(const CampaignId& id, TimePoint now);
  Decision<CampaignView> GetCampaign(const CampaignId& id, TimePoint now) const;
  std::vector<CampaignView> ListCampaigns(TimePoint now) const;
  std::optional<CampaignFootprint> Footprint(const CampaignId& id) const;
  // Any thread; takes the control mutex (for metrics); nullopt for an unknown campaign.
  std::optional<CampaignBooks> Books(const CampaignId& id) const;

  // Coupons: at most one claim per user. The duplicate check and the stock decrement are one
  // decision: a duplicate or rejected request never takes a unit. Any worker thread, with its
  // own WorkerId. Once the campaign is sold out, a user without a claim hears kSoldOut after a
  // hash and one filter load, before the ledger is read; a holder retrying without a key
  // still hears kAlreadyClaimed with its claim. A claim in doubt (MarkInDoubt) answers kInDoubt,
  // with the claim, to a retry with its key, to its user claiming again and to GetClaim; an
  // unacknowledged one (await_acknowledgement) answers kPending to the same three. GetClaim:
  // any thread.
  Decision<Claim> ClaimCoupon(WorkerId worker, const CampaignId& campaign, const UserId& user,
                              const std::optional<IdempotencyKey>& key, TimePoint now);
  Decision<Claim> GetClaim(const CampaignId& campaign, const UserId& user) const;

  // A claimed coupon by its code, if `user` holds it (the engine keeps a keyed fingerprint of
  // each user, not the id, so the caller names the user). kNotFound for a code that is not the
  // user's claim, or not a code. Any thread.
  Decision<Claim> GetCoupon(std::string_view code, const UserId& user) const;
  // Redeem: the user's issued coupon becomes redeemed on `order`: kOk. Again with the same
  // order: kOk and no event; with another: kAlreadyRedeemed with the coupon. Past expires_at:
  // kExpired. Restore: a coupon redeemed on `order` is issued again: kOk; again with the same
  // order: kOk and no event; not redeemed on it: kConflict with the coupon. Of two racing
  // changes of one coupon exactly one wins (one CAS). A claim not final yet (unacknowledged or
  // in doubt) answers kPending. The event is appended again until the log has it, so the
  // change stands once answered. Any worker thread with its own WorkerId; paused or ended
  // campaigns redeem and restore as live ones; during an archive attempt both answer kPending
  // and change nothing, while GetCoupon still reads.
  Decision<Claim> RedeemCoupon(WorkerId worker, std::string_view code, const UserId& user,
                               const OrderRef& order, TimePoint now);
  Decision<Claim> RestoreCoupon(WorkerId worker, std::string_view code, const UserId& user,
                                const OrderRef& order, TimePoint now);

  // Sale orders: reserve `quantity` units at once, up to per_user_limit over the user's
  // reserved and confirmed orders. A reservation not confirmed by expires_at expires: at or
  // after it, confirm and cancel expire the order (kConflict) and GetOrder reads kExpired.
  // Confirming a confirmed order or cancelling a cancelled one answers kOk and logs nothing.
  // A reservation in doubt answers kInDoubt to a retry with its key, to confirm and to cancel,
  // and does not expire until it is settled; GetOrder shows it as reserved. An order whose last
  // move (reserved, confirmed, cancelled) is unacknowledged (await_acknowledgement) answers
  // kPending to a retry of the reservation's key, to confirm, to cancel and to GetOrder, and an
  // unacknowledged reservation does not expire until Acknowledge. Confirm and cancel of an
  // order whose campaign is in an archive attempt (ArchiveCampaign, which then finds it in play
  // and refuses) answer kPending and change nothing; GetOrder still reads it.
  // Any worker thread with its own WorkerId; a status moves by compare-and-swap, so racing
  // confirm, cancel and expiry have exactly one winner. GetOrder: any thread.
  Decision<Order> PlaceOrder(WorkerId worker, const CampaignId& campaign, const UserId& user,
                             std::int64_t quantity, const std::optional<IdempotencyKey>& key,
                             TimePoint now);
  Decision<Order> ConfirmOrder(WorkerId worker, OrderId id, const UserId& user, TimePoint now);
  // A cancel outside `scope` (a confirmed order, for kReservation) answers kConflict with the
  // order as it is.
  Decision<Order> CancelOrder(WorkerId worker, OrderId id, const UserId& user, TimePoint now,
                              CancelScope scope = CancelScope::kReservationOrRefund);
  Decision<Order> GetOrder(OrderId id, TimePoint now) const;

  // Expires the reservations due at `now` that belong to `worker`'s share of the timer
  // structure (the orders it placed), returning their units to stock. Only `worker`'s own
  // thread may call it: the wheel is that worker's alone. An expiry the log refuses is retried
  // on the next call.
  // Returns how many orders expired.
  std::size_t ExpireDue(WorkerId worker, TimePoint now);

  // The one entry of the log's reports (LogReports): persisted -> Acknowledge; an event
  // appended until persisted (AppendedUntilPersisted) and not persisted -> kAppendAgain; not
  // persisted -> Revert; possibly persisted -> MarkInDoubt and kSettle. Any thread (the log's
  // poll thread). The three below are its parts, public for the tests of each.
  Next Report(const Event& event, Durability durability) noexcept override;

  // The durable log persisted `event`: its decision, unacknowledged since it was appended
  // (await_acknowledgement), becomes final and visible. Acts on claim_granted, order_reserved,
  // order_confirmed, order_cancelled and order_expired (the last two return the order's units
  // to stock now); anything else, or a decision that is not unacknowledged (ticket 0,
  // acknowledged already), is a no-op. Call it for every persisted event. Call it before the
  // decision's waiter hears, so a client that got its 201 and reads or retries sees the final
  // state. Any thread (the log's poll thread); like MarkInDoubt it waits for the deciding worker to
  // publish a claim or reservation, since a report can come before that.
  void Acknowledge(const Event& event);

  // The durable log did not persist `event` (and says so for certain): undo its decision.
  // Undone: campaign created (the campaign is withdrawn: unknown to every call, id still
  // taken), campaign closed, claim granted, order reserved, order confirmed. Events that
  // returned units (cancelled, expired, voided) are not undone, since the units may be sold
  // again already: the caller appends such an event again. An unacknowledged decision is undone
  // as an acknowledged one is. Any thread.
  void Revert(const Event& event);

  // In doubt (docs/durability.md): the log reported `event` (claim_granted or order_reserved,
  // as appended; other types are ignored) as possibly persisted. Its units stay taken and move
  // from `claimed`/`held` to `in_doubt` in the books, and the decision answers kInDoubt until
  // it is settled. Call it once per event, instead of Revert; it waits for the deciding worker
  // to publish the decision (a few instructions after its Append returned). A reservation
  // already confirmed, cancelled or expired is not marked. An unacknowledged order_confirmed
  // reported possibly persisted stands, final (as with await_acknowledgement off): a confirm
  // cannot be undone and nothing settles it yet (docs/durability.md).
  void MarkInDoubt(const Event& event);
  // Settles a decision marked in doubt. The call sequence:
  //   persisted == true: the mark is cleared and the decision is final. Answers nullopt.
  //   persisted == false: answers the void event (claim_voided / order_voided) and changes
  //     nothing yet: the units stay taken. The caller appends the void and, only once the log
  //     acknowledged it as persisted, calls ApplyVoid(void event), which restocks. A void that
  //     ends in doubt or not persisted is appended again; the units stay taken meanwhile, so
  //     restocking is never visible before the void is in the log.
  // Answers nullopt, and changes nothing, if `event` is not marked in doubt (never marked, or
  // settled already). The void is sequenced by the control plane (its seq names
  // WorkerId{workers}) and dated `event.at`: the engine reads no clock.
  std::optional<Event> SettleInDoubt(const Event& event, bool persisted);
  // Applies a logged void (claim_voided / order_voided): the claim or order is dropped and its
  // units go back to stock. Idempotent: a void of a decision that is not held (applied
  // already, or never made) is a no-op. Apply calls it for voids found in the log.
  void ApplyVoid(const Event& void_event);
  // Threading of these (and Acknowledge): any thread (the log's poll thread), concurrently with
  // workers. The mark is a compare-and-swap on the claim's ledger state or the order's status
  // (acq_rel), the same words the workers' own moves compare-and-swap, so a mark, a settle, a void
  // and a confirm/cancel/expiry of one decision have one winner in their modification order;
  // restocking is the stock's seq_cst Give, as for a cancel. Book counters are relaxed
  // fetch_adds on a row of their own (Stats and Books are snapshots).

  // Recovery: rebuild state from the MySQL snapshot's rows (as the events that made them, in
  // any order the table returns them) and then the Kafka tail in log order: Apply each, then
  // FinishRecovery once, before serving, on one thread. Orders are folded order-independently
  // and take their units only in FinishRecovery (docs/durability.md, "Histories recovery
  // accepts"). Either answers a ReplayError, naming the campaign and the event, for a history
  // no live engine can have made (a user granted twice, confirmed orders over the stock, a
  // spec this server refuses); the caller must then not serve from this engine. An order move
  // or a void that finds nothing to act on (its reservation or grant is not in the log, its slot
  // was reused, or it was applied already), or any event of a campaign whose creation is not in
  // the log (only --ack memory can log one), is a no-op counted in EngineStats::orphan_events:
  // the durable path can log those (engine/README.md, "Unacknowledged decisions").
  [[nodiscard]] std::optional<ReplayError> Apply(const Event& event);
  [[nodiscard]] std::optional<ReplayError> FinishRecovery();

  // Sums the per-worker counters; any thread, any time (relaxed reads: a snapshot).
  EngineStats Stats() const;

  // Text forms of server-made ids, for the API, built inline (a reply allocates nothing for
  // them); Parse* answer nullopt for anything the engine could not have made.
  static IdText ClaimIdText(ClaimId id) noexcept;
  static IdText OrderIdText(OrderId id) noexcept;
  static std::optional<ClaimId> ParseClaimId(std::string_view text);
  static std::optional<OrderId> ParseOrderId(std::string_view text);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotdeal::engine
