// Flag table, parsing with bounds, and the loopback rule for the target.
#include "options.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <ostream>

namespace hotdeal::bench {
namespace {

struct Flag {
  const char* name;
  const char* value_name;  // nullptr: a switch without a value
  const char* help;
  std::function<bool(Options&, const std::string&)> set;
};

std::function<bool(Options&, const std::string&)> Integer(int64_t Options::*field, int64_t low,
                                                          int64_t high) {
  return [=](Options& options, const std::string& text) {
    int64_t value = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
    if (parsed.ec != std::errc{} || parsed.ptr != text.data() + text.size() || value < low ||
        value > high) {
      return false;
    }
    options.*field = value;
    return true;
  };
}

std::function<bool(Options&, const std::string&)> Text(std::string Options::*field) {
  return [=](Options& options, const std::string& text) {
    options.*field = text;
    return !text.empty();
  };
}

// Ids given by clients match [A-Za-z0-9_-]{1,64} (API.md).
bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const std::vector<Flag>& Flags() {
  static const std::vector<Flag> flags = {
      {"--server", "HOST:PORT", "server to play the sale against (default 127.0.0.1:8080)",
       Text(&Options::server)},
      {"--users", "N", "distinct users pressing claim, 1..10000000 (default 200000)",
       Integer(&Options::users, 1, 10'000'000)},
      {"--stock", "S", "coupons in the campaign, 1..100000000 (default 10000)",
       Integer(&Options::stock, 1, 100'000'000)},
      {"--connections", "C", "keep-alive connections, 1..4096 (default 64)",
       Integer(&Options::connections, 1, 4096)},
      {"--threads", "T", "load threads, each with C/T connections, 1..64 (default 1)",
       Integer(&Options::threads, 1, 64)},
      {"--ramp-ms", "MS", "all users press within MS of the opening, 0..600000 (default 1000)",
       Integer(&Options::ramp_ms, 0, 600'000)},
      {"--arrival", "KIND",
       "uniform (evenly spaced), poisson (random, same mean rate) or burst (all at the "
       "opening) (default uniform)",
       [](Options& options, const std::string& text) {
         if (text == "uniform")
           options.arrival = Arrival::kUniform;
         else if (text == "poisson")
           options.arrival = Arrival::kPoisson;
         else if (text == "burst")
           options.arrival = Arrival::kBurst;
         else
           return false;
         return true;
       }},
      {"--repeat-percent", "P", "percent of users who press twice, 0..100 (default 5)",
       [](Options& options, const std::string& text) {
         char* end = nullptr;
         const double value = std::strtod(text.c_str(), &end);
         if (end != text.c_str() + text.size() || !(value >= 0 && value <= 100)) return false;
         options.repeat_percent = value;
         return true;
       }},
      {"--repeat-gap-ms", "MS",
       "a second press comes 10 ms to MS after the first, 10..10000 (default 300)",
       Integer(&Options::repeat_gap_ms, 10, 10'000)},
      {"--retries", "R",
       "retries of a press after a connection error, 503 or 429, same Idempotency-Key, "
       "after the answer's Retry-After if it has one, else the back-off, 0..10 (default 3)",
       Integer(&Options::retries, 0, 10)},
      {"--backoff-ms", "MS", "first retry back-off, doubled per retry, +-50% jitter (default 50)",
       Integer(&Options::backoff_ms, 1, 10'000)},
      {"--admin-token", "T",
       "create the campaign with this admin token (without it, --campaign must exist)",
       Text(&Options::admin_token)},
      {"--campaign", "ID", "campaign id (default fc-<unix time>-<pid>)", Text(&Options::campaign)},
      {"--lead-ms", "MS",
       "a created campaign opens MS after now, rounded up to a whole second (default 1000)",
       Integer(&Options::lead_ms, 0, 600'000)},
      {"--timeout-s", "S",
       "hard cap on the whole run's wall time; the sale gets the first 3/4, the "
       "audit the rest, 1..3600 (default 60)",
       Integer(&Options::timeout_s, 1, 3600)},
      {"--request-timeout-ms", "MS", "an answer later than this is a failure (default 5000)",
       Integer(&Options::request_timeout_ms, 1, 600'000)},
      {"--max-requests", "N", "hard cap on claim requests sent (default 2000000)",
       Integer(&Options::requests_max, 1, 100'000'000)},
      {"--audit", "MODE",
       "after the sale, GET the claim of: every user told of a claim plus --audit-sample "
       "others (sample), every user (full), nobody (none) (default sample)",
       [](Options& options, const std::string& text) {
         if (text == "sample")
           options.audit = AuditMode::kSample;
         else if (text == "full")
           options.audit = AuditMode::kFull;
         else if (text == "none")
           options.audit = AuditMode::kNone;
         else
           return false;
         return true;
       }},
      {"--audit-sample", "K", "users without a claim to check in sample mode (default 2000)",
       Integer(&Options::audit_sample, 0, 10'000'000)},
      {"--streams", "N",
       "hold N event streams (GET /v1/campaigns/{id}/stream) open through the sale and "
       "report when the last heard sold_out; all open before the opening (raise --lead-ms), "
       "0..1000000 (default 0)",
       Integer(&Options::streams, 0, 1'000'000)},
      {"--flow", "KIND",
       "claims (coupon claims), orders (sale reservations, then confirm, cancel or abandon) "
       "or both (--sale-percent of users order, the rest claim) (default claims)",
       [](Options& options, const std::string& text) {
         if (text == "claims")
           options.flow = Flow::kClaims;
         else if (text == "orders")
           options.flow = Flow::kOrders;
         else if (text == "both")
           options.flow = Flow::kBoth;
         else
           return false;
         return true;
       }},
      {"--sale-percent", "P", "--flow both: percent of users who order, 0..100 (default 50)",
       Integer(&Options::sale_percent, 0, 100)},
      {"--sale-stock", "S", "units of the sale campaign, 1..100000000 (default --stock)",
       Integer(&Options::sale_stock, 1, 100'000'000)},
      {"--quantity", "Q", "units per order, 1..1000 (default 1)",
       Integer(&Options::quantity, 1, 1000)},
      {"--per-user-limit", "L", "the sale's per_user_limit, 1..1000000 (default 1)",
       Integer(&Options::per_user_limit, 1, 1'000'000)},
      {"--confirm-percent", "P", "reserved orders the service confirms, 0..100 (default 60)",
       Integer(&Options::confirm_percent, 0, 100)},
      {"--cancel-percent", "P",
       "reserved orders their user cancels, 0..100 (default 20); the rest are abandoned",
       Integer(&Options::cancel_percent, 0, 100)},
      {"--pay-ms", "MS", "a confirm or cancel follows its reservation 0..MS later (default 50)",
       Integer(&Options::pay_ms, 0, 60'000)},
      {"--hold-seconds", "S", "the sale's hold_seconds, 1..86400 (default 600)",
       Integer(&Options::hold_seconds, 1, 86'400)},
      {"--expire-wait", nullptr,
       "after the sale, wait until every hold expired, then audit that only confirmed units "
       "stay taken (the wait counts against the audit's quarter of --timeout-s)",
       [](Options& options, const std::string&) {
         options.expire_wait = true;
         return true;
       }},
      {"--service-token", "T",
       "bearer token of confirms (the server's --service-token); without it confirms carry "
       "the user's token",
       Text(&Options::service_token)},
      {"--users-file", "CSV",
       "users and their tokens, 'user_id,token' with a header line (hotdeal token "
       "--users-file); user i is row i, sent as Authorization: Bearer on the user's requests",
       Text(&Options::users_file)},
      {"--json", "FILE", "also write the report as JSON to FILE", Text(&Options::json_path)},
      {"--seed", "N", "seed for arrivals, repeats, jitter and the audit sample (default 1)",
       Integer(&Options::seed, 0, INT64_MAX)},
      {"--allow-remote", nullptr, "allow a non-loopback server (loopback is the rule)",
       [](Options& options, const std::string&) {
         options.allow_remote = true;
         return true;
       }},
      {"--help", nullptr, "this text",
       [](Options& options, const std::string&) {
         options.help = true;
         return true;
       }},
  };
  return flags;
}

}  // namespace

std::optional<Options> ParseOptions(const std::vector<std::string>& args, std::string& error) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (const auto equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    }
    if (name == "-h") name = "--help";
    const Flag* flag = nullptr;
    for (const Flag& candidate : Flags()) {
      if (name == candidate.name) flag = &candidate;
    }
    if (flag == nullptr) {
      error = "unknown flag '" + args[i] + "' (see --help)";
      return std::nullopt;
    }
    if (flag->value_name != nullptr && !value) {
      if (i + 1 == args.size()) {
        error = name + " needs a value";
        return std::nullopt;
      }
      value = args[++i];
    }
    if (!flag->set(options, value.value_or(""))) {
      error = "bad value '" + value.value_or("") + "' for " + name;
      return std::nullopt;
    }
  }
  if (!options.campaign.empty() && !ValidId(options.campaign)) {
    error = "--campaign must match [A-Za-z0-9_-]{1,64}";
    return std::nullopt;
  }
  if (options.confirm_percent + options.cancel_percent > 100) {
    error = "--confirm-percent plus --cancel-percent must not exceed 100";
    return std::nullopt;
  }
  if (options.flow != Flow::kClaims && options.admin_token.empty()) {
    error = "--flow orders|both creates its sale campaign: it needs --admin-token";
    return std::nullopt;
  }
  if (options.sale_stock == 0) options.sale_stock = options.stock;
  if (options.threads > options.connections) {
    error = "--threads must not exceed --connections";
    return std::nullopt;
  }
  return options;
}

void PrintHelp(std::ostream& out) {
  out << "flash_crowd: plays a flash sale against a hotdeal server and audits the result.\n"
         "N users press claim on a coupon campaign of S units within a ramp after it opens\n"
         "(open loop: latency counts from each request's intended send time), some press\n"
         "twice, failed presses retry; then every answer is checked against the server.\n"
         "--flow orders|both: users reserve units of a sale instead (or half and half), which\n"
         "the service confirms, the user cancels or nobody does (the hold expires).\n"
         "Exit 0 only if every audit passes; 1 if one fails or the run could not be made;\n"
         "2 on bad usage.\n\nFlags (--flag VALUE or --flag=VALUE):\n";
  for (const Flag& flag : Flags()) {
    std::string left = std::string("  ") + flag.name;
    if (flag.value_name != nullptr) left += std::string(" ") + flag.value_name;
    left.resize(std::max<std::size_t>(left.size() + 1, 28), ' ');
    out << left << flag.help << '\n';
  }
}

std::optional<Endpoint> ResolveServer(const std::string& server, bool allow_remote,
                                      std::string& error) {
  const std::size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == server.size()) {
    error = "--server must be HOST:PORT";
    return std::nullopt;
  }
  std::string host = server.substr(0, colon);
  const std::string port = server.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int status = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); status != 0) {
    error = "cannot resolve " + server + ": " + gai_strerror(status);
    return std::nullopt;
  }
  Endpoint endpoint;
  std::memcpy(&endpoint.address, found->ai_addr, found->ai_addrlen);
  endpoint.address_size = found->ai_addrlen;
  freeaddrinfo(found);
  bool loopback = false;
  if (endpoint.address.ss_family == AF_INET) {
    const auto* ipv4 = reinterpret_cast<const sockaddr_in*>(&endpoint.address);
    loopback = (ntohl(ipv4->sin_addr.s_addr) >> 24) == 127;
  } else if (endpoint.address.ss_family == AF_INET6) {
    const auto* ipv6 = reinterpret_cast<const sockaddr_in6*>(&endpoint.address);
    loopback = IN6_IS_ADDR_LOOPBACK(&ipv6->sin6_addr);
  }
  if (!loopback && !allow_remote) {
    error = server + " is not a loopback address; pass --allow-remote to load it anyway";
    return std::nullopt;
  }
  endpoint.host_header = server;
  return endpoint;
}

}  // namespace hotdeal::bench
