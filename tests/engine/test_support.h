// Helpers shared by the engine tests: short constructors for ids, specs and times, and sinks
// that record or refuse events. Test code only; never linked into the engine.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hotdeal/engine/engine.h"

namespace hotdeal::engine::testing {

inline TimePoint Seconds(std::int64_t seconds) {
  return TimePoint(std::chrono::seconds(seconds));
}
inline TimePoint Micros(std::int64_t micros) {
  return TimePoint(std::chrono::microseconds(micros));
}

// "prefix" + n, spelled so that GCC 12's -Wrestrict false positive on string + string stays
// quiet.
inline std::string Numbered(std::string_view prefix, long long n) {
  char buffer[96];
  int size = std::snprintf(buffer, sizeof(buffer), "%.*s%lld", static_cast<int>(prefix.size()),
                           prefix.data(), n);
  return std::string(buffer, static_cast<std::size_t>(size));
}

inline CampaignId Campaign(std::string_view text) {
  return *CampaignId::Parse(text);
}
inline UserId User(std::string_view text) {
  return *UserId::Parse(text);
}
inline UserId User(int n) {
  return *UserId::Parse(Numbered("u-", n));
}
inline IdempotencyKey Key(std::string_view text) {
  return *IdempotencyKey::Parse(text);
}

inline CampaignSpec CouponSpec(std::string_view id, std::uint32_t stock) {
  CampaignSpec spec;
  spec.id = Campaign(id);
  spec.kind = CampaignKind::kCoupon;
  spec.name = "coupon";
  spec.stock = stock;
  spec.starts_at = Seconds(100);
  spec.ends_at = Seconds(1'000'000);
  return spec;
}

inline CampaignSpec SaleSpec(std::string_view id, std::uint32_t stock, std::uint32_t limit,
                             std::uint32_t hold_seconds = 60, std::int64_t price = 990) {
  CampaignSpec spec = CouponSpec(id, stock);
  spec.kind = CampaignKind::kSale;
  spec.name = "sale";
  spec.per_user_limit = limit;
  spec.hold_seconds = hold_seconds;
  spec.price = price;
  return spec;
}

// `spec` with no room to top up: its tables sized for its stock alone.
inline CampaignSpec NoHeadroom(CampaignSpec spec) {
  spec.stock_max = spec.stock;
  return spec;
}

// Recovers `engine` from `log` as the server does (Apply each, then FinishRecovery); a replay
// error fails the test and is returned for tests that expect one.
inline std::optional<ReplayError> Replay(Engine& engine, const std::vector<Event>& log) {
  for (const Event& event : log) {
    if (std::optional<ReplayError> error = engine.Apply(event)) return error;
  }
  return engine.FinishRecovery();
}
inline void ReplayClean(Engine& engine, const std::vector<Event>& log) {
  std::optional<ReplayError> error = Replay(engine, log);
  EXPECT_FALSE(error.has_value()) << error->message;
}

// Keeps every event in append order (under a mutex: tests only) and can be told to refuse.
// Its tickets are 0 ("no report will come", as DiscardSink's), unless it is made `reported`:
// then each event gets a ticket, and the test plays the log's reports back by hand.
class RecordingSink final : public EventSink {
 public:
  explicit RecordingSink(bool reported = false) : reported_(reported) {}
  std::optional<LogTicket> Append(WorkerId, const Event& event) noexcept override {
    if (refuse_.load()) return std::nullopt;
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    return LogTicket{reported_ ? events_.size() : 0};
  }
  void set_refuse(bool refuse) { refuse_.store(refuse); }
  std::vector<Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return events_.size();
  }

 private:
  const bool reported_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::atomic<bool> refuse_{false};
};

inline EngineOptions SmallOptions(std::uint32_t workers = 2) {
  EngineOptions options;
  options.workers = workers;
  options.campaigns_max = 16;
  options.stock_max = 100'000;
  options.idempotency_keys_max = 1024;
  options.idempotency_window = std::chrono::seconds(600);
  return options;
}

// An engine over a RecordingSink with a coupon campaign "c" (stock 2) and a sale "s" (stock 5,
// limit 3, 60 s hold), for tests that play the log's reports back into the engine by hand.
class ReportedEngineTest : public ::testing::Test {
 protected:
  explicit ReportedEngineTest(EngineOptions options = SmallOptions()) : engine_(options, sink_) {}
  // Both creations are reported persisted, as the log would before any sale starts.
  void SetUp() override {
    ASSERT_EQ(engine_.CreateCampaign(CouponSpec("c", 2), Seconds(0)).outcome, Outcome::kCreated);
    engine_.Acknowledge(LastEvent());
    ASSERT_EQ(engine_.CreateCampaign(SaleSpec("s", 5, 3, 60), Seconds(0)).outcome,
              Outcome::kCreated);
    engine_.Acknowledge(LastEvent());
  }
  // The last event as the sink saw it (what the log reports back).
  Event LastEvent() { return sink_.events().back(); }
  CampaignBooks Books(std::string_view id) { return *engine_.Books(Campaign(id)); }
  // ARCHITECTURE.md invariant 6 at quiescence.
  void ExpectBooksClose(std::string_view id) {
    CampaignBooks books = Books(id);
    EXPECT_EQ(std::int64_t{books.stock} - books.remaining - books.in_doubt,
              books.claimed + books.held + books.confirmed)
        << id;
  }

  RecordingSink sink_{/*reported=*/true};
  Engine engine_;
};

}  // namespace hotdeal::engine::testing
