// Durable acks (gateway/README.md): a decision's reply waits for the log, is answered 201 only
// if the log persisted its event and 503 + Retry-After otherwise, keeps pipelined order, and
// survives its client leaving; a retry, a repeat or a read of a decision still waiting waits for
// the log's answer too (API.md v1.1), up to pending_wait_max, then answers 503. The
// log is a fake the test settles by hand, from its own thread, reporting into the engine first
// as KafkaLog's poll thread does.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "http_client.h"

namespace hotdeal::gateway::testing {
namespace {

constexpr std::string_view kCoupon = R"({"id": "bf", "kind": "coupon", "name": "x", "stock": 3})";

class FakeLog final : public engine::EventSink, public engine::DurableLog {
 public:
  std::optional<engine::LogTicket> Append(engine::WorkerId,
                                          const engine::Event& event) noexcept override {
    std::lock_guard lock(mutex_);
    std::uint64_t ticket = next_ticket_++;
    events_.emplace(ticket, event);
    return engine::LogTicket{ticket};
  }
  void Await(engine::LogTicket ticket, engine::LogWaiter& waiter) noexcept override {
    if (settle_at_once_.load()) {  // the report came first
      Report(ticket.value, true);
      return waiter.OnSettled(engine::Durability::kPersisted);
    }
    std::lock_guard lock(mutex_);
    awaited_.emplace(ticket.value, &waiter);
    changed_.notify_all();
  }
  void Forget(engine::LogTicket ticket) noexcept override {
    std::lock_guard lock(mutex_);
    forgotten_.push_back(ticket.value);
  }
  bool healthy() const noexcept override { return healthy_.load(); }

  // Test thread: the tickets awaited and not settled, once there are `count` of them.
  std::vector<std::uint64_t> WaitAwaited(std::size_t count) {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(
        changed_.wait_for(lock, std::chrono::seconds{5}, [&] { return awaited_.size() >= count; }));
    std::vector<std::uint64_t> tickets;
    for (const auto& [ticket, waiter] : awaited_)
      tickets.push_back(ticket);
    return tickets;
  }
  void Settle(std::uint64_t ticket, bool persisted) {
    engine::LogWaiter* waiter = nullptr;
    {
      std::lock_guard lock(mutex_);
      auto it = awaited_.find(ticket);
      ASSERT_NE(it, awaited_.end()) << ticket;
      waiter = it->second;
      awaited_.erase(it);
    }
    Report(ticket, persisted);
    waiter->OnSettled(persisted ? engine::Durability::kPersisted
                                : engine::Durability::kNotPersisted);
  }
  std::size_t forgotten() {
    std::lock_guard lock(mutex_);
    return forgotten_.size();
  }

  std::atomic<bool> settle_at_once_{true};
  std::atomic<bool> healthy_{true};
  engine::Engine* engine_ = nullptr;  // set once the fixture made it

 private:
  // What KafkaLog tells the engine before the waiter hears.
  void Report(std::uint64_t ticket, bool persisted) {
    engine::Event event;
    {
      std::lock_guard lock(mutex_);
      event = events_.at(ticket);
    }
    if (persisted) {
      engine_->Acknowledge(event);
    } else {
      engine_->Revert(event);
    }
  }

  std::uint64_t next_ticket_ = 1;  // guarded by mutex_
  std::map<std::uint64_t, engine::Event> events_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint64_t, engine::LogWaiter*> awaited_;
  std::vector<std::uint64_t> forgotten_;
};

class DurableTest : public GatewayTest {
 protected:
  void Start(AckMode ack) {
    event_sink_ = &log_fake_;
    log_ = &log_fake_;
    options_.threads = 1;
    options_.ack = ack;
    options_.pending_acks_max = 2;
    // As the app does: only durable acks hold decisions back until the log reports them.
    engine_options_.await_acknowledgement = ack == AckMode::kDurable;
    StartServer();
    log_fake_.engine_ = engine_.get();
    CreateCampaign(kCoupon);  // settled at once
    log_fake_.settle_at_once_ = false;
  }
  static std::string Claim(std::string_view user) {
    return BuildRequest("POST", "/v1/campaigns/bf/claims",
                        R"({"user_id": ")" + std::string(user) + R"("})");
  }
  std::int64_t Remaining() {
    return JsonInt(HttpClient(port()).Send("GET", "/v1/campaigns/bf")->body, "remaining");
  }

