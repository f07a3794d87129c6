// Concurrency stress of unacknowledged decisions (EngineOptions::await_acknowledgement): 4 worker
// threads claim, retry, place, confirm, cancel, read and expire while a log thread reports
// every appended event, often before the deciding worker has published it: mostly persisted
// (Acknowledge), some not persisted (Revert, or appended again for events that returned
// units), some possibly persisted (MarkInDoubt, then settled as persisted). Checked throughout:
// no worker ever sees a decision as final (kReplayed, kAlreadyClaimed, kOk, a read) before the
// log acknowledged its event. Checked at the end: nothing is left pending, the books close.
// Also, deterministically, a report that arrives while the deciding worker is still inside
// Append. Run under ThreadSanitizer by scripts/test.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "test_support.h"

namespace hotdeal::engine {
namespace {
using namespace testing;

constexpr std::uint32_t kWorkers = 4;
constexpr int kSteps = 6000;
constexpr int kUsers = 1500;

// A log that queues every appended event for the reporter thread, with non-zero tickets.
class QueueSink final : public EventSink {
 public:
  std::optional<LogTicket> Append(WorkerId, const Event& event) noexcept override {
    std::lock_guard lock(mutex_);
    queue_.push_back(event);
    return LogTicket{++appended_};
  }
  // Appended again (a returning event not persisted), as KafkaLog does.
  void Requeue(const Event& event) {
    std::lock_guard lock(mutex_);
    queue_.push_back(event);
  }
  std::optional<Event> Pop() {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return std::nullopt;
    Event event = queue_.front();
    queue_.pop_front();
    return event;
  }

 private:
  std::mutex mutex_;
  std::deque<Event> queue_;
  std::uint64_t appended_ = 0;
};

// What the log made final, recorded before the engine hears it.
class FinalRecord {
 public:
  void Add(EventType type, std::uint64_t id) {
    std::lock_guard lock(mutex_);
    final_.insert({type, id});
  }
  bool Has(EventType type, std::uint64_t id) const {
    std::lock_guard lock(mutex_);
    return final_.count({type, id}) == 1;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::pair<EventType, std::uint64_t>> final_;
};

std::uint64_t IdOf(const Event& event) {
  return event.type == EventType::kClaimGranted ? event.claim_id.value : event.order_id.value;
}

// The log's poll thread: reports each event once (returning events until persisted).
void Report(Engine& engine, QueueSink& sink, FinalRecord& record, const Event& event,
            std::mt19937& random) {
  bool returns_units =
      event.type == EventType::kOrderCancelled || event.type == EventType::kOrderExpired;
  bool decides = event.type == EventType::kClaimGranted || event.type == EventType::kOrderReserved;
  unsigned roll = random() % 20;
  if (roll == 0 && (decides || event.type == EventType::kOrderConfirmed)) {
    engine.Revert(event);
  } else if (roll == 0 && returns_units) {
    sink.Requeue(event);
  } else if (roll == 1 && (decides || event.type == EventType::kOrderConfirmed)) {
    record.Add(event.type, IdOf(event));  // in doubt, then found in the log (a confirm stands)
    engine.MarkInDoubt(event);
    engine.SettleInDoubt(event, true);
  } else {
    record.Add(event.type, IdOf(event));
    engine.Acknowledge(event);
  }
}

TEST(UnackedStressTest, NothingIsShownBeforeTheLogAcknowledgesIt) {
  EngineOptions options = SmallOptions(kWorkers);
  options.await_acknowledgement = true;
  QueueSink sink;
  Engine engine(options, sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 1000), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 2000, 3, 2), Seconds(0)).outcome,
            Outcome::kCreated);
  FinalRecord record;
  std::atomic<std::uint32_t> working{kWorkers};
  std::atomic<int> early_reveals{0};
  std::atomic<int> pending_answers{0};
  std::thread reporter([&] {
    std::mt19937 random(7);
    while (working.load() != 0) {
      if (std::optional<Event> event = sink.Pop()) {
        Report(engine, sink, record, *event, random);
      } else {
        std::this_thread::yield();
      }
    }
    while (std::optional<Event> event = sink.Pop())
      Report(engine, sink, record, *event, random);
  });
  auto expect_final = [&](EventType type, std::uint64_t id) {
    if (!record.Has(type, id)) early_reveals.fetch_add(1);
  };
  std::array<std::vector<OrderId>, kWorkers> placed;
  std::vector<std::thread> workers;
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 random(w + 1);
      std::vector<OrderId>& mine = placed[w];
      TimePoint now = Seconds(100);
      for (int step = 0; step < kSteps; ++step) {
        now += std::chrono::milliseconds(random() % 3);
        UserId user = User(static_cast<int>(random() % kUsers));
        std::optional<IdempotencyKey> key;
        if (random() % 2 == 0) key = Key("k");
        Outcome outcome = Outcome::kInvalid;
        switch (random() % 6) {
          case 0: {
            Decision<Claim> made = engine.ClaimCoupon({w}, Campaign("c"), user, key, now);
            outcome = made.outcome;
            if (outcome == Outcome::kReplayed || outcome == Outcome::kAlreadyClaimed)
              expect_final(EventType::kClaimGranted, made.value->id.value);
            break;
          }
          case 1: {
            Decision<Claim> read = engine.GetClaim(Campaign("c"), user);
            outcome = read.outcome;
            if (outcome == Outcome::kOk)
              expect_final(EventType::kClaimGranted, read.value->id.value);
            break;
          }
          case 2: {
            Decision<Order> made = engine.PlaceOrder(
                {w}, Campaign("s"), user, 1 + static_cast<std::int64_t>(random() % 2), key, now);
            outcome = made.outcome;
            if (outcome == Outcome::kCreated) mine.push_back(made.value->id);
            if (outcome == Outcome::kReplayed)
              expect_final(EventType::kOrderReserved, made.value->id.value);
            break;
          }
          case 3:
          case 4: {
            if (mine.empty()) break;
            OrderId id = mine[random() % mine.size()];
            Decision<Order> read = engine.GetOrder(id, now);
            UserId owner = read.value ? read.value->user : user;
            Decision<Order> moved = random() % 2 == 0 ? engine.ConfirmOrder({w}, id, owner, now)
                                                      : engine.CancelOrder({w}, id, owner, now);
            outcome = moved.outcome;
            // A move answered kOk without a ticket repeats one the log has acknowledged.
            if (outcome == Outcome::kOk && moved.ticket.value == 0) {
              EventType type = moved.value->status == OrderStatus::kConfirmed
                                   ? EventType::kOrderConfirmed
                                   : EventType::kOrderCancelled;
              expect_final(type, id.value);
            }
            if (read.outcome == Outcome::kOk && read.value->status == OrderStatus::kReserved)
              expect_final(EventType::kOrderReserved, id.value);
            break;
          }
          case 5:
            engine.ExpireDue({w}, now);
            break;
        }
        if (outcome == Outcome::kPending) pending_answers.fetch_add(1);
      }
      working.fetch_sub(1);
    });
  }
  for (std::thread& worker : workers)
    worker.join();
  reporter.join();

  EXPECT_EQ(early_reveals.load(), 0);
  EXPECT_GT(pending_answers.load(), 0) << "the log thread never lagged: the test saw no race";
  // Every event was reported: nothing may answer kPending any more.
  for (int user = 0; user < kUsers; ++user) {
    EXPECT_NE(engine.GetClaim(Campaign("c"), User(user)).outcome, Outcome::kPending) << user;
  }
  for (const std::vector<OrderId>& orders : placed) {
    for (OrderId id : orders)
      EXPECT_NE(engine.GetOrder(id, Seconds(1)).outcome, Outcome::kPending) << id.value;
  }
  for (std::string_view id : {"c", "s"}) {
    CampaignBooks books = *engine.Books(Campaign(id));
    EXPECT_EQ(books.in_doubt, 0) << id;
    EXPECT_EQ(std::int64_t{books.stock} - books.remaining,
              books.claimed + books.held + books.confirmed)
        << id;
  }
}

