// InDoubtSettler against the real broker (label `stack`): an in-doubt claim whose event Kafka
// holds stands; one whose event Kafka never got is voided and restocked only after the void is
// persisted, and a replay of the topic gives the live state; a fatal producer error stops
// decisions, its in-doubt decisions settle, the service resumes and the books close against
// MySQL (ARCHITECTURE.md invariants 3 and 6).
#include <atomic>
#include <thread>

#include "hotdeal/engine/engine.h"
#include "hotdeal/persistence/in_doubt_settler.h"
#include "hotdeal/persistence/kafka_log.h"
#include "hotdeal/persistence/persister.h"
#include "hotdeal/persistence/recovery.h"
#include "log_test_support.h"
#include "stack_fixture.h"
#include "topic_reader.h"

namespace hotdeal::persistence {
namespace {

using namespace std::chrono_literals;
using engine::Outcome;

engine::TimePoint Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// The engine's sink: forwards to the log and keeps the last event, or drops the next one (the
// decision stands in memory, its event never reaches Kafka), to stage a lost report.
class TappingSink final : public engine::EventSink {
 public:
  explicit TappingSink(KafkaLog& log) : log_(log) {}
  std::optional<engine::LogTicket> Append(engine::WorkerId worker,
                                          const engine::Event& event) noexcept override {
    last = event;
    if (drop_next) {
      drop_next = false;
      return engine::LogTicket{};
    }
    return log_.Append(worker, event);
  }
  engine::Event last;
  bool drop_next = false;

 private:
  KafkaLog& log_;
};

// As `hotdeal serve --ack durable`: a decision is unacknowledged until its report.
engine::EngineOptions DurableAcks() {
  engine::EngineOptions options;
  options.await_acknowledgement = true;
  return options;
}

// What `hotdeal serve` runs, on the test's topic and database: the log (behind a tapping sink),
// the engine, the settler and the persister, started in serve's order.
struct Serving {
  Serving(const Options& options, const SettlerOptions& settler_options)
      : log(options),
        sink(log),
        live(DurableAcks(), sink),
        settler(live, log, options, settler_options),
        persister(options) {
    log.Start(live, &settler);
    settler.Start();
    persister.Start();
  }
  // Stops in serve's order; the destructors find everything stopped.
  void Stop() {
    settler.Stop();
    log.Stop();
    persister.Stop();
  }
  // A coupon campaign, once Kafka has its creation.
  void Create(const engine::CampaignSpec& spec) {
    log.Forget(live.CreateCampaign(spec, Now()).ticket);
    ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().persisted == 1; }));
  }

  KafkaLog log;
  TappingSink sink;
  engine::Engine live;
  InDoubtSettler settler;
  Persister persister;
  // What KafkaLog does with a report of "possibly persisted" (LogReports), for a lost report.
  void LoseReport(const engine::Event& event) {
    if (live.Report(event, engine::Durability::kPossiblyPersisted) ==
        engine::LogReports::Next::kSettle) {
      settler.Add(event);
    }
  }
};

class SettlerStackTest : public testing::StackTest {
 protected:
  void SetUp() override {
    StackTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_.delivery_timeout = 3000ms;
    settler_options_.round_interval = 20ms;
    settler_options_.replaced_producer_quiet = options_.delivery_timeout;
  }

  engine::UserId User(int i) const { return *engine::UserId::Parse("u-" + std::to_string(i)); }
  static std::optional<engine::IdempotencyKey> Key(int i) {
    return engine::IdempotencyKey::Parse("k-" + std::to_string(i));
  }

  engine::CampaignSpec Coupon(const engine::CampaignId& id, std::uint32_t stock) const {
    engine::CampaignSpec spec;
    spec.id = id;
    spec.name = "settler";
    spec.stock = stock;
    spec.starts_at = Now() - 1h;
    return spec;
  }

  // Messages in the test's topic, fences included: what the persister's offsets must cover.
  std::int64_t MessagesInTopic() {
    std::int64_t total = 0;
    for (const auto& partition :
         testing::ReadTopicRecords(options_.kafka_brokers, options_.kafka_topic)) {
      total += static_cast<std::int64_t>(partition.size());
    }
    return total;
  }

