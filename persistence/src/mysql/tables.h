// The tables' shape in code, written once: each table's columns (the migrations in
// persistence/migrations/ create them), how an event becomes a row and how a row is read back.
// The persister writes through it, recovery and the persister's books read through it, so a
// new column is added here and in a migration, nowhere else.
//
// Must never: read a column by a position it did not list, or write a row the decoder's
// validation did not vouch for (ids and codes go in unescaped: sql.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hotdeal/base/status.h"
#include "hotdeal/engine/event.h"
#include "hotdeal/persistence/snapshot.h"
#include "mysql/connection.h"
#include "mysql/sql.h"

namespace hotdeal::persistence::mysql {

// Times are stored as microseconds since the Unix epoch (the `_us` columns).
inline std::int64_t Micros(engine::TimePoint t) noexcept {
  return t.time_since_epoch().count();
}
inline engine::TimePoint FromMicros(std::int64_t micros) noexcept {
  return engine::TimePoint{std::chrono::microseconds{micros}};
}
// A nullable `_us` value: NULL for no time (a campaign that never ends, ...).
void TimeValue(Sql& sql, const std::optional<engine::TimePoint>& time);

enum class CampaignColumn {
  kId,
  kIndex,
  kKind,
  kName,
  kStock,
  kPerUserLimit,
  kStartsAt,
  kEndsAt,
  kPrice,
  kHoldSeconds,
  kCreatedAt,
  kCreatedSeq,
  kClosedAt,
  kClosedSeq,
  kIdKey0,
  kIdKey1,
  kPaused,
  kPauseSeq,
  kPauseAt,
  kDiscount,
  kDiscountValue,
  kMinSpend,
  kValidSeconds,
  kValidUntil,
  kStockMax,
  kChangeSeq,
  kChangedAt,
  kArchivedSeq,
  kArchivedAt,
};
enum class ClaimColumn {
  kClaimId,
  kCampaign,
  kUser,
  kCouponCode,
  kCreatedAt,
  kSeq,
  kKey,
  kRedeemed,
  kUseCount,
  kOrderRef,
  kUsedAt,
};
enum class OrderColumn {
  kOrderId,
  kCampaign,
  kUser,
  kQuantity,
  kAmount,
  kCreatedAt,
  kExpiresAt,
  kSeq,
  kStatus,
  kStatusAt,
  kStatusSeq,
  kKey,
};

// A table's two statements, built once from its column list.
struct TableStatements {
  // "SELECT <every column, in the enum's order> FROM <table>": the caller adds WHERE, ORDER BY.
  std::string select;
  // "INSERT INTO <table> (<every column>) VALUES ": the caller adds the rows' values.
  std::string insert;
};
const TableStatements& Campaigns();
const TableStatements& Claims();
const TableStatements& Orders();

// A row read back; an error names the table, the column and the row's key.
base::Status Read(const Row& row, CampaignRow& out);
base::Status Read(const Row& row, ClaimRow& out);
base::Status Read(const Row& row, OrderRow& out);

// Runs `select` (a table's, with the caller's WHERE / ORDER BY) and reads every row into `out`.
template <class RowT>
base::Status SelectRows(Connection& db, std::string_view select, std::vector<RowT>& out) {
  base::Result<ResultSet> rows = db.Query(select);
  if (!rows.ok()) return rows.status();
  while (std::optional<Row> row = rows->Next()) {
    if (base::Status s = Read(*row, out.emplace_back()); !s.ok()) return s;
  }
  return {};
}

// One row's "(...)" values, for the Insert* prefix: the campaign of a campaign_created (open),
// the claim of a claim_granted, an order from its reservation and its latest move.
void CampaignValues(Sql& sql, const engine::Event& created);
void ClaimValues(Sql& sql, const engine::Event& granted);
void OrderValues(Sql& sql, const engine::Event& reserved, const engine::Event& latest);

// The `orders.status` an order event leaves its row in.
std::string_view OrderStatusOf(engine::EventType type) noexcept;
// A prepared UPDATE moving one order row to the status of `move` (bound: the move's time and
// seq, then the order id), only from the statuses the engine's transitions allow.
std::string OrderMoveStatement(engine::EventType move);

// Where the persister stands in one partition (`consumer_offsets`).
struct OffsetRow {
  std::int64_t next_offset = -1;  // -1: nothing stored for the partition
  std::uint64_t epoch_max = 0;    // the highest owner epoch seen before next_offset
};
// Indexed by partition, up to the highest one stored.
base::Result<std::vector<OffsetRow>> ReadOffsets(Connection& db, std::string_view topic);
// "INSERT INTO consumer_offsets ... VALUES " and its upsert tail.
std::string_view InsertOffsets() noexcept;
std::string_view InsertOffsetsUpdate() noexcept;

}  // namespace hotdeal::persistence::mysql
