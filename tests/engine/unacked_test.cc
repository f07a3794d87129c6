// Unacknowledged decisions (EngineOptions::await_acknowledgement, docs/durability.md): a decision
// whose event got a ticket holds its units but is not revealed (kPending to retries, repeats,
// confirm, cancel and reads; no expiry) until the log reports it: Acknowledge makes it final,
// Revert undoes it, MarkInDoubt marks it in doubt. Ticket 0 and the option off stay final at once.
#include <gtest/gtest.h>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

// Hands out ticket 0 for every event, as DiscardSink does, but keeps them for the test.
class TicketlessSink final : public EventSink {
 public:
  std::optional<LogTicket> Append(WorkerId, const Event& event) noexcept override {
    events_.push_back(event);
    return LogTicket{};
  }
  const Event& last() const { return events_.back(); }

 private:
  std::vector<Event> events_;
};

EngineOptions AwaitingOptions() {
  EngineOptions options = SmallOptions();
  options.await_acknowledgement = true;
  return options;
}

class UnackedTest : public ReportedEngineTest {
 protected:
  UnackedTest() : ReportedEngineTest(AwaitingOptions()) {}
  // Places an order of user 1 and acknowledges its reservation.
  Order PlaceAcknowledged(std::int64_t quantity, TimePoint now) {
    Decision<Order> placed = engine_.PlaceOrder({0}, Campaign("s"), User(1), quantity, {}, now);
    EXPECT_EQ(placed.outcome, Outcome::kCreated);
    engine_.Acknowledge(LastEvent());
    return *placed.value;
  }
};

TEST_F(UnackedTest, ClaimIsHiddenUntilAcknowledged) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  ASSERT_EQ(made.outcome, Outcome::kCreated);
  ASSERT_TRUE(made.value);
  EXPECT_NE(made.ticket.value, 0u);
  Event granted = LastEvent();
  // Held: its unit is taken and counted as claimed.
  EXPECT_EQ(Books("c").claimed, 1);
  EXPECT_EQ(Books("c").remaining, 1u);
  ExpectBooksClose("c");

  Decision<Claim> retry = engine_.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101));
  EXPECT_EQ(retry.outcome, Outcome::kPending);
  EXPECT_FALSE(retry.value);
  Decision<Claim> repeat = engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(101));
  EXPECT_EQ(repeat.outcome, Outcome::kPending);
  EXPECT_FALSE(repeat.value);
  Decision<Claim> read = engine_.GetClaim(Campaign("c"), User(1));
  EXPECT_EQ(read.outcome, Outcome::kPending);
  EXPECT_FALSE(read.value);
  EXPECT_EQ(engine_.Stats().count(Operation::kClaim, Outcome::kPending), 2u);
  EXPECT_EQ(sink_.size(), 3u);  // two creations and the one grant: nothing decided twice

  engine_.Acknowledge(granted);
  retry = engine_.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(102));
  EXPECT_EQ(retry.outcome, Outcome::kReplayed);
  ASSERT_TRUE(retry.value);
  EXPECT_EQ(retry.value->id, made.value->id);
  repeat = engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(102));
  EXPECT_EQ(repeat.outcome, Outcome::kAlreadyClaimed);
  read = engine_.GetClaim(Campaign("c"), User(1));
  EXPECT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->coupon_code, made.value->coupon_code);
  EXPECT_EQ(Books("c").claimed, 1);
  ExpectBooksClose("c");
  // A second report of the same event changes nothing.
  engine_.Acknowledge(granted);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
}

TEST_F(UnackedTest, UnackedHolderAfterSellOutHearsPendingNotSoldOut) {
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  Event first = LastEvent();
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(3), {}, Seconds(100)).outcome,
            Outcome::kSoldOut);
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(101)).outcome,
            Outcome::kPending);
  engine_.Acknowledge(first);
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(102)).outcome,
            Outcome::kAlreadyClaimed);
}

