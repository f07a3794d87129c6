// RunCli: subcommands, serve's and persist's flags and the exit codes scripts rely on.
#include "cli.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "hotdeal/gateway/user_token.h"

namespace hotdeal::app {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
  std::optional<ServeConfig> served;
  std::optional<PersistConfig> persisted;
};

CliRun RunHotdeal(std::vector<std::string_view> args, std::map<std::string, std::string> env = {}) {
  CliRun run;
  std::ostringstream out;
  std::ostringstream err;
  auto getenv = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  Commands commands{.serve =
                        [&run](const ServeConfig& config) {
                          run.served = config;
                          return 0;
                        },
                    .persist =
                        [&run](const PersistConfig& config) {
                          run.persisted = config;
                          return 0;
                        }};
  run.code = RunCli(args, getenv, out, err, commands);
  run.out = out.str();
  run.err = err.str();
  return run;
}

TEST(CliTest, NoCommandIsUsageError) {
  CliRun run = RunHotdeal({});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_NE(run.err.find("Usage"), std::string::npos);
}

TEST(CliTest, UnknownCommandIsUsageError) {
  CliRun run = RunHotdeal({"sell"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_NE(run.err.find("unknown command 'sell'"), std::string::npos);
}

TEST(CliTest, ServeHelpListsFlagsAndDoesNotServe) {
  CliRun run = RunHotdeal({"serve", "--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_FALSE(run.served.has_value());
  for (const char* flag : {"--listen", "--threads", "--admin-token", "--log", "--ack",
                           "--kafka-brokers", "--mysql-host", "HOTDEAL_MYSQL_PASSWORD"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  }
}

TEST(CliTest, ServeParsesFlagsAndTwins) {
  CliRun run = RunHotdeal({"serve", "--listen", "0.0.0.0:9000", "--log", "none", "--ack=memory"},
                          {{"HOTDEAL_THREADS", "2"}, {"HOTDEAL_ADMIN_TOKEN", "s3cret"}});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(run.served.has_value());
  EXPECT_EQ(run.served->gateway.listen_host, "0.0.0.0");
  EXPECT_EQ(run.served->gateway.listen_port, 9000);
  EXPECT_EQ(run.served->gateway.threads, 2u);
  EXPECT_EQ(run.served->gateway.admin_token, "s3cret");
  EXPECT_EQ(run.served->log, LogMode::kNone);
  EXPECT_EQ(run.served->gateway.ack, gateway::AckMode::kMemory);
}

// A flag is bound to one component's field; the components that also need it get a copy.
TEST(CliTest, ServeSharesOneFlagWithEveryComponentThatNeedsIt) {
  CliRun run = RunHotdeal({"serve", "--threads", "3", "--campaigns-max", "77", "--stock-max", "500",
                           "--memory-budget-mb", "2", "--idle-timeout-ms", "1500",
                           "--idempotency-window-seconds", "9"});
  ASSERT_EQ(run.code, 0) << run.err;
  const ServeConfig& config = *run.served;
  EXPECT_EQ(config.engine.workers, 3u);
  EXPECT_EQ(config.store.workers, 3u);
  EXPECT_EQ(config.engine.campaigns_max, 77u);
  EXPECT_EQ(config.store.campaigns_max, 77u);
  EXPECT_EQ(config.gateway.campaign_limits.campaigns_max, 77u);
  EXPECT_EQ(config.gateway.campaign_limits.stock_max, 500u);
  EXPECT_EQ(config.engine.memory_budget_bytes, std::uint64_t{2} << 20);
  EXPECT_EQ(config.gateway.campaign_limits.memory_budget_bytes, std::uint64_t{2} << 20);
  EXPECT_EQ(config.gateway.idle_timeout, std::chrono::milliseconds{1500});
  EXPECT_EQ(config.engine.idempotency_window, std::chrono::seconds{9});
  // Only durable acks on Kafka make the engine wait for the log's reports.
  EXPECT_TRUE(config.engine.await_acknowledgement);
  EXPECT_FALSE(RunHotdeal({"serve", "--ack", "memory"}).served->engine.await_acknowledgement);
  EXPECT_FALSE(RunHotdeal({"serve", "--log", "none"}).served->engine.await_acknowledgement);
}

TEST(CliTest, ServeHelpShowsDefaultsInTheFlagsUnits) {
  CliRun run = RunHotdeal({"serve", "--help"});
  for (const char* entry :
       {"--idle-timeout-ms  close a keep-alive connection idle this long\n"
        "      env HOTDEAL_IDLE_TIMEOUT_MS, default '30000'",
        "--listen  address and port to serve HTTP on\n      env HOTDEAL_LISTEN, default "
        "'127.0.0.1:8080'",
        "--idempotency-window-seconds  how long an Idempotency-Key is remembered\n"
        "      env HOTDEAL_IDEMPOTENCY_WINDOW_SECONDS, default '600'"}) {
    EXPECT_NE(run.out.find(entry), std::string::npos) << entry;
  }
}

TEST(CliTest, ServeRateLimitsDefaultOnPerUserOffPerAddress) {
  CliRun defaults = RunHotdeal({"serve"});
  ASSERT_EQ(defaults.code, 0) << defaults.err;
  EXPECT_EQ(defaults.served->gateway.user_rate_limit.per_second, 10u);
  EXPECT_EQ(defaults.served->gateway.user_rate_limit.burst, 20u);
  EXPECT_EQ(defaults.served->gateway.ip_rate_limit.per_second, 0u);
  CliRun run = RunHotdeal({"serve", "--user-rate-per-second", "0", "--rate-limit-slots=1024"},
                          {{"HOTDEAL_IP_RATE_PER_SECOND", "50"}, {"HOTDEAL_IP_RATE_BURST", "80"}});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.served->gateway.user_rate_limit.per_second, 0u);
  EXPECT_EQ(run.served->gateway.ip_rate_limit.per_second, 50u);
  EXPECT_EQ(run.served->gateway.ip_rate_limit.burst, 80u);
  EXPECT_EQ(run.served->gateway.rate_limit_slots, 1024u);
  CliRun bad = RunHotdeal({"serve", "--user-rate-burst", "0"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_FALSE(bad.served.has_value());
  EXPECT_NE(bad.err.find("--user-rate-burst 0: must be a whole number from 1"), std::string::npos)
      << bad.err;
}

TEST(CliTest, TokenPrintsAUserTokenTheGatewayAccepts) {
  const std::string key(32, 'k');
  CliRun run =
      RunHotdeal({"token", "--user", "u-1", "--ttl", "3600"}, {{"HOTDEAL_USER_TOKEN_KEY", key}});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(run.out.ends_with("\n"));
  std::string token = run.out.substr(0, run.out.size() - 1);
  std::string error;
  auto verifier = gateway::UserTokenKey::Make(key, error);
  ASSERT_TRUE(verifier) << error;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  EXPECT_EQ(verifier->Verify("u-1", token, now), gateway::TokenCheck::kValid);
  EXPECT_EQ(verifier->Verify("u-2", token, now), gateway::TokenCheck::kInvalid);
  EXPECT_EQ(verifier->Verify("u-1", token, now + 3601), gateway::TokenCheck::kExpired);
  EXPECT_FALSE(run.served.has_value());
}

TEST(CliTest, TokenUsersFileMintsACsvOfUsersAndTokens) {
  const std::string key(32, 'k');
  std::string path = ::testing::TempDir() + "users.csv";
  CliRun run = RunHotdeal({"token", "--users-file", path, "--users", "3", "--user-prefix", "w-"},
                          {{"HOTDEAL_USER_TOKEN_KEY", key}});
  ASSERT_EQ(run.code, 0) << run.err;
  std::string error;
  auto verifier = gateway::UserTokenKey::Make(key, error);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::ifstream csv(path);
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "user_id,token");
  int rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    std::string user = line.substr(0, line.find(','));
    EXPECT_EQ(user, "w-" + std::to_string(rows));
    EXPECT_EQ(verifier->Verify(user, line.substr(line.find(',') + 1), now),
              gateway::TokenCheck::kValid)
        << line;
  }
  EXPECT_EQ(rows, 3);
  EXPECT_EQ(RunHotdeal({"token", "--users-file", path, "--user-prefix", "bad prefix"},
                       {{"HOTDEAL_USER_TOKEN_KEY", key}})
                .code,
            kExitUsage);
}

TEST(CliTest, ShortUserTokenKeysAreRefusedWithoutEchoingThem) {
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"token", "--user-token-key", "sekrit-but-short", "--user", "u-1"},
           {"serve", "--user-token-key", "sekrit-but-short"}}) {
    CliRun run = RunHotdeal(args);
    EXPECT_EQ(run.code, kExitUsage) << args[0];
    EXPECT_FALSE(run.served.has_value());
    EXPECT_NE(run.err.find("at least 32 bytes"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("sekrit"), std::string::npos) << run.err;
  }
  CliRun bad_user =
      RunHotdeal({"token", "--user-token-key", std::string(32, 'k'), "--user", "a b"});
  EXPECT_EQ(bad_user.code, kExitUsage);
  EXPECT_TRUE(bad_user.out.empty());
  CliRun serve = RunHotdeal({"serve"}, {{"HOTDEAL_USER_TOKEN_KEY", std::string(32, 'k')}});
  ASSERT_EQ(serve.code, 0) << serve.err;
  EXPECT_EQ(serve.served->gateway.user_token_key, std::string(32, 'k'));
}

TEST(CliTest, BadServeValueExitsTwoWithoutServing) {
  for (auto args : std::vector<std::vector<std::string_view>>{{"serve", "--listen", "nowhere"},
                                                              {"serve", "--listen", "host:70000"},
                                                              {"serve", "--log", "disk"},
                                                              {"serve", "--threads", "0"},
                                                              {"serve", "--bogus", "1"}}) {
    CliRun run = RunHotdeal(args);
    EXPECT_EQ(run.code, kExitUsage) << args[1];
    EXPECT_FALSE(run.served.has_value());
    EXPECT_NE(run.err.find("hotdeal serve:"), std::string::npos);
  }
}

TEST(CliTest, UsageNamesEveryCommand) {
  CliRun run = RunHotdeal({"help"});
  EXPECT_EQ(run.code, 0);
  for (const char* command : {"serve", "persist", "version"})
    EXPECT_NE(run.out.find(std::string("  ") + command), std::string::npos) << command;
}

TEST(CliTest, SecretsComeFromFilesSoTheyNeverShowInPs) {
  std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + name) << text;
    return dir + name;
  };
  std::string admin = write("admin", "a-d-m-i-n\n");
  std::string service = write("service", "s e r v i c e\r\n");
  std::string key = write("key", std::string(40, 'k'));
  std::string password = write("password", "pw\n");
  CliRun run = RunHotdeal({"serve", "--admin-token-file", admin, "--service-token-file", service,
                           "--user-token-key-file", key},
                          {{"HOTDEAL_MYSQL_PASSWORD_FILE", password}});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.served->gateway.admin_token, "a-d-m-i-n");
  EXPECT_EQ(run.served->gateway.service_token, "s e r v i c e");
  EXPECT_EQ(run.served->gateway.user_token_key, std::string(40, 'k'));
  EXPECT_EQ(run.served->store.mysql_password, "pw");

  std::string short_key = write("short", "secret-short-key");
  CliRun refused = RunHotdeal({"serve", "--user-token-key-file", short_key});
  EXPECT_EQ(refused.code, kExitUsage);
  EXPECT_NE(refused.err.find("at least 32 bytes"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("secret-short-key"), std::string::npos) << refused.err;
  CliRun missing = RunHotdeal({"serve", "--service-token-file", dir + "no-such-file"});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
}

