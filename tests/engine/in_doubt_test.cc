// Decisions in doubt (docs/durability.md): a possibly persisted claim or reservation keeps its
// units, answers kInDoubt until settled, settles as persisted (final) or through a logged void
// (restock only once the void is applied), and the books count its units apart throughout.
#include <gtest/gtest.h>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

using InDoubtTest = ReportedEngineTest;

TEST_F(InDoubtTest, ClaimInDoubtKeepsItsUnitAndAnswersInDoubt) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  ASSERT_EQ(made.outcome, Outcome::kCreated);
  engine_.MarkInDoubt(LastEvent());
  EXPECT_EQ(Books("c").in_doubt, 1);
  EXPECT_EQ(Books("c").claimed, 0);
  EXPECT_EQ(Books("c").remaining, 1u);  // the unit stays taken
  EXPECT_EQ(engine_.Stats().units_in_doubt, 1);
  ExpectBooksClose("c");

  Decision<Claim> retry = engine_.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101));
  EXPECT_EQ(retry.outcome, Outcome::kInDoubt);
  ASSERT_TRUE(retry.value);
  EXPECT_EQ(retry.value->id, made.value->id);
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(101)).outcome,
            Outcome::kInDoubt);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kInDoubt);
  EXPECT_EQ(engine_.Stats().count(Operation::kClaim, Outcome::kInDoubt), 2u);
  // Still in doubt after the sell-out, rather than sold out.
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(102)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(3), {}, Seconds(102)).outcome,
            Outcome::kSoldOut);
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(102)).outcome,
            Outcome::kInDoubt);
}

TEST_F(InDoubtTest, ClaimSettledAsPersistedIsFinal) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  Event granted = LastEvent();
  engine_.MarkInDoubt(granted);
  EXPECT_FALSE(engine_.SettleInDoubt(granted, true));
  EXPECT_EQ(Books("c").in_doubt, 0);
  EXPECT_EQ(Books("c").claimed, 1);
  ExpectBooksClose("c");
  Decision<Claim> retry = engine_.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101));
  EXPECT_EQ(retry.outcome, Outcome::kReplayed);
  EXPECT_EQ(retry.value->id, made.value->id);
  // Settled already: a second settle changes nothing and offers no void.
  EXPECT_FALSE(engine_.SettleInDoubt(granted, false));
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
}

TEST_F(InDoubtTest, ClaimNotPersistedRestocksOnlyWhenTheVoidIsApplied) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100));
  Event granted = LastEvent();
  engine_.MarkInDoubt(granted);
  std::optional<Event> voided = engine_.SettleInDoubt(granted, false);
  ASSERT_TRUE(voided);
  EXPECT_EQ(voided->type, EventType::kClaimVoided);
  EXPECT_EQ(voided->claim_id, made.value->id);
  EXPECT_EQ(voided->user, User(1));
  EXPECT_EQ(voided->campaign, Campaign("c"));
  EXPECT_NE(voided->seq, granted.seq);
  // Nothing moves before the void is logged: the unit is still taken and in doubt.
  EXPECT_EQ(Books("c").remaining, 1u);
  EXPECT_EQ(Books("c").in_doubt, 1);

  engine_.ApplyVoid(*voided);
  EXPECT_EQ(Books("c").remaining, 2u);
  EXPECT_EQ(Books("c").in_doubt, 0);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kNotFound);
  ExpectBooksClose("c");
  engine_.ApplyVoid(*voided);  // a repeated void is a no-op
  EXPECT_EQ(Books("c").remaining, 2u);
  ExpectBooksClose("c");
  // The user may claim again, and gets a new claim.
  Decision<Claim> again = engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(102));
  ASSERT_EQ(again.outcome, Outcome::kCreated);
  EXPECT_NE(again.value->id, made.value->id);
}

TEST_F(InDoubtTest, ReservationInDoubtIsFrozenUntilSettled) {
  Decision<Order> made = engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(100));
  ASSERT_EQ(made.outcome, Outcome::kCreated);
  Event reserved = LastEvent();
  engine_.MarkInDoubt(reserved);
  EXPECT_EQ(Books("s").in_doubt, 2);
  EXPECT_EQ(Books("s").held, 0);
  EXPECT_EQ(Books("s").remaining, 3u);
  ExpectBooksClose("s");
  EXPECT_EQ(engine_.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k"), Seconds(101)).outcome,
            Outcome::kInDoubt);
  EXPECT_EQ(engine_.ConfirmOrder({0}, made.value->id, User(1), Seconds(101)).outcome,
            Outcome::kInDoubt);
  EXPECT_EQ(engine_.CancelOrder({0}, made.value->id, User(1), Seconds(101)).outcome,
            Outcome::kInDoubt);
  EXPECT_EQ(engine_.GetOrder(made.value->id, Seconds(101)).value->status, OrderStatus::kReserved);
  // Past its hold it does not expire while in doubt...
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(200)), 0u);
  EXPECT_EQ(Books("s").remaining, 3u);
  // ...and expires on the next tick once settled as persisted.
  EXPECT_FALSE(engine_.SettleInDoubt(reserved, true));
  EXPECT_EQ(Books("s").held, 2);
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(201)), 1u);
  EXPECT_EQ(engine_.GetOrder(made.value->id, Seconds(201)).value->status, OrderStatus::kExpired);
  EXPECT_EQ(Books("s").remaining, 3u);  // until the log has the expiry
  engine_.Acknowledge(LastEvent());
  EXPECT_EQ(Books("s").remaining, 5u);
  EXPECT_EQ(Books("s").held, 0);
  ExpectBooksClose("s");
}

