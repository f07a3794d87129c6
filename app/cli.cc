// Subcommands and the serve flags; see cli.h.
#include "cli.h"

#include <charconv>
#include <chrono>
#include <fstream>
#include <limits>
#include <ostream>
#include <string>
#include <thread>

#include "hotdeal/engine/types.h"
#include "hotdeal/gateway/user_token.h"

namespace hotdeal::app {
namespace {

constexpr std::string_view kUsage =
    "hotdeal: a flash-sale and first-come coupon engine.\n"
    "\n"
    "Usage: hotdeal <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  serve    run the HTTP gateway, the engine and the durable log\n"
    "  persist  run only the Kafka-to-MySQL writer, until SIGINT or SIGTERM\n"
    "  token    print a user token (--user-token-key, --user, --ttl), as a login server would,\n"
    "           or a CSV of many (--users-file, --users) for load tools\n"
    "  version  print the version\n"
    "  help     print this text; 'hotdeal <command> --help' lists a command's flags\n";

// HOST:PORT, with the host a name or an IPv4 address ([v6]:port also accepted).
std::optional<std::string> SetHostPort(std::string_view text, std::string& host_out,
                                       std::uint16_t& port_out) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "must be HOST:PORT";
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
      host.empty()) {
    return "must be HOST:PORT with PORT from 0 to 65535";
  }
  host_out = std::string(host);
  port_out = static_cast<std::uint16_t>(port);
  return std::nullopt;
}

// A secret flag and its `-file` twin; --help shows only whether it is set.
void AddSecretFlag(FlagSet& flags, const std::string& name, std::string help,
                   const FlagSet::Setter& set, const std::string& field) {
  flags.AddCustom(
      name, std::move(help), set,
      [&field] { return field.empty() ? std::string() : std::string("<set>"); }, /*secret=*/true);
  flags.AddSecretFile(name, set);
}

// A secret taken as it is.
void AddSecretFlag(FlagSet& flags, const std::string& name, std::string help, std::string& field) {
  AddSecretFlag(
      flags, name, std::move(help),
      [&field](std::string_view text) -> std::optional<std::string> {
        field = std::string(text);
        return std::nullopt;
      },
      field);
}

// The key flag of `serve` and `token`: refused when too short, never echoed by --help.
void AddUserTokenKeyFlag(FlagSet& flags, std::string& key) {
  AddSecretFlag(
      flags, "user-token-key",
      "HMAC-SHA256 key of user tokens, at least 32 bytes (empty: user routes need no token)",
      [&key](std::string_view text) -> std::optional<std::string> {
        std::string error;
        if (!text.empty() && !gateway::UserTokenKey::Make(text, error)) return error;
        key = std::string(text);
        return std::nullopt;
      },
      key);
}

// A comma-separated list flag ("a,b"); an empty value is the empty list.
void AddListFlag(FlagSet& flags, std::string name, std::string help,
                 std::vector<std::string>& field) {
  flags.AddCustom(
      std::move(name), std::move(help),
      [&field](std::string_view text) -> std::optional<std::string> {
        field.clear();
        while (!text.empty()) {
          std::string_view item = text.substr(0, text.find(','));
          if (item.empty()) return "must be a comma-separated list without empty items";
          field.emplace_back(item);
          text.remove_prefix(std::min(text.size(), item.size() + 1));
        }
        return std::nullopt;
      },
      [&field] {
        std::string text;
        for (const std::string& item : field)
          text += (text.empty() ? "" : ",") + item;
        return text;
      });
}

