// `hotdeal serve` end to end, as a child process on the local stack: every 201 a client saw is
// in MySQL with the same id, the engine's books equal MySQL's rows and the Kafka topic's
// granted-minus-returned events, and after `kill -9` mid-load a restart on the same data keeps
// every 201 and sells nothing twice (ARCHITECTURE invariants 3, 5, 6).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "http_client.h"
#include "serve_fixture.h"

namespace hotdeal::e2e {
namespace {

using gateway::testing::BuildRequest;
using gateway::testing::HttpClient;
using gateway::testing::HttpResponse;
using gateway::testing::JsonString;
using namespace std::chrono_literals;

std::string KeyHeader(const std::string& user) {
  return "Idempotency-Key: k-" + user + "\r\n";
}

// Runs `scripts/stack <args>` from the source tree; its exit status and what it printed.
std::pair<int, std::string> StackScript(const std::string& args) {
  const std::string command =
      "cd '" HOTDEAL_SOURCE_DIR "' && HOTDEAL_SKIP_SETUP=1 scripts/stack " + args + " 2>&1";
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    out += buffer;
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The pid of a stack service's server, or -1 when it is not running.
pid_t StackPid(const std::string& service) {
  auto [rc, out] = StackScript("pid " + service);
  return rc == 0 ? static_cast<pid_t>(std::atol(out.c_str())) : -1;
}

// Whatever a fault test does to the stack is undone when this leaves scope, failed assertions
// included: a frozen MariaDB is thawed, a killed broker is started again. Later tests (and the
// other engineers sharing the stack) need both.
class StackRestorer {
 public:
  StackRestorer() = default;
  StackRestorer(const StackRestorer&) = delete;
  StackRestorer& operator=(const StackRestorer&) = delete;
  ~StackRestorer() {
    if (frozen_ > 0) ::kill(frozen_, SIGCONT);
    if (killed_kafka_ && StackPid("kafka") < 0) StackScript("up kafka");
  }
  void Frozen(pid_t pid) { frozen_ = pid; }
  void Thawed() { frozen_ = -1; }
  void KilledKafka() { killed_kafka_ = true; }

 private:
  pid_t frozen_ = -1;
  bool killed_kafka_ = false;
};

// Confirms carry the shop's service token (API.md v1.1).
class ServeE2eTest : public ServeFixture {
 protected:
  void SetUp() override {
    ServeFixture::SetUp();
    extra_args_ = {"--service-token", "e2e-service"};
  }
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
          // Payment went through: the shop's service says so, not the user.
          if (client
                  .Send("POST", "/v1/orders/" + id + "/confirm", body,
                        "Authorization: Bearer e2e-service\r\n")
                  ->status == 200)
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
  ExpectBooksClose({coupon}, {sale});
}

// Double clicks (API.md v1.1, "answers while a decision is not yet durable"): the same user's
// second claim, sent on another connection right behind the first, reaches a decision Kafka has
// not acknowledged yet; it waits for the log and answers 409 already_claimed with the claim (or
// a keyed retry the same 201), never 503. Before that change about every round answered 503.
TEST_F(ServeE2eTest, DoubleClicksOfOneUserAnswerOnly201And409) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string coupon = "dc-" + unique_;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":500})", kAdmin)
                ->status,
            201);
  const std::string target = "/v1/campaigns/" + coupon + "/claims";
  HttpClient first(port_);
  HttpClient second(port_);
  constexpr int kRounds = 100;
  for (bool keyed : {false, true}) {
    for (int round = 0; round < kRounds; ++round) {
      const std::string user = std::string(keyed ? "k-" : "u-") + std::to_string(round);
      const std::string headers = keyed ? KeyHeader(user) : std::string();
      const std::string request =
          BuildRequest("POST", target, R"({"user_id":")" + user + R"("})", headers);
      ASSERT_TRUE(first.Write(request));
      ASSERT_TRUE(second.Write(request));
      auto a = first.Read();
      auto b = second.Read();
      ASSERT_TRUE(a && b) << user;
      const HttpResponse& won = a->status == 201 ? *a : *b;
      const HttpResponse& other = a->status == 201 ? *b : *a;
      ASSERT_EQ(won.status, 201) << user << ": " << a->body << " / " << b->body;
      const std::string claim_id = JsonString(won.body, "claim_id");
      if (keyed) {
        EXPECT_EQ(other.status, 201) << user << ": " << other.body;
      } else {
        EXPECT_EQ(other.status, 409) << user << ": " << other.body;
        EXPECT_EQ(JsonString(other.body, "error"), "already_claimed") << other.body;
      }
      EXPECT_EQ(JsonString(other.body, "claim_id"), claim_id) << user;
    }
  }
  EXPECT_EQ(Sold(coupon), 2 * kRounds);
  // The race was run, not dodged: some second clicks found the first still unacknowledged.
  auto metrics = Call("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find(R"(hotdeal_http_pending_waits_total{result="answered"})"),
            std::string::npos);
  EXPECT_EQ(metrics->body.find(R"(hotdeal_http_pending_waits_started_total 0)"), std::string::npos)
      << "no request waited: the double clicks never met an unacknowledged decision";
  EXPECT_NE(metrics->body.find(R"(hotdeal_http_pending_waits_total{result="timed_out"} 0)"),
            std::string::npos);
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
  ExpectBooksClose({coupon});
}