TEST_F(UnackedTest, RevertOfAnUnackedClaimRestocks) {
  Decision<Claim> made = engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  engine_.Revert(LastEvent());
  EXPECT_EQ(Books("c").claimed, 0);
  EXPECT_EQ(Books("c").remaining, 2u);
  ExpectBooksClose("c");
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kNotFound);
  // The user may claim afresh, and that claim waits for its own report.
  Decision<Claim> again = engine_.ClaimCoupon({1}, Campaign("c"), User(1), {}, Seconds(101));
  EXPECT_EQ(again.outcome, Outcome::kCreated);
  EXPECT_NE(again.value->id, made.value->id);
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kPending);
}

TEST_F(UnackedTest, MarkInDoubtOfAnUnackedClaimMovesItToInDoubt) {
  ASSERT_EQ(engine_.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100)).outcome,
            Outcome::kCreated);
  Event granted = LastEvent();
  engine_.MarkInDoubt(granted);
  EXPECT_EQ(Books("c").claimed, 0);
  EXPECT_EQ(Books("c").in_doubt, 1);
  ExpectBooksClose("c");
  EXPECT_EQ(engine_.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101)).outcome,
            Outcome::kInDoubt);
  EXPECT_FALSE(engine_.SettleInDoubt(granted, true));
  EXPECT_EQ(engine_.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
  EXPECT_EQ(Books("c").claimed, 1);
}

TEST_F(UnackedTest, ReservationIsHiddenAndDoesNotExpireUntilAcknowledged) {
  Decision<Order> placed =
      engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(100));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  ASSERT_TRUE(placed.value);
  EXPECT_EQ(placed.value->status, OrderStatus::kReserved);
  Event reserved = LastEvent();
  OrderId id = placed.value->id;
  EXPECT_EQ(Books("s").held, 2);
  ExpectBooksClose("s");

  Decision<Order> retry =
      engine_.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k"), Seconds(101));
  EXPECT_EQ(retry.outcome, Outcome::kPending);
  EXPECT_FALSE(retry.value);
  EXPECT_EQ(engine_.GetOrder(id, Seconds(101)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_.ConfirmOrder({1}, id, User(1), Seconds(101)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_.CancelOrder({1}, id, User(1), Seconds(101)).outcome, Outcome::kPending);
  // Past expires_at (60 s hold): the wheel keeps it until the report.
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(200)), 0u);
  EXPECT_EQ(Books("s").held, 2);
  EXPECT_EQ(sink_.size(), 3u);  // no move was logged

  engine_.Acknowledge(reserved);
  retry = engine_.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k"), Seconds(201));
  EXPECT_EQ(retry.outcome, Outcome::kReplayed);
  EXPECT_EQ(retry.value->id, id);
  EXPECT_EQ(engine_.GetOrder(id, Seconds(201)).value->status, OrderStatus::kExpired);
  // Re-armed, it expires on the next tick now that it is final; its units come back once the
  // log has the expiry.
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(202)), 1u);
  EXPECT_EQ(LastEvent().type, EventType::kOrderExpired);
  EXPECT_EQ(Books("s").held, 2);
  EXPECT_EQ(Books("s").remaining, 3u);
  ExpectBooksClose("s");
  engine_.Acknowledge(LastEvent());
  EXPECT_EQ(Books("s").held, 0);
  EXPECT_EQ(Books("s").remaining, 5u);
  ExpectBooksClose("s");
  EXPECT_EQ(engine_.GetOrder(id, Seconds(203)).value->status, OrderStatus::kExpired);
}