int MintToken(const TokenConfig& config, std::ostream& out, std::ostream& err) {
  std::string error;
  std::optional<gateway::UserTokenKey> key =
      gateway::UserTokenKey::Make(config.user_token_key, error);
  if (!key) {
    err << "hotdeal token: --user-token-key: " << error << "\n";
    return kExitUsage;
  }
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::int64_t expiry =
      std::chrono::duration_cast<std::chrono::seconds>(now).count() + config.ttl_seconds;
  if (!config.users_file.empty()) {
    // The longest id must still be an id: prefix plus the digits of `users`.
    if (!engine::UserId::Parse(config.user_prefix + std::to_string(config.users))) {
      err << "hotdeal token: --user-prefix plus the user number must match [A-Za-z0-9_-]{1,64}\n";
      return kExitUsage;
    }
    std::ofstream csv(config.users_file, std::ios::trunc);
    csv << "user_id,token\n";
    for (std::uint32_t i = 1; i <= config.users; ++i) {
      std::string user = config.user_prefix + std::to_string(i);
      csv << user << ',' << key->Mint(user, expiry) << '\n';
    }
    if (!csv.flush()) {
      err << "hotdeal token: cannot write " << config.users_file << "\n";
      return 1;
    }
    out << "hotdeal token: " << config.users << " users' tokens in " << config.users_file << "\n";
    return 0;
  }
  if (!engine::UserId::Parse(config.user)) {
    err << "hotdeal token: --user must match [A-Za-z0-9_-]{1,64}\n";
    return kExitUsage;
  }
  out << key->Mint(config.user, expiry) << "\n";
  return 0;
}

// --help, or the flags and their twins into the bound config and then `run`.
int ParseAndRun(FlagSet& flags, const std::vector<std::string_view>& args,
                const std::function<const char*(const char*)>& getenv, std::ostream& out,
                std::ostream& err, const std::function<int()>& run) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    out << flags.Help();
    return 0;
  }
  if (auto error = flags.Parse(args, getenv)) {
    err << "hotdeal " << flags.command() << ": " << *error << "\n(see 'hotdeal " << flags.command()
        << " --help')\n";
    return kExitUsage;
  }
  return run();
}

}  // namespace

void ShareSettings(ServeConfig& config) {
  config.engine.workers = config.gateway.threads;
  config.store.workers = config.gateway.threads;
  config.gateway.campaign_limits = {config.engine.stock_max, config.engine.campaigns_max,
                                    config.engine.memory_budget_bytes};
  config.store.campaigns_max = config.engine.campaigns_max;
  config.engine.await_acknowledgement =
      config.log == LogMode::kKafka && config.gateway.ack == gateway::AckMode::kDurable;
}

