// Sale orders: quantity and per-user limits, confirm and cancel transitions, expiry at the
// exact boundary (read as expired before ExpireDue runs), the timer wheel, other users'
// orders, idempotent placement, sink refusal and Revert.
#include <gtest/gtest.h>

#include "ids.h"
#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kHoldSeconds = 60;

class OrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(engine_.CreateCampaign(SaleSpec("s", 5, 3, kHoldSeconds, 990), Seconds(0)).outcome,
              Outcome::kCreated);
  }
  Decision<Order> Place(int user, std::int64_t quantity, TimePoint now = Seconds(100),
                        std::optional<IdempotencyKey> key = {}, std::uint32_t worker = 0) {
    return engine_.PlaceOrder({worker}, Campaign("s"), User(user), quantity, key, now);
  }
  std::uint32_t Remaining(TimePoint now = Seconds(100)) {
    return engine_.GetCampaign(Campaign("s"), now).value->remaining;
  }

  RecordingSink sink_;
  Engine engine_{SmallOptions(), sink_};
};

TEST_F(OrderTest, ReservesQuantityAtOnce) {
  Decision<Order> placed = Place(1, 2);
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  EXPECT_EQ(placed.value->quantity, 2u);
  EXPECT_EQ(placed.value->amount, 1980);
  EXPECT_EQ(placed.value->status, OrderStatus::kReserved);
  EXPECT_EQ(placed.value->expires_at, Seconds(100 + kHoldSeconds));
  EXPECT_EQ(Remaining(), 3u);
  Event logged = sink_.events().back();
  EXPECT_EQ(logged.type, EventType::kOrderReserved);
  EXPECT_EQ(logged.order_id, placed.value->id);
  EXPECT_EQ(logged.expires_at, placed.value->expires_at);
  Decision<Order> read = engine_.GetOrder(placed.value->id, Seconds(101));
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->user, User(1));
}

TEST_F(OrderTest, QuantityAndLimitRules) {
  EXPECT_EQ(Place(1, 0).outcome, Outcome::kInvalid);
  EXPECT_EQ(Place(1, -2).outcome, Outcome::kInvalid);
  EXPECT_EQ(Place(1, 4).outcome, Outcome::kLimitExceeded);
  ASSERT_EQ(Place(1, 2).outcome, Outcome::kCreated);
  EXPECT_EQ(Place(1, 2).outcome, Outcome::kLimitExceeded);  // 2 + 2 > 3
  ASSERT_EQ(Place(1, 1).outcome, Outcome::kCreated);
  EXPECT_EQ(Place(1, 1).outcome, Outcome::kLimitExceeded);
  EXPECT_EQ(Place(2, 3).outcome, Outcome::kSoldOut);  // 2 left: all or nothing
  EXPECT_EQ(Remaining(), 2u);
  EXPECT_EQ(Place(2, 2, Seconds(100), {}, 1).outcome, Outcome::kCreated);
  EXPECT_EQ(Remaining(), 0u);
  EXPECT_EQ(Place(3, 1).outcome, Outcome::kSoldOut);
}

TEST_F(OrderTest, CancelledUnitsCountAgainstNothing) {
  Decision<Order> placed = Place(1, 3);
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  ASSERT_EQ(engine_.CancelOrder({1}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kOk);
  EXPECT_EQ(Remaining(), 5u);
  EXPECT_EQ(Place(1, 3).outcome, Outcome::kCreated);  // the limit counts live orders only
}

TEST_F(OrderTest, ConfirmThenCancelReturnsUnits) {
  Decision<Order> placed = Place(1, 2);
  Decision<Order> confirmed = engine_.ConfirmOrder({0}, placed.value->id, User(1), Seconds(120));
  ASSERT_EQ(confirmed.outcome, Outcome::kOk);
  EXPECT_EQ(confirmed.value->status, OrderStatus::kConfirmed);
  // Confirmed orders do not expire.
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(100 + kHoldSeconds + 5)), 0u);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(1000)).value->status,
            OrderStatus::kConfirmed);
  EXPECT_EQ(Remaining(), 3u);
  Decision<Order> cancelled = engine_.CancelOrder({0}, placed.value->id, User(1), Seconds(1000));
  ASSERT_EQ(cancelled.outcome, Outcome::kOk);
  EXPECT_EQ(cancelled.value->status, OrderStatus::kCancelled);
  EXPECT_EQ(Remaining(), 5u);
  EXPECT_EQ(engine_.ConfirmOrder({0}, placed.value->id, User(1), Seconds(1000)).outcome,
            Outcome::kConflict);
  EXPECT_EQ(sink_.events().back().type, EventType::kOrderCancelled);
}

