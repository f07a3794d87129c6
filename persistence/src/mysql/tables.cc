// Tables: the column lists (one per table, in each enum's order), and the event <-> row mapping.
#include "mysql/tables.h"

#include <array>
#include <span>

#include "hotdeal/engine/names.h"

namespace hotdeal::persistence::mysql {
namespace {

using engine::EventType;

constexpr std::array<std::string_view, 29> kCampaignColumns = {
    "id",           "campaign_index", "kind",
    "name",         "stock",          "per_user_limit",
    "starts_at_us", "ends_at_us",     "price",
    "hold_seconds", "created_at_us",  "created_seq",
    "closed_at_us", "closed_seq",     "id_key_0",
    "id_key_1",     "paused",         "pause_seq",
    "pause_at_us",  "discount",       "discount_value",
    "min_spend",    "valid_seconds",  "valid_until_us",
    "stock_max",    "change_seq",     "changed_at_us",
    "archived_seq", "archived_at_us"};
static_assert(kCampaignColumns.size() == static_cast<std::size_t>(CampaignColumn::kArchivedAt) + 1);
constexpr std::array<std::string_view, 11> kClaimColumns = {
    "claim_id",        "campaign_id", "user_id",   "coupon_code", "created_at_us", "seq",
    "idempotency_key", "redeemed",    "use_count", "order_ref",   "used_at_us"};
static_assert(kClaimColumns.size() == static_cast<std::size_t>(ClaimColumn::kUsedAt) + 1);
constexpr std::array<std::string_view, 12> kOrderColumns = {
    "order_id",      "campaign_id", "user_id", "quantity",     "amount",     "created_at_us",
    "expires_at_us", "seq",         "status",  "status_at_us", "status_seq", "idempotency_key"};
static_assert(kOrderColumns.size() == static_cast<std::size_t>(OrderColumn::kKey) + 1);

std::string ColumnList(std::span<const std::string_view> columns) {
  std::string list;
  for (std::string_view c : columns)
    (list += list.empty() ? "" : ", ") += c;
  return list;
}
TableStatements Statements(std::string_view table, std::span<const std::string_view> columns) {
  const std::string list = ColumnList(columns);
  return {"SELECT " + list + " FROM " + std::string(table),
          "INSERT INTO " + std::string(table) + " (" + list + ") VALUES "};
}

template <class Id, class Column>
Id ReadId(const Row& row, Column c, bool& bad) {
  auto id = Id::Parse(row.Text(c));
  if (!id) {
    bad = true;
    return Id{};
  }
  return *id;
}

// The error for a row that did not read back: the table, the first bad column, the key.
template <std::size_t N>
base::Status Checked(const Row& row, bool bad_text, std::string_view table,
                     const std::array<std::string_view, N>& columns) {
  if (!bad_text && !row.bad_column()) return {};
  const std::string column =
      row.bad_column() ? std::string(columns[*row.bad_column()]) : std::string("an id");
  return base::Status::Error("bad " + column + " in MySQL's " + std::string(table) + " row " +
                             std::string(row.Text(0)));
}

// A nullable idempotency_key column: NULL means the client sent no key.
template <class Column>
std::optional<engine::IdempotencyKey> ReadKey(const Row& row, Column c, bool& bad) {
  if (row.IsNull(c)) return std::nullopt;
  return ReadId<engine::IdempotencyKey>(row, c, bad);
}

// A nullable microseconds column: NULL is no time (a campaign that never ends, ...).
template <class Column>
std::optional<engine::TimePoint> ReadTime(const Row& row, Column c) {
  if (row.IsNull(c)) return std::nullopt;
  return FromMicros(row.Number<std::int64_t>(c));
}
void KeyValue(Sql& sql, const engine::Event& e) {
  // Keys were validated by the decoder ([A-Za-z0-9_-]{1,64}).
  if (e.idempotency_key) {
    sql.Trusted(e.idempotency_key->view());
  } else {
    sql.Null();
  }
}

}  // namespace

void TimeValue(Sql& sql, const std::optional<engine::TimePoint>& time) {
  if (time) {
    sql.Value(Micros(*time));
  } else {
    sql.Null();
  }
}

const TableStatements& Campaigns() {
  static const TableStatements statements = Statements("campaigns", kCampaignColumns);
  return statements;
}
const TableStatements& Claims() {
  static const TableStatements statements = Statements("claims", kClaimColumns);
  return statements;
}
const TableStatements& Orders() {
  static const TableStatements statements = Statements("orders", kOrderColumns);
  return statements;
}

base::Status Read(const Row& row, CampaignRow& out) {
  using C = CampaignColumn;
  bool bad = false;
  out.spec.id = ReadId<engine::CampaignId>(row, C::kId, bad);
  out.campaign_index = row.Number<std::uint32_t>(C::kIndex);
  const std::optional<engine::CampaignKind> kind = engine::ParseCampaignKind(row.Text(C::kKind));
  bad |= !kind;
  out.spec.kind = kind.value_or(engine::CampaignKind::kCoupon);
  out.spec.name = row.Text(C::kName);
  out.spec.stock = row.Number<std::uint32_t>(C::kStock);
  out.spec.per_user_limit = row.Number<std::uint32_t>(C::kPerUserLimit);
  out.spec.starts_at = FromMicros(row.Number<std::int64_t>(C::kStartsAt));
  out.spec.ends_at = ReadTime(row, C::kEndsAt);
  out.spec.price = row.Number<std::int64_t>(C::kPrice);
  out.spec.hold_seconds = row.Number<std::uint32_t>(C::kHoldSeconds);
  out.created_at = FromMicros(row.Number<std::int64_t>(C::kCreatedAt));
  out.created_seq = row.Number<std::uint64_t>(C::kCreatedSeq);
  out.closed_at = ReadTime(row, C::kClosedAt);
  if (out.closed_at) out.closed_seq = row.Number<std::uint64_t>(C::kClosedSeq);
  out.id_key = {row.Number<std::uint64_t>(C::kIdKey0), row.Number<std::uint64_t>(C::kIdKey1)};
  out.paused = row.Number<std::uint32_t>(C::kPaused) != 0;
  out.pause_seq = row.Number<std::uint64_t>(C::kPauseSeq);
  out.pause_at = ReadTime(row, C::kPauseAt).value_or(engine::TimePoint{});
  engine::CouponTerms& terms = out.spec.terms;
  const std::optional<engine::DiscountKind> discount =
      engine::ParseDiscountKind(row.Text(C::kDiscount));
  bad |= !discount;
  terms.discount = discount.value_or(engine::DiscountKind::kNone);
  terms.discount_value = row.Number<std::int64_t>(C::kDiscountValue);
  terms.min_spend = row.Number<std::int64_t>(C::kMinSpend);
  terms.valid_seconds = row.Number<std::uint32_t>(C::kValidSeconds);
  terms.valid_until = ReadTime(row, C::kValidUntil);
  out.spec.stock_max = row.Number<std::uint32_t>(C::kStockMax);
  out.change_seq = row.Number<std::uint64_t>(C::kChangeSeq);
  out.changed_at = ReadTime(row, C::kChangedAt).value_or(engine::TimePoint{});
  if (!row.IsNull(C::kArchivedSeq)) {
    out.archived_seq = row.Number<std::uint64_t>(C::kArchivedSeq);
    out.archived_at = ReadTime(row, C::kArchivedAt).value_or(engine::TimePoint{});
  }
  return Checked(row, bad, "campaigns", kCampaignColumns);
}

base::Status Read(const Row& row, ClaimRow& out) {
  using C = ClaimColumn;
  bool bad = false;
  out.claim_id.value = row.Number<std::uint64_t>(C::kClaimId);
  out.campaign = ReadId<engine::CampaignId>(row, C::kCampaign, bad);
  out.user = ReadId<engine::UserId>(row, C::kUser, bad);
  const std::optional<engine::CouponCode> code =
      engine::CouponCode::OfLength(row.Text(C::kCouponCode));
  bad |= !code;
  out.coupon_code = code.value_or(engine::CouponCode{});
  out.created_at = FromMicros(row.Number<std::int64_t>(C::kCreatedAt));
  out.seq = row.Number<std::uint64_t>(C::kSeq);
  out.idempotency_key = ReadKey(row, C::kKey, bad);
  out.redeemed = row.Number<std::uint32_t>(C::kRedeemed) != 0;
  out.use = row.Number<std::uint32_t>(C::kUseCount);
  if (out.use != 0) {
    out.order_ref = ReadId<engine::OrderRef>(row, C::kOrderRef, bad);
    out.used_at = ReadTime(row, C::kUsedAt).value_or(engine::TimePoint{});
  }
  return Checked(row, bad, "claims", kClaimColumns);
}

base::Status Read(const Row& row, OrderRow& out) {
  using C = OrderColumn;
  bool bad = false;
  out.order_id.value = row.Number<std::uint64_t>(C::kOrderId);
  out.campaign = ReadId<engine::CampaignId>(row, C::kCampaign, bad);
  out.user = ReadId<engine::UserId>(row, C::kUser, bad);
  out.quantity = row.Number<std::uint32_t>(C::kQuantity);
  out.amount = row.Number<std::int64_t>(C::kAmount);
  out.created_at = FromMicros(row.Number<std::int64_t>(C::kCreatedAt));
  out.expires_at = FromMicros(row.Number<std::int64_t>(C::kExpiresAt));
  out.seq = row.Number<std::uint64_t>(C::kSeq);
  // Only the persister writes this column; anything else is a corrupt snapshot.
  const std::optional<engine::OrderStatus> status = engine::ParseOrderStatus(row.Text(C::kStatus));
  bad |= !status;
  out.status = status.value_or(engine::OrderStatus::kReserved);
  out.status_at = FromMicros(row.Number<std::int64_t>(C::kStatusAt));
  out.status_seq = row.Number<std::uint64_t>(C::kStatusSeq);
  out.idempotency_key = ReadKey(row, C::kKey, bad);
  return Checked(row, bad, "orders", kOrderColumns);
}

void CampaignValues(Sql& sql, const engine::Event& e) {
  const engine::CampaignSpec& s = e.spec;
  sql << "(";
  sql.Value(e.campaign.view()) << ", ";
  sql.Value(e.campaign_index) << ", ";
  sql.Trusted(engine::Name(s.kind)) << ", ";
  sql.Value(std::string_view(s.name)) << ", ";
  sql.Value(s.stock) << ", ";
  sql.Value(s.per_user_limit) << ", ";
  sql.Value(Micros(s.starts_at)) << ", ";
  TimeValue(sql, s.ends_at);
  sql << ", ";
  sql.Value(s.price) << ", ";
  sql.Value(s.hold_seconds) << ", ";
  sql.Value(Micros(e.at)) << ", ";
  sql.Value(e.seq) << ", NULL, NULL, ";  // open: closed_at_us, closed_seq
  sql.Value(e.id_key[0]) << ", ";
  sql.Value(e.id_key[1]) << ", 0, 0, NULL, ";  // never paused: paused, pause_seq, pause_at_us
  sql.Trusted(engine::Name(s.terms.discount)) << ", ";
  sql.Value(s.terms.discount_value) << ", ";
  sql.Value(s.terms.min_spend) << ", ";
  sql.Value(s.terms.valid_seconds) << ", ";
  TimeValue(sql, s.terms.valid_until);
  sql << ", ";
  // Never changed: change_seq, changed_at_us; not archived: archived_seq, archived_at_us.
  sql.Value(s.stock_max) << ", 0, NULL, NULL, NULL)";
}

void ClaimValues(Sql& sql, const engine::Event& e) {
  // Ids and coupon codes were validated by the decoder ([A-Za-z0-9_-], base32).
  sql << "(";
  sql.Value(e.claim_id.value) << ",";
  sql.Trusted(e.campaign.view()) << ",";
  sql.Trusted(e.user.view()) << ",";
  sql.Trusted(e.coupon_code.view()) << ",";
  sql.Value(Micros(e.at)) << ",";
  sql.Value(e.seq) << ",";
  KeyValue(sql, e);
  sql << ",0,0,NULL,NULL)";  // never used: redeemed, use_count, order_ref, used_at_us
}

void OrderValues(Sql& sql, const engine::Event& e, const engine::Event& latest) {
  sql << "(";
  sql.Value(e.order_id.value) << ",";
  sql.Trusted(e.campaign.view()) << ",";
  sql.Trusted(e.user.view()) << ",";
  sql.Value(e.quantity) << ",";
  sql.Value(e.amount) << ",";
  sql.Value(Micros(e.at)) << ",";
  sql.Value(Micros(e.expires_at)) << ",";
  sql.Value(e.seq) << ",";
  sql.Trusted(OrderStatusOf(latest.type)) << ",";
  sql.Value(Micros(latest.at)) << ",";
  sql.Value(latest.seq) << ",";
  KeyValue(sql, e);
  sql << ")";
}

std::string_view OrderStatusOf(EventType type) noexcept {
  switch (type) {
    case EventType::kOrderConfirmed:
      return engine::Name(engine::OrderStatus::kConfirmed);
    case EventType::kOrderCancelled:
      return engine::Name(engine::OrderStatus::kCancelled);
    case EventType::kOrderExpired:
      return engine::Name(engine::OrderStatus::kExpired);
    default:
      return engine::Name(engine::OrderStatus::kReserved);
  }
}

std::string OrderMoveStatement(EventType move) {
  // A cancel refunds a confirmed order too; a confirm or an expiry moves only a reservation.
  const std::string_view from =
      move == EventType::kOrderCancelled ? "('reserved', 'confirmed')" : "('reserved')";
  return "UPDATE orders SET status = '" + std::string(OrderStatusOf(move)) +
         "', status_at_us = ?, status_seq = ? WHERE order_id = ? AND status IN " +
         std::string(from);
}

base::Result<std::vector<OffsetRow>> ReadOffsets(Connection& db, std::string_view topic) {
  Sql sql(db);
  sql << "SELECT `partition`, next_offset, epoch_max FROM consumer_offsets WHERE topic = ";
  sql.Value(topic);
  base::Result<ResultSet> rows = db.Query(sql.str());
  if (!rows.ok()) return rows.status();
  std::vector<OffsetRow> offsets;
  enum class Column { kPartition, kNextOffset, kEpochMax };
  while (std::optional<Row> r = rows->Next()) {
    const auto partition = r->Number<std::int32_t>(Column::kPartition);
    const OffsetRow o{r->Number<std::int64_t>(Column::kNextOffset),
                      r->Number<std::uint64_t>(Column::kEpochMax)};
    if (r->bad_column())
      return base::Status::Error("bad consumer_offsets row in MySQL for topic " +
                                 std::string(topic));
    if (partition < 0) continue;
    if (static_cast<std::size_t>(partition) >= offsets.size()) offsets.resize(partition + 1);
    offsets[partition] = o;
  }
  return offsets;
}

std::string_view InsertOffsets() noexcept {
  return "INSERT INTO consumer_offsets (topic, `partition`, next_offset, epoch_max) VALUES ";
}
std::string_view InsertOffsetsUpdate() noexcept {
  return " ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset), "
         "epoch_max = VALUES(epoch_max)";
}

}  // namespace hotdeal::persistence::mysql