void BindServeFlags(FlagSet& flags, ServeConfig& config) {
  constexpr std::uint32_t kMany = 1'000'000'000;
  gateway::GatewayOptions& gateway = config.gateway;
  engine::EngineOptions& engine = config.engine;
  flags.AddCustom(
      "listen", "address and port to serve HTTP on",
      [&gateway](std::string_view text) {
        return SetHostPort(text, gateway.listen_host, gateway.listen_port);
      },
      [&gateway] { return gateway.listen_host + ":" + std::to_string(gateway.listen_port); });
  flags.Add("threads", "worker threads: one event loop, acceptor and engine worker each",
            &gateway.threads, 1, std::max(1u, 4 * std::thread::hardware_concurrency()));
  flags.Add("connections-max", "open connections at most; more are refused",
            &gateway.connections_max, 1, kMany);
  flags.Add("connections-per-address-max",
            "open connections per client address (trusted proxies exempt) before more are served "
            "only /healthz and /readyz (0: off)",
            &gateway.connections_per_address_max, 0, kMany);
  flags.Add("body-bytes-max", "largest request body; larger answers 413", &gateway.body_bytes_max,
            64, 1 << 24);
  flags.Add("header-bytes-max", "largest request header; larger answers 413",
            &gateway.header_bytes_max, 512, 1 << 20);
  flags.Add("idle-timeout-ms", "close a keep-alive connection idle this long",
            &gateway.idle_timeout, 1, kMany);
  flags.Add("request-timeout-ms", "a request must arrive whole within this",
            &gateway.request_timeout, 1, kMany);
  flags.Add("shutdown-grace-ms", "on SIGINT/SIGTERM, wait this long for in-flight requests",
            &config.shutdown_grace, 0, kMany);
  AddSecretFlag(flags, "admin-token", "bearer token for admin routes; empty refuses them all",
                gateway.admin_token);
  AddSecretFlag(flags, "service-token",
                "bearer token of the shop's own backend (payment, checkout): confirms, refunds, "
                "reads any order or claim; empty refuses confirms and refunds",
                gateway.service_token);
  AddUserTokenKeyFlag(flags, gateway.user_token_key);
  AddSecretFlag(flags, "jwt-hs256-key",
                "shared key of HS256 JWT user tokens, at least 32 bytes (empty: no HS256)",
                gateway.jwt.hs256_key);
  flags.Add("jwt-public-keys-file",
            "RS256/ES256 public keys of JWT user tokens: a PEM file, or a JWKS file (keys by kid)",
            &gateway.jwt.public_keys_file);
  flags.Add("jwt-leeway-seconds", "clock skew allowed on a JWT's exp and nbf", &gateway.jwt.leeway,
            0, 3600);
  flags.Add("jwt-audience", "a JWT's aud must hold this (empty: a JWT must carry no aud)",
            &gateway.jwt.audience);
  flags.Add("jwt-issuer", "a JWT's iss must be this (empty: not checked)", &gateway.jwt.issuer);
  constexpr std::uint32_t kRateMax = 1'000'000;
  flags.Add("user-rate-per-second",
            "per user id on claims, orders, confirm, cancel: requests a second (0: off)",
            &gateway.user_rate_limit.per_second, 0, kRateMax);
  flags.Add("user-rate-burst", "per user id: requests allowed at once before the rate applies",
            &gateway.user_rate_limit.burst, 1, kRateMax);
  flags.Add("ip-rate-per-second",
            "per client address on every route but health, ready, metrics (0: off)",
            &gateway.ip_rate_limit.per_second, 0, kRateMax);
  flags.Add("ip-rate-burst", "per client address: requests allowed at once",
            &gateway.ip_rate_limit.burst, 1, kRateMax);
  flags.Add("rate-limit-slots",
            "buckets per enabled rate limit, 8 bytes each (rounded up to a power of two)",
            &gateway.rate_limit_slots, 8, 1 << 26);
  AddListFlag(flags, "trusted-proxies",
              "CIDRs of the load balancers in front, whose X-Forwarded-For names the client for "
              "the per-address limit (e.g. 10.0.0.0/8,::1); others' is ignored",
              gateway.trusted_proxies);
  AddListFlag(flags, "cors-allow-origin",
              "browser origins (https://shop.example,...) allowed to call the public and user "
              "routes (CORS); empty: no CORS headers",
              gateway.cors_allow_origins);
  flags.Add("campaigns-max", "campaigns the engine can hold", &engine.campaigns_max, 1, 1 << 20);
  flags.Add("stock-max", "largest stock of one campaign; a larger one answers 409 capacity",
            &engine.stock_max, 1, std::numeric_limits<std::uint32_t>::max() / 2);
  flags.AddNumber(
      "memory-budget-mb",
      "MiB the fixed tables of all campaigns may take together; a creation past it answers 409 "
      "capacity (0: no budget)",
      0, kMany,
      [&engine](std::uint32_t mib) { engine.memory_budget_bytes = std::uint64_t{mib} << 20; },
      [&engine] { return engine.memory_budget_bytes >> 20; });
  flags.Add("pending-wait-ms",
            "with --ack durable: how long a request that reached a decision Kafka has not "
            "answered yet (a double click, a keyed retry) waits for it before 503 (0: no wait)",
            &gateway.pending_wait_max, 0, 60'000);
  flags.Add("ack-wait-ms",
            "with --ack durable: how long a decision's reply waits for Kafka before 503 pending "
            "(the decision stands or falls as Kafka later says; 0: no bound)",
            &gateway.ack_wait_max, 0, 600'000);
  flags.Add("stream-interval-ms",
            "how often event streams (GET /v1/campaigns/{id}/stream) are told what changed",
            &gateway.stream_interval, 10, 10'000);
  flags.Add("stream-keepalive-ms", "a quiet event stream gets a keep-alive comment this often",
            &gateway.stream_keepalive, 100, 600'000);
  flags.Add("idempotency-window-seconds", "how long an Idempotency-Key is remembered",
            &engine.idempotency_window, 1, 7 * 24 * 3600);
  flags.AddChoice("log", "durable log: kafka, or none (no durability; benchmarks, HTTP tests)",
                  &config.log, {{"kafka", LogMode::kKafka}, {"none", LogMode::kNone}});
  flags.AddChoice("ack", "answer after Kafka persisted the event, or at once from memory",
                  &gateway.ack,
                  {{"durable", gateway::AckMode::kDurable}, {"memory", gateway::AckMode::kMemory}});
  flags.Add("persister", "run the Kafka-to-MySQL writer inside serve", &config.persister);
  flags.Add("data-dir", "folder for the owner lock and local state", &config.data_dir);
  BindStoreFlags(flags, config.store);
  BindLogFlags(flags, config.logging);
}

void BindLogFlags(FlagSet& flags, LogConfig& config) {
  flags.AddChoice("log-format", "stderr lines as text, or one JSON object a line for log shippers",
                  &config.format,
                  {{"text", base::LogFormat::kText}, {"json", base::LogFormat::kJson}});
  flags.AddChoice("log-level", "the least severe stderr line written", &config.level,
                  {{"debug", base::LogLevel::kDebug},
                   {"info", base::LogLevel::kInfo},
                   {"warn", base::LogLevel::kWarn},
                   {"error", base::LogLevel::kError}});
}

void BindStoreFlags(FlagSet& flags, persistence::Options& config) {
  flags.Add("kafka-brokers", "bootstrap brokers, host:port[,host:port]", &config.kafka_brokers);
  flags.Add("kafka-topic", "topic of the event log", &config.kafka_topic);
  flags.Add("mysql-host", "MySQL/MariaDB host", &config.mysql_host);
  flags.Add("mysql-port", "MySQL/MariaDB port", &config.mysql_port);
  flags.Add("mysql-user", "MySQL/MariaDB user", &config.mysql_user);
  AddSecretFlag(flags, "mysql-password", "MySQL/MariaDB password", config.mysql_password);
  flags.Add("mysql-database", "MySQL/MariaDB database", &config.mysql_database);
}

int RunCli(const std::vector<std::string_view>& args,
           const std::function<const char*(const char*)>& getenv, std::ostream& out,
           std::ostream& err, const Commands& commands) {
  if (args.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  std::string_view command = args[0];
  std::vector<std::string_view> rest(args.begin() + 1, args.end());
  if (command == "help" || command == "--help" || command == "-h") {
    out << kUsage;
    return 0;
  }
  if (command == "version" || command == "--version") {
    out << "hotdeal " << HOTDEAL_VERSION << "\n";
    return 0;
  }
  if (command == "serve") {
    ServeConfig config;
    FlagSet flags("serve");
    BindServeFlags(flags, config);
    return ParseAndRun(flags, rest, getenv, out, err, [&] {
      ShareSettings(config);
      return commands.serve(config);
    });
  }
  if (command == "persist") {
    PersistConfig config;
    FlagSet flags("persist");
    BindStoreFlags(flags, config.store);
    BindLogFlags(flags, config.logging);
    flags.Add("campaigns-max",
              "campaigns whose books (units in MySQL and in the log) are exported, the newest; "
              "as serve's",
              &config.store.campaigns_max, 1, 1 << 20);
    flags.AddCustom(
        "metrics-listen", "address and port to serve /metrics on (empty: none)",
        [&config](std::string_view text) -> std::optional<std::string> {
          if (text.empty()) {
            config.metrics_host.clear();
            return std::nullopt;
          }
          return SetHostPort(text, config.metrics_host, config.metrics_port);
        },
        [&config] {
          return config.metrics_host.empty()
                     ? std::string()
                     : config.metrics_host + ":" + std::to_string(config.metrics_port);
        });
    return ParseAndRun(flags, rest, getenv, out, err, [&] { return commands.persist(config); });
  }
  if (command == "token") {
    TokenConfig config;
    FlagSet flags("token");
    AddUserTokenKeyFlag(flags, config.user_token_key);
    flags.Add("user", "the user id the token proves", &config.user);
    flags.Add("ttl", "seconds the token stays valid", &config.ttl_seconds, 1, 366 * 24 * 3600);
    flags.Add("users-file",
              "instead of one token: write a CSV 'user_id,token' (with that header line) for "
              "users <user-prefix>1 .. <user-prefix>N",
              &config.users_file);
    flags.Add("users", "how many users --users-file holds", &config.users, 1, 10'000'000);
    flags.Add("user-prefix", "user ids of --users-file are this prefix and a number",
              &config.user_prefix);
    return ParseAndRun(flags, rest, getenv, out, err, [&] { return MintToken(config, out, err); });
  }
  err << "hotdeal: unknown command '" << command << "'\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace hotdeal::app
