// Recovery: random decisions are captured by a recording sink and applied, in log order, to a
// fresh engine; every campaign, claim and order must come back the same, and ids made after
// recovery must not repeat ids made before.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <set>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

void ExpectSameCampaign(const CampaignView& a, const CampaignView& b) {
  EXPECT_EQ(a.spec.id, b.spec.id);
  EXPECT_EQ(a.spec.kind, b.spec.kind);
  EXPECT_EQ(a.spec.stock, b.spec.stock);
  EXPECT_EQ(a.spec.per_user_limit, b.spec.per_user_limit);
  EXPECT_EQ(a.spec.name, b.spec.name);
  EXPECT_EQ(a.remaining, b.remaining);
  EXPECT_EQ(a.status, b.status);
}

void ExpectSameOrder(const Decision<Order>& a, const Decision<Order>& b) {
  ASSERT_EQ(a.outcome, b.outcome);
  if (!a.value) return;
  EXPECT_EQ(a.value->id, b.value->id);
  EXPECT_EQ(a.value->user, b.value->user);
  EXPECT_EQ(a.value->quantity, b.value->quantity);
  EXPECT_EQ(a.value->amount, b.value->amount);
  EXPECT_EQ(a.value->status, b.value->status);
  EXPECT_EQ(a.value->created_at, b.value->created_at);
  EXPECT_EQ(a.value->expires_at, b.value->expires_at);
}

void RunSeed(std::uint32_t seed) {
  SCOPED_TRACE(Numbered("seed ", seed));
  std::mt19937 random(seed);
  auto pick = [&random](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  RecordingSink sink;
  Engine live(SmallOptions(3), sink);
  std::vector<CampaignId> ids;
  for (int i = 0; i < 4; ++i) {
    CampaignSpec spec = i % 2 ? SaleSpec(Numbered("sale-", i), 30, 4, 10 + 10 * i)
                              : CouponSpec(Numbered("coupon-", i), 25);
    ASSERT_EQ(live.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kCreated);
    ids.push_back(spec.id);
  }
  std::vector<OrderId> orders;
  std::set<std::uint64_t> claim_ids;
  TimePoint now = Seconds(100);
  for (int step = 0; step < 600; ++step) {
    auto worker = WorkerId{static_cast<std::uint32_t>(pick(3))};
    const CampaignId& id = ids[static_cast<std::size_t>(pick(4))];
    UserId user = User(pick(40));
    switch (pick(6)) {
      case 0:
      case 1:
        if (auto made = live.ClaimCoupon(worker, id, user, {}, now); made.value) {
          claim_ids.insert(made.value->id.value);
        }
        break;
      case 2:
        if (auto made = live.PlaceOrder(worker, id, user, 1 + pick(3), {}, now); made.value) {
          orders.push_back(made.value->id);
        }
        break;
      case 3:
        if (!orders.empty()) {
          OrderId order = orders[static_cast<std::size_t>(pick(static_cast<int>(orders.size())))];
          UserId owner = live.GetOrder(order, now).value->user;
          if (pick(2)) {
            live.ConfirmOrder(worker, order, owner, now);
          } else {
            live.CancelOrder(worker, order, owner, now);
          }
        }
        break;
      case 4:
        live.ExpireDue(worker, now);
        break;
      default:
        now += std::chrono::milliseconds(pick(5000));
        break;
    }
  }
  if (pick(2)) live.CloseCampaign(ids[0], now);

  RecordingSink replay_sink;
  Engine recovered(SmallOptions(3), replay_sink);
  ReplayClean(recovered, sink.events());
  EXPECT_EQ(replay_sink.size(), 0u);  // replay decides nothing new

  std::vector<CampaignView> a = live.ListCampaigns(now);
  std::vector<CampaignView> b = recovered.ListCampaigns(now);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ExpectSameCampaign(a[i], b[i]);
  for (const CampaignId& id : ids) {
    for (int u = 0; u < 40; ++u) {
      Decision<Claim> x = live.GetClaim(id, User(u));
      Decision<Claim> y = recovered.GetClaim(id, User(u));
      ASSERT_EQ(x.outcome, y.outcome);
      if (x.value) {
        EXPECT_EQ(x.value->id, y.value->id);
        EXPECT_EQ(x.value->coupon_code, y.value->coupon_code);
        EXPECT_EQ(x.value->created_at, y.value->created_at);
      }
    }
  }
  for (OrderId order : orders)
    ExpectSameOrder(live.GetOrder(order, now), recovered.GetOrder(order, now));
  // Reservations keep their expires_at: both engines expire the same orders later.
  TimePoint later = now + std::chrono::seconds(100);
  std::size_t expired_live = 0;
  std::size_t expired_recovered = 0;
  for (std::uint32_t w = 0; w < 3; ++w) {
    expired_live += live.ExpireDue({w}, later);
    expired_recovered += recovered.ExpireDue({w}, later);
  }
  EXPECT_EQ(expired_live, expired_recovered);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(live.GetCampaign(ids[i], later).value->remaining,
              recovered.GetCampaign(ids[i], later).value->remaining);
  }
  // New ids after recovery never repeat old ones.
  for (std::uint32_t w = 0; w < 3; ++w) {
    for (const CampaignId& id : ids) {
      if (auto made = recovered.ClaimCoupon({w}, id, User(1000 + static_cast<int>(w)), {}, later);
          made.value) {
        EXPECT_FALSE(claim_ids.count(made.value->id.value));
      }
      if (auto made = recovered.PlaceOrder({w}, id, User(1000 + static_cast<int>(w)), 1, {}, later);
          made.value) {
        EXPECT_EQ(std::find(orders.begin(), orders.end(), made.value->id), orders.end());
      }
    }
  }
}