// A pause or resume answered 200 (--ack durable: Kafka had it first) stands after kill -9.
TEST_F(ServeE2eTest, APauseAndAResumeAnsweredBeforeKillNineStandAfterTheRestart) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string sale = "pause-" + unique_;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + sale +
                     R"(","kind":"sale","name":"s","stock":10,"price":100,"hold_seconds":60})",
                 kAdmin)
                ->status,
            201);
  const std::string orders = "/v1/campaigns/" + sale + "/orders";
  auto order = [&](const std::string& user) {
    return Call("POST", orders, R"({"user_id":")" + user + R"(","quantity":1})", KeyHeader(user));
  };
  ASSERT_EQ(order("before")->status, 201);
  ASSERT_EQ(Call("POST", "/v1/campaigns/" + sale + "/pause", "", kAdmin)->status, 200);
  Stop(SIGKILL);

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(JsonString(Call("GET", "/v1/campaigns/" + sale)->body, "status"), "paused");
  EXPECT_EQ(order("while-paused")->status, 403);
  const std::string paused_rows =
      "SELECT COUNT(*) FROM campaigns WHERE paused = 1 AND id = '" + sale + "'";
  EXPECT_EQ(WaitForCount(paused_rows, 1), 1);  // the persister wrote it
  ASSERT_EQ(Call("POST", "/v1/campaigns/" + sale + "/resume", "", kAdmin)->status, 200);
  Stop(SIGKILL);

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(JsonString(Call("GET", "/v1/campaigns/" + sale)->body, "status"), "live");
  EXPECT_EQ(order("after")->status, 201);
  EXPECT_EQ(Sold(sale), 2);
  ExpectBooksClose({}, {sale});
}