TEST_F(UnackedTest, ConfirmIsHiddenUntilAcknowledged) {
  Order order = PlaceAcknowledged(2, Seconds(100));
  Decision<Order> confirmed = engine_.ConfirmOrder({1}, order.id, User(1), Seconds(101));
  ASSERT_EQ(confirmed.outcome, Outcome::kOk);
  EXPECT_NE(confirmed.ticket.value, 0u);
  EXPECT_EQ(confirmed.value->status, OrderStatus::kConfirmed);
  Event confirm = LastEvent();
  EXPECT_EQ(Books("s").confirmed, 2);
  ExpectBooksClose("s");
  // Confirming again used to answer kOk with no ticket while the confirm was in flight.
  Decision<Order> again = engine_.ConfirmOrder({0}, order.id, User(1), Seconds(102));
  EXPECT_EQ(again.outcome, Outcome::kPending);
  EXPECT_EQ(again.ticket.value, 0u);
  EXPECT_EQ(engine_.CancelOrder({0}, order.id, User(1), Seconds(102)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_.GetOrder(order.id, Seconds(102)).outcome, Outcome::kPending);

  engine_.Acknowledge(confirm);
  again = engine_.ConfirmOrder({0}, order.id, User(1), Seconds(103));
  EXPECT_EQ(again.outcome, Outcome::kOk);
  EXPECT_EQ(again.ticket.value, 0u);
  EXPECT_EQ(engine_.GetOrder(order.id, Seconds(103)).value->status, OrderStatus::kConfirmed);
  // Confirmed orders never expire, acknowledged or not.
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(500)), 0u);
  EXPECT_EQ(Books("s").confirmed, 2);
}

// The units of a cancel the log may still lose are not sold again: a crash would otherwise
// leave the log with the old reservation live beside the sale that reused its units.
TEST_F(UnackedTest, CancelIsHiddenAndKeepsItsUnitsUntilAcknowledged) {
  Order order = PlaceAcknowledged(3, Seconds(100));
  Decision<Order> cancelled = engine_.CancelOrder({1}, order.id, User(1), Seconds(101));
  ASSERT_EQ(cancelled.outcome, Outcome::kOk);
  EXPECT_NE(cancelled.ticket.value, 0u);
  Event cancel = LastEvent();
  EXPECT_EQ(Books("s").remaining, 2u);
  EXPECT_EQ(Books("s").held, 3);
  ExpectBooksClose("s");
  // Not for the same user either: their limit (3) still counts the 3 units.
  EXPECT_EQ(engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(101)).outcome,
            Outcome::kLimitExceeded);
  EXPECT_EQ(engine_.CancelOrder({0}, order.id, User(1), Seconds(102)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_.ConfirmOrder({0}, order.id, User(1), Seconds(102)).outcome, Outcome::kPending);
  EXPECT_EQ(engine_.GetOrder(order.id, Seconds(102)).outcome, Outcome::kPending);
  engine_.Acknowledge(cancel);
  EXPECT_EQ(Books("s").remaining, 5u);
  EXPECT_EQ(Books("s").held, 0);
  ExpectBooksClose("s");
  engine_.Acknowledge(cancel);  // a repeated report changes nothing
  EXPECT_EQ(Books("s").remaining, 5u);
  EXPECT_EQ(engine_.CancelOrder({0}, order.id, User(1), Seconds(103)).outcome, Outcome::kOk);
  EXPECT_EQ(engine_.ConfirmOrder({0}, order.id, User(1), Seconds(103)).outcome, Outcome::kConflict);
  EXPECT_EQ(engine_.GetOrder(order.id, Seconds(103)).value->status, OrderStatus::kCancelled);
}

TEST_F(UnackedTest, RefundKeepsItsUnitsConfirmedUntilAcknowledged) {
  Order order = PlaceAcknowledged(2, Seconds(100));
  ASSERT_EQ(engine_.ConfirmOrder({1}, order.id, User(1), Seconds(101)).outcome, Outcome::kOk);
  engine_.Acknowledge(LastEvent());
  ASSERT_EQ(engine_.CancelOrder({0}, order.id, User(1), Seconds(102)).outcome, Outcome::kOk);
  Event refund = LastEvent();
  EXPECT_EQ(refund.type, EventType::kOrderCancelled);
  EXPECT_EQ(Books("s").confirmed, 2);
  EXPECT_EQ(Books("s").remaining, 3u);
  ExpectBooksClose("s");
  engine_.Acknowledge(refund);
  EXPECT_EQ(Books("s").confirmed, 0);
  EXPECT_EQ(Books("s").remaining, 5u);
  ExpectBooksClose("s");
  EXPECT_EQ(engine_.GetOrder(order.id, Seconds(103)).value->status, OrderStatus::kCancelled);
}