TEST(ReplayTest, ApplyRebuildsExactState) {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    RunSeed(seed);
    if (::testing::Test::HasFailure()) return;
  }
}

// A client that sent a key before a crash and retries with it after the restart hears the
// original answer: Apply remembers the keys the logged grants and reservations carried.
TEST(ReplayTest, IdempotencyKeysSurviveReplay) {
  RecordingSink sink;
  Engine live(SmallOptions(2), sink);
  ASSERT_EQ(live.CreateCampaign(CouponSpec("c", 5), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 5, 3), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Claim> claim = live.ClaimCoupon({0}, Campaign("c"), User(1), Key("k1"), Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  Decision<Order> order = live.PlaceOrder({1}, Campaign("s"), User(1), 2, Key("k2"), Seconds(100));
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  live.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(100));
  std::vector<Event> events = sink.events();
  ASSERT_TRUE(events[2].idempotency_key);
  EXPECT_EQ(*events[2].idempotency_key, Key("k1"));
  EXPECT_FALSE(events[4].idempotency_key);  // no key sent, none logged

  Engine recovered(SmallOptions(2), sink);
  ReplayClean(recovered, events);
  Decision<Claim> claim_again =
      recovered.ClaimCoupon({1}, Campaign("c"), User(1), Key("k1"), Seconds(200));
  ASSERT_EQ(claim_again.outcome, Outcome::kReplayed);
  EXPECT_EQ(claim_again.value->id, claim.value->id);
  EXPECT_EQ(claim_again.value->coupon_code, claim.value->coupon_code);
  Decision<Order> order_again =
      recovered.PlaceOrder({0}, Campaign("s"), User(1), 2, Key("k2"), Seconds(200));
  ASSERT_EQ(order_again.outcome, Outcome::kReplayed);
  EXPECT_EQ(order_again.value->id, order.value->id);
  EXPECT_EQ(order_again.value->expires_at, order.value->expires_at);
  // The replays took nothing, and a key is scoped to its user: another user's k1 is new.
  EXPECT_EQ(recovered.Books(Campaign("s"))->remaining, 3u);
  EXPECT_EQ(recovered.Books(Campaign("c"))->remaining, 3u);
  EXPECT_EQ(recovered.ClaimCoupon({1}, Campaign("c"), User(3), Key("k1"), Seconds(200)).outcome,
            Outcome::kCreated);
}

// The durable path can log a move of an order whose reservation never reached Kafka: the
// reservation's delivery report came late (producer recreated, delivery timeout longer than
// the hold) and said "not persisted" after the order had already expired, been cancelled or
// been confirmed. Replay must not stop on such a log; the orphan moves change nothing.
TEST(ReplayTest, OrderMovesWithoutTheirReservationAreCountedNoOps) {
  RecordingSink sink;
  Engine live(SmallOptions(2), sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 6, 3, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> kept = live.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(100));
  Decision<Order> expired = live.PlaceOrder({0}, Campaign("s"), User(2), 2, {}, Seconds(100));
  Decision<Order> cancelled = live.PlaceOrder({1}, Campaign("s"), User(3), 1, {}, Seconds(100));
  Decision<Order> confirmed = live.PlaceOrder({1}, Campaign("s"), User(4), 2, {}, Seconds(100));
  ASSERT_EQ(live.CancelOrder({1}, cancelled.value->id, User(3), Seconds(110)).outcome,
            Outcome::kOk);
  ASSERT_EQ(live.ConfirmOrder({1}, confirmed.value->id, User(4), Seconds(110)).outcome,
            Outcome::kOk);
  ASSERT_EQ(live.ExpireDue({0}, Seconds(160)), 2u);  // `kept` expires too, with its reservation

  std::vector<Event> log;
  for (const Event& event : sink.events()) {
    bool orphaned = event.order_id == expired.value->id || event.order_id == cancelled.value->id ||
                    event.order_id == confirmed.value->id;
    if (!(orphaned && event.type == EventType::kOrderReserved)) log.push_back(event);
  }
  ASSERT_EQ(log.size(), sink.size() - 3);
  RecordingSink replay_sink;
  Engine recovered(SmallOptions(2), replay_sink);
  ReplayClean(recovered, log);

  EXPECT_EQ(recovered.Stats().orphan_events, 3u);
  EXPECT_EQ(replay_sink.size(), 0u);
  // Nothing was restocked for the absent orders: their units were never taken in this state.
  CampaignBooks books = *recovered.Books(Campaign("s"));
  EXPECT_EQ(books.remaining, 6u);
  EXPECT_EQ(books.held, 0);
  EXPECT_EQ(books.confirmed, 0);
  EXPECT_EQ(std::int64_t{books.stock} - books.remaining - books.in_doubt,
            books.claimed + books.held + books.confirmed);
  EXPECT_EQ(recovered.GetOrder(kept.value->id, Seconds(160)).value->status, OrderStatus::kExpired);
  // The confirm without its reservation cannot be honoured: the order is unknown.
  EXPECT_EQ(recovered.GetOrder(confirmed.value->id, Seconds(160)).outcome, Outcome::kNotFound);
  EXPECT_EQ(recovered.GetOrder(expired.value->id, Seconds(160)).outcome, Outcome::kNotFound);
  // The users' units were never counted either: each may order up to the limit again.
  for (int user = 2; user <= 4; ++user) {
    EXPECT_EQ(recovered.PlaceOrder({0}, Campaign("s"), User(user), 3, {}, Seconds(170)).outcome,
              user == 4 ? Outcome::kSoldOut : Outcome::kCreated)
        << user;
  }
}

// A move or void appended again (its first append ended possibly persisted) arrives twice;
// voids may name decisions the log never had. Each repeat is a counted no-op.
TEST(ReplayTest, RepeatedMovesAndVoidsOfAbsentDecisionsAreCountedNoOps) {
  RecordingSink sink;
  Engine live(SmallOptions(2), sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 6, 3, 60), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(live.CreateCampaign(CouponSpec("c", 3), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> cancelled = live.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(100));
  Decision<Order> confirmed = live.PlaceOrder({0}, Campaign("s"), User(2), 1, {}, Seconds(100));
  Decision<Order> expired = live.PlaceOrder({1}, Campaign("s"), User(3), 3, {}, Seconds(100));
  Decision<Claim> claim = live.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100));
  ASSERT_EQ(claim.outcome, Outcome::kCreated);
  live.CancelOrder({0}, cancelled.value->id, User(1), Seconds(110));
  live.ConfirmOrder({0}, confirmed.value->id, User(2), Seconds(110));
  ASSERT_EQ(live.ExpireDue({1}, Seconds(160)), 1u);

  std::vector<Event> log;
  for (const Event& event : sink.events()) {
    log.push_back(event);
    bool move = event.type == EventType::kOrderCancelled ||
                event.type == EventType::kOrderConfirmed || event.type == EventType::kOrderExpired;
    if (move) log.push_back(event);
  }
  // Voids for decisions the log never had: a claim of user 2, an order in an unused slot.
  Event claim_void = log.back();
  claim_void.type = EventType::kClaimVoided;
  claim_void.campaign = Campaign("c");
  claim_void.user = User(2);
  claim_void.claim_id = ClaimId{claim.value->id.value + 1};
  log.push_back(claim_void);
  Event order_void = log.back();
  order_void.type = EventType::kOrderVoided;
  order_void.campaign = Campaign("s");
  order_void.order_id = OrderId{expired.value->id.value + 1};
  log.push_back(order_void);
  // An expiry and a cancel of an order that was confirmed: the cancel is a real move.
  Event late_expiry = log.back();
  for (const Event& event : sink.events()) {
    if (event.type == EventType::kOrderConfirmed) late_expiry = event;
  }
  late_expiry.type = EventType::kOrderExpired;
  log.push_back(late_expiry);

  Engine recovered(SmallOptions(2), sink);
  std::size_t logged = sink.size();
  ReplayClean(recovered, log);
  EXPECT_EQ(sink.size(), logged);
  // Three repeated moves, two voids of absent decisions, one expiry of a confirmed order.
  EXPECT_EQ(recovered.Stats().orphan_events, 6u);
  CampaignBooks books = *recovered.Books(Campaign("s"));
  EXPECT_EQ(books.remaining, 5u);
  EXPECT_EQ(books.confirmed, 1);
  EXPECT_EQ(books.held, 0);
  EXPECT_EQ(std::int64_t{books.stock} - books.remaining - books.in_doubt,
            books.claimed + books.held + books.confirmed);
  EXPECT_EQ(recovered.GetOrder(confirmed.value->id, Seconds(170)).value->status,
            OrderStatus::kConfirmed);
  CampaignBooks coupons = *recovered.Books(Campaign("c"));
  EXPECT_EQ(coupons.remaining, 2u);
  EXPECT_EQ(coupons.claimed, 1);
  EXPECT_EQ(recovered.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
}

// What could oversell still stops recovery: a reservation of more units than are left.
// Without await_acknowledgement (--ack memory) a creation the log lost can leave its campaign's
// decisions in the log: recovery counts them and goes on rather than stopping every sale.
TEST(ReplayTest, EventsOfACampaignTheLogNeverCreatedAreCountedNoOps) {
  RecordingSink sink;
  Engine live(SmallOptions(2), sink);
  ASSERT_EQ(live.CreateCampaign(CouponSpec("lost", 3), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(live.CreateCampaign(CouponSpec("kept", 3), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(live.ClaimCoupon({0}, Campaign("lost"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(live.ClaimCoupon({0}, Campaign("kept"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(live.CloseCampaign(Campaign("lost"), Seconds(101)).outcome, Outcome::kOk);

  Engine recovered(SmallOptions(2), sink);
  std::vector<Event> log;
  for (const Event& event : sink.events()) {
    bool lost_creation =
        event.type == EventType::kCampaignCreated && event.campaign == Campaign("lost");
    if (!lost_creation) log.push_back(event);
  }
  ReplayClean(recovered, log);
  EXPECT_EQ(recovered.Stats().orphan_events, 2u);  // the claim and the close
  EXPECT_EQ(recovered.GetCampaign(Campaign("lost"), Seconds(102)).outcome, Outcome::kNotFound);
  EXPECT_EQ(recovered.GetClaim(Campaign("kept"), User(1)).outcome, Outcome::kOk);
  EXPECT_EQ(recovered.Books(Campaign("kept"))->remaining, 2u);
}

// Reservations live in the log beyond the stock: an older one whose cancel never reached the
// log (still being appended again when the process stopped) and the newer sale of its units.
// The newest keeps the units; the older is ended, counted, and never served.
TEST(ReplayTest, ReservationsBeyondStockKeepTheNewest) {
  RecordingSink sink;
  Engine live(SmallOptions(1), sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> older = live.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(100));
  ASSERT_EQ(older.outcome, Outcome::kCreated);
  ASSERT_EQ(live.CancelOrder({0}, older.value->id, User(1), Seconds(101)).outcome, Outcome::kOk);
  Decision<Order> newer = live.PlaceOrder({0}, Campaign("s"), User(2), 2, {}, Seconds(102));
  ASSERT_EQ(newer.outcome, Outcome::kCreated);
  std::vector<Event> log;
  for (const Event& event : sink.events()) {
    if (event.type != EventType::kOrderCancelled) log.push_back(event);  // the lost cancel
  }
  RecordingSink replay_sink;
  Engine recovered(SmallOptions(1), replay_sink);
  ReplayClean(recovered, log);
  EXPECT_EQ(recovered.Stats().reservations_dropped, 1u);
  CampaignBooks books = *recovered.Books(Campaign("s"));
  EXPECT_EQ(books.remaining, 0u);
  EXPECT_EQ(books.held, 2);
  EXPECT_EQ(recovered.GetOrder(newer.value->id, Seconds(103)).value->status,
            OrderStatus::kReserved);
  EXPECT_EQ(recovered.GetOrder(older.value->id, Seconds(103)).value->status, OrderStatus::kExpired);
}

// Confirmed (paid) orders beyond the stock cannot come from any live engine: recovery stops with
// a message naming the campaign and the order, instead of aborting or serving an oversold sale.
TEST(ReplayTest, ConfirmedBeyondStockIsAnError) {
  RecordingSink sink;
  Engine live(SmallOptions(1), sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  Decision<Order> placed = live.PlaceOrder({0}, Campaign("s"), User(1), 2, {}, Seconds(100));
  ASSERT_EQ(placed.outcome, Outcome::kCreated);
  ASSERT_EQ(live.ConfirmOrder({0}, placed.value->id, User(1), Seconds(101)).outcome, Outcome::kOk);
  std::vector<Event> log = sink.events();
  for (std::size_t i = 1; i < 3; ++i) {  // the reservation and its confirm again, another slot
    Event copy = log[i];
    copy.user = User(2);
    copy.order_id = OrderId{copy.order_id.value + 1};
    log.push_back(copy);
  }
  Engine recovered(SmallOptions(1), sink);
  std::optional<ReplayError> error = Replay(recovered, log);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("campaign \"s\""), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("more units than the stock"), std::string::npos) << error->message;
}

// A second grant to one user is impossible: a clear error, not an abort.
TEST(ReplayTest, SecondGrantToOneUserIsAnError) {
  RecordingSink sink;
  Engine live(SmallOptions(1), sink);
  ASSERT_EQ(live.CreateCampaign(CouponSpec("c", 5), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(live.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  std::vector<Event> log = sink.events();
  Event again = log.back();
  again.claim_id = ClaimId{again.claim_id.value + 1};
  log.push_back(again);
  Engine recovered(SmallOptions(1), sink);
  std::optional<ReplayError> error = Replay(recovered, log);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("of user \"u-1\""), std::string::npos) << error->message;
}

// Invariant 10, the shape of the churn crash loop: with two workers a user orders up to the
// limit on one, cancels, and orders again on the other. The snapshot returns the rows in id
// order (the cancelled order, from the other worker's chunk, may come last), and a cancel
// appended again after a failed delivery lands after the order that reused its units. Every
// interleaving that keeps each order's own events in order replays to the live state.
TEST(ReplayTest, AnyInterleavingOfOrdersReplaysToTheLiveState) {
  RecordingSink sink;
  Engine live(SmallOptions(2), sink);
  ASSERT_EQ(live.CreateCampaign(SaleSpec("s", 2, 2, 60), Seconds(0)).outcome, Outcome::kCreated);
  std::vector<std::vector<Event>> per_order;
  auto place = [&](std::uint32_t worker, int user) {
    Decision<Order> placed =
        live.PlaceOrder({worker}, Campaign("s"), User(user), 2, {}, Seconds(100));
    EXPECT_EQ(placed.outcome, Outcome::kCreated);
    per_order.push_back({sink.events().back()});
    return placed.value->id;
  };
  OrderId first = place(1, 1);
  ASSERT_EQ(live.CancelOrder({1}, first, User(1), Seconds(101)).outcome, Outcome::kOk);
  per_order[0].push_back(sink.events().back());
  OrderId second = place(0, 1);
  ASSERT_EQ(live.CancelOrder({0}, second, User(1), Seconds(102)).outcome, Outcome::kOk);
  per_order[1].push_back(sink.events().back());
  OrderId third = place(1, 1);
  ASSERT_EQ(live.ConfirmOrder({0}, third, User(1), Seconds(103)).outcome, Outcome::kOk);
  per_order[2].push_back(sink.events().back());
  const std::vector<Event> creation = {sink.events().front()};

  // Every interleaving of the three orders' event pairs: 6! / (2! 2! 2!) = 90.
  std::vector<int> picks = {0, 0, 1, 1, 2, 2};
  int interleavings = 0;
  do {
    std::vector<Event> log = creation;
    std::array<std::size_t, 3> next{};
    for (int order : picks)
      log.push_back(per_order[order][next[order]++]);
    RecordingSink replay_sink;
    Engine recovered(SmallOptions(2), replay_sink);
    ReplayClean(recovered, log);
    CampaignBooks books = *recovered.Books(Campaign("s"));
    EXPECT_EQ(books.remaining, 0u);
    EXPECT_EQ(books.confirmed, 2);
    EXPECT_EQ(books.held, 0);
    EXPECT_EQ(recovered.GetOrder(third, Seconds(104)).value->status, OrderStatus::kConfirmed);
    EXPECT_EQ(recovered.Stats().reservations_dropped, 0u);
    // The user is at the limit, as live, and the stock is gone: no unit more.
    EXPECT_EQ(recovered.PlaceOrder({0}, Campaign("s"), User(1), 1, {}, Seconds(104)).outcome,
              Outcome::kLimitExceeded);
    EXPECT_EQ(recovered.PlaceOrder({1}, Campaign("s"), User(2), 1, {}, Seconds(104)).outcome,
              Outcome::kSoldOut);
    ++interleavings;
  } while (std::next_permutation(picks.begin(), picks.end()));
  EXPECT_EQ(interleavings, 90);
}

}  // namespace
}  // namespace hotdeal::engine