TEST_F(InDoubtTest, ReservationNotPersistedIsVoidedOnce) {
  Decision<Order> made = engine_.PlaceOrder({0}, Campaign("s"), User(1), 3, {}, Seconds(100));
  Event reserved = LastEvent();
  engine_.MarkInDoubt(reserved);
  std::optional<Event> voided = engine_.SettleInDoubt(reserved, false);
  ASSERT_TRUE(voided);
  EXPECT_EQ(voided->type, EventType::kOrderVoided);
  EXPECT_EQ(voided->order_id, made.value->id);
  EXPECT_EQ(voided->quantity, 3u);
  EXPECT_EQ(Books("s").remaining, 2u);
  engine_.ApplyVoid(*voided);
  engine_.ApplyVoid(*voided);
  EXPECT_EQ(Books("s").remaining, 5u);
  EXPECT_EQ(Books("s").in_doubt, 0);
  EXPECT_EQ(engine_.GetOrder(made.value->id, Seconds(101)).outcome, Outcome::kNotFound);
  // The user's units went back too: a full-limit order passes again.
  EXPECT_EQ(engine_.PlaceOrder({0}, Campaign("s"), User(1), 3, {}, Seconds(101)).outcome,
            Outcome::kCreated);
  ExpectBooksClose("s");
}

TEST_F(InDoubtTest, ReplayOfTheLogWithAVoidRebuildsTheSameBooks) {
  engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100));
  Event granted = LastEvent();
  engine_.ClaimCoupon({1}, Campaign("c"), User(2), {}, Seconds(100));
  engine_.MarkInDoubt(granted);
  std::optional<Event> voided = engine_.SettleInDoubt(granted, false);
  ASSERT_TRUE(voided);
  sink_.Append(WorkerId{2}, *voided);
  engine_.ApplyVoid(*voided);
  sink_.Append(WorkerId{2}, *voided);  // appended twice (a void that ended in doubt)

  RecordingSink replay_sink;
  Engine recovered(SmallOptions(), replay_sink);
  ReplayClean(recovered, sink_.events());
  CampaignBooks live = Books("c");
  CampaignBooks replayed = *recovered.Books(Campaign("c"));
  EXPECT_EQ(replayed.remaining, live.remaining);
  EXPECT_EQ(replayed.claimed, live.claimed);
  EXPECT_EQ(replayed.remaining, 1u);
  EXPECT_EQ(recovered.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kNotFound);
  // A later void is sequenced past the replayed one: no two events share a seq.
  recovered.ClaimCoupon({0}, Campaign("c"), User(3), {}, Seconds(103));
  recovered.MarkInDoubt(replay_sink.events().back());
  std::optional<Event> next = recovered.SettleInDoubt(replay_sink.events().back(), false);
  ASSERT_TRUE(next);
  EXPECT_GT(next->seq, voided->seq);
}

// The client of a voided decision heard 503 and retries with its key: the retry is a new
// decision under that key (not a 404 for an id it never heard), and the key then replays it.
TEST_F(InDoubtTest, RetryWithTheKeyOfAVoidedClaimIsDecidedAfresh) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  Event granted = LastEvent();
  engine_.MarkInDoubt(granted);
  engine_.ApplyVoid(*engine_.SettleInDoubt(granted, false));
  ASSERT_EQ(Books("c").remaining, 2u);

  Decision<Claim> retry = engine_.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101));
  ASSERT_EQ(retry.outcome, Outcome::kCreated);
  EXPECT_NE(retry.value->id, made.value->id);
  EXPECT_NE(retry.ticket.value, 0u);
  EXPECT_EQ(Books("c").remaining, 1u);
  Decision<Claim> again = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(102));
  EXPECT_EQ(again.outcome, Outcome::kReplayed);
  EXPECT_EQ(again.value->id, retry.value->id);
  ExpectBooksClose("c");
}

TEST_F(InDoubtTest, RetryWithTheKeyOfAVoidedReservationIsDecidedAfresh) {
  Decision<Order> made = engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(100));
  Event reserved = LastEvent();
  engine_.MarkInDoubt(reserved);
  engine_.ApplyVoid(*engine_.SettleInDoubt(reserved, false));

  Decision<Order> retry =
      engine_.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k"), Seconds(101));
  ASSERT_EQ(retry.outcome, Outcome::kCreated);
  EXPECT_NE(retry.value->id, made.value->id);
  EXPECT_EQ(Books("s").remaining, 3u);
  EXPECT_EQ(engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(102)).outcome,
            Outcome::kReplayed);
  ExpectBooksClose("s");
}

TEST_F(InDoubtTest, RetryWithTheKeyOfARevertedClaimIsDecidedAfresh) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  engine_.Revert(LastEvent());
  Decision<Claim> retry = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(101));
  ASSERT_EQ(retry.outcome, Outcome::kCreated);
  EXPECT_NE(retry.value->id, made.value->id);
  EXPECT_EQ(Books("c").remaining, 1u);
}

TEST_F(InDoubtTest, OnlyGrantsAndReservationsAreMarked) {
  Decision<Order> made = engine_.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(100));
  engine_.ConfirmOrder({0}, made.value->id, User(1), Seconds(101));
  Event confirmed = LastEvent();
  ASSERT_EQ(confirmed.type, EventType::kOrderConfirmed);
  engine_.MarkInDoubt(confirmed);
  EXPECT_EQ(Books("s").in_doubt, 0);
  EXPECT_EQ(Books("s").confirmed, 1);
  EXPECT_FALSE(engine_.SettleInDoubt(confirmed, false));
  ExpectBooksClose("s");
}

}  // namespace
}  // namespace hotdeal::engine