  FakeLog log_fake_;
};

TEST_F(DurableTest, ReplyWaitsForThePersistedReport) {
  Start(AckMode::kDurable);
  HttpClient client(port(), std::chrono::milliseconds{300});
  ASSERT_TRUE(client.Write(Claim("u1")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_FALSE(client.Read().has_value()) << "answered before the log settled";
  log_fake_.Settle(tickets[0], true);
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 201) << response->body;
  EXPECT_EQ(JsonString(response->body, "user_id"), "u1");
  EXPECT_EQ(log_fake_.forgotten(), 0u);
}

TEST_F(DurableTest, RequestsReachingAWaitingDecisionAnswerOnceTheLogHasSpoken) {
  Start(AckMode::kDurable);
  constexpr std::string_view kKey = "Idempotency-Key: k-1\r\n";
  HttpClient first(port(), std::chrono::milliseconds{300});
  ASSERT_TRUE(
      first.Write(BuildRequest("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey)));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  ASSERT_EQ(tickets.size(), 1u);
  // Before the log has it: a keyed retry, a read and the same user again (a double click)
  // each wait, on connections of their own, and reveal nothing yet.
  HttpClient retry(port(), std::chrono::milliseconds{300});
  HttpClient read(port(), std::chrono::milliseconds{300});
  HttpClient again(port(), std::chrono::milliseconds{300});
  ASSERT_TRUE(
      retry.Write(BuildRequest("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey)));
  ASSERT_TRUE(read.Write(BuildRequest("GET", "/v1/campaigns/bf/claims/u1", "")));
  ASSERT_TRUE(again.Write(Claim("u1")));
  EXPECT_FALSE(retry.Read().has_value()) << "answered before the log spoke";
  EXPECT_FALSE(read.Read().has_value());
  EXPECT_FALSE(again.Read().has_value());
  EXPECT_EQ(log_fake_.WaitAwaited(1).size(), 1u) << "the waiting requests decided nothing new";

  log_fake_.Settle(tickets[0], true);
  auto created = first.Read();
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->status, 201) << created->body;
  const std::string claim_id = JsonString(created->body, "claim_id");
  auto replayed = retry.Read();
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(replayed->status, 201) << replayed->body;
  EXPECT_EQ(JsonString(replayed->body, "claim_id"), claim_id);
  auto got = read.Read();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(JsonString(got->body, "claim_id"), claim_id);
  auto repeated = again.Read();
  ASSERT_TRUE(repeated.has_value());
  EXPECT_EQ(repeated->status, 409) << repeated->body;
  EXPECT_EQ(JsonString(repeated->body, "error"), "already_claimed");
  EXPECT_EQ(JsonString(repeated->body, "claim_id"), claim_id);
  auto metrics = HttpClient(port()).Send("GET", "/metrics");
  EXPECT_NE(metrics->body.find(R"(hotdeal_http_pending_waits_total{result="answered"} 3)"),
            std::string::npos)
      << metrics->body;
}

TEST_F(DurableTest, AWaitPastItsBoundIs503Pending) {
  options_.pending_wait_max = std::chrono::milliseconds{100};
  Start(AckMode::kDurable);
  constexpr std::string_view kKey = "Idempotency-Key: k-1\r\n";
  HttpClient first(port());
  ASSERT_TRUE(
      first.Write(BuildRequest("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey)));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  ASSERT_EQ(tickets.size(), 1u);
  HttpClient other(port());
  auto started = std::chrono::steady_clock::now();
  auto retry = other.Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey);
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->status, 503) << retry->body;
  EXPECT_EQ(JsonString(retry->body, "error"), "unavailable");
  EXPECT_EQ(retry->header("retry-after"), "1");
  EXPECT_EQ(retry->body.find("claim_id"), std::string::npos) << retry->body;
  EXPECT_GE(waited, std::chrono::milliseconds{100});
  EXPECT_LT(waited, std::chrono::milliseconds{1000});
  auto metrics = other.Send("GET", "/metrics");
  EXPECT_NE(metrics->body.find(R"(hotdeal_http_pending_waits_total{result="timed_out"} 1)"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(R"(outcome="pending")"), std::string::npos);
  log_fake_.Settle(tickets[0], true);
  EXPECT_EQ(first.Read()->status, 201);
}

TEST_F(DurableTest, AReplyTheLogHoldsPastItsBoundIs503PendingAndItsLateReportIsDropped) {
  options_.ack_wait_max = std::chrono::milliseconds{200};
  Start(AckMode::kDurable);
  constexpr std::string_view kKey = "Idempotency-Key: k-1\r\n";
  HttpClient client(port(), std::chrono::milliseconds{1000});
  const auto started = std::chrono::steady_clock::now();
  auto pending = client.Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey);
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->status, 503) << pending->body;
  EXPECT_EQ(JsonString(pending->body, "error"), "unavailable");
  EXPECT_EQ(pending->header("retry-after"), "1");
  EXPECT_NE(pending->body.find("Idempotency-Key"), std::string::npos) << pending->body;
  EXPECT_GE(waited, std::chrono::milliseconds{200});
  EXPECT_LT(waited, std::chrono::milliseconds{2000});
  // Round the connection's ring of reply slots, so that u2's reply takes the slot u1's had.
  for (std::size_t i = 1; i < 8; ++i)
    ASSERT_EQ(client.Send("GET", "/healthz")->status, 200);
  ASSERT_TRUE(client.Write(Claim("u2")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(2);
  ASSERT_EQ(tickets.size(), 2u);
  // The log now persists u1. Its late report must not answer u2's request, which holds the
  // same slot: u2 hears its own bound instead, since its own ticket is still unsettled.
  log_fake_.Settle(tickets[0], true);
  auto second = client.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 503) << "u1's report answered u2: " << second->body;
  log_fake_.Settle(tickets[1], true);
  // The keyed retry learns the first's outcome: it stood.
  auto retry =
      HttpClient(port()).Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->status, 201) << retry->body;
  EXPECT_EQ(JsonString(retry->body, "user_id"), "u1");
  auto metrics = HttpClient(port()).Send("GET", "/metrics");
  EXPECT_NE(metrics->body.find("hotdeal_http_ack_waits_timed_out_total 2"), std::string::npos)
      << metrics->body;
}

TEST_F(DurableTest, ADoubleClickAfterANotPersistedFirstIsDecidedAfresh) {
  Start(AckMode::kDurable);
  HttpClient first(port());
  HttpClient second(port(), std::chrono::milliseconds{300});
  ASSERT_TRUE(first.Write(Claim("u1")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  ASSERT_EQ(tickets.size(), 1u);
  ASSERT_TRUE(second.Write(Claim("u1")));
  EXPECT_FALSE(second.Read().has_value());
  // The log refuses the first: the second comes after it, so it claims for itself.
  log_fake_.Settle(tickets[0], false);
  EXPECT_EQ(first.Read()->status, 503);
  std::vector<std::uint64_t> next = log_fake_.WaitAwaited(1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_NE(next[0], tickets[0]);
  log_fake_.Settle(next[0], true);
  auto claimed = second.Read();
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->status, 201) << claimed->body;
  EXPECT_EQ(Remaining(), 2);
}

TEST_F(DurableTest, AWaitingRequestKeepsPipelinedOrder) {
  Start(AckMode::kDurable);
  HttpClient client(port());
  // The second waits for the first's decision; the third is decided only after it.
  ASSERT_TRUE(client.Write(Claim("u1") + Claim("u1") + Claim("u2")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  ASSERT_EQ(tickets.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  EXPECT_EQ(log_fake_.WaitAwaited(1).size(), 1u) << "u2 was decided before the wait ahead of it";
  log_fake_.Settle(tickets[0], true);
  std::vector<std::uint64_t> next = log_fake_.WaitAwaited(1);
  ASSERT_EQ(next.size(), 1u);
  log_fake_.Settle(next[0], true);
  auto one = client.Read();
  auto two = client.Read();
  auto three = client.Read();
  ASSERT_TRUE(one && two && three);
  EXPECT_EQ(one->status, 201) << one->body;
  EXPECT_EQ(two->status, 409) << two->body;
  EXPECT_EQ(three->status, 201) << three->body;
  EXPECT_EQ(JsonString(three->body, "user_id"), "u2");
}

TEST_F(DurableTest, NotPersistedIsA503WithRetryAfterAndOrderHolds) {
  Start(AckMode::kDurable);
  HttpClient client(port());
  // Two pipelined claims; the second settles first, yet replies leave in request order.
  ASSERT_TRUE(client.Write(Claim("u1") + Claim("u2")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(2);
  ASSERT_EQ(tickets.size(), 2u);
  log_fake_.Settle(tickets[1], true);
  log_fake_.Settle(tickets[0], false);
  auto first = client.Read();
  auto second = client.Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 503) << first->body;
  EXPECT_EQ(JsonString(first->body, "error"), "unavailable");
  EXPECT_EQ(first->header("retry-after"), "1");
  EXPECT_EQ(second->status, 201) << second->body;
  EXPECT_EQ(JsonString(second->body, "user_id"), "u2");
}

TEST_F(DurableTest, FullPoolAnswers503AtOnceAndForgetsTheTicket) {
  Start(AckMode::kDurable);  // two waiters
  HttpClient a(port());
  HttpClient b(port());
  ASSERT_TRUE(a.Write(Claim("u1") + Claim("u2")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(2);
  auto refused = b.Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u3"})");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(refused->header("retry-after"), "1");
  EXPECT_EQ(log_fake_.forgotten(), 1u);
  for (std::uint64_t ticket : tickets)
    log_fake_.Settle(ticket, true);
  EXPECT_EQ(a.Read()->status, 201);
  EXPECT_EQ(a.Read()->status, 201);
}

TEST_F(DurableTest, ClientLeavingBeforeTheReportLeavesNothingBehind) {
  Start(AckMode::kDurable);
  {
    HttpClient client(port());
    ASSERT_TRUE(client.Write(Claim("u1")));
    log_fake_.WaitAwaited(1);
  }  // closed while its reply waits
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  ASSERT_EQ(tickets.size(), 1u);
  log_fake_.Settle(tickets[0], true);
  // The waiter is free again (pool of two): two more decisions can wait at once.
  HttpClient client(port());
  ASSERT_TRUE(client.Write(Claim("u2") + BuildRequest("GET", "/v1/campaigns/bf", "")));
  std::vector<std::uint64_t> next = log_fake_.WaitAwaited(1);
  log_fake_.Settle(next[0], true);
  EXPECT_EQ(client.Read()->status, 201);
  EXPECT_EQ(client.Read()->status, 200);
  EXPECT_EQ(Remaining(), 1);
}

TEST_F(DurableTest, MemoryModeAnswersAtOnceAndForgets) {
  Start(AckMode::kMemory);
  std::size_t forgotten = log_fake_.forgotten();  // the campaign's creation
  constexpr std::string_view kKey = "Idempotency-Key: k-1\r\n";
  HttpClient client(port());
  auto response = client.Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(log_fake_.forgotten(), forgotten + 1);
  EXPECT_TRUE(log_fake_.WaitAwaited(0).empty());
  // Not reported yet, and final all the same: memory mode answers from memory.
  EXPECT_EQ(client.Send("POST", "/v1/campaigns/bf/claims", R"({"user_id": "u1"})", kKey)->status,
            201);
  EXPECT_EQ(client.Send("GET", "/v1/campaigns/bf/claims/u1")->status, 200);
}

TEST_F(DurableTest, RejectionsDoNotWait) {
  Start(AckMode::kDurable);
  auto response =
      HttpClient(port()).Send("POST", "/v1/campaigns/nope/claims", R"({"user_id": "u1"})");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(log_fake_.forgotten(), 0u);
  EXPECT_TRUE(log_fake_.WaitAwaited(0).empty());
}

TEST_F(DurableTest, ReadyzAsksTheLog) {
  Start(AckMode::kDurable);
  EXPECT_EQ(HttpClient(port()).Send("GET", "/readyz")->status, 200);
  log_fake_.healthy_ = false;
  auto response = HttpClient(port()).Send("GET", "/readyz");
  EXPECT_EQ(response->status, 503);
  EXPECT_NE(response->body.find("durable log"), std::string::npos) << response->body;
}

TEST_F(DurableTest, ShutdownWaitsForAPendingReply) {
  Start(AckMode::kDurable);
  HttpClient client(port());
  ASSERT_TRUE(client.Write(Claim("u1")));
  std::vector<std::uint64_t> tickets = log_fake_.WaitAwaited(1);
  std::thread settle([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    log_fake_.Settle(tickets[0], true);
  });
  server_->Shutdown(std::chrono::seconds{5});
  settle.join();
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 201);
}

}  // namespace
}  // namespace hotdeal::gateway::testing
