// Unguessable ids: the engine hands out ids with a tag keyed by their campaign's secret, every
// lookup a client asks for checks it (a tampered tag, another campaign's tag, a stale id all
// read as not found), a million guesses find nothing, and the key comes back with a replay.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "ids.h"
#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr TimePoint kNow = TimePoint(std::chrono::seconds(100));

class IdTagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"a", "b"}) {
      ASSERT_EQ(engine_.CreateCampaign(SaleSpec(id, kStock, 1, 600), Seconds(0)).outcome,
                Outcome::kCreated);
    }
  }
  Order Place(const char* campaign, int user) {
    Decision<Order> placed = engine_.PlaceOrder({0}, Campaign(campaign), User(user), 1, {}, kNow);
    EXPECT_EQ(placed.outcome, Outcome::kCreated);
    return *placed.value;
  }
  // Every client-facing lookup of `id` by the order's owner answers kNotFound.
  void ExpectNotFound(OrderId id, int user) {
    EXPECT_EQ(engine_.GetOrder(id, kNow).outcome, Outcome::kNotFound);
    EXPECT_EQ(engine_.ConfirmOrder({0}, id, User(user), kNow).outcome, Outcome::kNotFound);
    EXPECT_EQ(engine_.CancelOrder({0}, id, User(user), kNow).outcome, Outcome::kNotFound);
  }

  static constexpr std::uint32_t kStock = 1000;
  RecordingSink sink_;
  Engine engine_{SmallOptions(1), sink_};
};

TEST_F(IdTagTest, AnIdWithAWrongTagIsNotFoundAndLeavesTheOrderAlone) {
  Order order = Place("a", 1);
  for (std::uint64_t flip : {std::uint64_t{1}, std::uint64_t{1} << 63, ~std::uint64_t{0}}) {
    ExpectNotFound(OrderId{order.id.value, order.id.tag ^ flip}, 1);
  }
  ExpectNotFound(OrderId{order.id.value, 0}, 1);  // the untagged form of a tagged campaign's id
  // Untouched by the attempts: still reserved, and its own id still moves it.
  EXPECT_EQ(engine_.GetOrder(order.id, kNow).value->status, OrderStatus::kReserved);
  EXPECT_EQ(engine_.ConfirmOrder({0}, order.id, User(1), kNow).outcome, Outcome::kOk);
}

// Each campaign has its own key: an order of "b" in the same slot as one of "a" has another tag,
// and neither tag opens the other campaign's order.
TEST_F(IdTagTest, AnotherCampaignsTagDoesNotOpenAnOrder) {
  Order in_a = Place("a", 1);
  Order in_b = Place("b", 1);
  ASSERT_EQ(detail::OrderSlotIndex(in_a.id), detail::OrderSlotIndex(in_b.id));
  ASSERT_NE(detail::OrderCampaign(in_a.id), detail::OrderCampaign(in_b.id));
  EXPECT_NE(in_a.id.tag, in_b.id.tag);
  ExpectNotFound(OrderId{in_b.id.value, in_a.id.tag}, 1);
  ExpectNotFound(OrderId{in_a.id.value, in_b.id.tag}, 1);
  EXPECT_EQ(engine_.GetOrder(in_b.id, kNow).outcome, Outcome::kOk);
}

// A slot reused after its order ended has a new generation: the old id (tag and all) finds
// nothing, and neither does the old tag on the new order's value.
TEST(IdTagChurnTest, AnIdFromBeforeItsSlotWasReusedIsNotFound) {
  RecordingSink sink;
  Engine engine(SmallOptions(1), sink);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 1, 1, 60), Seconds(0)).outcome, Outcome::kCreated);
  const std::uint32_t slots = engine.Footprint(Campaign("s"))->orders_max;
  Decision<Order> first = engine.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, kNow);
  ASSERT_EQ(first.outcome, Outcome::kCreated);
  const OrderId stale = first.value->id;
  Decision<Order> placed = first;
  for (std::uint32_t i = 0; i < slots; ++i) {
    ASSERT_EQ(engine.CancelOrder({0}, placed.value->id, User(1), kNow).outcome, Outcome::kOk);
    placed = engine.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, kNow);
    ASSERT_EQ(placed.outcome, Outcome::kCreated);
  }
  const OrderId reused = placed.value->id;
  ASSERT_EQ(detail::OrderSlotIndex(reused), detail::OrderSlotIndex(stale));
  ASSERT_NE(detail::OrderGeneration(reused), detail::OrderGeneration(stale));
  for (OrderId id : {stale, OrderId{reused.value, stale.tag}}) {
    EXPECT_EQ(engine.GetOrder(id, kNow).outcome, Outcome::kNotFound);
    EXPECT_EQ(engine.CancelOrder({0}, id, User(1), kNow).outcome, Outcome::kNotFound);
  }
  EXPECT_EQ(engine.GetOrder(reused, kNow).value->status, OrderStatus::kReserved);
}

// What a client holds is the text: the decided id survives it whole and still opens the order.
TEST_F(IdTagTest, TheTextFormCarriesTheTag) {
  Order order = Place("a", 1);
  std::string text(Engine::OrderIdText(order.id).view());
  EXPECT_EQ(text.size(), 33u);
  std::optional<OrderId> parsed = Engine::ParseOrderId(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->tag, order.id.tag);
  EXPECT_EQ(engine_.GetOrder(*parsed, kNow).value->user, User(1));
  // Without its tag (the 16-digit form of untagged ids) it opens nothing.
  std::optional<OrderId> untagged = Engine::ParseOrderId(text.substr(0, 17));
  ASSERT_TRUE(untagged);
  EXPECT_EQ(engine_.GetOrder(*untagged, kNow).outcome, Outcome::kNotFound);
}

