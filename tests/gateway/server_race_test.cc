// Many clients on many connections racing for one campaign, through the whole HTTP stack:
// exactly `stock` claims succeed, no user gets two, and the campaign ends at zero remaining;
// and threads racing for one rate-limit bucket.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "http_client.h"
#include "rate_limiter.h"

namespace hotdeal::gateway::testing {
namespace {

class RaceTest : public GatewayTest {};

TEST_F(RaceTest, ConcurrentClaimsSellExactlyTheStock) {
  constexpr int kStock = 300;
  constexpr int kThreads = 6;
  constexpr int kConnectionsPerThread = 4;
  constexpr int kUsersPerConnection = 40;  // 960 distinct users, each trying twice
  StartServer();
  CreateCampaign(R"({"id": "hot", "kind": "coupon", "name": "n", "stock": 300})");

  std::mutex mutex;
  std::set<std::string> winners;
  std::set<std::string> claim_ids;
  int created = 0;
  int sold_out = 0;
  int already = 0;
  int other = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<HttpClient>> clients;
      for (int c = 0; c < kConnectionsPerThread; ++c) {
        clients.push_back(std::make_unique<HttpClient>(port()));
      }
      for (int round = 0; round < 2; ++round) {
        for (int u = 0; u < kUsersPerConnection; ++u) {
          for (int c = 0; c < kConnectionsPerThread; ++c) {
            std::string user =
                "u" + std::to_string(t) + "-" + std::to_string(c) + "-" + std::to_string(u);
            auto response = clients[static_cast<std::size_t>(c)]->Send(
                "POST", "/v1/campaigns/hot/claims", R"({"user_id": ")" + user + "\"}");
            std::lock_guard lock(mutex);
            if (!response) {
              ++other;
            } else if (response->status == 201) {
              ++created;
              EXPECT_TRUE(winners.insert(JsonString(response->body, "user_id")).second) << user;
              claim_ids.insert(JsonString(response->body, "claim_id"));
            } else if (JsonString(response->body, "error") == "sold_out") {
              ++sold_out;
            } else if (JsonString(response->body, "error") == "already_claimed") {
              ++already;
            } else {
              ++other;
            }
          }
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  constexpr int kAttempts = kThreads * kConnectionsPerThread * kUsersPerConnection * 2;
  EXPECT_EQ(created, kStock);
  EXPECT_EQ(static_cast<int>(winners.size()), kStock);
  EXPECT_EQ(static_cast<int>(claim_ids.size()), kStock);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(created + sold_out + already, kAttempts);
  // A winner's second attempt is already_claimed, or sold_out once the engine's sold-out fast
  // path answers before looking the user up; either way it never wins twice.
  EXPECT_LE(already, kStock);

  HttpClient client(port());
  auto campaign = client.Send("GET", "/v1/campaigns/hot");
  ASSERT_TRUE(campaign);
  EXPECT_EQ(JsonInt(campaign->body, "remaining"), 0);
  EXPECT_EQ(JsonString(campaign->body, "status"), "sold_out");
  for (const std::string& user : {*winners.begin(), *winners.rbegin()}) {
    auto claim = client.Send("GET", "/v1/campaigns/hot/claims/" + user);
    ASSERT_TRUE(claim);
    EXPECT_EQ(claim->status, 200);
  }
}

// Threads racing for one key's tokens at one instant (no refill): exactly the burst is let
// through, because a bucket only changes by a CAS from the word the decision was made on.
TEST(RateLimiterRaceTest, RacingTakesOfOneKeyGrantExactlyTheBurst) {
  constexpr std::uint32_t kBurst = 500;
  constexpr int kThreads = 4;
  constexpr int kTakesPerThread = 400;
  RateLimiter limiter({.per_second = 1, .burst = kBurst}, 64, 7);
  RateLimiter::Clock::time_point now = RateLimiter::Clock::now();
  std::uint64_t key = limiter.Hash("bot");
  std::atomic<int> allowed{0};
  std::atomic<int> limited{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kTakesPerThread; ++i) {
        RateVerdict verdict = limiter.Take(key, now).verdict;
        (verdict == RateVerdict::kLimited ? limited : allowed).fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(allowed.load(), static_cast<int>(kBurst));
  EXPECT_EQ(limited.load(), kThreads * kTakesPerThread - static_cast<int>(kBurst));
}

}  // namespace
}  // namespace hotdeal::gateway::testing