// Reports each data-plane event from a thread of its own while Append has not returned yet:
// the report is under way before the deciding worker commits the claim or publishes the order,
// the window Acknowledge and Revert must wait out. (Blocks in Append: a test sink only.)
class EarlyReportSink final : public EventSink {
 public:
  std::optional<LogTicket> Append(WorkerId worker, const Event& event) noexcept override {
    if (worker.value == kWorkers) return LogTicket{};  // campaign creation: final at once
    std::atomic<bool> reporting{false};
    reporters_.emplace_back([this, event, &reporting] {
      reporting.store(true);
      report_(event);
    });
    while (!reporting.load())
      std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds{2});  // let it reach the engine
    return LogTicket{++appended_};
  }
  void Join() {
    for (std::thread& reporter : reporters_)
      reporter.join();
    reporters_.clear();
  }
  std::function<void(const Event&)> report_;

 private:
  std::vector<std::thread> reporters_;
  std::uint64_t appended_ = 0;
};

TEST(UnackedStressTest, ReportBeforeTheWorkerPublishesIsWaitedFor) {
  EngineOptions options = SmallOptions(kWorkers);
  options.await_acknowledgement = true;
  EarlyReportSink sink;
  Engine engine(options, sink);
  ASSERT_EQ(engine.CreateCampaign(CouponSpec("c", 2), Seconds(0)).outcome, Outcome::kCreated);
  ASSERT_EQ(engine.CreateCampaign(SaleSpec("s", 5, 3, 60), Seconds(0)).outcome, Outcome::kCreated);

  sink.report_ = [&](const Event& event) { engine.Acknowledge(event); };
  ASSERT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(1), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  Decision<Order> kept = engine.PlaceOrder({1}, Campaign("s"), User(1), 2, {}, Seconds(100));
  ASSERT_EQ(kept.outcome, Outcome::kCreated);
  sink.Join();
  EXPECT_EQ(engine.GetClaim(Campaign("c"), User(1)).outcome, Outcome::kOk);
  EXPECT_EQ(engine.GetOrder(kept.value->id, Seconds(101)).outcome, Outcome::kOk);

  sink.report_ = [&](const Event& event) { engine.Revert(event); };
  ASSERT_EQ(engine.ClaimCoupon({0}, Campaign("c"), User(2), {}, Seconds(100)).outcome,
            Outcome::kCreated);
  Decision<Order> reverted = engine.PlaceOrder({1}, Campaign("s"), User(2), 3, {}, Seconds(100));
  ASSERT_EQ(reverted.outcome, Outcome::kCreated);
  sink.Join();
  EXPECT_EQ(engine.GetClaim(Campaign("c"), User(2)).outcome, Outcome::kNotFound);
  EXPECT_EQ(engine.GetOrder(reverted.value->id, Seconds(101)).outcome, Outcome::kNotFound);
  CampaignBooks coupons = *engine.Books(Campaign("c"));
  EXPECT_EQ(coupons.remaining, 1u);
  EXPECT_EQ(coupons.claimed, 1);
  CampaignBooks sale = *engine.Books(Campaign("s"));
  EXPECT_EQ(sale.remaining, 3u);
  EXPECT_EQ(sale.held, 2);
}

}  // namespace
}  // namespace hotdeal::engine
