// The engine against a single-threaded reference model, over many seeded random runs of
// claims, orders, confirms, cancels, expiries, closes, idempotent retries and time steps.
// Every outcome and every campaign's remaining stock must agree after each step.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "ids.h"
#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::int64_t kWindowSeconds = 30;

// The rules of issue 3, written as plainly as possible.
struct ModelCampaign {
  CampaignSpec spec;
  std::int64_t remaining = 0;
  bool closed = false;
  // The engine's sold-out flag: set by a take that found nothing, cleared by any return.
  bool sold_out_flag = false;
  std::map<int, std::uint64_t> claims;  // user -> claim id
  std::map<int, std::uint32_t> held;    // user -> units in reserved + confirmed orders
};

struct ModelOrder {
  std::size_t campaign = 0;
  int user = 0;
  std::uint32_t quantity = 0;
  std::uint32_t worker = 0;
  TimePoint expires_at{};
  OrderStatus status = OrderStatus::kReserved;
  // Its slot was reused by a later order (only after it ended): its id finds nothing now.
  bool gone = false;
};

struct ModelKey {
  std::uint64_t value = 0;
  TimePoint created_at{};
};

class Model {
 public:
  std::vector<ModelCampaign> campaigns;
  std::map<std::uint64_t, ModelOrder> orders;
  std::map<std::tuple<std::size_t, int, int>, ModelKey> keys;

  Outcome Window(const ModelCampaign& c, TimePoint now) const {
    if (now < c.spec.starts_at) return Outcome::kNotStarted;
    if (c.closed || (c.spec.ends_at && now >= *c.spec.ends_at)) return Outcome::kEnded;
    return Outcome::kOk;
  }
  std::optional<ModelKey> Replay(std::size_t c, int user, int key, TimePoint now) {
    auto it = keys.find({c, user, key});
    if (it == keys.end() || now - it->second.created_at >= std::chrono::seconds(kWindowSeconds)) {
      return std::nullopt;
    }
    return it->second;
  }
  void Return(ModelOrder& order) {
    ModelCampaign& c = campaigns[order.campaign];
    c.remaining += order.quantity;
    c.held[order.user] -= order.quantity;
    c.sold_out_flag = false;
  }
  // Claim outcome; `id` is the engine's id when it granted (the model cannot guess ids).
  Outcome Claim(std::size_t ci, int user, int key, TimePoint now) {
    ModelCampaign& c = campaigns[ci];
    if (c.spec.kind != CampaignKind::kCoupon) return Outcome::kConflict;
    if (key >= 0 && Replay(ci, user, key, now)) return Outcome::kReplayed;
    if (Outcome window = Window(c, now); window != Outcome::kOk) return window;
    // A holder hears kAlreadyClaimed even once the campaign is sold out (API.md).
    if (c.claims.count(user)) return Outcome::kAlreadyClaimed;
    if (c.sold_out_flag) return Outcome::kSoldOut;
    if (c.remaining == 0) {
      c.sold_out_flag = true;
      return Outcome::kSoldOut;
    }
    return Outcome::kCreated;
  }
  Outcome Place(std::size_t ci, int user, std::int64_t quantity, int key, TimePoint now) {
    ModelCampaign& c = campaigns[ci];
    if (c.spec.kind != CampaignKind::kSale) return Outcome::kConflict;
    if (quantity <= 0) return Outcome::kInvalid;
    if (quantity > c.spec.per_user_limit) return Outcome::kLimitExceeded;
    // A key whose order's slot was reused since is decided afresh (engine.h, PlaceOrder).
    if (std::optional<ModelKey> first = key >= 0 ? Replay(ci, user, key, now) : std::nullopt;
        first && !orders[first->value].gone) {
      return Outcome::kReplayed;
    }
    if (Outcome window = Window(c, now); window != Outcome::kOk) return window;
    if (c.sold_out_flag) return Outcome::kSoldOut;
    if (c.held[user] + quantity > c.spec.per_user_limit) return Outcome::kLimitExceeded;
    if (c.remaining < quantity) {
      if (c.remaining == 0) c.sold_out_flag = true;
      return Outcome::kSoldOut;
    }
    return Outcome::kCreated;
  }
  Outcome Move(std::uint64_t id, int user, bool confirm, TimePoint now) {
    auto it = orders.find(id);
    if (it == orders.end() || it->second.user != user || it->second.gone) {
      return Outcome::kNotFound;
    }
    ModelOrder& order = it->second;
    if (order.status == OrderStatus::kReserved && now >= order.expires_at) {
      order.status = OrderStatus::kExpired;
      Return(order);
      return Outcome::kConflict;
    }
    if (confirm) {
      if (order.status == OrderStatus::kConfirmed) return Outcome::kOk;
      if (order.status != OrderStatus::kReserved) return Outcome::kConflict;
      order.status = OrderStatus::kConfirmed;
      return Outcome::kOk;
    }
    if (order.status == OrderStatus::kCancelled) return Outcome::kOk;
    if (order.status == OrderStatus::kExpired) return Outcome::kConflict;
    order.status = OrderStatus::kCancelled;
    Return(order);
    return Outcome::kOk;
  }
  // Every worker's wheel at once: a reused slot stays in the wheel that linked it first, so
  // which worker expires an order is the engine's business; that each expires once is not.
  std::size_t ExpireDue(TimePoint now) {
    std::size_t expired = 0;
    for (auto& [id, order] : orders) {
      if (order.status == OrderStatus::kReserved && now >= order.expires_at) {
        order.status = OrderStatus::kExpired;
        Return(order);
        ++expired;
      }
    }
    return expired;
  }
};

