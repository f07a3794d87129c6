// Concurrency stress: 4 worker threads hammer one hot coupon campaign and several sale
// campaigns with claims, duplicates, keyed retries, orders, confirms, cancels and expiries,
// while a log thread marks decisions in doubt and settles them. Afterwards the books must
// close exactly, no user is over the limit, no id or code repeats, and replaying the log
// yields the same state. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kWorkers = 4;

// ARCHITECTURE.md invariant 6, read at quiescence.
void ExpectBooksClose(const CampaignBooks& books) {
  EXPECT_EQ(std::int64_t{books.stock} - books.remaining - books.in_doubt,
            books.claimed + books.held + books.confirmed);
}

TEST(StressTest, HotCouponCampaignNeverOversellsOrDoubleGrants) {
  constexpr std::uint32_t kStock = 15000;
  constexpr int kUsers = 25000;
  RecordingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("hot", kStock), Seconds(0)).outcome,
            Outcome::kCreated);
  std::vector<std::thread> threads;
  std::array<std::map<Outcome, int>, kWorkers> outcomes;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(w + 1);
      // Every thread walks all users from a different start: each user is tried by every
      // thread, so duplicates race each other and the last units.
      for (int i = 0; i < kUsers; ++i) {
        int user = (i + static_cast<int>(w) * 6011) % kUsers;
        std::optional<IdempotencyKey> key;
        if (random() % 4 == 0) key = Key("retry");
        Decision<Claim> made =
            engine.ClaimCoupon({w}, Campaign("hot"), User(user), key, Seconds(100 + i / 1000));
        ++outcomes[w][made.outcome];
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  int granted = 0;
  for (const auto& per_worker : outcomes) {
    auto it = per_worker.find(Outcome::kCreated);
    if (it != per_worker.end()) granted += it->second;
  }
  std::uint32_t remaining = engine.GetCampaign(Campaign("hot"), Seconds(200)).value->remaining;
  EXPECT_EQ(static_cast<std::uint32_t>(granted), kStock - remaining);
  EXPECT_EQ(remaining, 0u);  // 25000 distinct users want 15000 units: all must go
  std::set<std::uint64_t> ids;
  std::set<std::string> codes;
  int holders = 0;
  for (int user = 0; user < kUsers; ++user) {
    Decision<Claim> claim = engine.GetClaim(Campaign("hot"), User(user));
    if (claim.outcome != Outcome::kOk) continue;
    ++holders;
    ids.insert(claim.value->id.value);
    codes.insert(std::string(claim.value->coupon_code.view()));
  }
  EXPECT_EQ(holders, granted);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(granted));
  EXPECT_EQ(codes.size(), static_cast<std::size_t>(granted));
  std::size_t grant_events = 0;
  for (const Event& event : sink.events())
    grant_events += event.type == EventType::kClaimGranted;
  EXPECT_EQ(grant_events, static_cast<std::size_t>(granted));
  CampaignBooks books = *engine.Books(Campaign("hot"));
  ExpectBooksClose(books);
  EXPECT_EQ(books.claimed, granted);
  EngineStats stats = engine.Stats();
  EXPECT_EQ(stats.count(Operation::kClaim, Outcome::kCreated), static_cast<std::uint64_t>(granted));
}

struct SaleBooks {
  std::uint32_t held = 0;  // reserved (not yet expired) + confirmed
  std::map<std::string, std::uint32_t> per_user;
};