TEST_F(OrderTest, ACancelScopedToReservationsNeverRefunds) {
  Decision<Order> placed = Place(1, 2);
  ASSERT_EQ(engine_.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kOk);
  Decision<Order> cancel =
      engine_.CancelOrder({1}, placed.value->id, User(1), Seconds(102), CancelScope::kReservation);
  EXPECT_EQ(cancel.outcome, Outcome::kConflict);
  EXPECT_EQ(cancel.value->status, OrderStatus::kConfirmed);
  EXPECT_EQ(Remaining(), 3u);
  // A reservation it does cancel.
  Decision<Order> other = Place(2, 1);
  EXPECT_EQ(
      engine_.CancelOrder({1}, other.value->id, User(2), Seconds(102), CancelScope::kReservation)
          .outcome,
      Outcome::kOk);
}

TEST_F(OrderTest, AnotherUsersOrderIsNotFound) {
  Decision<Order> placed = Place(1, 1);
  EXPECT_EQ(engine_.ConfirmOrder({0}, placed.value->id, User(2), Seconds(101)).outcome,
            Outcome::kNotFound);
  EXPECT_EQ(engine_.CancelOrder({0}, placed.value->id, User(2), Seconds(101)).outcome,
            Outcome::kNotFound);
  EXPECT_EQ(engine_.GetOrder(OrderId{placed.value->id.value + 1}, Seconds(101)).outcome,
            Outcome::kNotFound);
  EXPECT_EQ(engine_.GetOrder(OrderId{0}, Seconds(101)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Remaining(), 4u);
}

TEST_F(OrderTest, ExpiresAtTheExactBoundaryEvenBeforeExpireDue) {
  Decision<Order> placed = Place(1, 2, Seconds(100));
  TimePoint expires_at = placed.value->expires_at;
  TimePoint just_before = expires_at - std::chrono::microseconds(1);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, just_before).value->status, OrderStatus::kReserved);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, expires_at).value->status, OrderStatus::kExpired);
  EXPECT_EQ(engine_.ExpireDue({0}, just_before), 0u);
  EXPECT_EQ(Remaining(just_before), 3u);
  EXPECT_EQ(engine_.ExpireDue({0}, expires_at), 1u);
  EXPECT_EQ(Remaining(expires_at), 5u);
  EXPECT_EQ(sink_.events().back().type, EventType::kOrderExpired);
  EXPECT_EQ(engine_.ExpireDue({0}, expires_at + std::chrono::seconds(1)), 0u);
  EXPECT_EQ(engine_.Stats().orders_expired, 1u);
}

TEST_F(OrderTest, ConfirmAtExpiryIsAConflictAndExpiresTheOrder) {
  Decision<Order> placed = Place(1, 2, Seconds(100));
  Decision<Order> late =
      engine_.ConfirmOrder({1}, placed.value->id, User(1), placed.value->expires_at);
  EXPECT_EQ(late.outcome, Outcome::kConflict);
  EXPECT_EQ(late.value->status, OrderStatus::kExpired);
  EXPECT_EQ(Remaining(), 5u);  // returned at once, not at the next ExpireDue
  EXPECT_EQ(engine_.ExpireDue({0}, placed.value->expires_at), 0u);
  EXPECT_EQ(engine_.CancelOrder({1}, placed.value->id, User(1), placed.value->expires_at).outcome,
            Outcome::kConflict);
}

TEST_F(OrderTest, WheelExpiresOnlyDueOrdersAcrossManySeconds) {
  ASSERT_EQ(engine_.CreateCampaign(SaleSpec("long", 100, 1, 3000), Seconds(0)).outcome,
            Outcome::kCreated);
  // Due beyond one wheel revolution (1024 s): must survive the passes before it falls due.
  Decision<Order> long_hold =
      engine_.PlaceOrder({0}, Campaign("long"), User(1), 1, {}, Seconds(100));
  Decision<Order> short_hold = Place(2, 1, Seconds(100));
  for (std::int64_t t = 100; t < 100 + 3000; t += 7)
    engine_.ExpireDue({0}, Seconds(t));
  EXPECT_EQ(engine_.GetOrder(short_hold.value->id, Seconds(3099)).value->status,
            OrderStatus::kExpired);
  EXPECT_EQ(engine_.GetOrder(long_hold.value->id, Seconds(3099)).value->status,
            OrderStatus::kReserved);
  EXPECT_EQ(engine_.GetCampaign(Campaign("long"), Seconds(3099)).value->remaining, 99u);
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(3100)), 1u);
  EXPECT_EQ(engine_.GetCampaign(Campaign("long"), Seconds(3100)).value->remaining, 100u);
}