// A live sale's controls over HTTP with durable acks, each answered one standing after kill -9:
// paused, topped up while paused, resumed and sold to its new stock, ended by moving its end,
// then archived once its orders are paid. MySQL has the stock and the end once the persister
// caught up, and keeps every row of the archived sale.
TEST_F(ServeE2eTest, ASaleIsPausedToppedUpResumedEndedAndArchivedAcrossKillNine) {
  extra_args_ = {"--service-token", "e2e-service", "--ack", "durable"};
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string sale = "live-" + unique_;
  const std::string path = "/v1/campaigns/" + sale;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + sale +
                     R"(","kind":"sale","name":"s","stock":3,"stock_max":6,"price":100,)"
                     R"("hold_seconds":600,"starts_at":"2001-01-01T00:00:00Z"})",
                 kAdmin)
                ->status,
            201);
  std::vector<std::string> placed;  // order ids answered 201
  auto order = [&](const std::string& user) {
    auto placed_order = Call("POST", path + "/orders",
                             R"({"user_id":")" + user + R"(","quantity":1})", KeyHeader(user));
    if (placed_order->status == 201) placed.push_back(JsonString(placed_order->body, "order_id"));
    return placed_order->status;
  };
  auto field = [&](std::string_view name) { return JsonString(Call("GET", path)->body, name); };
  for (const char* user : {"u-1", "u-2", "u-3"})
    ASSERT_EQ(order(user), 201) << user;
  EXPECT_EQ(order("u-4"), 409);  // sold out
  ASSERT_EQ(Call("POST", path + "/pause", "", kAdmin)->status, 200);
  auto topped = Call("PATCH", path, R"({"stock_add":2})", kAdmin);
  ASSERT_EQ(topped->status, 200) << topped->body;
  Stop(SIGKILL);

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(field("status"), "paused");
  EXPECT_EQ(gateway::testing::JsonInt(Call("GET", path)->body, "stock"), 5);
  EXPECT_EQ(order("u-4"), 403);
  ASSERT_EQ(Call("POST", path + "/resume", "", kAdmin)->status, 200);
  EXPECT_EQ(order("u-4"), 201);
  EXPECT_EQ(order("u-5"), 201);
  EXPECT_EQ(order("u-6"), 409);  // the two added units, no more
  EXPECT_EQ(Sold(sale), 5);

  // Its end moved to a second ago: ended now, and after the restart.
  const std::time_t past = std::time(nullptr) - 1;
  std::tm utc{};
  ::gmtime_r(&past, &utc);
  char ends_at[32];
  std::strftime(ends_at, sizeof ends_at, "%Y-%m-%dT%H:%M:%SZ", &utc);
  auto ended = Call("PATCH", path, R"({"ends_at":")" + std::string(ends_at) + R"("})", kAdmin);
  ASSERT_EQ(ended->status, 200) << ended->body;
  EXPECT_EQ(JsonString(ended->body, "status"), "ended");
  Stop(SIGKILL);

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(field("status"), "ended");
  EXPECT_EQ(field("ends_at"), ends_at);
  EXPECT_EQ(order("u-7"), 403);
  EXPECT_EQ(WaitForCount("SELECT COUNT(*) FROM campaigns WHERE id = '" + sale +
                             "' AND stock = 5 AND ends_at_us IS NOT NULL",
                         1),
            1);
  ExpectBooksClose({}, {sale});

  // Archived once nothing is held: gone after the restart, its id taken, its rows all kept.
  auto held = Call("DELETE", path, "", kAdmin);
  EXPECT_EQ(held->status, 409) << held->body;
  for (const std::string& id : placed) {
    ASSERT_EQ(
        Call("POST", "/v1/orders/" + id + "/confirm", "", "Authorization: Bearer e2e-service\r\n")
            ->status,
        200);
  }
  auto archived = Call("DELETE", path, "", kAdmin);
  ASSERT_EQ(archived->status, 200) << archived->body;
  Stop(SIGKILL);

  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(Call("GET", path)->status, 404);
  EXPECT_EQ(Call("GET", "/v1/orders/" + placed.front(), "", kAdmin)->status, 404);
  EXPECT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + sale + R"(","kind":"coupon","name":"again","stock":1})", kAdmin)
                ->status,
            409);
  EXPECT_EQ(WaitForCount("SELECT COUNT(*) FROM campaigns WHERE id = '" + sale +
                             "' AND archived_seq IS NOT NULL",
                         1),
            1);
  EXPECT_EQ(WaitForCount("SELECT COUNT(*) FROM orders WHERE campaign_id = '" + sale +
                             "' AND status = 'confirmed'",
                         5),
            5);
  EXPECT_GE(Metric("hotdeal_campaigns_archived"), 1);  // the stack's MySQL may hold others
}

