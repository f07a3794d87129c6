// After the sale, the order flow's audit: each order the tool was told of is read back
// (GET /v1/orders/{id}) and held against what it was told, no user keeps more units than the
// sale's limit, no more units are confirmed than the stock, and the engine's books for the sale
// (from /metrics) close and agree with what the tool saw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit.h"
#include "flash_sale.h"
#include "load_loop.h"
#include "options.h"

namespace hotdeal::bench {

struct OrderAuditResult {
  int64_t read = 0;
  int64_t not_read = 0;  // the time cap came first, or every read answered 503
  int64_t mismatches = 0;
  int64_t errors = 0;           // a GET that failed or answered neither 200 nor 404
  int64_t forgotten = 0;        // 404 for an order that ended (its place reused): allowed
  int64_t confirmed_units = 0;  // the server's, over the orders read
  int64_t reserved_units = 0;
  int64_t users_over_limit = 0;
  std::string first_mismatch;
};

OrderAuditResult AuditOrders(LoadLoop& loop, const Options& options, const SalePlan& plan,
                             const std::vector<OrderSeen>& orders, int64_t deadline_ns);

// The engine's units of one campaign, as /metrics shows them.
struct SaleBooks {
  int64_t stock = -1;
  int64_t remaining = -1;
  int64_t held = -1;
  int64_t confirmed = -1;
  int64_t in_doubt = -1;
};

// Reads the sale's books from GET /metrics until they close (stock == remaining + held +
// confirmed, nothing in doubt, and with --expire-wait nothing held) or `wait_ns` passed:
// units of a cancel return once the log has it. nullopt if /metrics could not be read.
std::optional<SaleBooks> ReadSaleBooks(const Endpoint& endpoint, const std::string& campaign,
                                       bool expect_no_holds, int64_t wait_ns);

std::vector<Check> CheckOrders(const Options& options, const OrderStats& counts,
                               const OrderAuditResult& audit,
                               const std::optional<SaleBooks>& books);

}  // namespace hotdeal::bench