TEST_F(OrderTest, EachWorkerExpiresItsOwnOrders) {
  Decision<Order> placed = Place(1, 1, Seconds(100), {}, 1);
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(1000)), 0u);
  EXPECT_EQ(engine_.ExpireDue({1}, Seconds(1000)), 1u);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(1000)).value->status, OrderStatus::kExpired);
}

TEST_F(OrderTest, IdempotentPlacementReplaysTheReservation) {
  Decision<Order> placed = Place(1, 2, Seconds(100), Key("pay-1"));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  Decision<Order> again = Place(1, 2, Seconds(110), Key("pay-1"), 1);
  ASSERT_EQ(again.outcome, Outcome::kReplayed);
  EXPECT_EQ(again.value->id, placed.value->id);
  EXPECT_EQ(again.value->status, OrderStatus::kReserved);
  EXPECT_EQ(Remaining(), 3u);
}

TEST_F(OrderTest, SinkRefusalUndoesPlacementAndTransitions) {
  sink_.set_refuse(true);
  EXPECT_EQ(Place(1, 3).outcome, Outcome::kLogUnavailable);
  sink_.set_refuse(false);
  EXPECT_EQ(Remaining(), 5u);
  Decision<Order> placed = Place(1, 3);  // the user's units were given back too
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  sink_.set_refuse(true);
  EXPECT_EQ(engine_.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kLogUnavailable);
  EXPECT_EQ(engine_.CancelOrder({0}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kLogUnavailable);
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(1000)), 0u);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(101)).value->status, OrderStatus::kReserved);
  EXPECT_EQ(Remaining(), 2u);
  sink_.set_refuse(false);
  EXPECT_EQ(engine_.ExpireDue({0}, Seconds(1000)), 1u);  // retried once the log is back
  EXPECT_EQ(Remaining(Seconds(1000)), 5u);
}

TEST_F(OrderTest, RevertUndoesReservationAndConfirmation) {
  Decision<Order> placed = Place(1, 2);
  Event reserved = sink_.events().back();
  ASSERT_EQ(engine_.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kOk);
  engine_.Revert(sink_.events().back());
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(101)).value->status, OrderStatus::kReserved);
  engine_.Revert(reserved);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(101)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Remaining(), 5u);
  EXPECT_EQ(Place(1, 3).outcome, Outcome::kCreated);
}

// --ack memory: the reservation is reported not persisted (reverted) after its confirm was
// decided, and the confirm's own reports come later. The undone slot is final: the late reports
// return at once (a report of an undone order used to wait for a publish that never came: the
// simulation's seed 58, "acknowledge spins").
TEST_F(OrderTest, ReportsOfAnUndoneOrderReturnAtOnce) {
  Decision<Order> placed = Place(1, 2);
  Event reserved = sink_.events().back();
  ASSERT_EQ(engine_.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome,
            Outcome::kOk);
  Event confirmed = sink_.events().back();
  engine_.Revert(reserved);
  engine_.Acknowledge(confirmed);
  engine_.MarkInDoubt(confirmed);
  engine_.Revert(confirmed);
  EXPECT_EQ(engine_.GetOrder(placed.value->id, Seconds(101)).outcome, Outcome::kNotFound);
  EXPECT_EQ(Remaining(), 5u);
}

// Invariant 9: reservations cancelled or expired many times the stock over a sale leave it
// selling exactly as before, on any worker, and its last unit still sells.
TEST(OrderChurnTest, ChurnOfAHundredTimesTheStockNeverWearsTheCampaignOut) {
  constexpr std::uint32_t kStock = 4;
  constexpr std::uint32_t kWorkers = 3;
  RecordingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  ASSERT_EQ(engine.CreateCampaign(NoHeadroom(SaleSpec("s", kStock, 2, 5)), Seconds(0)).outcome,
            Outcome::kCreated);
  const std::uint32_t slots = engine.Footprint(Campaign("s"))->orders_max;
  ASSERT_LT(slots, 100 * kStock);  // so the churn below reuses every slot many times
  TimePoint now = Seconds(100);
  for (std::uint32_t round = 0; round < 100 * kStock; ++round) {
    WorkerId worker{round % kWorkers};
    UserId user = User(static_cast<int>(round % 7));
    Decision<Order> placed = engine.PlaceOrder(worker, Campaign("s"), user, 2, {}, now);
    ASSERT_EQ(placed.outcome, Outcome::kCreated) << "round " << round;
    if (round % 3 == 0) {
      now += std::chrono::seconds(6);  // held past expires_at: another worker's wheel expires it
      for (std::uint32_t w = 0; w < kWorkers; ++w)
        engine.ExpireDue({w}, now);
    } else {
      ASSERT_EQ(engine.CancelOrder({(round + 1) % kWorkers}, placed.value->id, user, now).outcome,
                Outcome::kOk);
    }
    ASSERT_EQ(engine.Books(Campaign("s"))->remaining, kStock) << "round " << round;
  }
  for (int user = 0; user < 2; ++user) {
    Decision<Order> last = engine.PlaceOrder({0}, Campaign("s"), User(100 + user), 2, {}, now);
    ASSERT_EQ(last.outcome, Outcome::kCreated);
    ASSERT_EQ(engine.ConfirmOrder({1}, last.value->id, User(100 + user), now).outcome,
              Outcome::kOk);
  }
  EXPECT_EQ(engine.PlaceOrder({2}, Campaign("s"), User(200), 1, {}, now).outcome,
            Outcome::kSoldOut);
  EXPECT_EQ(engine.Footprint(Campaign("s"))->orders_max, slots);  // memory never grew
}