TEST_F(UnackedTest, RevertOfUnackedReservationAndConfirm) {
  Decision<Order> placed = engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(100));
  engine_.Revert(LastEvent());
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(101)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Books("s").held, 0);
  EXPECT_EQ(Books("s").remaining, 5u);
  ExpectBooksClose("s");

  Order order = PlaceAcknowledged(2, Seconds(102));
  ASSERT_EQ(engine_.ConfirmOrder({1}, order.id, User(1), Seconds(103)).outcome, Outcome::kOk);
  engine_.Revert(LastEvent());
  // Back to the reservation, which was final before it could be confirmed.
  Decision<Order> read = engine_.GetOrder(order.id, Seconds(104));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->status, OrderStatus::kReserved);
  EXPECT_EQ(Books("s").held, 2);
  EXPECT_EQ(Books("s").confirmed, 0);
  ExpectBooksClose("s");
  EXPECT_EQ(engine_.ConfirmOrder({1}, order.id, User(1), Seconds(105)).outcome, Outcome::kOk);
}

TEST_F(UnackedTest, MarkInDoubtOfUnackedReservationAndConfirm) {
  Decision<Order> placed =
      engine_.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(100));
  engine_.MarkInDoubt(LastEvent());
  EXPECT_EQ(Books("s").in_doubt, 2);
  EXPECT_EQ(Books("s").held, 0);
  ExpectBooksClose("s");
  EXPECT_EQ(engine_.ConfirmOrder({1}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kInDoubt);
  EXPECT_EQ(engine_.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k"), Seconds(101)).outcome,
            Outcome::kInDoubt);

  Decision<Order> other = engine_.PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(102));
  engine_.Acknowledge(LastEvent());
  ASSERT_EQ(engine_.ConfirmOrder({1}, other.value->id, User(2), Seconds(103)).outcome,
            Outcome::kOk);
  // A confirm possibly persisted stands, final: it cannot be undone.
  engine_.MarkInDoubt(LastEvent());
  Decision<Order> read = engine_.GetOrder(other.value->id, Seconds(104));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->status, OrderStatus::kConfirmed);
  EXPECT_EQ(Books("s").confirmed, 1);
  ExpectBooksClose("s");
}

// A sale logged before its campaign's creation could outlive a creation the log then loses
// (recovery would meet claims of a campaign it never created): nothing is sold until then.
TEST_F(UnackedTest, CampaignSellsNothingUntilItsCreationIsAcknowledged) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c2", 3), Seconds(0)).outcome, Outcome::kCreated);
  Event coupon_created = LastEvent();
  ASSERT_EQ(engine_.CreateCampaign(SaleSpec("s2", 3, 3), Seconds(0)).outcome, Outcome::kCreated);
  Event sale_created = LastEvent();
  const std::size_t logged = sink_.size();
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c2"), User(1), Key("k"), Seconds(100)).outcome,
            Outcome::kPending);
  EXPECT_EQ(engine_.PlaceOrder({0}, Campaign("s2"), User(1), 1, {}, Seconds(100)).outcome,
            Outcome::kPending);
  // Outside the window the answer does not depend on the log.
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c2"), User(1), {}, Seconds(99)).outcome,
            Outcome::kNotStarted);
  EXPECT_EQ(sink_.size(), logged);
  EXPECT_EQ(Books("c2").remaining, 3u);

  engine_.Acknowledge(coupon_created);
  engine_.Acknowledge(sale_created);
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c2"), User(1), Key("k"), Seconds(101)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine_.PlaceOrder({0}, Campaign("s2"), User(1), 1, {}, Seconds(101)).outcome,
            Outcome::kCreated);
}

