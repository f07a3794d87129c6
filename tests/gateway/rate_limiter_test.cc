// RateLimiter on an injected clock: burst then rate, Retry-After, independent keys, the
// fail-open policy of a full set and the reuse of idle buckets.
#include "rate_limiter.h"

#include <gtest/gtest.h>

namespace hotdeal::gateway {
namespace {

using std::chrono::milliseconds;
using Clock = RateLimiter::Clock;

constexpr std::uint64_t kSeed = 42;

TEST(RateLimiterTest, BurstThenOneTokenPerInterval) {
  RateLimiter limiter({.per_second = 10, .burst = 3}, 1024, kSeed);
  Clock::time_point now = Clock::now();
  std::uint64_t key = limiter.Hash("u-1");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(limiter.Take(key, now).verdict, RateVerdict::kAllowed) << i;
  RateDecision refused = limiter.Take(key, now);
  EXPECT_EQ(refused.verdict, RateVerdict::kLimited);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
  // Refusals take nothing: one token is back 100 ms later, and only one.
  EXPECT_EQ(limiter.Take(key, now + milliseconds{99}).verdict, RateVerdict::kLimited);
  EXPECT_EQ(limiter.Take(key, now + milliseconds{100}).verdict, RateVerdict::kAllowed);
  EXPECT_EQ(limiter.Take(key, now + milliseconds{100}).verdict, RateVerdict::kLimited);
  // Idle long enough, the bucket is full again, never fuller.
  Clock::time_point later = now + std::chrono::seconds{10};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(limiter.Take(key, later).verdict, RateVerdict::kAllowed) << i;
  EXPECT_EQ(limiter.Take(key, later).verdict, RateVerdict::kLimited);
}

TEST(RateLimiterTest, KeysHaveTheirOwnBuckets) {
  RateLimiter limiter({.per_second = 1, .burst = 1}, 1024, kSeed);
  Clock::time_point now = Clock::now();
  EXPECT_EQ(limiter.Take(limiter.Hash("u-1"), now).verdict, RateVerdict::kAllowed);
  EXPECT_EQ(limiter.Take(limiter.Hash("u-1"), now).verdict, RateVerdict::kLimited);
  EXPECT_EQ(limiter.Take(limiter.Hash("u-2"), now).verdict, RateVerdict::kAllowed);
}

TEST(RateLimiterTest, HashDependsOnTheWholeKeyAndTheSeed) {
  RateLimiter one({.per_second = 1, .burst = 1}, 8, 1);
  RateLimiter two({.per_second = 1, .burst = 1}, 8, 2);
  EXPECT_EQ(one.Hash("user-123456789"), one.Hash("user-123456789"));
  EXPECT_NE(one.Hash("user-123456789"), one.Hash("user-123456788"));
  EXPECT_NE(one.Hash("u"), one.Hash(std::string_view("u\0", 2)));
  EXPECT_NE(one.Hash("user-123456789"), two.Hash("user-123456789"));
}

TEST(RateLimiterTest, OffMeansDisabledAndNoTable) {
  RateLimiter limiter({.per_second = 0, .burst = 5}, 1024, kSeed);
  EXPECT_FALSE(limiter.enabled());
}

TEST(RateLimiterTest, SlotsRoundUpToWholeSets) {
  EXPECT_EQ(RateLimiter({.per_second = 1, .burst = 1}, 1, kSeed).slots(), 8u);
  EXPECT_EQ(RateLimiter({.per_second = 1, .burst = 1}, 100, kSeed).slots(), 128u);
}

// With 8 slots there is one set; keys differ in their tag (the top 16 bits of the hash).
std::uint64_t KeyWithTag(std::uint64_t tag) {
  return tag << 48;
}

TEST(RateLimiterTest, FullSetFailsOpenAndIdleBucketsAreReused) {
  RateLimiter limiter({.per_second = 1, .burst = 2}, 8, kSeed);
  Clock::time_point now = Clock::now();
  for (std::uint64_t tag = 1; tag <= 8; ++tag)
    EXPECT_EQ(limiter.Take(KeyWithTag(tag), now).verdict, RateVerdict::kAllowed) << tag;
  // Every bucket is below its burst: a ninth key is let through, unlimited, and counted.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(limiter.Take(KeyWithTag(9), now).verdict, RateVerdict::kAllowedTableFull);
  // The known keys are still limited meanwhile.
  EXPECT_EQ(limiter.Take(KeyWithTag(1), now).verdict, RateVerdict::kAllowed);
  EXPECT_EQ(limiter.Take(KeyWithTag(1), now).verdict, RateVerdict::kLimited);
  // One second later key 2's bucket is full again: the ninth key takes its slot.
  Clock::time_point later = now + std::chrono::seconds{1};
  EXPECT_EQ(limiter.Take(KeyWithTag(9), later).verdict, RateVerdict::kAllowedEvicted);
  EXPECT_EQ(limiter.Take(KeyWithTag(9), later).verdict, RateVerdict::kAllowed);
  EXPECT_EQ(limiter.Take(KeyWithTag(9), later).verdict, RateVerdict::kLimited);
}

}  // namespace
}  // namespace hotdeal::gateway
