// The sale's schedule (arrivals, repeats, determinism) and the answer reader's field picking.
#include "flash_sale.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "answers.h"

namespace hotdeal::bench {
namespace {

constexpr int64_t kRampNs = 1'000'000'000;

SalePlan Plan(int32_t users, uint64_t seed) {
  SalePlan plan;
  plan.users = users;
  plan.seed = seed;
  return plan;
}

TEST(ScheduleTest, UniformSpreadsEvenlyOverTheRamp) {
  SalePlan plan = Plan(1000, 1);
  BuildSchedule(plan, Arrival::kUniform, kRampNs, 0, 300);
  EXPECT_EQ(plan.press_offset_ns.front(), 0);
  EXPECT_EQ(plan.press_offset_ns[500], kRampNs / 2);
  EXPECT_LT(plan.press_offset_ns.back(), kRampNs);
  EXPECT_TRUE(std::is_sorted(plan.press_offset_ns.begin(), plan.press_offset_ns.end()));
  EXPECT_EQ(std::count(plan.repeat_gap_us.begin(), plan.repeat_gap_us.end(), 0), 1000);
}

TEST(ScheduleTest, PoissonIsSortedInsideTheRampAndSeeded) {
  SalePlan plan = Plan(10'000, 7);
  BuildSchedule(plan, Arrival::kPoisson, kRampNs, 0, 300);
  EXPECT_TRUE(std::is_sorted(plan.press_offset_ns.begin(), plan.press_offset_ns.end()));
  EXPECT_GE(plan.press_offset_ns.front(), 0);
  EXPECT_LT(plan.press_offset_ns.back(), kRampNs);
  SalePlan again = Plan(10'000, 7);
  BuildSchedule(again, Arrival::kPoisson, kRampNs, 0, 300);
  EXPECT_EQ(plan.press_offset_ns, again.press_offset_ns);
}

TEST(ScheduleTest, BurstPressesAllAtTheOpening) {
  SalePlan plan = Plan(100, 1);
  BuildSchedule(plan, Arrival::kBurst, kRampNs, 0, 300);
  EXPECT_EQ(std::count(plan.press_offset_ns.begin(), plan.press_offset_ns.end(), 0), 100);
}

TEST(ScheduleTest, RepeatsComeAtTheAskedRateAndGap) {
  SalePlan plan = Plan(100'000, 3);
  BuildSchedule(plan, Arrival::kUniform, kRampNs, 5, 300);
  const auto repeats = std::count_if(plan.repeat_gap_us.begin(), plan.repeat_gap_us.end(),
                                     [](int32_t gap) { return gap > 0; });
  EXPECT_NEAR(static_cast<double>(repeats), 5000, 300);
  for (const int32_t gap : plan.repeat_gap_us) {
    if (gap == 0) continue;
    EXPECT_GE(gap, 10'000);
    EXPECT_LE(gap, 300'000);
  }
}

TEST(AnswerReaderTest, PicksClaimFieldsInAnyOrder) {
  AnswerReader reader;
  ClaimFields fields;
  ASSERT_TRUE(reader.ReadClaim(
      R"({"created_at":"x","coupon_code":"CP-1","user_id":"u-7","claim_id":"c-1","n":{"a":[1]}})",
      fields));
  EXPECT_EQ(fields.claim_id, "c-1");
  EXPECT_EQ(fields.coupon_code, "CP-1");
  EXPECT_EQ(fields.user_id, "u-7");
  EXPECT_TRUE(fields.error.empty());
  ASSERT_TRUE(reader.ReadClaim(R"({"error":"already_claimed","claim_id":"c-9"})", fields));
  EXPECT_EQ(fields.error, "already_claimed");
  EXPECT_EQ(fields.claim_id, "c-9");
  EXPECT_FALSE(reader.ReadClaim("not json", fields));
  EXPECT_FALSE(reader.ReadClaim(R"({"claim_id":5})", fields));
}

TEST(AnswerReaderTest, ReadsCampaignsAndServerTime) {
  AnswerReader reader;
  CampaignFields campaign;
  ASSERT_TRUE(reader.ReadCampaign(
      R"({"id":"c","stock":10,"remaining":0,"status":"sold_out","starts_at":"2026-11-21T10:00:00Z"})",
      campaign));
  EXPECT_EQ(campaign.stock, 10);
  EXPECT_EQ(campaign.remaining, 0);
  EXPECT_EQ(campaign.status, "sold_out");
  EXPECT_EQ(reader.ReadServerTimeNs(R"({"now":"1970-01-01T00:00:01.5Z","unix_ms":1500})"),
            1'500'000'000);
  EXPECT_EQ(reader.ReadServerTimeNs(R"({"unix_ms":2000})"), 2'000'000'000);
  EXPECT_FALSE(reader.ReadServerTimeNs(R"({"time":1})"));
}

}  // namespace
}  // namespace hotdeal::bench