// A reused slot's old id finds nothing: it can neither read nor move the order now there.
TEST(OrderChurnTest, AStaleIdNeverFindsTheOrderThatReusedItsSlot) {
  RecordingSink sink;
  Engine engine(SmallOptions(1), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 1, 1, 60), Seconds(0)).outcome, Outcome::kCreated);
  const std::uint32_t slots = engine.Footprint(Campaign("s"))->orders_max;
  std::vector<OrderId> ended;
  Decision<Order> placed;
  // Reserve and cancel until an order lands in the first order's slot again.
  for (std::uint32_t i = 0; i <= slots; ++i) {
    placed = engine.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(100));
    ASSERT_EQ(placed.outcome, Outcome::kCreated);
    if (!ended.empty() &&
        detail::OrderSlotIndex(placed.value->id) == detail::OrderSlotIndex(ended.front())) {
      break;
    }
    ASSERT_EQ(engine.CancelOrder({0}, placed.value->id, User(1), Seconds(100)).outcome,
              Outcome::kOk);
    ended.push_back(placed.value->id);
  }
  ASSERT_EQ(ended.size(), slots) << "the first slot is reused once every slot was used";
  EXPECT_NE(placed.value->id, ended.front());
  EXPECT_EQ(engine.GetOrder(ended.front(), Seconds(101)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine.CancelOrder({0}, ended.front(), User(1), Seconds(101)).outcome,
            Outcome::kNotFound);
  EXPECT_EQ(engine.ConfirmOrder({0}, ended.front(), User(1), Seconds(101)).outcome,
            Outcome::kNotFound);
  // The last order to end keeps its slot the longest: it still reads as cancelled.
  EXPECT_EQ(engine.GetOrder(ended.back(), Seconds(101)).value->status, OrderStatus::kCancelled);
  EXPECT_EQ(engine.GetOrder(placed.value->id, Seconds(101)).value->status, OrderStatus::kReserved);
}

// A key replays its order for as long as the order is readable; once the order ended and its
// slot was taken by another, the answer is gone, and the key must not make a second order.
TEST(OrderChurnTest, AKeyWhoseOrderEndedAndWasReusedAnswersConflict) {
  RecordingSink sink;
  Engine engine(SmallOptions(1), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 1, 1, 60), Seconds(0)).outcome, Outcome::kCreated);
  const std::uint32_t slots = engine.Footprint(Campaign("s"))->orders_max;
  Decision<Order> first = engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(100));
  ASSERT_EQ(first.outcome, Outcome::kCreated);
  ASSERT_EQ(engine.CancelOrder({0}, first.value->id, User(1), Seconds(100)).outcome, Outcome::kOk);
  EXPECT_EQ(engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(101)).outcome,
            Outcome::kReplayed);
  for (std::uint32_t i = 0; i < slots; ++i) {
    Decision<Order> other = engine.PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(102));
    ASSERT_EQ(other.outcome, Outcome::kCreated);
    ASSERT_EQ(engine.CancelOrder({0}, other.value->id, User(2), Seconds(102)).outcome,
              Outcome::kOk);
  }
  ASSERT_EQ(engine.GetOrder(first.value->id, Seconds(103)).outcome, Outcome::kNotFound);
  Decision<Order> retry = engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("k"), Seconds(103));
  EXPECT_EQ(retry.outcome, Outcome::kConflict);
  EXPECT_EQ(engine.Books(Campaign("s"))->remaining, 1u);
  // A reverted order's key is free again, reused slot or not.
  Decision<Order> reverted =
      engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("r"), Seconds(104));
  ASSERT_EQ(reverted.outcome, Outcome::kCreated);
  engine.Revert(sink.events().back());
  EXPECT_EQ(engine.PlaceOrder({0}, Campaign("s"), User(1), 1, Key("r"), Seconds(105)).outcome,
            Outcome::kCreated);
}

}  // namespace
}  // namespace hotdeal::engine