// Claims are read by (campaign, user), but their ids are tagged the same way, per campaign.
TEST(IdTagClaimTest, ClaimIdsAreTaggedPerCampaignAndStableAcrossReads) {
  RecordingSink sink;
  Engine engine(SmallOptions(1), sink);
  std::set<std::uint64_t> tags;
  for (const char* id : {"c1", "c2"}) {
    ASSERT_EQ(engine.CreateCampaign(CouponSpec(id, 5), Seconds(0)).outcome, Outcome::kCreated);
    Decision<Claim> made = engine.ClaimCoupon({0}, Campaign(id), User(1), {}, kNow);
    ASSERT_EQ(made.outcome, Outcome::kCreated);
    EXPECT_EQ(engine.GetClaim(Campaign(id), User(1)).value->id.tag, made.value->id.tag);
    EXPECT_EQ(engine.ClaimCoupon({0}, Campaign(id), User(1), {}, kNow).value->id.tag,
              made.value->id.tag);                     // kAlreadyClaimed shows the same id
    EXPECT_EQ(sink.events().back().claim_id.tag, 0u);  // the log keeps the value alone
    tags.insert(made.value->id.tag);
  }
  EXPECT_EQ(tags.size(), 2u);
}

// The brute force the tag stops: 10^6 ids of the live campaign's shape (its index, a slot that
// holds a live order, generation 0) with random tags, then 10^6 counted from a real id (value
// + k with its tag, tag + k with its value). Without the tag every shaped guess would be an
// order; with it none is.
TEST_F(IdTagTest, AMillionGuessesFindNoOrder) {
  std::vector<Order> placed;
  for (std::uint32_t user = 0; user < kStock; ++user)
    placed.push_back(Place("a", static_cast<int>(user)));
  const OrderId real = placed.front().id;
  std::set<std::uint64_t> live;
  for (const Order& order : placed)
    live.insert(order.id.value);

  std::mt19937_64 random(20260301);
  std::size_t shaped = 0;
  std::size_t found = 0;
  constexpr int kGuesses = 1'000'000;
  for (int i = 0; i < kGuesses; ++i) {
    auto slot = static_cast<std::uint32_t>(random() % kStock);
    OrderId guess = detail::MakeOrderId(detail::OrderCampaign(real), slot, 0);
    guess.tag = random();
    shaped += live.count(guess.value);
    found += engine_.GetOrder(guess, kNow).outcome != Outcome::kNotFound;
  }
  EXPECT_EQ(found, 0u);
  EXPECT_GT(shaped, kGuesses * 9 / 10) << "the guesses must name live orders to mean anything";

  std::size_t counted_found = 0;
  for (std::uint64_t k = 1; k <= kGuesses / 2; ++k) {
    counted_found +=
        engine_.GetOrder(OrderId{real.value + k, real.tag}, kNow).outcome == Outcome::kOk;
    counted_found +=
        engine_.GetOrder(OrderId{real.value, real.tag + k}, kNow).outcome == Outcome::kOk;
  }
  EXPECT_EQ(counted_found, 0u);
  EXPECT_EQ(engine_.GetOrder(real, kNow).outcome, Outcome::kOk);
}

// The key travels in campaign_created: an engine rebuilt from the log opens the ids the first
// one handed out. A creation logged before keys (id_key {0, 0}) gets untagged ids, which the
// 16-digit text form they were handed out in still opens.
TEST(IdTagReplayTest, TheKeyComesBackFromTheLogAndAnOldCreationHasUntaggedIds) {
  RecordingSink sink;
  Engine live(SmallOptions(1), sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 5, 1, 600), Seconds(0)).outcome, Outcome::kCreated);
  EXPECT_NE(sink.events().front().id_key, (IdKey{0, 0}));
  Decision<Order> placed = live.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, kNow);
  ASSERT_EQ(placed.outcome, Outcome::kCreated);

  RecordingSink replay_sink;
  Engine recovered(SmallOptions(1), replay_sink);
  ReplayClean(recovered, sink.events());
  EXPECT_EQ(recovered.GetOrder(placed.value->id, kNow).value->id.tag, placed.value->id.tag);
  EXPECT_EQ(recovered.ConfirmOrder({0}, placed.value->id, User(1), kNow).outcome, Outcome::kOk);

  std::vector<Event> old_log = sink.events();
  old_log.front().id_key = {};
  Engine old(SmallOptions(1), replay_sink);
  ReplayClean(old, old_log);
  std::optional<OrderId> handed_out =
      Engine::ParseOrderId(std::string(Engine::OrderIdText(placed.value->id).view()).substr(0, 17));
  ASSERT_TRUE(handed_out);
  Decision<Order> read = old.GetOrder(*handed_out, kNow);
  ASSERT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.value->id.tag, 0u);
  EXPECT_EQ(old.GetOrder(placed.value->id, kNow).outcome, Outcome::kNotFound);  // a tag it lacks
}

}  // namespace
}  // namespace hotdeal::engine
