// Coupon claims: one per user, sold out exactly, idempotency keys (replay, scoping, aging),
// sink refusal undoing everything, Revert, and the text forms of ids and codes.
#include <gtest/gtest.h>

#include <set>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

class ClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 3), Seconds(0)).outcome, Outcome::kCreated);
  }
  Decision<Claim> ClaimAs(int user, std::optional<IdempotencyKey> key = {},
                          TimePoint now = Seconds(100), std::uint32_t worker = 0) {
    return engine_.ClaimCoupon({worker}, Campaign("c"), User(user), key, now);
  }
  std::uint32_t Remaining() {
    return engine_.GetCampaign(Campaign("c"), Seconds(100)).value->remaining;
  }

  RecordingSink sink_;
  Engine engine_{SmallOptions(), sink_};
};

TEST_F(ClaimTest, GrantsOncePerUserAndRecordsTheClaim) {
  Decision<Claim> first = ClaimAs(1);
  ASSERT_EQ(first.outcome, Outcome::kCreated);
  EXPECT_EQ(first.value->user, User(1));
  EXPECT_EQ(first.value->created_at, Seconds(100));
  Decision<Claim> again = ClaimAs(1, {}, Seconds(101), 1);
  EXPECT_EQ(again.outcome, Outcome::kAlreadyClaimed);
  ASSERT_TRUE(again.value);
  EXPECT_EQ(again.value->id, first.value->id);
  EXPECT_EQ(Remaining(), 2u);  // the duplicate took nothing
  Decision<Claim> read = engine_.GetClaim(Campaign("c"), User(1));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->coupon_code, first.value->coupon_code);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(2)).outcome, Outcome::kNotFound);
  std::vector<Event> events = sink_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, EventType::kClaimGranted);
  EXPECT_EQ(events[1].claim_id, first.value->id);
  EXPECT_EQ(events[1].coupon_code, first.value->coupon_code);
}

TEST_F(ClaimTest, HolderHearsAlreadyClaimedAfterTheSellOut) {
  Decision<Claim> first = ClaimAs(1);
  ASSERT_EQ(first.outcome, Outcome::kCreated);
  ASSERT_EQ(ClaimAs(2).outcome, Outcome::kCreated);
  ASSERT_EQ(ClaimAs(3).outcome, Outcome::kCreated);
  ASSERT_EQ(ClaimAs(4).outcome, Outcome::kSoldOut);  // the take that finds none sets the flag
  Decision<Claim> again = ClaimAs(1, {}, Seconds(101), 1);
  ASSERT_EQ(again.outcome, Outcome::kAlreadyClaimed);
  ASSERT_TRUE(again.value);
  EXPECT_EQ(again.value->id, first.value->id);
  EXPECT_EQ(again.value->coupon_code, first.value->coupon_code);
  // Users without a claim still hear kSoldOut, including the one that lost the last race.
  for (int user = 4; user < 200; ++user)
    ASSERT_EQ(ClaimAs(user).outcome, Outcome::kSoldOut) << user;
  EXPECT_EQ(engine_.Stats().count(Operation::kClaim, Outcome::kAlreadyClaimed), 1u);
}

TEST_F(ClaimTest, NeverOversellsAndLosersAreNotRecorded) {
  for (int user = 0; user < 3; ++user)
    ASSERT_EQ(ClaimAs(user).outcome, Outcome::kCreated);
  EXPECT_EQ(ClaimAs(3).outcome, Outcome::kSoldOut);
  EXPECT_EQ(ClaimAs(4, {}, Seconds(100), 1).outcome, Outcome::kSoldOut);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(3)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Remaining(), 0u);
  EXPECT_EQ(engine_.Stats().count(Operation::kClaim, Outcome::kSoldOut), 2u);
  EXPECT_EQ(engine_.Stats().count(Operation::kClaim, Outcome::kCreated), 3u);
}

TEST_F(ClaimTest, WrongKindAndUnknownCampaign) {
  ASSERT_EQ(engine_.CreateCampaign(SaleSpec("s", 3, 1), Seconds(0)).outcome, Outcome::kCreated);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("s"), User(1), {}, Seconds(100)).outcome,
            Outcome::kConflict);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("x"), User(1), {}, Seconds(100)).outcome,
            Outcome::kNotFound);
}

