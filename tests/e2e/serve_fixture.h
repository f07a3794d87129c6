// The end-to-end fixture shared by tests/e2e: `hotdeal serve` as a child process on its own
// port, data dir, topic and database of the local stack, HTTP calls to it, and the books check
// (ARCHITECTURE invariant 6) against MySQL and the Kafka topic. Never touches the stack itself.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hotdeal/engine/event.h"
#include "hotdeal/persistence/event_codec.h"
#include "hotdeal/persistence/partition_epochs.h"
#include "http_client.h"
#include "stack_fixture.h"
#include "topic_reader.h"

namespace hotdeal::e2e {

inline constexpr std::string_view kAdmin = "Authorization: Bearer e2e-admin\r\n";

inline std::uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Waits up to `timeout` for `done`; false if it never held.
template <typename Predicate>
bool WaitUntil(std::chrono::milliseconds timeout, Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// The last `count` lines of the file at `path`, so a failure shows why a server stopped.
inline std::string LastLines(const std::filesystem::path& path, std::size_t count) {
  std::ifstream file(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(file, line);) {
    lines.push_back(line);
    if (lines.size() > count) lines.pop_front();
  }
  std::string text;
  for (const std::string& line : lines)
    text += line + "\n";
  return text;
}

class ServeFixture : public persistence::testing::StackTest {
 protected:
  void SetUp() override {
    StackTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    data_dir_ = std::filesystem::temp_directory_path() / ("hotdeal-e2e-" + unique_);
    port_ = FreePort();
  }
  void TearDown() override {
    if (child_ > 0) Stop(SIGKILL);
    if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_);
    StackTest::TearDown();
  }

  // Starts `hotdeal serve` on its own port, data dir, topic and database; waits for /readyz.
  void Start() { Launch(child_, port_, data_dir_); }

  // Starts `hotdeal serve` as `child` on `port` with `data_dir` (its log: serve.log there), on
  // the fixture's topic and database, with `threads_` workers and `extra_args_`; waits for
  // /readyz.
  void Launch(pid_t& child, std::uint16_t port, const std::filesystem::path& data_dir) {
    std::filesystem::create_directories(data_dir);
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    const std::filesystem::path log = data_dir / "serve.log";
    std::vector<std::string> args = {HOTDEAL_BINARY,     "serve",
                                     "--listen",         listen,
                                     "--threads",        std::to_string(threads_),
                                     "--admin-token",    "e2e-admin",
                                     "--data-dir",       data_dir.string(),
                                     "--kafka-topic",    options_.kafka_topic,
                                     "--mysql-database", options_.mysql_database};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& arg : args)
        argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto ready =
          gateway::testing::HttpClient(port, std::chrono::seconds(1)).Send("GET", "/readyz");
      if (ready && ready->status == 200) return;
      int status = 0;
      if (::waitpid(child, &status, WNOHANG) == child) {
        child = -1;
        FAIL() << "hotdeal serve exited (" << StatusText(status) << "); " << log << " ends:\n"
               << LastLines(log, 3);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "hotdeal serve not ready within 60 s; see " << log;
  }
  // Sends `signal` to the server and waits for it; its wait status.
  int Stop(int signal) {
    ::kill(child_, signal);
    int status = 0;
    ::waitpid(child_, &status, 0);
    child_ = -1;
    return status;
  }
  static std::string StatusText(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

  std::optional<gateway::testing::HttpResponse> Call(std::string_view method,
                                                     std::string_view target,
                                                     std::string_view body = {},
                                                     std::string_view headers = {}) {
    return gateway::testing::HttpClient(port_).Send(method, target, body, headers);
  }
  // stock - remaining, from GET /v1/campaigns/{id}.
  std::int64_t Sold(const std::string& campaign) {
    auto got = Call("GET", "/v1/campaigns/" + campaign);
    if (!got || got->status != 200) return -1;
    return gateway::testing::JsonInt(got->body, "stock") -
           gateway::testing::JsonInt(got->body, "remaining");
  }
  // Waits (bounded) until `sql` counts `expected`, for the persister to catch up.
  std::int64_t WaitForCount(const std::string& sql, std::int64_t expected) {
    std::int64_t count = Number(sql);
    for (int i = 0; i < 600 && count != expected; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      count = Number(sql);
    }
    return count;
  }
  // What the topic holds: per campaign, units granted or reserved minus units returned, and the
  // claim ids of every claim_granted event; a replaced owner's events left out, as in MySQL.
  // What the topic holds once applied as the persister applies it: a void or a return counts
  // only against a grant or reservation the topic has (a void of a decision that never reached
  // Kafka is a no-op, docs/durability.md), and a repeated event counts once.
  struct TopicContents {
    std::map<std::string, std::int64_t> units;
    std::set<std::uint64_t> granted_claims;  // every claim ever granted, voided or not
    std::set<std::uint64_t> held_claims;
    std::map<std::uint64_t, std::uint32_t> held_orders;  // order id -> quantity
  };
  static void Count(const engine::Event& event, TopicContents& contents) {
    std::int64_t& n = contents.units[std::string(event.campaign.view())];
    switch (event.type) {
      case engine::EventType::kClaimGranted:
        contents.granted_claims.insert(event.claim_id.value);
        if (contents.held_claims.insert(event.claim_id.value).second) ++n;
        break;
      case engine::EventType::kClaimVoided:
        if (contents.held_claims.erase(event.claim_id.value) > 0) --n;
        break;
      case engine::EventType::kOrderReserved:
        if (contents.held_orders.emplace(event.order_id.value, event.quantity).second)
          n += event.quantity;
        break;
      case engine::EventType::kOrderCancelled:
      case engine::EventType::kOrderExpired:
      case engine::EventType::kOrderVoided:
        if (auto held = contents.held_orders.find(event.order_id.value);
            held != contents.held_orders.end()) {
          n -= held->second;
          contents.held_orders.erase(held);
        }
        break;
      case engine::EventType::kCampaignCreated:
      case engine::EventType::kCampaignClosed:
      case engine::EventType::kCampaignPaused:
      case engine::EventType::kCampaignResumed:
      case engine::EventType::kCampaignChanged:   // moves stock, which holds no unit
      case engine::EventType::kCampaignArchived:  // the rows stay, units and all
      case engine::EventType::kOrderConfirmed:
      case engine::EventType::kCouponRedeemed:  // a coupon's use moves no unit
      case engine::EventType::kCouponRestored:
        break;
    }
  }
  TopicContents ReadTopic() {
    TopicContents contents;
    const std::vector<std::vector<persistence::LogRecord>> partitions =
        persistence::testing::ReadTopicRecords(options_.kafka_brokers, options_.kafka_topic);
    persistence::PartitionEpochs epochs;
    epochs.Reset(partitions.size());
    for (std::size_t p = 0; p < partitions.size(); ++p) {
      for (const persistence::LogRecord& record : partitions[p]) {
        // A replaced owner's events never count, as in MySQL; a fence sells nothing.
        if (!epochs.Stale(static_cast<std::int32_t>(p), record.epoch) && !record.fence) {
          Count(record.event, contents);
        }
      }
    }
    return contents;
  }

  // The value of one sample of /metrics, matched by its name and label text; -1 if absent.
  std::int64_t Metric(std::string_view name, std::string_view label = {}) {
    auto got = Call("GET", "/metrics");
    if (!got || got->status != 200) return -1;
    std::size_t at = 0;
    while (at < got->body.size()) {
      std::size_t end = got->body.find('\n', at);
      if (end == std::string::npos) end = got->body.size();
      std::string_view line(got->body.data() + at, end - at);
      at = end + 1;
      if (!line.starts_with(name) || line.size() <= name.size()) continue;
      const char next = line[name.size()];
      if (next != ' ' && next != '{') continue;
      if (!label.empty() && line.find(label) == std::string_view::npos) continue;
      return std::atoll(std::string(line.substr(line.rfind(' ') + 1)).c_str());
    }
    return -1;
  }

  // Invariant 6, after the load: for each campaign, stock - remaining - in_doubt (the engine,
  // over HTTP) == units in MySQL (once the persister caught up) == granted - returned events in
  // Kafka. Campaigns are coupons (claims table) or sales (orders held or confirmed).
  //
  // Units in doubt are settled by the server while it runs (docs/durability.md, "In doubt"):
  // within seconds once the log is healthy, a replaced producer's decisions after its quiet
  // period (the 10 s delivery timeout). So after a bounded quiet period nothing is in doubt,
  // the settler holds nothing, and the books close exactly.
  void ExpectBooksClose(const std::vector<std::string>& coupons,
                        const std::vector<std::string>& sales = {}) {
    auto check = [&](const std::string& campaign, const std::string& rows_sql) {
      std::int64_t in_doubt = -1;
      const bool settled = WaitUntil(std::chrono::seconds(60), [&] {
        in_doubt =
            Metric("hotdeal_campaign_units", "campaign=\"" + campaign + "\",state=\"in_doubt\"");
        return in_doubt == 0;
      });
      ASSERT_TRUE(settled) << campaign << ": " << in_doubt << " unit(s) still in doubt after 60 s";
      EXPECT_EQ(Metric("hotdeal_in_doubt_waiting"), 0);
      const std::int64_t sold = Sold(campaign);
      ASSERT_GE(sold, 0) << campaign;
      // Kafka, read to its end, is what the persister must reach.
      const TopicContents topic = ReadTopic();
      const auto it = topic.units.find(campaign);
      const std::int64_t in_kafka = it == topic.units.end() ? 0 : it->second;
      const std::int64_t rows = WaitForCount(rows_sql, in_kafka);
      const std::string books = campaign + ": sold " + std::to_string(sold) + ", MySQL " +
                                std::to_string(rows) + ", Kafka " + std::to_string(in_kafka);
      EXPECT_EQ(rows, in_kafka) << books;
      EXPECT_EQ(rows, sold) << books;
    };
    for (const std::string& coupon : coupons)
      check(coupon, "SELECT COUNT(*) FROM claims WHERE campaign_id = '" + coupon + "'");
    for (const std::string& sale : sales)
      check(sale, "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE campaign_id = '" + sale +
                      "' AND status IN ('reserved', 'confirmed')");
  }

  std::filesystem::path data_dir_;
  std::uint16_t port_ = 0;
  pid_t child_ = -1;
  unsigned threads_ = 2;                 // --threads of every server Launch starts
  std::vector<std::string> extra_args_;  // more flags for every server Launch starts
};

}  // namespace hotdeal::e2e
