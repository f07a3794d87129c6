// `hotdeal serve` end to end, as a child process on the local stack: every 201 a client saw is
// in MySQL with the same id, the engine's books equal MySQL's rows and the Kafka topic's
// granted-minus-returned events, and after `kill -9` mid-load a restart on the same data keeps
// every 201 and sells nothing twice (ARCHITECTURE invariants 3, 5, 6).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/persistence/event_codec.h"
#include "http_client.h"
#include "stack_fixture.h"

namespace hotdeal::e2e {
namespace {

using gateway::testing::BuildRequest;
using gateway::testing::HttpClient;
using gateway::testing::HttpResponse;
using gateway::testing::JsonInt;
using gateway::testing::JsonString;
using namespace std::chrono_literals;

constexpr std::string_view kAdmin = "Authorization: Bearer e2e-admin\r\n";

std::string KeyHeader(const std::string& user) {
  return "Idempotency-Key: k-" + user + "\r\n";
}

std::uint16_t FreePort() {
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

class ServeE2eTest : public persistence::testing::StackTest {
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
  void Start() {
    std::filesystem::create_directories(data_dir_);
    const std::string listen = "127.0.0.1:" + std::to_string(port_);
    const std::string log = (data_dir_ / "serve.log").string();
    std::vector<std::string> args = {HOTDEAL_BINARY,     "serve",
                                     "--listen",         listen,
                                     "--threads",        "2",
                                     "--admin-token",    "e2e-admin",
                                     "--data-dir",       data_dir_.string(),
                                     "--kafka-topic",    options_.kafka_topic,
                                     "--mysql-database", options_.mysql_database};
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
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
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto ready = HttpClient(port_, 1s).Send("GET", "/readyz");
      if (ready && ready->status == 200) return;
      ASSERT_EQ(::waitpid(child_, nullptr, WNOHANG), 0) << "hotdeal serve exited; see " << log;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "hotdeal serve not ready within 60 s; see " << log;
  }
  void Stop(int signal) {
    ::kill(child_, signal);
    int status = 0;
    ::waitpid(child_, &status, 0);
    child_ = -1;
  }

  std::optional<HttpResponse> Call(std::string_view method, std::string_view target,
                                   std::string_view body = {}, std::string_view headers = {}) {
    return HttpClient(port_).Send(method, target, body, headers);
  }
  // stock - remaining, from GET /v1/campaigns/{id}.
  std::int64_t Sold(const std::string& campaign) {
    auto got = Call("GET", "/v1/campaigns/" + campaign);
    if (!got || got->status != 200) return -1;
    return JsonInt(got->body, "stock") - JsonInt(got->body, "remaining");
  }
  // Waits (bounded) until `sql` counts `expected`, for the persister to catch up.
  std::int64_t WaitForCount(const std::string& sql, std::int64_t expected) {
    std::int64_t count = Number(sql);
    for (int i = 0; i < 600 && count != expected; ++i) {
      std::this_thread::sleep_for(50ms);
      count = Number(sql);
    }
    return count;
  }
  // Per campaign: units granted or reserved minus units returned, over the whole topic.
  std::map<std::string, std::int64_t> UnitsInKafka() {
    char error[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", options_.kafka_brokers.c_str(), error,
                      sizeof error);
    rd_kafka_conf_set(conf, "group.id", "hotdeal-e2e", error, sizeof error);
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer, options_.kafka_topic.c_str(), nullptr);
    EXPECT_EQ(rd_kafka_metadata(consumer, 0, topic, &metadata, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(8);
    std::int64_t remaining_messages = 0;
    for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      rd_kafka_query_watermark_offsets(consumer, options_.kafka_topic.c_str(), p, &low, &high,
                                       10'000);
      remaining_messages += high - low;
      rd_kafka_topic_partition_list_add(assignment, options_.kafka_topic.c_str(), p)->offset = low;
    }
    rd_kafka_assign(consumer, assignment);
    std::map<std::string, std::int64_t> units;
    persistence::EventDecoder decoder;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (remaining_messages > 0 && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 500);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        --remaining_messages;
        engine::Event event;
        EXPECT_EQ(decoder.Decode({static_cast<const char*>(message->payload), message->len}, event),
                  persistence::CodecError::kOk);
        std::int64_t& n = units[std::string(event.campaign.view())];
        switch (event.type) {
          case engine::EventType::kClaimGranted:
            ++n;
            break;
          case engine::EventType::kClaimVoided:
            --n;
            break;
          case engine::EventType::kOrderReserved:
            n += event.quantity;
            break;
          case engine::EventType::kOrderCancelled:
          case engine::EventType::kOrderExpired:
          case engine::EventType::kOrderVoided:
            n -= event.quantity;
            break;
          case engine::EventType::kCampaignCreated:
          case engine::EventType::kCampaignClosed:
          case engine::EventType::kOrderConfirmed:
            break;
        }
      }
      rd_kafka_message_destroy(message);
    }
    EXPECT_EQ(remaining_messages, 0) << "the topic was not read to its end";
    rd_kafka_topic_partition_list_destroy(assignment);
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(topic);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return units;
  }

  std::filesystem::path data_dir_;
  std::uint16_t port_ = 0;
  pid_t child_ = -1;
};

TEST_F(ServeE2eTest, EveryDurableAnswerIsInMysqlAndTheBooksClose) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string coupon = "cp-" + unique_;
  const std::string sale = "sl-" + unique_;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":40})", kAdmin)
                ->status,
            201);
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + sale +
                     R"(","kind":"sale","name":"s","stock":60,"per_user_limit":2,)"
                     R"("price":100,"hold_seconds":300})",
                 kAdmin)
                ->status,
            201);

  constexpr int kThreads = 4;
  constexpr int kUsersPerThread = 20;
  std::mutex mutex;
  std::map<std::string, std::string> claims;  // user -> claim_id of a 201
  std::map<std::string, std::string> orders;  // order_id -> final status we caused
  std::atomic<int> key_mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(port_);
      for (int i = 0; i < kUsersPerThread; ++i) {
        const std::string user = "u" + std::to_string(t) + "_" + std::to_string(i);
        const std::string key = KeyHeader(user);
        const std::string body = R"({"user_id":")" + user + R"("})";
        auto claim = client.Send("POST", "/v1/campaigns/" + coupon + "/claims", body, key);
        if (claim && claim->status == 201) {
          // A retry with the same key answers the same claim.
          if (i % 3 == 0) {
            auto again = client.Send("POST", "/v1/campaigns/" + coupon + "/claims", body, key);
            if (!again ||
                JsonString(again->body, "claim_id") != JsonString(claim->body, "claim_id"))
              ++key_mismatches;
          }
          std::lock_guard lock(mutex);
          claims[user] = JsonString(claim->body, "claim_id");
        }
        auto order = client.Send(
            "POST", "/v1/campaigns/" + sale + "/orders",
            R"({"user_id":")" + user + R"(","quantity":)" + std::to_string(1 + i % 2) + "}");
        if (!order || order->status != 201) continue;
        const std::string id = JsonString(order->body, "order_id");
        std::string status = "reserved";
        if (i % 3 == 1) {
          if (client.Send("POST", "/v1/orders/" + id + "/confirm", body)->status == 200)
            status = "confirmed";
        } else if (i % 3 == 2) {
          if (client.Send("POST", "/v1/orders/" + id + "/cancel", body)->status == 200)
            status = "cancelled";
        }
        std::lock_guard lock(mutex);
        orders[id] = status;
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(key_mismatches.load(), 0);
  EXPECT_EQ(claims.size(), 40u) << "80 users for 40 coupons";

  const std::int64_t coupon_sold = Sold(coupon);
  const std::int64_t sale_sold = Sold(sale);
  EXPECT_EQ(coupon_sold, 40);
  const std::string claim_rows = "SELECT COUNT(*) FROM claims WHERE campaign_id = '" + coupon + "'";
  const std::string order_units =
      "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE "
      "campaign_id = '" +
      sale + "' AND status IN ('reserved', 'confirmed')";
  EXPECT_EQ(WaitForCount(claim_rows, coupon_sold), coupon_sold);
  EXPECT_EQ(WaitForCount(order_units, sale_sold), sale_sold);
  for (const auto& [user, claim_id] : claims) {
    auto id = engine::Engine::ParseClaimId(claim_id);
    ASSERT_TRUE(id.has_value()) << claim_id;
    EXPECT_EQ(Rows("SELECT claim_id, idempotency_key FROM claims WHERE campaign_id = '" + coupon +
                   "' AND user_id = '" + user + "'"),
              std::to_string(id->value) + "|k-" + user + "\n")
        << user;
  }
  // Moves write behind like everything else: wait until each status has its count.
  for (const char* status : {"reserved", "confirmed", "cancelled"}) {
    const auto expected = static_cast<std::int64_t>(std::count_if(
        orders.begin(), orders.end(), [&](const auto& o) { return o.second == status; }));
    EXPECT_EQ(WaitForCount("SELECT COUNT(*) FROM orders WHERE campaign_id = '" + sale +
                               "' AND status = '" + status + "'",
                           expected),
              expected)
        << status;
  }
  for (const auto& [order_id, status] : orders) {
    auto id = engine::Engine::ParseOrderId(order_id);
    ASSERT_TRUE(id.has_value()) << order_id;
    EXPECT_EQ(Rows("SELECT status FROM orders WHERE order_id = " + std::to_string(id->value)),
              status + "\n")
        << order_id;
  }
  std::map<std::string, std::int64_t> kafka = UnitsInKafka();
  EXPECT_EQ(kafka[coupon], coupon_sold);
  EXPECT_EQ(kafka[sale], sale_sold);
}

