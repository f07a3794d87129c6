// Sale orders: quantity and per-user limits, confirm and cancel transitions, expiry at the
// exact boundary (read as expired before ExpireDue runs), the timer wheel, other users'
// orders, idempotent placement, sink refusal and Revert.
#include <gtest/gtest.h>

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

TEST(OrderCapacityTest, OrderTableFullIsOverCapacity) {
  RecordingSink sink;
  Engine engine(SmallOptions(1), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 2, 1), Seconds(0)).outcome, Outcome::kCreated);
  // Two units: four order slots for the campaign's life; cancelling frees units, not slots.
  for (int i = 0; i < 4; ++i) {
    Decision<Order> placed = engine.PlaceOrder({0}, Campaign("s"), User(i), 1, {}, Seconds(100));
    ASSERT_EQ(placed.outcome, Outcome::kCreated);
    ASSERT_EQ(engine.CancelOrder({0}, placed.value->id, User(i), Seconds(100)).outcome,
              Outcome::kOk);
  }
  EXPECT_EQ(engine.PlaceOrder({0}, Campaign("s"), User(9), 1, {}, Seconds(100)).outcome,
            Outcome::kOverCapacity);
  EXPECT_EQ(engine.GetCampaign(Campaign("s"), Seconds(100)).value->remaining, 2u);
}

}  // namespace
}  // namespace hotdeal::engine