// A coupon's life over HTTP with durable acks, across kill -9: redeemed, restored, redeemed
// again, and expired by the clock. Each answered change stands after the restart, and MySQL
// has it once the persister caught up.
TEST_F(ServeE2eTest, ACouponRedeemedRestoredAndRedeemedAgainAcrossKillNineThenExpires) {
  extra_args_ = {"--service-token", "e2e-service", "--ack", "durable"};
  constexpr std::string_view kService = "Authorization: Bearer e2e-service\r\n";
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string coupon = "use-" + unique_;
  ASSERT_EQ(
      Call("POST", "/v1/campaigns",
           R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":5,"valid_seconds":20})",
           kAdmin)
          ->status,
      201);
  auto claimed = Call("POST", "/v1/campaigns/" + coupon + "/claims", R"({"user_id":"u-1"})");
  ASSERT_TRUE(claimed && claimed->status == 201);
  const auto claimed_at = std::chrono::steady_clock::now();
  const std::string path = "/v1/coupons/" + JsonString(claimed->body, "coupon_code");
  auto use = [&](std::string_view what, std::string_view order) {
    return Call("POST", path + "/" + std::string(what),
                R"({"user_id":"u-1","order_ref":")" + std::string(order) + R"("})", kService)
        ->status;
  };
  auto status = [&] { return JsonString(Call("GET", path + "?user_id=u-1")->body, "status"); };
  const std::string row = "SELECT COUNT(*) FROM claims WHERE campaign_id = '" + coupon + "'";

  ASSERT_EQ(use("redeem", "o-1"), 200);
  Stop(SIGKILL);
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(status(), "redeemed");
  EXPECT_EQ(use("redeem", "o-2"), 409);
  EXPECT_EQ(use("redeem", "o-1"), 200);  // its own order again: the same answer
  EXPECT_EQ(WaitForCount(row + " AND redeemed = 1 AND order_ref = 'o-1'", 1), 1);
  ASSERT_EQ(use("restore", "o-1"), 200);
  Stop(SIGKILL);
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(status(), "issued");
  ASSERT_EQ(use("redeem", "o-3"), 200);
  ASSERT_EQ(use("restore", "o-3"), 200);
  EXPECT_EQ(WaitForCount(row + " AND redeemed = 0 AND use_count = 4", 1), 1);

  // valid_seconds after the claim, on the server's clock: then it is expired, and stays so.
  std::this_thread::sleep_until(claimed_at + std::chrono::seconds(21));
  EXPECT_EQ(status(), "expired");
  EXPECT_EQ(use("redeem", "o-4"), 409);
  ExpectBooksClose({coupon}, {});
}

