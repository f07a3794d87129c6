// Google Benchmark of the gateway's per-request checks, alone: the rate limiter's hash and
// take (the claim route's added cost, set beside a whole request in bench/RESULTS.md) and the
// user-token check. Run pinned: taskset -c 0 build/release/bench/gateway_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "hotdeal/gateway/user_token.h"
#include "rate_limiter.h"

namespace hotdeal::gateway {
namespace {

constexpr RateLimit kUserDefault{10, 20};
constexpr std::uint32_t kSlots = 1 << 18;
constexpr std::size_t kUsers = 1 << 16;

std::vector<std::string> UserIds() {
  std::vector<std::string> users;
  for (std::size_t i = 0; i < kUsers; ++i)
    users.push_back("w1-" + std::to_string(i));
  return users;
}

// A claim by a user the table may not hold yet: hash the id, take a token. The clock moves
// 10 us a request (100 000 requests/s), so each id comes back every 0.66 s, well within its
// rate: every take is allowed, as in the wrk run.
void RateLimitTakeDistinctUsers(benchmark::State& state) {
  RateLimiter limiter(kUserDefault, kSlots, 1);
  std::vector<std::string> users = UserIds();
  RateLimiter::Clock::time_point now = RateLimiter::Clock::now();
  std::size_t i = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds{10};
    RateDecision decision = limiter.Take(limiter.Hash(users[i++ % kUsers]), now);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(RateLimitTakeDistinctUsers);

// The worst case for sharing: every thread takes from one bucket (one client address with the
// per-address limit on), so one word is CASed by every core.
void RateLimitTakeOneKey(benchmark::State& state) {
  static RateLimiter limiter({1'000'000, 1'000'000}, kSlots, 1);
  std::uint64_t key = limiter.Hash("127.0.0.1");
  for (auto _ : state) {
    RateDecision decision = limiter.Take(key, RateLimiter::Clock::now());
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(RateLimitTakeOneKey)->Threads(1)->Threads(2)->UseRealTime();

// A refused request: loads only, no write.
void RateLimitRefused(benchmark::State& state) {
  RateLimiter limiter({1, 1}, kSlots, 1);
  std::uint64_t key = limiter.Hash("bot");
  RateLimiter::Clock::time_point now = RateLimiter::Clock::now();
  limiter.Take(key, now);
  for (auto _ : state) {
    RateDecision decision = limiter.Take(key, now);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(RateLimitRefused);

void UserTokenVerify(benchmark::State& state) {
  std::string error;
  std::optional<UserTokenKey> key = UserTokenKey::Make(std::string(32, 'k'), error);
  std::string token = key->Mint("u-1842", 1'800'000'000);
  for (auto _ : state) {
    TokenCheck check = key->Verify("u-1842", token, 1'700'000'000);
    benchmark::DoNotOptimize(check);
  }
}
BENCHMARK(UserTokenVerify);

}  // namespace
}  // namespace hotdeal::gateway

BENCHMARK_MAIN();