// Possibly persisted: the creation stays unacknowledged (a restart decides it from the log).
TEST_F(UnackedTest, CampaignWhoseCreationIsInDoubtKeepsAnsweringPending) {
  ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c2", 3), Seconds(0)).outcome, Outcome::kCreated);
  engine_.MarkInDoubt(LastEvent());
  EXPECT_EQ(engine_.ClaimCoupon({0}, Campaign("c2"), User(1), {}, Seconds(100)).outcome,
            Outcome::kPending);
}

TEST(UnackedFinalAtOnceTest, TicketZeroIsFinalAtOnce) {
  TicketlessSink sink;
  Engine engine(AwaitingOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 2), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 5, 3, 60), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100)).outcome,
            Outcome::kCreated);
  EXPECT_EQ(engine.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101)).outcome,
            Outcome::kReplayed);
  EXPECT_EQ(engine.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
  Decision<Order> placed = engine.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(100));
  EXPECT_EQ(engine.GetOrder(placed.value->id, Seconds(101)).value->status, OrderStatus::kReserved);
  EXPECT_EQ(engine.ConfirmOrder({1}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kOk);
  EXPECT_EQ(engine.GetOrder(placed.value->id, Seconds(102)).value->status, OrderStatus::kConfirmed);
  EXPECT_EQ(engine.CancelOrder({1}, placed.value->id, User(1), Seconds(102)).outcome, Outcome::kOk);
  EXPECT_EQ(engine.GetOrder(placed.value->id, Seconds(103)).value->status, OrderStatus::kCancelled);
  Decision<Order> second = engine.PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(100));
  EXPECT_EQ(engine.ExpireDue({0}, Seconds(200)), 1u);
  EXPECT_EQ(engine.GetOrder(second.value->id, Seconds(200)).value->status, OrderStatus::kExpired);
}

TEST(UnackedFinalAtOnceTest, OptionOffIsFinalAtOnceWithTickets) {
  RecordingSink sink{/*reported=*/true};
  Engine engine(SmallOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 2), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Claim> made = engine.ClaimCoupon({0}, Campaign("c"), User(1), Key("k"), Seconds(100));
  EXPECT_NE(made.ticket.value, 0u);
  EXPECT_EQ(engine.ClaimCoupon({1}, Campaign("c"), User(1), Key("k"), Seconds(101)).outcome,
            Outcome::kReplayed);
  // The log acknowledges in memory mode too: a no-op there.
  engine.Acknowledge(sink.events().back());
  EXPECT_EQ(engine.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
}

// --ack memory: a cancel is final at once, but its units come back only once the log has it,
// so a crash that loses the cancel cannot leave the log with its units sold twice.
TEST(UnackedFinalAtOnceTest, OptionOffCancelKeepsItsUnitsUntilTheLogHasIt) {
  RecordingSink sink{/*reported=*/true};
  Engine engine(SmallOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> placed = engine.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(100));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  ASSERT_EQ(engine.CancelOrder({1}, placed.value->id, User(1), Seconds(101)).outcome, Outcome::kOk);
  Event cancel = sink.events().back();
  EXPECT_EQ(engine.GetOrder(placed.value->id, Seconds(101)).value->status, OrderStatus::kCancelled);
  EXPECT_EQ(engine.CancelOrder({0}, placed.value->id, User(1), Seconds(101)).outcome, Outcome::kOk);
  EXPECT_EQ(engine.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kConflict);
  EXPECT_EQ(engine.PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(101)).outcome,
            Outcome::kSoldOut);
  EXPECT_EQ(engine.Books(Campaign("s"))->held, 2);
  engine.Acknowledge(cancel);
  EXPECT_EQ(engine.Books(Campaign("s"))->held, 0);
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 2u);
  EXPECT_EQ(engine.PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(102)).outcome,
            Outcome::kCreated);
}