// Invariant 7 across boxes: an engine that stalls (SIGSTOP here; a GC pause or a VM migration
// elsewhere) while a second `serve` on another box (another data dir) takes over must stop
// selling once it resumes. Its few late 201s never count: they are in `conflicts`, not `claims`.
TEST_F(ServeE2eTest, ANewerOwnerFencesAPausedOneWhichStopsSellingAndExits) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(Metric("hotdeal_owner_epoch"), 1);
  const std::string coupon = "own-" + unique_;
  const std::string claims = "/v1/campaigns/" + coupon + "/claims";
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":1000})", kAdmin)
                ->status,
            201);
  std::map<std::string, std::string> before;  // user -> claim_id, sold by the first owner
  for (int i = 0; i < 5; ++i) {
    const std::string user = "a" + std::to_string(i);
    auto got = Call("POST", claims, R"({"user_id":")" + user + R"("})");
    ASSERT_TRUE(got && got->status == 201);
    before[user] = JsonString(got->body, "claim_id");
  }

  const pid_t first = child_;
  const std::uint16_t first_port = port_;
  ASSERT_EQ(::kill(first, SIGSTOP), 0);
  pid_t second = -1;
  struct Reaper {  // the second owner, until the fixture's TearDown takes it over
    pid_t& pid;
    ~Reaper() {
      if (pid > 0) ::kill(pid, SIGKILL), ::waitpid(pid, nullptr, 0);
    }
  } reaper{second};
  const std::uint16_t second_port = FreePort();
  ASSERT_NO_FATAL_FAILURE(Launch(second, second_port, data_dir_ / "second-box"));
  // Paused past its 1 s check interval, as a real stall would be: it checks as it resumes.
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(::kill(first, SIGCONT), 0);
  const auto resumed = std::chrono::steady_clock::now();

  // Until its watch reads the newer epoch the first may still answer 201; then only 503
  // `unavailable` or nothing (it drains), and it exits with kExitFenced (3).
  std::vector<std::string> late;  // users the replaced engine answered 201
  bool refused = false;
  bool exited = false;
  int status = 0;
  for (int i = 0; !exited && std::chrono::steady_clock::now() - resumed < 10s; ++i) {
    const std::string user = "late" + std::to_string(i);
    auto got = HttpClient(first_port, 2s).Send("POST", claims, R"({"user_id":")" + user + R"("})");
    if (got && got->status == 201) {
      EXPECT_FALSE(refused) << "a 201 after a 503";
      late.push_back(user);
    } else if (got) {
      EXPECT_EQ(got->status, 503) << got->body;
      EXPECT_EQ(JsonString(got->body, "error"), "unavailable") << got->body;
      refused = true;
    }
    exited = ::waitpid(first, &status, WNOHANG) == first;
    std::this_thread::sleep_for(5ms);
  }
  const auto fenced_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - resumed)
                             .count();
  ASSERT_TRUE(exited) << "the replaced engine still runs 10 s after it resumed";
  child_ = std::exchange(second, -1);  // TearDown stops the second owner
  port_ = second_port;
  std::printf("replaced engine: %zu late 201(s), exited %lld ms after it resumed\n", late.size(),
              static_cast<long long>(fenced_ms));
  EXPECT_LT(fenced_ms, 5000);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "status " << status;
  std::ifstream log_file(data_dir_ / "serve.log");
  bool said_why = false;
  for (std::string line; std::getline(log_file, line);)
    said_why = said_why || line.find("fenced, epoch 2 was taken by") != std::string::npos;
  EXPECT_TRUE(said_why) << "see " << (data_dir_ / "serve.log");

  // The new owner holds exactly what the first sold before the takeover, and sells on.
  EXPECT_EQ(Metric("hotdeal_owner_epoch"), 2);
  for (const auto& [user, claim_id] : before) {
    auto got = Call("GET", claims + "/" + user);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(JsonString(got->body, "claim_id"), claim_id) << user;
  }
  ASSERT_EQ(Call("POST", claims, R"({"user_id":"b0"})")->status, 201);
  EXPECT_EQ(Sold(coupon), 6);
  const std::string rows = "SELECT COUNT(*) FROM claims WHERE campaign_id = '" + coupon + "'";
  EXPECT_EQ(WaitForCount(rows, 6), 6);
  for (const std::string& user : late) {
    EXPECT_EQ(Call("GET", claims + "/" + user)->status, 404) << user;
    EXPECT_EQ(Number(rows + " AND user_id = '" + user + "'"), 0) << user;
    EXPECT_EQ(WaitForCount("SELECT COUNT(*) FROM conflicts WHERE kind = 'stale_epoch' AND "
                           "event LIKE '%\"user\":\"" +
                               user + "\"%'",
                           1),
              1)
        << user;
  }
  EXPECT_GE(Metric("hotdeal_persister_stale_epoch_events_total"),
            static_cast<std::int64_t>(late.size()));
  ExpectBooksClose({coupon});
}

// One answer of the load below, with when it was sent relative to the fault.
struct Answer {
  int phase = 0;  // 0 before the fault, 1 during it, 2 after it was undone
  int status = 0;
  std::string retry_after;
  std::string claim_id;
  std::chrono::steady_clock::time_point at;
};