TEST(CliTest, ServeTakesStoreFlags) {
  CliRun run = RunHotdeal({"serve", "--kafka-topic", "t1", "--mysql-database", "hotdeal_test_x",
                           "--persister", "off", "--data-dir", "/tmp/d"},
                          {{"HOTDEAL_KAFKA_BROKERS", "127.0.0.1:1"}});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(run.served.has_value());
  EXPECT_EQ(run.served->store.kafka_topic, "t1");
  EXPECT_EQ(run.served->store.kafka_brokers, "127.0.0.1:1");
  EXPECT_EQ(run.served->store.mysql_database, "hotdeal_test_x");
  EXPECT_FALSE(run.served->persister);
  EXPECT_EQ(run.served->data_dir, "/tmp/d");
}

TEST(CliTest, PersistHelpListsOnlyStoreFlags) {
  CliRun run = RunHotdeal({"persist", "--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_FALSE(run.persisted.has_value());
  for (const char* flag :
       {"--kafka-brokers", "--kafka-topic", "--mysql-host", "--mysql-port", "--mysql-user",
        "--mysql-password", "--mysql-database", "HOTDEAL_MYSQL_DATABASE"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  }
  EXPECT_EQ(run.out.find("--listen"), std::string::npos);
}

TEST(CliTest, PersistParsesFlagsAndTwins) {
  CliRun run = RunHotdeal({"persist", "--mysql-port", "3307", "--kafka-topic=events"},
                          {{"HOTDEAL_MYSQL_HOST", "db"}, {"HOTDEAL_KAFKA_TOPIC", "ignored"}});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(run.persisted.has_value());
  EXPECT_FALSE(run.served.has_value());
  EXPECT_EQ(run.persisted->store.mysql_port, 3307);
  EXPECT_EQ(run.persisted->store.mysql_host, "db");
  EXPECT_EQ(run.persisted->store.kafka_topic, "events");
}

TEST(CliTest, PersistMetricsListenIsOffByDefaultAndParsesHostPort) {
  CliRun off = RunHotdeal({"persist"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_TRUE(off.persisted->metrics_host.empty());
  CliRun on = RunHotdeal({"persist", "--metrics-listen", "127.0.0.1:9464"});
  ASSERT_EQ(on.code, 0) << on.err;
  EXPECT_EQ(on.persisted->metrics_host, "127.0.0.1");
  EXPECT_EQ(on.persisted->metrics_port, 9464);
  CliRun bad = RunHotdeal({"persist", "--metrics-listen", "9464"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_FALSE(bad.persisted.has_value());
}

TEST(CliTest, BadPersistFlagExitsTwoWithoutRunning) {
  CliRun run = RunHotdeal({"persist", "--listen", "127.0.0.1:1"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_FALSE(run.persisted.has_value());
  EXPECT_NE(run.err.find("hotdeal persist:"), std::string::npos);
}

TEST(CliTest, VersionPrintsVersion) {
  CliRun run = RunHotdeal({"version"});
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.out.rfind("hotdeal ", 0), 0u);
}

}  // namespace
}  // namespace hotdeal::app