void RunSeed(std::uint32_t seed) {
  SCOPED_TRACE(Numbered("seed ", seed));
  std::mt19937 random(seed);
  auto pick = [&random](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  RecordingSink sink;
  constexpr std::uint32_t workers = 2;
  EngineOptions options = SmallOptions(workers);
  options.idempotency_window = std::chrono::seconds(kWindowSeconds);
  Engine engine(options, sink);
  Model model;
  std::vector<CampaignSpec> specs = {CouponSpec("coupon-a", 6), SaleSpec("sale-a", 8, 3, 20),
                                     SaleSpec("sale-b", 4, 2, 45), CouponSpec("coupon-b", 40)};
  specs[3].ends_at = Seconds(400);
  for (const CampaignSpec& spec : specs) {
    ASSERT_EQ(engine.CreateCampaign(spec, Seconds(0)).outcome, Outcome::kCreated);
    ModelCampaign campaign;
    campaign.spec = spec;
    campaign.remaining = spec.stock;
    model.campaigns.push_back(campaign);
  }
  std::vector<std::uint64_t> order_ids;
  TimePoint now = Seconds(90);
  for (int step = 0; step < 400; ++step) {
    std::size_t ci = static_cast<std::size_t>(pick(4));
    int user = pick(8);
    int key = pick(3) == 0 ? pick(2) : -1;
    std::optional<IdempotencyKey> engine_key;
    if (key >= 0) engine_key = Key(Numbered("k", key));
    auto worker = static_cast<std::uint32_t>(pick(workers));
    const CampaignId& id = specs[ci].id;
    int action = pick(10);
    SCOPED_TRACE(Numbered("step ", step) + Numbered(" action ", action));
    if (action <= 2) {
      Outcome expected = model.Claim(ci, user, key, now);
      Decision<Claim> got = engine.ClaimCoupon({worker}, id, User(user), engine_key, now);
      ASSERT_EQ(got.outcome, expected);
      if (expected == Outcome::kCreated) {
        model.campaigns[ci].remaining -= 1;
        model.campaigns[ci].claims[user] = got.value->id.value;
        if (key >= 0) model.keys[{ci, user, key}] = {got.value->id.value, now};
      }
      if (expected == Outcome::kReplayed) {
        ASSERT_EQ(got.value->id.value, (model.keys[{ci, user, key}].value));
      }
    } else if (action <= 4) {
      std::int64_t quantity = pick(5) - 1;
      Outcome expected = model.Place(ci, user, quantity, key, now);
      Decision<Order> got = engine.PlaceOrder({worker}, id, User(user), quantity, engine_key, now);
      // Slots are reused once their order ended: a sale never answers kOverCapacity here.
      ASSERT_EQ(got.outcome, expected);
      if (expected == Outcome::kCreated) {
        auto units = static_cast<std::uint32_t>(quantity);
        model.campaigns[ci].remaining -= units;
        model.campaigns[ci].held[user] += units;
        for (auto& [other_id, order] : model.orders) {
          if (order.campaign == ci &&
              detail::OrderSlotIndex(OrderId{other_id}) == detail::OrderSlotIndex(got.value->id)) {
            ASSERT_NE(order.status, OrderStatus::kReserved) << "a live order's slot was reused";
            ASSERT_NE(order.status, OrderStatus::kConfirmed) << "a live order's slot was reused";
            order.gone = true;
          }
        }
        model.orders[got.value->id.value] = {ci, user, units, worker,
                                             now + std::chrono::seconds(specs[ci].hold_seconds)};
        order_ids.push_back(got.value->id.value);
        if (key >= 0) model.keys[{ci, user, key}] = {got.value->id.value, now};
      }
      if (expected == Outcome::kReplayed) {
        ASSERT_EQ(got.value->id.value, (model.keys[{ci, user, key}].value));
      }
    } else if (action <= 6 && !order_ids.empty()) {
      std::uint64_t order_id =
          order_ids[static_cast<std::size_t>(pick(static_cast<int>(order_ids.size())))];
      int as_user = pick(4) == 0 ? pick(8) : model.orders[order_id].user;
      bool confirm = action == 5;
      Outcome expected = model.Move(order_id, as_user, confirm, now);
      Decision<Order> got =
          confirm ? engine.ConfirmOrder({worker}, OrderId{order_id}, User(as_user), now)
                  : engine.CancelOrder({worker}, OrderId{order_id}, User(as_user), now);
      ASSERT_EQ(got.outcome, expected);
    } else if (action == 7) {
      std::size_t expired = 0;
      for (std::uint32_t w = 0; w < workers; ++w)
        expired += engine.ExpireDue({w}, now);
      ASSERT_EQ(expired, model.ExpireDue(now));
    } else if (action == 8 && pick(20) == 0) {
      ASSERT_EQ(engine.CloseCampaign(id, now).outcome, Outcome::kOk);
      model.campaigns[ci].closed = true;
    } else {
      now += std::chrono::microseconds(pick(12'000'000));
    }
    for (std::size_t c = 0; c < specs.size(); ++c) {
      ASSERT_EQ(engine.GetCampaign(specs[c].id, now).value->remaining, model.campaigns[c].remaining)
          << "campaign " << c;
    }
  }
  for (const auto& [order_id, order] : model.orders) {
    OrderStatus expected = order.status;
    if (expected == OrderStatus::kReserved && now >= order.expires_at) {
      expected = OrderStatus::kExpired;
    }
    if (order.gone) {
      ASSERT_EQ(engine.GetOrder(OrderId{order_id}, now).outcome, Outcome::kNotFound);
      continue;
    }
    ASSERT_EQ(engine.GetOrder(OrderId{order_id}, now).value->status, expected);
  }
}

TEST(ModelTest, EngineAgreesWithReferenceModelOverManySeeds) {
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    RunSeed(seed);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace hotdeal::engine