// Claims with fresh users from `threads` threads until `stop`, or the bound in count or time.
class ClaimLoad {
 public:
  ClaimLoad(std::uint16_t port, std::string coupon, int threads, int per_thread_max)
      : coupon_(std::move(coupon)) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port, t, per_thread_max] {
        HttpClient client(port, 30s);  // longer than twice the log's 10 s delivery timeout
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        for (int i = 0;
             i < per_thread_max && !stop_.load() && std::chrono::steady_clock::now() < deadline;
             ++i) {
          const std::string user = "f" + std::to_string(t) + "_" + std::to_string(i);
          const int phase = phase_.load();
          const auto sent = std::chrono::steady_clock::now();
          auto got = client.Send("POST", "/v1/campaigns/" + coupon_ + "/claims",
                                 R"({"user_id":")" + user + R"("})", KeyHeader(user));
          Answer answer{phase, got ? got->status : 0, got ? got->header("retry-after") : "",
                        got && got->status == 201 ? JsonString(got->body, "claim_id") : "",
                        std::chrono::steady_clock::now()};
          {
            std::lock_guard lock(mutex_);
            answers_.push_back(answer);
          }
          if (std::chrono::steady_clock::now() - sent > 3s) {
            std::fprintf(
                stderr, "slow answer: phase %d status %d after %lld ms\n", phase, answer.status,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - sent)
                                           .count()));
          }
          if (!got) return;  // a client timeout: the test reports it below
          // A steady pace, so the users last the whole test on a busy box.
          std::this_thread::sleep_for(answer.status == 503 ? 20ms : 5ms);
        }
      });
    }
  }
  ~ClaimLoad() { Join(); }
  void Phase(int phase) { phase_ = phase; }
  void Join() {
    stop_ = true;
    for (std::thread& thread : threads_)
      if (thread.joinable()) thread.join();
  }
  std::vector<Answer> Answers() {
    std::lock_guard lock(mutex_);
    return answers_;
  }
  std::size_t Count(int phase, int status) {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(answers_.begin(), answers_.end(), [&](auto& a) {
      return a.phase == phase && a.status == status;
    }));
  }

 private:
  std::string coupon_;
  std::atomic<bool> stop_{false};
  std::atomic<int> phase_{0};
  std::mutex mutex_;
  std::vector<Answer> answers_;
  std::vector<std::thread> threads_;
};

TEST_F(ServeE2eTest, KafkaKilledMidLoadAnswers503OrLogged201AndResumesAfterRestart) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string coupon = "kk-" + unique_;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":2000})", kAdmin)
                ->status,
            201);
  StackRestorer restorer;
  ClaimLoad load(port_, coupon, 3, 3000);
  ASSERT_TRUE(WaitUntil(10s, [&] { return load.Count(0, 201) >= 30; }))
      << "no claims granted before the fault";
  const pid_t broker = StackPid("kafka");
  ASSERT_GT(broker, 0) << "kafka is not running";
  restorer.KilledKafka();
  load.Phase(1);
  ASSERT_EQ(::kill(broker, SIGKILL), 0);
  EXPECT_TRUE(WaitUntil(15s, [&] {
    auto ready = Call("GET", "/readyz");
    return ready && ready->status == 503;
  })) << "/readyz still 200 15 s after the broker died";
  // A claim sent while the broker is down is refused at once: the load's own threads may still
  // wait for decisions sent before the crash (up to about twice the 10 s delivery timeout seen
  // here), so a fresh client asks.
  std::optional<HttpResponse> refused;
  int probes = 0;
  EXPECT_TRUE(WaitUntil(15s, [&] {
    const std::string user = "probe" + std::to_string(probes++);
    refused = HttpClient(port_, 5s).Send("POST", "/v1/campaigns/" + coupon + "/claims",
                                         R"({"user_id":")" + user + R"("})", KeyHeader(user));
    return refused && refused->status == 503;
  })) << "no prompt 503 while the broker is down";
  if (refused && refused->status == 503) {
    EXPECT_FALSE(refused->header("retry-after").empty()) << "503 without Retry-After";
  }

  auto [rc, out] = StackScript("up kafka");
  ASSERT_EQ(rc, 0) << out;
  load.Phase(2);
  // Service resumes by itself: fresh claims are granted again, /readyz is 200 again.
  EXPECT_TRUE(WaitUntil(30s, [&] { return load.Count(2, 201) >= 10; }))
      << "claims not granted again within 30 s of the broker's restart";
  EXPECT_TRUE(WaitUntil(10s, [&] {
    auto ready = Call("GET", "/readyz");
    return ready && ready->status == 200;
  })) << "/readyz not 200 again";
  load.Join();

  // Every answer was a 201 or a 503 with Retry-After, and every 201 is in the log.
  const TopicContents topic = ReadTopic();
  std::size_t granted = 0;
  for (const Answer& answer : load.Answers()) {
    ASSERT_TRUE(answer.status == 201 || answer.status == 503)
        << "phase " << answer.phase << ": status " << answer.status << " (0: no answer)";
    if (answer.status == 503) {
      EXPECT_FALSE(answer.retry_after.empty()) << "503 without Retry-After";
      continue;
    }
    ++granted;
    auto id = engine::Engine::ParseClaimId(answer.claim_id);
    ASSERT_TRUE(id.has_value()) << answer.claim_id;
    EXPECT_TRUE(topic.granted_claims.contains(id->value))
        << "phase " << answer.phase << ": 201 " << answer.claim_id << " is not in Kafka";
  }
  EXPECT_GT(granted, 0u);
  ExpectBooksClose({coupon});
}

