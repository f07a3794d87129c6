// A coupon's use: redeem once, again on the same order (the same answer, no event), refused on
// another; restore by that order only; expiry by the clock; a refused append changes nothing;
// the code is found only with its user; replay keeps the newest change whatever order the log
// holds the two in.
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

OrderRef Ref(std::string_view text) {
  return *OrderRef::Parse(text);
}

class CouponUseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CampaignSpec spec = CouponSpec("c", 10);
    spec.terms.valid_seconds = 60;  // a coupon claimed at 100 s expires at 160 s
    ASSERT_EQ(engine_.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kCreated);
    Decision<Claim> claim = engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100));
    ASSERT_EQ(claim.outcome, Outcome::kCreated);
    code_ = std::string(claim.value->coupon_code.view());
  }
  Decision<Claim> Redeem(std::string_view order, int user = 1, int at = 110) {
    return engine_.RedeemCoupon({1}, code_, User(user), Ref(order), Seconds(at));
  }
  Decision<Claim> Restore(std::string_view order, int user = 1, int at = 110) {
    return engine_.RestoreCoupon({0}, code_, User(user), Ref(order), Seconds(at));
  }
  RecordingSink sink_;
  Engine engine_{SmallOptions(), sink_};
  std::string code_;
};

TEST_F(CouponUseTest, ACodeNamesItsCampaignAndIsIssuedUntilRedeemed) {
  ASSERT_EQ(code_.size(), 20u);
  Decision<Claim> read = engine_.GetCoupon(code_, User(1));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->campaign, Campaign("c"));
  EXPECT_EQ(read.value->StatusAt(Seconds(110)), CouponStatus::kIssued);
  EXPECT_EQ(read.value->StatusAt(Seconds(160)), CouponStatus::kExpired);
  // The claim reads the same code back.
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).value->coupon_code.view(), code_);
}

TEST_F(CouponUseTest, RedeemedOnceTheSameOrderHearsTheSameAnswerAndAnotherIsRefused) {
  const std::size_t before = sink_.size();
  Decision<Claim> redeemed = Redeem("order-1");
  ASSERT_EQ(redeemed.outcome, Outcome::kOk);
  EXPECT_TRUE(redeemed.value->redeemed);
  ASSERT_EQ(sink_.size(), before + 1);
  Event event = sink_.events().back();
  EXPECT_EQ(event.type, EventType::kCouponRedeemed);
  EXPECT_EQ(event.order_ref, Ref("order-1"));
  EXPECT_EQ(event.use, 1u);
  EXPECT_EQ(event.claim_id, redeemed.value->id);
  EXPECT_EQ(event.coupon_code.view(), code_);

  Decision<Claim> again = Redeem("order-1", 1, 500);  // past expires_at: still its order's
  EXPECT_EQ(again.outcome, Outcome::kOk);
  EXPECT_TRUE(again.value->redeemed);
  EXPECT_EQ(Redeem("order-2").outcome, Outcome::kAlreadyRedeemed);
  EXPECT_EQ(sink_.size(), before + 1);  // neither logged anything
  EXPECT_EQ(engine_.GetCoupon(code_, User(1)).value->StatusAt(Seconds(500)),
            CouponStatus::kRedeemed);
  EXPECT_EQ(engine_.Books(Campaign("c"))->redeemed, 1);
}

TEST_F(CouponUseTest, OnlyTheRedeemingOrderRestoresAndTheCouponIsUsableAgain) {
  EXPECT_EQ(Restore("order-1").outcome, Outcome::kConflict);  // not redeemed
  ASSERT_EQ(Redeem("order-1").outcome, Outcome::kOk);
  EXPECT_EQ(Restore("order-2").outcome, Outcome::kConflict);
  Decision<Claim> restored = Restore("order-1");
  ASSERT_EQ(restored.outcome, Outcome::kOk);
  EXPECT_FALSE(restored.value->redeemed);
  EXPECT_EQ(sink_.events().back().type, EventType::kCouponRestored);
  EXPECT_EQ(sink_.events().back().use, 2u);
  const std::size_t logged = sink_.size();
  EXPECT_EQ(Restore("order-1").outcome, Outcome::kOk);  // once: a retry hears the same
  EXPECT_EQ(sink_.size(), logged);
  ASSERT_EQ(Redeem("order-3").outcome, Outcome::kOk);
  EXPECT_EQ(sink_.events().back().use, 3u);
  CampaignBooks books = *engine_.Books(Campaign("c"));
  EXPECT_EQ(books.redeemed, 1);
  EXPECT_EQ(books.restored, 1);
  EXPECT_EQ(engine_.Stats().count(Operation::kRedeemCoupon, Outcome::kOk), 2u);
  EXPECT_EQ(engine_.Stats().count(Operation::kRestoreCoupon, Outcome::kConflict), 2u);
}

TEST_F(CouponUseTest, AnIssuedCouponPastItsExpiryIsNotRedeemed) {
  EXPECT_EQ(Redeem("order-1", 1, 160).outcome, Outcome::kExpired);
  EXPECT_EQ(Redeem("order-1", 1, 159).outcome, Outcome::kOk);
}