TEST(StressTest, SaleCampaignsBooksCloseUnderOrdersCancelsAndExpiries) {
  constexpr int kCampaigns = 3;
  constexpr int kSteps = 15000;
  RecordingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  std::vector<CampaignSpec> specs;
  for (int c = 0; c < kCampaigns; ++c) {
    specs.push_back(SaleSpec(Numbered("sale-", c), 4000, 3, 2 + c));
    ASSERT_EQ(engine.CreateCampaign(specs.back(), Seconds(0)).outcome, Outcome::kCreated);
  }
  std::vector<std::thread> threads;
  std::array<std::vector<Order>, kWorkers> placed;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(100 + w);
      std::vector<Order>& mine = placed[w];
      TimePoint now = Seconds(100);
      for (int step = 0; step < kSteps; ++step) {
        now += std::chrono::milliseconds(random() % 5);
        const CampaignSpec& spec = specs[random() % kCampaigns];
        UserId user = User(static_cast<int>(random() % 3000));
        switch (random() % 8) {
          case 0:
          case 1:
          case 2: {
            std::optional<IdempotencyKey> key;
            if (random() % 5 == 0) key = Key(Numbered("k", random() % 3));
            Decision<Order> made = engine.PlaceOrder(
                {w}, spec.id, user, 1 + static_cast<std::int64_t>(random() % 3), key, now);
            if (made.outcome == Outcome::kCreated) mine.push_back(*made.value);
            break;
          }
          case 3:
          case 4:
            // Any worker may move any order: cross-thread cancels and confirms race expiry.
            if (!placed[w].empty()) {
              const Order& order = mine[random() % mine.size()];
              if (random() % 2) {
                engine.ConfirmOrder({w}, order.id, order.user, now);
              } else {
                engine.CancelOrder({w}, order.id, order.user, now);
              }
            }
            break;
          case 5:
            engine.ExpireDue({w}, now);
            break;
          default:
            engine.GetCampaign(spec.id, now);
            break;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();

  // The books: stock - remaining == units held by orders still reserved or confirmed.
  TimePoint end = Seconds(100);
  std::map<std::string, SaleBooks> books;
  std::set<std::uint64_t> order_ids;
  for (const auto& mine : placed) {
    for (const Order& order : mine) {
      EXPECT_TRUE(order_ids.insert(order.id.value).second);
      Decision<Order> now_is = engine.GetOrder(order.id, Seconds(0));
      if (order.expires_at > end) end = order.expires_at;
      // Not found: it ended and its slot holds a later order now (engine/README.md, "Bounds").
      if (now_is.outcome == Outcome::kNotFound) continue;
      ASSERT_EQ(now_is.outcome, Outcome::kOk);
      OrderStatus status = now_is.value->status;
      if (status == OrderStatus::kReserved || status == OrderStatus::kConfirmed) {
        SaleBooks& b = books[std::string(order.campaign.view())];
        b.held += order.quantity;
        b.per_user[std::string(order.user.view())] += order.quantity;
      }
    }
  }
  for (const CampaignSpec& spec : specs) {
    SaleBooks& b = books[std::string(spec.id.view())];
    EXPECT_EQ(spec.stock - engine.GetCampaign(spec.id, Seconds(0)).value->remaining, b.held);
    CampaignBooks counted = *engine.Books(spec.id);
    ExpectBooksClose(counted);
    EXPECT_EQ(counted.held + counted.confirmed, b.held);
    for (const auto& [user, units] : b.per_user)
      EXPECT_LE(units, spec.per_user_limit) << user;
  }
  // The log replays to the same state (Apply asserts no oversell and no user over limit).
  // Every order id is reserved exactly once in the log.
  std::set<std::uint64_t> reserved_ids;
  for (const Event& event : sink.events()) {
    if (event.type != EventType::kOrderReserved) continue;
    ASSERT_TRUE(reserved_ids.insert(event.order_id.value).second) << event.order_id.value;
  }
  EXPECT_EQ(reserved_ids, order_ids);
  Engine recovered(SmallOptions(kWorkers), sink);
  ReplayClean(recovered, sink.events());
  for (const CampaignSpec& spec : specs) {
    EXPECT_EQ(recovered.GetCampaign(spec.id, Seconds(0)).value->remaining,
              engine.GetCampaign(spec.id, Seconds(0)).value->remaining);
  }
  // After every hold has run out, only confirmed orders keep units.
  for (std::uint32_t w = 0; w < kWorkers; ++w)
    engine.ExpireDue({w}, end);
  for (const CampaignSpec& spec : specs) {
    std::uint32_t confirmed = 0;
    for (const auto& mine : placed) {
      for (const Order& order : mine) {
        Decision<Order> read = engine.GetOrder(order.id, end);
        if (order.campaign == spec.id && read.value &&
            read.value->status == OrderStatus::kConfirmed) {
          confirmed += order.quantity;
        }
      }
    }
    EXPECT_EQ(spec.stock - engine.GetCampaign(spec.id, end).value->remaining, confirmed);
    CampaignBooks counted = *engine.Books(spec.id);
    ExpectBooksClose(counted);
    EXPECT_EQ(counted.confirmed, confirmed);
    EXPECT_EQ(counted.held, 0);
  }
}

// Records every event like RecordingSink and reports about one grant or reservation in 8 as
// possibly persisted, as librdkafka would: the report reaches the log thread after Append
// returned, as a delivery report does.
class DoubtingSink final : public EventSink {
 public:
  std::optional<LogTicket> Append(WorkerId worker, const Event& event) noexcept override {
    std::optional<LogTicket> ticket = log_.Append(worker, event);
    bool decision =
        event.type == EventType::kClaimGranted || event.type == EventType::kOrderReserved;
    // A multiplicative hash of the seq: deterministic per event, no shared random state.
    if (decision && ((event.seq * 0x9E3779B97F4A7C15ull) >> 61) == 0) {
      std::lock_guard lock(mutex_);
      reports_.push_back(event);
    }
    return ticket;
  }
  std::deque<Event> TakeReports() {
    std::lock_guard lock(mutex_);
    return std::exchange(reports_, {});
  }
  RecordingSink& log() { return log_; }

 private:
  RecordingSink log_;
  std::mutex mutex_;
  std::deque<Event> reports_;
};

// The log's poll thread: marks each reported decision in doubt, and while the workers run
// settles them in random order, half as persisted and half through a logged void. Every fourth
// report is never settled, so decisions are still in doubt when the books are read.
void SettleWhileRunning(Engine& engine, DoubtingSink& sink, const std::atomic<bool>& running,
                        std::vector<Event>& unsettled) {
  std::mt19937 random(7);
  std::vector<Event> marked;
  int reports = 0;
  for (bool last = false; !last;) {
    last = !running.load();
    for (const Event& event : sink.TakeReports()) {
      engine.MarkInDoubt(event);
      if (reports++ % 4 == 0) {
        unsettled.push_back(event);
      } else {
        marked.push_back(event);
      }
    }
    if (marked.empty()) {
      std::this_thread::yield();
      continue;
    }
    std::size_t pick = random() % marked.size();
    Event event = marked[pick];
    marked.erase(marked.begin() + static_cast<std::ptrdiff_t>(pick));
    if (random() % 2) {
      engine.SettleInDoubt(event, true);
    } else if (std::optional<Event> voided = engine.SettleInDoubt(event, false)) {
      sink.log().Append(WorkerId{kWorkers}, *voided);  // logged first, then applied
      engine.ApplyVoid(*voided);
    }
  }
  for (const Event& event : marked)
    engine.SettleInDoubt(event, true);
}

TEST(StressTest, InDoubtDecisionsSettleWhileWorkersRunAndTheBooksClose) {
  constexpr std::uint32_t kCouponStock = 3000;
  constexpr int kUsers = 4000;
  constexpr int kSteps = 8000;
  DoubtingSink sink;
  Engine engine(SmallOptions(kWorkers), sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("hot", kCouponStock), Seconds(0)).outcome,
            Outcome::kCreated);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("sale", 3000, 3, 3), Seconds(0)).outcome,
            Outcome::kCreated);
  std::atomic<bool> running{true};
  std::vector<Event> unsettled;
  std::thread log_thread([&] { SettleWhileRunning(engine, sink, running, unsettled); });
  std::array<std::vector<Order>, kWorkers> placed;
  std::vector<std::thread> threads;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(200 + w);
      TimePoint now = Seconds(100);
      for (int step = 0; step < kSteps; ++step) {
        now += std::chrono::milliseconds(random() % 3);
        UserId user = User(static_cast<int>(random() % kUsers));
        std::optional<IdempotencyKey> key;
        if (random() % 4 == 0) key = Key("retry");
        switch (random() % 6) {
          case 0:
          case 1:
            engine.ClaimCoupon({w}, Campaign("hot"), user, key, now);
            break;
          case 2:
          case 3: {
            Decision<Order> made = engine.PlaceOrder(
                {w}, Campaign("sale"), user, 1 + static_cast<std::int64_t>(random() % 2), key, now);
            if (made.outcome == Outcome::kCreated) placed[w].push_back(*made.value);
            break;
          }
          case 4:
            if (!placed[w].empty()) {
              const Order& order = placed[w][random() % placed[w].size()];
              if (random() % 2) {
                engine.ConfirmOrder({w}, order.id, order.user, now);
              } else {
                engine.CancelOrder({w}, order.id, order.user, now);
              }
            }
            break;
          default:
            engine.ExpireDue({w}, now);
            break;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  running.store(false);
  log_thread.join();

  // Coupons: every holder is either claimed or in doubt, and the books say the same.
  CampaignBooks coupon = *engine.Books(Campaign("hot"));
  ExpectBooksClose(coupon);
  std::int64_t claimed = 0;
  std::int64_t in_doubt = 0;
  for (int user = 0; user < kUsers; ++user) {
    Outcome read = engine.GetClaim(Campaign("hot"), User(user)).outcome;
    claimed += read == Outcome::kOk;
    in_doubt += read == Outcome::kInDoubt;
  }
  EXPECT_EQ(coupon.claimed, claimed);
  EXPECT_EQ(coupon.in_doubt, in_doubt);
  EXPECT_GT(in_doubt, 0);  // every fourth report is left in doubt
  // Sales: held + confirmed + in doubt == the units of orders still reserved or confirmed.
  CampaignBooks sale = *engine.Books(Campaign("sale"));
  ExpectBooksClose(sale);
  std::int64_t holding = 0;
  for (const auto& mine : placed) {
    for (const Order& order : mine) {
      Decision<Order> read = engine.GetOrder(order.id, Seconds(0));
      if (read.outcome != Outcome::kOk) continue;  // voided
      OrderStatus status = read.value->status;
      if (status == OrderStatus::kReserved || status == OrderStatus::kConfirmed) {
        holding += order.quantity;
      }
    }
  }
  EXPECT_EQ(sale.held + sale.confirmed + sale.in_doubt, holding);
  EXPECT_EQ(engine.Stats().units_in_doubt, coupon.in_doubt + sale.in_doubt);

  // The log (voids included) replays to the same stock; in-doubt decisions stand in it.
  Engine recovered(SmallOptions(kWorkers), sink);
  ReplayClean(recovered, sink.log().events());
  for (const char* id : {"hot", "sale"}) {
    CampaignBooks live = *engine.Books(Campaign(id));
    CampaignBooks replayed = *recovered.Books(Campaign(id));
    EXPECT_EQ(replayed.remaining, live.remaining) << id;
    EXPECT_EQ(replayed.in_doubt, 0) << id;
    EXPECT_EQ(replayed.claimed + replayed.held + replayed.confirmed,
              live.claimed + live.held + live.confirmed + live.in_doubt)
        << id;
  }
  // Settling the rest as not persisted restocks every unit they held.
  for (const Event& event : unsettled) {
    if (std::optional<Event> voided = engine.SettleInDoubt(event, false)) engine.ApplyVoid(*voided);
  }
  EXPECT_EQ(engine.Books(Campaign("hot"))->in_doubt, 0);
  EXPECT_EQ(engine.Books(Campaign("sale"))->in_doubt, 0);
  EXPECT_EQ(engine.Books(Campaign("hot"))->remaining, coupon.remaining + coupon.in_doubt);
  ExpectBooksClose(*engine.Books(Campaign("sale")));
}

}  // namespace
}  // namespace hotdeal::engine
