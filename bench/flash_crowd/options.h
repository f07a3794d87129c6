// flash_crowd's command line: every flag, its default, its bounds and its help text in one
// table, so --help cannot drift from what is parsed. Bounds are part of the tool's limits:
// every run has a fixed maximum of users, connections, requests and time.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "flash_sale.h"

namespace hotdeal::bench {

enum class AuditMode { kNone, kSample, kFull };
// What the users do: claim a coupon, reserve units of a sale, or each one or the other.
enum class Flow { kClaims, kOrders, kBoth };

struct Options {
  std::string server = "127.0.0.1:8080";
  int64_t users = 200'000;
  int64_t stock = 10'000;
  int64_t connections = 64;
  int64_t threads = 1;
  int64_t ramp_ms = 1000;
  Arrival arrival = Arrival::kUniform;
  double repeat_percent = 5;
  int64_t repeat_gap_ms = 300;
  int64_t retries = 3;
  int64_t backoff_ms = 50;
  std::string admin_token;
  std::string campaign;
  int64_t lead_ms = 1000;
  int64_t timeout_s = 60;
  int64_t request_timeout_ms = 5000;
  int64_t requests_max = 2'000'000;
  AuditMode audit = AuditMode::kSample;
  int64_t audit_sample = 2000;
  std::string json_path;
  int64_t seed = 1;
  int64_t streams = 0;  // event streams of the campaign held open through the sale
  // The order flow (--flow orders|both): a sale campaign of sale_stock units; each reserved
  // order is confirmed by the service (confirm_percent), cancelled by its user
  // (cancel_percent) or abandoned until its hold expires.
  Flow flow = Flow::kClaims;
  int64_t sale_percent = 50;  // --flow both: share of users who order
  int64_t sale_stock = 0;     // 0: --stock
  int64_t quantity = 1;
  int64_t per_user_limit = 1;
  int64_t confirm_percent = 60;
  int64_t cancel_percent = 20;
  int64_t pay_ms = 50;  // a reserved order is confirmed or cancelled 0..pay_ms later
  int64_t hold_seconds = 600;
  bool expire_wait = false;  // audit after every hold ended
  std::string service_token;
  std::string users_file;  // CSV user_id,token from `hotdeal token --users-file`
  bool allow_remote = false;
  bool help = false;
};

// Parses args (without the program name). On a bad flag, writes why to `error` and returns
// nullopt.
std::optional<Options> ParseOptions(const std::vector<std::string>& args, std::string& error);
void PrintHelp(std::ostream& out);

// The server address, resolved. `error` says why not (bad form, not loopback without
// --allow-remote, unknown host).
struct Endpoint {
  sockaddr_storage address{};
  socklen_t address_size = 0;
  std::string host_header;
};
std::optional<Endpoint> ResolveServer(const std::string& server, bool allow_remote,
                                      std::string& error);

}  // namespace hotdeal::bench