TEST_F(CouponUseTest, TheCodeIsFoundOnlyWithItsUserAndWhole) {
  EXPECT_EQ(Redeem("order-1", 2).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine_.GetCoupon(code_, User(2)).outcome, Outcome::kNotFound);
  std::string wrong = code_;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(engine_.GetCoupon(wrong, User(1)).outcome, Outcome::kNotFound);
  std::string other_campaign = code_;
  other_campaign[3] = other_campaign[3] == '1' ? '2' : '1';
  EXPECT_EQ(engine_.GetCoupon(other_campaign, User(1)).outcome, Outcome::kNotFound);
  for (std::string_view junk : {"", "0", "not-a-code", "IIIIIIIIIIIIIIIIIIII"}) {
    EXPECT_EQ(engine_.GetCoupon(junk, User(1)).outcome, Outcome::kNotFound) << junk;
  }
  EXPECT_EQ(engine_.GetCoupon(code_.substr(4), User(1)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Redeem("order-1").outcome, Outcome::kOk);  // nothing above changed it
}

TEST_F(CouponUseTest, ARefusedAppendChangesNothing) {
  sink_.set_refuse(true);
  EXPECT_EQ(Redeem("order-1").outcome, Outcome::kLogUnavailable);
  EXPECT_FALSE(engine_.GetCoupon(code_, User(1)).value->redeemed);
  sink_.set_refuse(false);
  ASSERT_EQ(Redeem("order-2").outcome, Outcome::kOk);
  EXPECT_EQ(sink_.events().back().use, 1u);  // the refused change took no number
  sink_.set_refuse(true);
  EXPECT_EQ(Restore("order-2").outcome, Outcome::kLogUnavailable);
  EXPECT_TRUE(engine_.GetCoupon(code_, User(1)).value->redeemed);
}

TEST_F(CouponUseTest, ReplayKeepsTheNewestChangeInEitherOrder) {
  ASSERT_EQ(Redeem("order-1").outcome, Outcome::kOk);
  ASSERT_EQ(Restore("order-1").outcome, Outcome::kOk);
  ASSERT_EQ(Redeem("order-2").outcome, Outcome::kOk);
  std::vector<Event> log = sink_.events();
  // The log as it may hold them: the last redeem before the restore, and a copy of the first
  // redeem appended again at the end.
  std::swap(log[log.size() - 1], log[log.size() - 2]);
  log.push_back(log[log.size() - 3]);
  for (bool swapped : {false, true}) {
    RecordingSink sink;
    Engine recovered(SmallOptions(), sink);
    ReplayClean(recovered, swapped ? log : sink_.events());
    Decision<Claim> read = recovered.GetCoupon(code_, User(1));
    ASSERT_EQ(read.outcome, Outcome::kOk);
    EXPECT_TRUE(read.value->redeemed);
    EXPECT_EQ(recovered.Books(Campaign("c"))->redeemed, 1);
    EXPECT_EQ(recovered.Stats().orphan_events, 0u);
    // The order it is redeemed on is order-2's, and the next change is number 4.
    EXPECT_EQ(recovered.RedeemCoupon({0}, code_, User(1), Ref("order-2"), Seconds(120)).outcome,
              Outcome::kOk);
    EXPECT_EQ(recovered.RedeemCoupon({0}, code_, User(1), Ref("order-1"), Seconds(120)).outcome,
              Outcome::kAlreadyRedeemed);
    ASSERT_EQ(recovered.RestoreCoupon({0}, code_, User(1), Ref("order-2"), Seconds(120)).outcome,
              Outcome::kOk);
    EXPECT_EQ(sink.events().back().use, 4u);
  }
}

TEST_F(CouponUseTest, AChangeOfAClaimTheLogLostIsAnOrphan) {
  ASSERT_EQ(Redeem("order-1").outcome, Outcome::kOk);
  std::vector<Event> log = sink_.events();
  log.erase(log.begin() + 1);  // the claim_granted (--ack memory, lost with the broker)
  RecordingSink sink;
  Engine recovered(SmallOptions(), sink);
  ReplayClean(recovered, log);
  EXPECT_EQ(recovered.Stats().orphan_events, 1u);
  EXPECT_EQ(recovered.GetCoupon(code_, User(1)).outcome, Outcome::kNotFound);
}

TEST_F(CouponUseTest, ACouponIsUsedOnlyOnceItsClaimIsFinal) {
  RecordingSink sink(/*reported=*/true);
  EngineOptions options = SmallOptions();
  options.await_acknowledgement = true;
  Engine durable(options, sink);
  ASSERT_EQ(durable.CreateCampaign(CouponSpec("d", 3), Seconds(0)).outcome, Outcome::kCreated);
  durable.Acknowledge(sink.events().back());
  Decision<Claim> claim = durable.ClaimCoupon({0}, Campaign("d"), User(1), {}, Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  const std::string code(claim.value->coupon_code.view());
  EXPECT_EQ(durable.RedeemCoupon({0}, code, User(1), Ref("o"), Seconds(101)).outcome,
            Outcome::kPending);
  EXPECT_EQ(durable.GetCoupon(code, User(1)).outcome, Outcome::kPending);
  durable.Acknowledge(sink.events().back());
  Decision<Claim> redeemed = durable.RedeemCoupon({0}, code, User(1), Ref("o"), Seconds(101));
  EXPECT_EQ(redeemed.outcome, Outcome::kOk);
  EXPECT_NE(redeemed.ticket.value, 0u);  // the gateway waits for it with --ack durable
  // The log never loses it for good: a report that it was not persisted appends it again.
  EXPECT_EQ(durable.Report(sink.events().back(), Durability::kNotPersisted),
            LogReports::Next::kAppendAgain);
  EXPECT_TRUE(durable.GetCoupon(code, User(1)).value->redeemed);
}

}  // namespace
}  // namespace hotdeal::engine
