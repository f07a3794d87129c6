// The `hotdeal` binary's configuration: the fields its command-line flags set. Every flag has an
// environment twin HOTDEAL_<NAME> (dashes become underscores); a flag beats its twin, the twin
// beats the default. Parsing and --help live in flags.cc; nothing else reads the environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "hotdeal/base/log.h"
#include "hotdeal/engine/engine.h"
#include "hotdeal/gateway/server.h"
#include "hotdeal/persistence/options.h"

namespace hotdeal::app {

enum class LogMode { kKafka, kNone };

// The lines serve and persist write to stderr (hotdeal/base/log.h).
struct LogConfig {
  base::LogFormat format = base::LogFormat::kText;
  base::LogLevel level = base::LogLevel::kInfo;
};

// `hotdeal persist`: the writer alone, with its own /metrics.
struct PersistConfig {
  persistence::Options store;  // --campaigns-max: whose books are exported, the newest
  LogConfig logging;
  std::string metrics_host;        // empty: no /metrics served
  std::uint16_t metrics_port = 0;  // 0: any free port (said on stderr)
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

// Each flag is bound straight to the field of the component's options it sets (cli.cc), so a
// new knob is written in its component and bound once. A value several components need is
// held by one of them and copied to the others by ShareSettings, nowhere else.
struct ServeConfig {
  ServeConfig() { gateway.listen_port = 8080; }

  gateway::GatewayOptions gateway;  // --threads lives here: one event loop per worker
  engine::EngineOptions engine;     // --campaigns-max, --stock-max, --memory-budget-mb too
  persistence::Options store;       // Kafka, MySQL, the persister
  std::chrono::milliseconds shutdown_grace{5'000};  // drain bound on SIGINT/SIGTERM

  LogMode log = LogMode::kKafka;
  bool persister = true;                 // run the Kafka-to-MySQL writer inside `serve`
  std::string data_dir = "var/hotdeal";  // the owner lock file lives here
  LogConfig logging;
};

// Copies the settings one flag gives several components from the one that holds it: the
// engine's workers and the log's from --threads, the gateway's campaign limits and the
// persister's campaigns from the engine's, and whether the engine waits for the log's reports
// (only durable acks on Kafka: --ack memory answers from memory, so its retries and reads must
// not wait either; docs/durability.md).
void ShareSettings(ServeConfig& config);

}  // namespace hotdeal::app
