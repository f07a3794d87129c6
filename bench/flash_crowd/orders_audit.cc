// The order flow's audit: per-order reads, the per-user limit, and the sale's books.
#include "orders_audit.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <thread>
#include <unordered_map>

#include "batch.h"
#include "clock.h"

namespace hotdeal::bench {
namespace {

Check Make(std::string name, bool pass, std::string detail) {
  return {std::move(name), pass ? Verdict::kPass : Verdict::kFail, std::move(detail)};
}

// Whether the server's status of an order fits what the tool was told; a 404 (`status`
// empty) fits only an order that ended, since an ended order's place may be reused.
bool Agrees(OrderTold told, std::string_view status, bool expire_wait) {
  const bool ended = status.empty() || status == "cancelled" || status == "expired";
  switch (told) {
    case OrderTold::kConfirmed:
      return status == "confirmed";
    case OrderTold::kCancelled:
      return status.empty() || status == "cancelled";
    case OrderTold::kReserved:
      // Abandoned (or its step not sent): held until its hold runs out.
      return expire_wait ? (status.empty() || status == "expired")
                         : (status == "reserved" || status == "expired" || status.empty());
    case OrderTold::kConflict:
      return ended;
    case OrderTold::kUnknown:
      return true;
  }
  return false;
}

// One whole HTTP/1.1 GET on a connection of its own, read to the server's close: /metrics is
// larger than the load loop's fixed answer buffer.
std::optional<std::string> FetchBody(const Endpoint& endpoint, std::string_view target) {
  const int fd = socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string data;
  bool ok =
      connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.address_size) == 0;
  const std::string request = "GET " + std::string(target) +
                              " HTTP/1.1\r\nHost: " + endpoint.host_header +
                              "\r\nConnection: close\r\n\r\n";
  ok = ok && send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(request.size());
  constexpr std::size_t kBytesMax = 64 << 20;
  char buffer[65536];
  while (ok && data.size() < kBytesMax) {
    const ssize_t got = recv(fd, buffer, sizeof buffer, 0);
    if (got < 0) ok = false;
    if (got <= 0) break;
    data.append(buffer, static_cast<std::size_t>(got));
  }
  close(fd);
  const std::size_t body = data.find("\r\n\r\n");
  if (!ok || !data.starts_with("HTTP/1.1 200") || body == std::string::npos) return std::nullopt;
  return data.substr(body + 4);
}

// The value of the sample `name{labels}` in a Prometheus text exposition, -1 if absent.
int64_t Sample(std::string_view text, std::string_view name, std::string_view labels) {
  const std::string head = std::string(name) + "{" + std::string(labels) + "} ";
  for (std::size_t at = text.find(head); at != std::string_view::npos;
       at = text.find(head, at + 1)) {
    if (at != 0 && text[at - 1] != '\n') continue;
    double value = 0;
    const char* start = text.data() + at + head.size();
    if (std::from_chars(start, text.data() + text.size(), value).ec != std::errc{}) return -1;
    return static_cast<int64_t>(value);
  }
  return -1;
}

}  // namespace

OrderAuditResult AuditOrders(LoadLoop& loop, const Options& options, const SalePlan& plan,
                             const std::vector<OrderSeen>& orders, int64_t deadline_ns) {
  OrderAuditResult result;
  std::unordered_map<int32_t, int64_t> live_units;  // per user: confirmed or still reserved
  std::vector<int32_t> unread(orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i)
    unread[i] = static_cast<int32_t>(i);
  std::vector<int32_t> busy;
  AnswerReader reader;
  auto mismatch = [&](const OrderSeen& order, const std::string& why) {
    ++result.mismatches;
    if (result.first_mismatch.empty()) result.first_mismatch = order.order_id + ": " + why;
  };
  auto read = [&](int index, char* out, std::size_t capacity) {
    const OrderSeen& order =
        orders[static_cast<std::size_t>(unread[static_cast<std::size_t>(index)])];
    std::array<char, 16> user_buffer;
    char target[256];
    BufferWriter path(target, sizeof target);
    // ?user_id= is what a server without user tokens needs; with them it must match the token.
    path.Append("/v1/orders/").Append(order.order_id).Append("?user_id=");
    path.Append(UserId(plan, order.user, user_buffer));
    if (!path.ok()) return std::size_t{0};
    return FormatRequest(out, capacity, "GET", path.view(), plan.host,
                         UserAuthorization(plan, order.user), {});
  };
  auto check = [&](int index, const ParsedResponse* response, std::optional<Failure> failure) {
    const int32_t which = unread[static_cast<std::size_t>(index)];
    const OrderSeen& order = orders[static_cast<std::size_t>(which)];
    if (!failure && response->status_code == 503) {
      busy.push_back(which);
      return;
    }
    ++result.read;
    ClaimFields fields;
    const bool found = !failure && response->status_code == 200 &&
                       reader.ReadClaim(response->body, fields) && !fields.status.empty();
    if (failure || (!found && response->status_code != 404)) {
      ++result.errors;
      mismatch(order, failure ? std::string(FailureName(*failure))
                              : "GET answered " + std::to_string(response->status_code));
      return;
    }
    if (!found) ++result.forgotten;
    if (!Agrees(order.told, fields.status, options.expire_wait)) {
      mismatch(order,
               "the server says " + (found ? std::string(fields.status) : std::string("404")) +
                   " after the tool was told " + std::to_string(static_cast<int>(order.told)));
    }
    if (fields.status == "confirmed") result.confirmed_units += plan.quantity;
    if (fields.status == "reserved") result.reserved_units += plan.quantity;
    if (fields.status == "confirmed" || fields.status == "reserved") {
      live_units[order.user] += plan.quantity;
    }
  };
  constexpr int kPassesMax = 5;
  for (int pass = 0; pass < kPassesMax && !unread.empty(); ++pass) {
    if (pass > 0) {
      if (SteadyNowNs() + kNsPerSecond >= deadline_ns) break;
      std::this_thread::sleep_for(std::chrono::seconds(1));  // the server's Retry-After: 1
    }
    BatchSource source(static_cast<int>(unread.size()), read, check);
    loop.Run(source, deadline_ns);
    unread.swap(busy);
    busy.clear();
  }
  result.not_read = static_cast<int64_t>(orders.size()) - result.read;
  for (const auto& [user, units] : live_units) {
    if (units > options.per_user_limit) ++result.users_over_limit;
  }
  return result;
}