TEST_F(ServeE2eTest, KillNineMidLoadKeepsEvery201AndSellsNothingTwice) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string coupon = "crash-" + unique_;
  constexpr int kStock = 150;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":150})", kAdmin)
                ->status,
            201);

  std::mutex mutex;
  std::map<std::string, std::string> granted;  // user -> claim_id of every 201 seen
  std::atomic<bool> crashed{false};
  auto load = [&](int t, int users) {
    HttpClient client(port_, 2s);
    for (int i = 0; i < users && !crashed.load(); ++i) {
      const std::string user = "w" + std::to_string(t) + "_" + std::to_string(i);
      auto claim = client.Send("POST", "/v1/campaigns/" + coupon + "/claims",
                               R"({"user_id":")" + user + R"("})", KeyHeader(user));
      if (!claim) break;  // the server is gone
      if (claim->status != 201) continue;
      std::lock_guard lock(mutex);
      granted[user] = JsonString(claim->body, "claim_id");
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back(load, t, 200);
  // Crash once some, not all, of the stock is sold.
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mutex);
      if (granted.size() >= kStock / 3) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  Stop(SIGKILL);
  crashed = true;
  for (std::thread& thread : threads)
    thread.join();
  const std::size_t before_crash = granted.size();
  ASSERT_GT(before_crash, 0u);
  ASSERT_LT(before_crash, static_cast<std::size_t>(kStock));

  ASSERT_NO_FATAL_FAILURE(Start());
  // Every 201 survived with the same claim id, and a retry with its key answers it again.
  for (const auto& [user, claim_id] : granted) {
    auto got = Call("GET", "/v1/campaigns/" + coupon + "/claims/" + user);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->status, 200) << user;
    EXPECT_EQ(JsonString(got->body, "claim_id"), claim_id) << user;
    auto retry = Call("POST", "/v1/campaigns/" + coupon + "/claims",
                      R"({"user_id":")" + user + R"("})", KeyHeader(user));
    ASSERT_TRUE(retry.has_value());
    EXPECT_EQ(retry->status, 201) << user << ": " << retry->body;
    EXPECT_EQ(JsonString(retry->body, "claim_id"), claim_id) << user;
  }
  const std::int64_t sold_after_restart = Sold(coupon);
  EXPECT_GE(sold_after_restart, static_cast<std::int64_t>(before_crash));
  const std::string claim_rows = "SELECT COUNT(*) FROM claims WHERE campaign_id = '" + coupon + "'";
  EXPECT_EQ(WaitForCount(claim_rows, sold_after_restart), sold_after_restart);

  // Sell the rest to new users: exactly the stock in all, no user and no claim id twice.
  crashed = false;
  std::thread rest(load, 9, 400);
  rest.join();
  EXPECT_EQ(Sold(coupon), kStock);
  EXPECT_EQ(WaitForCount(claim_rows, kStock), kStock);
  EXPECT_EQ(
      Number("SELECT COUNT(DISTINCT user_id) FROM claims WHERE campaign_id = '" + coupon + "'"),
      kStock);
  EXPECT_LE(granted.size(), static_cast<std::size_t>(kStock));
  std::set<std::string> ids;
  for (const auto& [user, claim_id] : granted)
    EXPECT_TRUE(ids.insert(claim_id).second) << claim_id << " told to two users";
  EXPECT_EQ(UnitsInKafka()[coupon], kStock);
}

}  // namespace
}  // namespace hotdeal::e2e