// --ack memory: a reservation's "not persisted" report can come after its expiry or cancel was
// answered (found by the simulation, seed 1704). The order ended as the client heard it, so its
// idempotency key keeps answering for it: a retry must not reserve a second order.
TEST(UnackedFinalAtOnceTest, RevertAfterTheOrderEndedKeepsItsKey) {
  RecordingSink sink{/*reported=*/true};
  Engine engine(SmallOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> placed =
      engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(100));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  Event reserved = sink.events().back();
  ASSERT_EQ(engine.ExpireDue({0}, Seconds(200)), 1u);
  engine.Acknowledge(sink.events().back());  // the log has the expiry
  engine.Revert(reserved);                   // and then refuses the reservation
  Decision<Order> retry = engine.PlaceOrder({1}, Campaign("s"), User(1), 1, Key("k"), Seconds(201));
  EXPECT_EQ(retry.outcome, Outcome::kReplayed);
  ASSERT_TRUE(retry.value);
  EXPECT_EQ(retry.value->id, placed.value->id);
  EXPECT_EQ(retry.value->status, OrderStatus::kReserved);  // the first answer, as any replay
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 2u);
  EXPECT_EQ(engine.Books(Campaign("s"))->held, 0);
}

// The same with the end not yet reported: the log will hold neither the reservation nor (an
// orphan) its cancel, so the order never was. The undo returns the units the cancel still held,
// the key decides afresh, and the cancel's late report moves nothing twice.
TEST(UnackedFinalAtOnceTest, RevertOfACancelledOrderBeforeItsCancelIsReportedFreesItsKey) {
  RecordingSink sink{/*reported=*/true};
  Engine engine(SmallOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> placed =
      engine.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(100));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  Event reserved = sink.events().back();
  ASSERT_EQ(engine.CancelOrder({1}, placed.value->id, User(1), Seconds(101)).outcome, Outcome::kOk);
  Event cancel = sink.events().back();
  engine.Revert(reserved);
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 2u);
  EXPECT_EQ(engine.Books(Campaign("s"))->held, 0);
  engine.Acknowledge(cancel);  // late: the order is gone, nothing moves twice
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 2u);
  Decision<Order> retry = engine.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k"), Seconds(102));
  EXPECT_EQ(retry.outcome, Outcome::kCreated);
  ASSERT_TRUE(retry.value);
  EXPECT_NE(retry.value->id, placed.value->id);
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 0u);
}

// A reservation reverted while it still stands was never: its key decides afresh.
TEST(UnackedFinalAtOnceTest, RevertOfAStandingReservationFreesItsKey) {
  RecordingSink sink{/*reported=*/true};
  Engine engine(SmallOptions(), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> placed =
      engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(100));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  engine.Revert(sink.events().back());
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 2u);
  Decision<Order> retry = engine.PlaceOrder({1}, Campaign("s"), User(1), 1, Key("k"), Seconds(101));
  EXPECT_EQ(retry.outcome, Outcome::kCreated);
  ASSERT_TRUE(retry.value);
  EXPECT_NE(retry.value->id, placed.value->id);
}

TEST(UnackedFinalAtOnceTest, ReplayedDecisionsAreFinal) {
  RecordingSink live_sink;
  Engine live(AwaitingOptions(), live_sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 5, 3, 60), Seconds(0)).outcome, Outcome::kCreated);
  live.Acknowledge(live_sink.events().back());
  Decision<Order> placed = live.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(100));
  live.Acknowledge(live_sink.events().back());
  ASSERT_EQ(live.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome, Outcome::kOk);

  TicketlessSink sink;
  Engine replayed(AwaitingOptions(), sink);
  ReplayClean(replayed, live_sink.events());
  EXPECT_EQ(replayed.GetOrder(placed.value->id, Seconds(102)).value->status,
            OrderStatus::kConfirmed);
  EXPECT_EQ(replayed.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(102)).outcome,
            Outcome::kReplayed);
}

}  // namespace
}  // namespace hotdeal::engine