std::optional<SaleBooks> ReadSaleBooks(const Endpoint& endpoint, const std::string& campaign,
                                       bool expect_no_holds, int64_t wait_ns) {
  const int64_t until_ns = SteadyNowNs() + wait_ns;
  const std::string of = "campaign=\"" + campaign + "\"";
  std::optional<SaleBooks> books;
  while (true) {
    const std::optional<std::string> text = FetchBody(endpoint, "/metrics");
    if (!text) return books;
    SaleBooks now;
    now.stock = Sample(*text, "hotdeal_campaign_stock", of);
    now.remaining = Sample(*text, "hotdeal_campaign_remaining", of);
    now.held = Sample(*text, "hotdeal_campaign_units", of + ",state=\"held\"");
    now.confirmed = Sample(*text, "hotdeal_campaign_units", of + ",state=\"confirmed\"");
    now.in_doubt = Sample(*text, "hotdeal_campaign_units", of + ",state=\"in_doubt\"");
    books = now;
    const bool closed = now.stock >= 0 && now.in_doubt == 0 && now.held >= 0 &&
                        now.stock == now.remaining + now.held + now.confirmed &&
                        (!expect_no_holds || now.held == 0);
    if (closed || SteadyNowNs() >= until_ns) return books;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::vector<Check> CheckOrders(const Options& options, const OrderStats& counts,
                               const OrderAuditResult& audit,
                               const std::optional<SaleBooks>& books) {
  std::vector<Check> checks;
  const int64_t told_confirmed = counts.confirmed * options.quantity;
  checks.push_back(Make("orders: answers as the API says (no error, every 201 an order)",
                        counts.other == 0 && counts.bad_answers == 0,
                        std::to_string(counts.reserved) + " reserved, " +
                            std::to_string(counts.other) + " other answers, " +
                            std::to_string(counts.bad_answers) + " malformed; " +
                            std::to_string(counts.unavailable) + " 503 and " +
                            std::to_string(counts.rate_limited) + " 429 retried"));
  checks.push_back(
      Make("orders: confirmed units <= sale stock " + std::to_string(options.sale_stock),
           told_confirmed <= options.sale_stock && audit.confirmed_units <= options.sale_stock,
           std::to_string(told_confirmed) + " told confirmed, " +
               std::to_string(audit.confirmed_units) + " confirmed on the server"));
  checks.push_back(Make("orders: no user holds more than per_user_limit " +
                            std::to_string(options.per_user_limit) + " units",
                        audit.users_over_limit == 0 && audit.not_read == 0,
                        std::to_string(audit.users_over_limit) + " users over it"));
  checks.push_back(Make(
      "orders: every order the tool was told of reads back as told",
      audit.mismatches == 0 && audit.errors == 0 && audit.not_read == 0,
      std::to_string(audit.read) + " read (" + std::to_string(audit.forgotten) +
          " ended and forgotten), " + std::to_string(audit.not_read) + " not read, " +
          std::to_string(audit.mismatches) + " mismatches, " + std::to_string(audit.errors) +
          " errors" + (audit.first_mismatch.empty() ? "" : "; first: " + audit.first_mismatch)));
  const std::string closes =
      options.expire_wait
          ? "orders: the sale's books close after every hold ended (stock == remaining + "
            "confirmed, nothing held or in doubt)"
          : "orders: the sale's books close (stock == remaining + held + confirmed, nothing in "
            "doubt)";
  if (!books) {
    checks.push_back({closes, Verdict::kFail, "GET /metrics could not be read"});
    return checks;
  }
  const std::string figures =
      "stock " + std::to_string(books->stock) + ", remaining " + std::to_string(books->remaining) +
      ", held " + std::to_string(books->held) + ", confirmed " + std::to_string(books->confirmed) +
      ", in doubt " + std::to_string(books->in_doubt);
  checks.push_back(Make(closes,
                        books->stock == options.sale_stock && books->in_doubt == 0 &&
                            books->stock == books->remaining + books->held + books->confirmed &&
                            (!options.expire_wait || books->held == 0),
                        figures));
  // Steps or reservations in doubt are whatever the server decided: the reads settle confirms,
  // and a reservation the tool never heard of can only be held until its hold ends.
  const bool exact = counts.steps_in_doubt == 0;
  const bool holds_known = counts.reserves_in_doubt == 0 || options.expire_wait;
  checks.push_back(Make(
      "orders: the server's confirmed and held units agree with what the tool saw",
      books->confirmed == audit.confirmed_units && (!exact || books->confirmed == told_confirmed) &&
          (!holds_known || books->held == audit.reserved_units),
      std::to_string(books->confirmed) + " confirmed, " + std::to_string(books->held) +
          " held on /metrics; read back " + std::to_string(audit.confirmed_units) + " and " +
          std::to_string(audit.reserved_units) + "; told " + std::to_string(told_confirmed) +
          " confirmed; in doubt: " + std::to_string(counts.reserves_in_doubt) + " reservations, " +
          std::to_string(counts.steps_in_doubt) + " confirms/cancels"));
  return checks;
}

}  // namespace hotdeal::bench