TEST_F(ServeE2eTest, MysqlFrozenMidLoadKeepsGranting201AndThePersisterCatchesUp) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string coupon = "mf-" + unique_;
  ASSERT_EQ(Call("POST", "/v1/campaigns",
                 R"({"id":")" + coupon + R"(","kind":"coupon","name":"c","stock":5000})", kAdmin)
                ->status,
            201);
  StackRestorer restorer;
  ClaimLoad load(port_, coupon, 3, 1500);
  ASSERT_TRUE(WaitUntil(10s, [&] { return load.Count(0, 201) >= 30; }))
      << "no claims granted before the fault";
  const pid_t mariadb = StackPid("mariadb");
  ASSERT_GT(mariadb, 0) << "mariadb is not running";
  restorer.Frozen(mariadb);
  load.Phase(1);
  ASSERT_EQ(::kill(mariadb, SIGSTOP), 0);
  // Kafka is the write-ahead log: claims keep being granted while MySQL is frozen, and the
  // persister falls behind. (Nothing here may touch MySQL: it would block until the thaw.)
  // (Nothing here may touch MySQL: it would block until the thaw.)
  const std::int64_t lag_at_freeze = Metric("hotdeal_persister_lag_events");
  std::int64_t lag_max = lag_at_freeze;
  const bool grew = WaitUntil(8s, [&] {
    lag_max = std::max(lag_max, Metric("hotdeal_persister_lag_events"));
    return load.Count(1, 201) >= 100 && lag_max >= lag_at_freeze + 50;
  });
  std::this_thread::sleep_for(2s);  // bounded: about three seconds frozen in all
  ::kill(mariadb, SIGCONT);
  restorer.Thawed();
  load.Phase(2);
  EXPECT_TRUE(grew) << "201s while frozen: " << load.Count(1, 201)
                    << "; persister lag at the freeze " << lag_at_freeze << ", at most " << lag_max;
  EXPECT_TRUE(WaitUntil(5s, [&] { return load.Count(2, 201) >= 10; }));
  load.Join();

  std::set<std::string> granted;
  for (const Answer& answer : load.Answers()) {
    EXPECT_EQ(answer.status, 201) << "phase " << answer.phase << ": a claim not granted";
    if (answer.status == 201) {
      EXPECT_TRUE(granted.insert(answer.claim_id).second) << answer.claim_id << " told twice";
    }
  }
  // The persister catches up: exactly the engine's sales in MySQL, each 201 once.
  EXPECT_TRUE(WaitUntil(30s, [&] { return Metric("hotdeal_persister_lag_events") == 0; }))
      << "persister lag still " << Metric("hotdeal_persister_lag_events");
  ExpectBooksClose({coupon});
  const std::string rows = "FROM claims WHERE campaign_id = '" + coupon + "'";
  EXPECT_EQ(Number("SELECT COUNT(*) " + rows), static_cast<std::int64_t>(granted.size()));
  EXPECT_EQ(Number("SELECT COUNT(DISTINCT claim_id) " + rows),
            static_cast<std::int64_t>(granted.size()));
  EXPECT_EQ(Number("SELECT COUNT(DISTINCT user_id) " + rows),
            static_cast<std::int64_t>(granted.size()));
  EXPECT_EQ(Sold(coupon), static_cast<std::int64_t>(granted.size()));
}

}  // namespace
}  // namespace hotdeal::e2e