TEST_F(ClaimTest, RevertedClaimReturnsTheUnitAndSellsAgainAfterSoldOut) {
  for (int user = 0; user < 3; ++user)
    ASSERT_EQ(ClaimAs(user).outcome, Outcome::kCreated);
  ASSERT_EQ(ClaimAs(9).outcome, Outcome::kSoldOut);  // sets the sold-out flag
  engine_.Revert(sink_.events()[1]);                 // user 0's claim was not persisted
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(0)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Remaining(), 1u);
  EXPECT_EQ(ClaimAs(9, {}, Seconds(100), 1).outcome, Outcome::kCreated);
  EXPECT_EQ(ClaimAs(10).outcome, Outcome::kSoldOut);
}

TEST_F(ClaimTest, SinkRefusalUndoesEverything) {
  std::optional<IdempotencyKey> key = Key("k1");
  sink_.set_refuse(true);
  EXPECT_EQ(ClaimAs(1, key).outcome, Outcome::kLogUnavailable);
  sink_.set_refuse(false);
  EXPECT_EQ(Remaining(), 3u);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kNotFound);
  // The key was forgotten: the retry is decided afresh, not replayed.
  EXPECT_EQ(ClaimAs(1, key).outcome, Outcome::kCreated);
}

TEST_F(ClaimTest, IdempotencyKeyReplaysTheFirstDecision) {
  Decision<Claim> first = ClaimAs(1, Key("k"));
  ASSERT_EQ(first.outcome, Outcome::kCreated);
  std::size_t logged = sink_.size();
  Decision<Claim> again = ClaimAs(1, Key("k"), Seconds(150), 1);
  ASSERT_EQ(again.outcome, Outcome::kReplayed);
  EXPECT_EQ(again.value->id, first.value->id);
  EXPECT_EQ(again.value->coupon_code, first.value->coupon_code);
  EXPECT_EQ(sink_.size(), logged);
  EXPECT_EQ(Remaining(), 2u);
  // Same key, other user: a different scope, decided on its own.
  EXPECT_EQ(ClaimAs(2, Key("k")).outcome, Outcome::kCreated);
}

TEST_F(ClaimTest, IdempotencyKeysAgeOutAfterTheWindow) {
  ASSERT_EQ(ClaimAs(1, Key("k"), Seconds(100)).outcome, Outcome::kCreated);
  EXPECT_EQ(ClaimAs(1, Key("k"), Seconds(100 + 599)).outcome, Outcome::kReplayed);
  // Forgotten: decided afresh, and the user already holds a claim.
  EXPECT_EQ(ClaimAs(1, Key("k"), Seconds(100 + 600)).outcome, Outcome::kAlreadyClaimed);
}

TEST(IdempotencyCapacityTest, FullTableIsOverCapacityUntilKeysAge) {
  RecordingSink sink;
  EngineOptions options = SmallOptions();
  options.idempotency_keys_max = 8;  // one bucket of eight ways
  Engine engine(options, sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 100), Seconds(0)).outcome, Outcome::kCreated);
  for (int user = 0; user < 8; ++user) {
    ASSERT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(user), Key("k"), Seconds(100)).outcome,
              Outcome::kCreated);
  }
  EXPECT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(8), Key("k"), Seconds(100)).outcome,
            Outcome::kOverCapacity);
  EXPECT_EQ(engine.GetCampaign(Campaign("c"), Seconds(100)).value->remaining, 92u);
  EXPECT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(8), Key("k"), Seconds(700)).outcome,
            Outcome::kCreated);
}