  // Invariant 6 once the persister has caught up with the whole topic: nothing in doubt, and
  // stock - remaining == claims in MySQL.
  void ExpectBooksClose(const engine::Engine& live, const engine::CampaignId& campaign) {
    ASSERT_TRUE(WaitForOffsets(MessagesInTopic()));
    const engine::CampaignBooks books = *live.Books(campaign);
    EXPECT_EQ(books.in_doubt, 0);
    EXPECT_EQ(std::int64_t{books.stock} - books.remaining - books.in_doubt,
              Number("SELECT COUNT(*) FROM claims WHERE campaign_id = '" +
                     std::string(campaign.view()) + "'"));
  }

  // A fresh engine recovered from MySQL and the topic holds what the live one holds.
  void ExpectReplayEqualsLive(const engine::Engine& live, const engine::CampaignId& campaign,
                              int users) {
    engine::DiscardSink discard;
    engine::Engine recovered(engine::EngineOptions{}, discard);
    Recover(recovered, options_);
    const engine::CampaignBooks a = *live.Books(campaign);
    const engine::CampaignBooks b = *recovered.Books(campaign);
    EXPECT_EQ(a.remaining, b.remaining);
    EXPECT_EQ(a.claimed + a.in_doubt, b.claimed);
    for (int i = 0; i < users; ++i) {
      auto x = live.GetClaim(campaign, User(i));
      auto y = recovered.GetClaim(campaign, User(i));
      ASSERT_EQ(x.value.has_value(), y.value.has_value()) << "user " << i;
      if (x.value) {
        EXPECT_EQ(x.value->id, y.value->id) << "user " << i;
      }
    }
  }

  SettlerOptions settler_options_;
};

TEST_F(SettlerStackTest, InDoubtClaimInTheLogStands) {
  const engine::CampaignId campaign = Campaign("sa");
  Serving serving(options_, settler_options_);
  auto& [log, sink, live, settler, persister] = serving;

  ASSERT_NO_FATAL_FAILURE(serving.Create(Coupon(campaign, 10)));
  auto made = live.ClaimCoupon({0}, campaign, User(1), Key(1), Now());
  ASSERT_EQ(made.outcome, Outcome::kCreated);
  log.Forget(made.ticket);
  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().persisted == 2; }));
  // The report was lost (as librdkafka's "possibly persisted"): what KafkaLog would do.
  serving.LoseReport(sink.last);
  EXPECT_EQ(live.Books(campaign)->in_doubt, 1);
  EXPECT_EQ(live.ClaimCoupon({0}, campaign, User(1), Key(1), Now()).outcome, Outcome::kInDoubt);

  ASSERT_TRUE(Eventually([&] { return settler.probe()->Snapshot().settled_persisted == 1; }));
  auto retry = live.ClaimCoupon({0}, campaign, User(1), Key(1), Now());
  EXPECT_EQ(retry.outcome, Outcome::kReplayed);
  EXPECT_EQ(retry.value->id, made.value->id);
  EXPECT_EQ(settler.probe()->Snapshot().settled_voided, 0u);
  ExpectBooksClose(live, campaign);
  serving.Stop();
}

TEST_F(SettlerStackTest, InDoubtClaimAbsentFromTheLogIsVoidedAndReplayAgrees) {
  const engine::CampaignId campaign = Campaign("sb");
  Serving serving(options_, settler_options_);
  auto& [log, sink, live, settler, persister] = serving;

  ASSERT_NO_FATAL_FAILURE(serving.Create(Coupon(campaign, 10)));
  for (int i = 0; i < 3; ++i)
    log.Forget(live.ClaimCoupon({0}, campaign, User(i), Key(i), Now()).ticket);
  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().persisted == 4; }));
  const std::int64_t before = MessagesInTopic();
  sink.drop_next = true;  // its event never reaches Kafka
  ASSERT_EQ(live.ClaimCoupon({0}, campaign, User(3), Key(3), Now()).outcome, Outcome::kCreated);
  serving.LoseReport(sink.last);
  EXPECT_EQ(live.Books(campaign)->remaining, 6u);

  // The unit comes back only once the void is in Kafka.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (settler.probe()->Snapshot().settled_voided == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    if (live.Books(campaign)->remaining == 7u) {
      ASSERT_EQ(MessagesInTopic(), before + 1) << "restocked before the void was persisted";
    }
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(live.Books(campaign)->remaining, 7u);
  EXPECT_EQ(MessagesInTopic(), before + 1);
  EXPECT_EQ(live.GetClaim(campaign, User(3)).outcome, Outcome::kNotFound);
  EXPECT_EQ(settler.probe()->Snapshot().settled_persisted, 0u);
  ExpectBooksClose(live, campaign);
  serving.Stop();
  ExpectReplayEqualsLive(live, campaign, 4);
}

