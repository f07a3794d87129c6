// The MySQL snapshot as plain rows, and the one function that turns them into the events that
// would have built them. Recovery (recovery.cc) parses MySQL rows into these structs; the
// deterministic simulation (tests/sim) builds them from its model of the tables, so both recover
// through the same code.
//
// Must never: read MySQL, Kafka or a clock. The rows arrive in whatever order the caller read
// them (recovery.cc asks MySQL for campaign, claim and order ids in ascending order).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/types.h"
#include "hotdeal/persistence/recovery.h"

namespace hotdeal::persistence {

// A row of `campaigns`: the creation, and the close if the campaign was closed early.
struct CampaignRow {
  engine::CampaignSpec spec;  // spec.id is the campaign id
  std::uint32_t campaign_index = 0;
  engine::TimePoint created_at{};
  std::uint64_t created_seq = 0;
  std::optional<engine::TimePoint> closed_at;  // NULL: open
  std::uint64_t closed_seq = 0;
  engine::IdKey id_key;  // the campaign's id tag key (0: created before ids were tagged)
  // The newest pause or resume: its state, seq (0: never paused) and time.
  bool paused = false;
  std::uint64_t pause_seq = 0;
  engine::TimePoint pause_at{};
  // The newest change (PATCH): its seq (0: never changed) and time. spec holds the name, stock
  // and ends_at it left, and stock_max (0: created before top-ups).
  std::uint64_t change_seq = 0;
  engine::TimePoint changed_at{};
  // The archive (DELETE): its seq and time; NULL: not archived.
  std::optional<std::uint64_t> archived_seq;
  engine::TimePoint archived_at{};
};

// A row of `claims`: a live grant (a voided one is deleted).
struct ClaimRow {
  engine::ClaimId claim_id;
  engine::CampaignId campaign;
  engine::UserId user;
  engine::CouponCode coupon_code;
  engine::TimePoint created_at{};
  std::uint64_t seq = 0;
  std::optional<engine::IdempotencyKey> idempotency_key;
  // Its newest redeem or restore (use 0: never used): coupon_redeemed or coupon_restored.
  bool redeemed = false;
  std::uint32_t use = 0;
  engine::OrderRef order_ref;
  engine::TimePoint used_at{};
};

// A row of `orders`: the reservation and its latest move (`status`, `status_at`, `status_seq`).
struct OrderRow {
  engine::OrderId order_id;
  engine::CampaignId campaign;
  engine::UserId user;
  std::uint32_t quantity = 0;
  std::int64_t amount = 0;
  engine::TimePoint created_at{};
  engine::TimePoint expires_at{};
  std::uint64_t seq = 0;
  engine::OrderStatus status = engine::OrderStatus::kReserved;
  engine::TimePoint status_at{};
  std::uint64_t status_seq = 0;
  std::optional<engine::IdempotencyKey> idempotency_key;
};

struct SnapshotRows {
  std::vector<CampaignRow> campaigns;
  std::vector<ClaimRow> claims;
  std::vector<OrderRow> orders;
};

// Applies the snapshot to a fresh engine (Engine::Apply: one thread, before any worker
// starts): every campaign's creation, each claim's grant, each order's reservation and then its
// latest move, and last the closes (the claims and orders were made while the campaign was
// open). Counts the rows in `report`. Stops at the first event the engine refuses, with its
// error: the caller must not serve from that engine. The caller applies the tail and calls
// Engine::FinishRecovery after.
[[nodiscard]] std::optional<engine::ReplayError> ApplySnapshot(engine::Engine& engine,
                                                               const SnapshotRows& rows,
                                                               RecoveryReport& report);

}  // namespace hotdeal::persistence