// The ledger used to keep a record for every user who ever asked (16 for stock 1), so claims
// refused by the log wore a campaign out: kOverCapacity with its unit still in stock. A refused
// claim now leaves nothing behind.
TEST(LedgerCapacityTest, ClaimsTheLogRefusedLeaveNoRecordBehind) {
  RecordingSink sink;
  Engine engine(SmallOptions(1), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 1), Seconds(0)).outcome, Outcome::kCreated);
  sink.set_refuse(true);
  for (int user = 0; user < 1000; ++user) {
    ASSERT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(user), {}, Seconds(100)).outcome,
              Outcome::kLogUnavailable)
        << user;
  }
  sink.set_refuse(false);
  EXPECT_EQ(engine.GetCampaign(Campaign("c"), Seconds(100)).value->remaining, 1u);
  EXPECT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(999), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(0), {}, Seconds(100)).outcome,
            Outcome::kSoldOut);
}

TEST_F(ClaimTest, IdsAreUniqueAndCodesLookRandom) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("big", 2000), Seconds(0)).outcome, Outcome::kCreated);
  std::set<std::uint64_t> ids;
  std::set<std::string> codes;
  for (int user = 0; user < 2000; ++user) {
    Decision<Claim> made = engine_.ClaimCoupon({static_cast<std::uint32_t>(user % 2)},
                                               Campaign("big"), User(user), {}, Seconds(100));
    ASSERT_EQ(made.outcome, Outcome::kCreated);
    ids.insert(made.value->id.value);
    std::string code(made.value->coupon_code.view());
    EXPECT_EQ(code.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos);
    codes.insert(code);
  }
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_EQ(codes.size(), 2000u);
}

TEST(IdTextTest, FormatParseRoundTripAndRejectsForeignText) {
  ClaimId claim{(std::uint64_t{3} << 44) | (std::uint64_t{1} << 36) | 7, 0x0123'4567'89ab'cdefull};
  std::string text(Engine::ClaimIdText(claim).view());
  std::optional<ClaimId> parsed = Engine::ParseClaimId(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->value, claim.value);
  EXPECT_EQ(parsed->tag, claim.tag);
  OrderId order{(std::uint64_t{2} << 44) | 5, ~std::uint64_t{0}};
  std::optional<OrderId> parsed_order = Engine::ParseOrderId(Engine::OrderIdText(order).view());
  ASSERT_TRUE(parsed_order);
  EXPECT_EQ(parsed_order->value, order.value);
  EXPECT_EQ(parsed_order->tag, order.tag);
  EXPECT_FALSE(Engine::ParseOrderId(text));  // a claim id is not an order id
  EXPECT_FALSE(Engine::ParseClaimId(""));
  EXPECT_FALSE(Engine::ParseClaimId("c"));
  EXPECT_FALSE(Engine::ParseClaimId("c0000000000000000"));  // serial 0 is never made
  EXPECT_FALSE(Engine::ParseOrderId("o0000000000000000"));
  EXPECT_FALSE(Engine::ParseOrderId("o00000000000000000123456789abcdef"));  // slot part 0
  EXPECT_FALSE(Engine::ParseClaimId(text + "0"));
  EXPECT_FALSE(Engine::ParseClaimId(text.substr(0, text.size() - 1)));
  EXPECT_FALSE(Engine::ParseClaimId("cXYZ0000000000007"));
  std::string upper = text;
  upper.back() = 'F';  // the text form is lowercase only: one id, one spelling
  EXPECT_FALSE(Engine::ParseClaimId(upper));
}

TEST(IdTextTest, TextIsTheDocumentedFormAndTheUntaggedFormStillParses) {
  ClaimId claim{(std::uint64_t{3} << 44) | (std::uint64_t{1} << 36) | 7, 0xabcdef};
  IdText text = Engine::ClaimIdText(claim);
  EXPECT_EQ(text.view(), "c00003010000000070000000000abcdef");
  OrderId order{~std::uint64_t{0}, 0x1122'3344'5566'7788ull};
  EXPECT_EQ(Engine::OrderIdText(order).view(), "offffffffffffffff1122334455667788");
  // Ids handed out before tags: value only, read as tag 0 (only an untagged campaign takes it).
  std::optional<OrderId> untagged = Engine::ParseOrderId("offffffffffffffff");
  ASSERT_TRUE(untagged);
  EXPECT_EQ(untagged->value, order.value);
  EXPECT_EQ(untagged->tag, 0u);
}

}  // namespace
}  // namespace hotdeal::engine