TEST_F(SettlerStackTest, FatalProducerErrorStopsDecisionsSettlesInDoubtAndResumes) {
  const engine::CampaignId campaign = Campaign("sc");
  Serving serving(options_, settler_options_);
  auto& [log, sink, live, settler, persister] = serving;
  // Warm: the producer has its id and the partition leaders, so claims go straight out.
  ASSERT_NO_FATAL_FAILURE(serving.Create(Coupon(campaign, 100'000)));

  // A local broker answers too fast for a fatal error to catch a batch in flight, so the lost
  // reports are staged: the old producer's last decisions, three in Kafka and three not.
  constexpr int kStaged = 6;
  std::vector<engine::Event> lost;
  for (int i = 0; i < kStaged; ++i) {
    sink.drop_next = i >= kStaged / 2;
    auto made = live.ClaimCoupon({0}, campaign, User(i), Key(i), Now());
    ASSERT_EQ(made.outcome, Outcome::kCreated);
    if (made.ticket.value != 0) log.Forget(made.ticket);
    lost.push_back(sink.last);
  }
  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().persisted == 1 + kStaged / 2; }));
  for (const engine::Event& event : lost)
    serving.LoseReport(event);
  EXPECT_EQ(live.Books(campaign)->in_doubt, kStaged);

  // Claims back to back (not awaited, so many are in flight) across the fatal error, until the
  // new producer takes one; bounded by the user count.
  constexpr int kUsersMax = 50'000;
  int users = kStaged;
  int refused = 0;
  bool fatal_raised = false;
  for (; users < kUsersMax; ++users) {
    auto made = live.ClaimCoupon({0}, campaign, User(users), Key(users), Now());
    if (made.outcome == Outcome::kLogUnavailable) {
      ++refused;
    } else {
      ASSERT_EQ(made.outcome, Outcome::kCreated);
      log.Forget(made.ticket);
      if (refused > 0) break;  // served again after the refusals: resumed
    }
    if (users == kStaged + 2'000) {
      log.TEST_TriggerFatalError();
      fatal_raised = true;
    }
  }
  ASSERT_TRUE(fatal_raised);
  EXPECT_GT(refused, 0) << "decisions did not stop (503) while the producer was replaced";
  ASSERT_LT(users, kUsersMax) << "service did not resume";
  EXPECT_EQ(log.probe()->Snapshot().producer_recreations, 1u);
  EXPECT_TRUE(log.healthy());

  ASSERT_TRUE(Eventually([&] { return log.probe()->Snapshot().in_flight == 0; }));
  const LogCounters reports = log.probe()->Snapshot();
  ASSERT_TRUE(Eventually([&] { return live.Books(campaign)->in_doubt == 0; }));
  ASSERT_TRUE(Eventually([&] { return settler.probe()->Snapshot().waiting == 0; }));
  const SettlerCounters settled = settler.probe()->Snapshot();
  EXPECT_EQ(settled.settled_persisted + settled.settled_voided,
            kStaged + reports.possibly_persisted);
  EXPECT_GE(settled.settled_persisted, kStaged / 2u);
  EXPECT_GE(settled.settled_voided, kStaged / 2u);
  std::printf(
      "fatal error: %d claims tried, %d refused, %llu possibly persisted: %llu stood, "
      "%llu voided\n",
      users + 1, refused, static_cast<unsigned long long>(reports.possibly_persisted),
      static_cast<unsigned long long>(settled.settled_persisted),
      static_cast<unsigned long long>(settled.settled_voided));
  ExpectBooksClose(live, campaign);
  serving.Stop();
  ExpectReplayEqualsLive(live, campaign, users + 1);
}

}  // namespace
}  // namespace hotdeal::persistence
