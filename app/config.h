// The `hotdeal` binary's configuration: one field per command-line flag. Every flag has an
// environment twin HOTDEAL_<NAME> (dashes become underscores); a flag beats its twin, the twin
// beats the default. Parsing and --help live in flags.cc; nothing else reads the environment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hotdeal/base/log.h"

namespace hotdeal::app {

enum class LogMode { kKafka, kNone };
enum class AckMode { kDurable, kMemory };

// Where the durable log and the MySQL tables live: shared by `serve` and `persist`.
struct StoreConfig {
  std::string kafka_brokers = "127.0.0.1:19092";
  std::string kafka_topic = "hotdeal.events";
  std::string mysql_host = "127.0.0.1";
  std::uint16_t mysql_port = 13306;
  std::string mysql_user = "hotdeal";
  std::string mysql_password = "hotdeal";
  std::string mysql_database = "hotdeal";
};

// The lines serve and persist write to stderr (hotdeal/base/log.h).
struct LogConfig {
  base::LogFormat format = base::LogFormat::kText;
  base::LogLevel level = base::LogLevel::kInfo;
};

// `hotdeal persist`: the writer alone, with its own /metrics.
struct PersistConfig {
  StoreConfig store;
  LogConfig logging;
  std::string metrics_host;            // empty: no /metrics served
  std::uint16_t metrics_port = 0;      // 0: any free port (said on stderr)
  std::uint32_t campaigns_max = 1024;  // campaigns whose books are exported, the newest
};

// `hotdeal token`: mints a user token as a shop's login server would.
struct TokenConfig {
  std::string user_token_key;
  std::string user;
  std::uint32_t ttl_seconds = 3600;
  // --users-file: a CSV `user_id,token` of `users` ids <user_prefix>1 .. <user_prefix>N, for
  // load tools (bench/flash-crowd, JMeter's CSV Data Set) that send per-user tokens.
  std::string users_file;
  std::uint32_t users = 1000;
  std::string user_prefix = "u-";
};

struct ServeConfig {
  // Network.
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::uint32_t threads = 1;  // one io_context, one acceptor, one engine worker each
  std::uint32_t connections_max = 10'000;
  std::uint32_t connections_per_address_max = 0;  // 0: off
  std::uint32_t body_bytes_max = 16 * 1024;
  std::uint32_t header_bytes_max = 8 * 1024;
  std::uint32_t idle_timeout_ms = 30'000;     // keep-alive connection with no request
  std::uint32_t request_timeout_ms = 10'000;  // from first byte to a whole request
  std::uint32_t shutdown_grace_ms = 5'000;    // drain bound on SIGINT/SIGTERM

  // Access.
  std::string admin_token;     // empty: admin routes always answer 401
  std::string service_token;   // empty: confirm and refunds always answer 401
  std::string user_token_key;  // empty: user routes need no token; else >= 32 bytes
  // JWTs from the shop's identity provider (gateway JwtOptions).
  std::string jwt_hs256_key;
  std::string jwt_public_keys_file;
  std::uint32_t jwt_leeway_seconds = 30;
  std::string jwt_audience;
  std::string jwt_issuer;
  // Rate limits (gateway/README.md, "Limits"): tokens per second (0: off) and burst.
  std::uint32_t user_rate_per_second = 10;
  std::uint32_t user_rate_burst = 20;
  std::uint32_t ip_rate_per_second = 0;
  std::uint32_t ip_rate_burst = 100;
  std::uint32_t rate_limit_slots = 1 << 18;
  std::vector<std::string> trusted_proxies;     // CIDRs whose X-Forwarded-For is believed
  std::vector<std::string> cors_allow_origins;  // browser origins given CORS headers

  // Engine.
  std::uint32_t campaigns_max = 1024;
  std::uint32_t stock_max = 10'000'000;  // per campaign
  std::uint32_t memory_budget_mb = 0;    // all campaigns' tables together; 0: no budget
  // --ack durable: a request reaching an unacknowledged decision waits this long for Kafka.
  std::uint32_t pending_wait_ms = 2'000;
  std::uint32_t ack_wait_ms = 5'000;  // and a decision's own reply, before 503 pending
  // Event streams: one read of each watched campaign per worker this often; keep-alives.
  std::uint32_t stream_interval_ms = 250;
  std::uint32_t stream_keepalive_ms = 15'000;
  std::uint32_t idempotency_window_seconds = 600;

  // Durable log and write-behind.
  LogMode log = LogMode::kKafka;
  AckMode ack = AckMode::kDurable;
  bool persister = true;  // run the Kafka-to-MySQL writer inside `serve`
  StoreConfig store;
  std::string data_dir = "var/hotdeal";  // the owner lock file lives here
  LogConfig logging;
};

}  // namespace hotdeal::app
