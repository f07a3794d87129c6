// Recovery against the real stack: decisions made by an engine go through KafkaLog, part of
// them through the Persister into MySQL; a fresh engine recovered from the MySQL snapshot plus
// the Kafka tail holds the same campaigns, claims and orders; what a replaced owner appended
// counts in neither the tail nor MySQL.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hotdeal/engine/engine.h"
#include "hotdeal/persistence/kafka_log.h"
#include "hotdeal/persistence/owner.h"
#include "hotdeal/persistence/persister.h"
#include "hotdeal/persistence/recovery.h"
#include "stack_fixture.h"

namespace hotdeal::persistence {
namespace {

using namespace std::chrono_literals;
using engine::Outcome;

// Waits for every awaited ticket; all must be persisted.
class Acks {
 public:
  class One final : public engine::LogWaiter {
   public:
    explicit One(Acks* acks) : acks_(acks) {}
    void OnSettled(engine::Durability durability) noexcept override { acks_->Settled(durability); }

   private:
    Acks* acks_;
  };

  void Await(KafkaLog& log, engine::LogTicket ticket) {
    ASSERT_NE(ticket.value, 0u);
    {
      std::lock_guard lock(mutex_);
      ++expected_;
    }
    log.Await(ticket, waiters_.emplace_back(this));
  }
  void WaitAll() {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(settled_cv_.wait_for(lock, 60s, [&] { return settled_ == expected_; }));
    EXPECT_EQ(persisted_, expected_);
  }

 private:
  void Settled(engine::Durability durability) {
    std::lock_guard lock(mutex_);
    ++settled_;
    persisted_ += durability == engine::Durability::kPersisted ? 1 : 0;
    settled_cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable settled_cv_;
  std::size_t expected_ = 0;
  std::size_t settled_ = 0;
  std::size_t persisted_ = 0;
  std::deque<One> waiters_;  // stable addresses: the log holds pointers to them
};

class RecoveryStackTest : public testing::StackTest {
 protected:
  const engine::TimePoint now_ =
      engine::TimePoint{std::chrono::microseconds{1'795'000'000'000'000}};
  const engine::WorkerId worker_{0};

  engine::UserId User(int i) { return *engine::UserId::Parse("u-" + std::to_string(i)); }

  // A coupon campaign that is live at now_.
  engine::CampaignSpec Coupon(const engine::CampaignId& id, std::uint32_t stock) {
    engine::CampaignSpec spec;
    spec.id = id;
    spec.name = "coupon";
    spec.stock = stock;
    spec.starts_at = now_ - 1h;
    return spec;
  }

  // A sale campaign that is live at now_.
  engine::CampaignSpec Sale(const engine::CampaignId& id, std::uint32_t stock,
                            std::uint32_t per_user_limit, std::int64_t price,
                            std::uint32_t hold_seconds) {
    engine::CampaignSpec spec = Coupon(id, stock);
    spec.kind = engine::CampaignKind::kSale;
    spec.name = "sale";
    spec.per_user_limit = per_user_limit;
    spec.price = price;
    spec.hold_seconds = hold_seconds;
    return spec;
  }

  void ExpectSameCampaign(const engine::Engine& a, const engine::Engine& b,
                          const engine::CampaignId& id) {
    auto va = a.GetCampaign(id, now_);
    auto vb = b.GetCampaign(id, now_);
    ASSERT_TRUE(va.value.has_value());
    ASSERT_TRUE(vb.value.has_value());
    EXPECT_EQ(va.value->remaining, vb.value->remaining);
    EXPECT_EQ(va.value->status, vb.value->status);
    EXPECT_EQ(va.value->spec.stock, vb.value->spec.stock);
    EXPECT_EQ(va.value->spec.name, vb.value->spec.name);
    EXPECT_EQ(va.value->spec.per_user_limit, vb.value->spec.per_user_limit);
    EXPECT_EQ(va.value->spec.price, vb.value->spec.price);
    EXPECT_EQ(va.value->spec.terms, vb.value->spec.terms);
  }
};

TEST_F(RecoveryStackTest, FreshEngineRecoversTheSameState) {
  const engine::CampaignId coupon = Campaign("rc");
  const engine::CampaignId sale = Campaign("rs");
  KafkaLog log(options_);
  engine::Engine live(engine::EngineOptions{}, log);
  log.Start(live);
  Acks acks;

  engine::CampaignSpec coupon_spec = Coupon(coupon, 100);
  coupon_spec.terms = {engine::DiscountKind::kPercent, 10, 5'000, 3'600, std::nullopt};
  const engine::CampaignSpec sale_spec = Sale(sale, 60, 3, 500, 3600);
  for (const auto& spec : {coupon_spec, sale_spec}) {
    auto created = live.CreateCampaign(spec, now_);
    ASSERT_EQ(created.outcome, Outcome::kCreated);
    acks.Await(log, created.ticket);
  }
  std::vector<engine::OrderId> orders;
  // Phase 1 goes all the way to MySQL; phase 2 stays in Kafka's tail.
  auto decide = [&](int first, int last) {
    for (int i = first; i < last; ++i) {
      auto claim = live.ClaimCoupon(worker_, coupon, User(i), std::nullopt, now_);
      ASSERT_EQ(claim.outcome, Outcome::kCreated);
      acks.Await(log, claim.ticket);
      auto order = live.PlaceOrder(worker_, sale, User(i), 2, std::nullopt, now_);
      ASSERT_EQ(order.outcome, Outcome::kCreated);
      acks.Await(log, order.ticket);
      orders.push_back(order.value->id);
      if (i % 3 == 1) {
        auto confirmed = live.ConfirmOrder(worker_, order.value->id, User(i), now_);
        ASSERT_EQ(confirmed.outcome, Outcome::kOk);
        acks.Await(log, confirmed.ticket);
      }
      if (i % 3 == 2) {
        auto cancelled = live.CancelOrder(worker_, order.value->id, User(i), now_);
        ASSERT_EQ(cancelled.outcome, Outcome::kOk);
        acks.Await(log, cancelled.ticket);
      }
    }
  };
  decide(0, 12);
  acks.WaitAll();
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted)));
    persister.Stop();
  }
  decide(12, 20);
  auto closed = live.CloseCampaign(coupon, now_);
  ASSERT_EQ(closed.outcome, Outcome::kOk);
  acks.Await(log, closed.ticket);
  acks.WaitAll();
  log.Stop();

  engine::DiscardSink discard;
  engine::Engine recovered(engine::EngineOptions{}, discard);
  const RecoveryReport report = Recover(recovered, options_);
  // Phase 1 in MySQL; phase 2 in the tail: 8 claims, 8 orders, 3 confirms, 2 cancels, a close.
  EXPECT_EQ(report.campaigns, 2u);
  EXPECT_EQ(report.claims, 12u);
  EXPECT_EQ(report.orders, 12u);
  EXPECT_EQ(report.events_replayed, 22u);

  ExpectSameCampaign(live, recovered, coupon);
  ExpectSameCampaign(live, recovered, sale);
  for (int i = 0; i < 20; ++i) {
    auto a = live.GetClaim(coupon, User(i));
    auto b = recovered.GetClaim(coupon, User(i));
    ASSERT_TRUE(a.value.has_value());
    ASSERT_TRUE(b.value.has_value()) << i;
    EXPECT_EQ(a.value->id, b.value->id);
    EXPECT_EQ(a.value->coupon_code, b.value->coupon_code);
  }
  for (engine::OrderId id : orders) {
    auto a = live.GetOrder(id, now_);
    auto b = recovered.GetOrder(id, now_);
    ASSERT_TRUE(b.value.has_value());
    EXPECT_EQ(a.value->status, b.value->status);
    EXPECT_EQ(a.value->quantity, b.value->quantity);
    EXPECT_EQ(a.value->amount, b.value->amount);
    EXPECT_EQ(a.value->user, b.value->user);
  }
  // Nothing sold before can be sold again: user 0 already holds a coupon.
  EXPECT_EQ(recovered.ClaimCoupon(worker_, sale, User(0), std::nullopt, now_).outcome,
            Outcome::kConflict);
  EXPECT_EQ(recovered.ClaimCoupon(worker_, coupon, User(0), std::nullopt, now_).outcome,
            Outcome::kEnded);
}

// Pauses and resumes come back as the newest of each campaign said, whether MySQL holds it (the
// persister wrote campaigns.paused) or only Kafka's tail does.
TEST_F(RecoveryStackTest, APauseComesBackFromMysqlAndFromTheTail) {
  const engine::CampaignId in_mysql = Campaign("pm");  // paused, written to MySQL
  const engine::CampaignId resumed = Campaign("pr");   // paused then resumed, in MySQL
  const engine::CampaignId in_tail = Campaign("pt");   // resumed in MySQL, paused in the tail
  KafkaLog log(options_);
  engine::Engine live(engine::EngineOptions{}, log);
  log.Start(live);
  Acks acks;
  auto change = [&](const engine::CampaignId& id, bool pause) {
    auto d = pause ? live.PauseCampaign(id, now_) : live.ResumeCampaign(id, now_);
    ASSERT_EQ(d.outcome, Outcome::kOk);
    acks.Await(log, d.ticket);
  };
  for (const auto& id : {in_mysql, resumed, in_tail}) {
    auto created = live.CreateCampaign(Coupon(id, 10), now_);
    ASSERT_EQ(created.outcome, Outcome::kCreated);
    acks.Await(log, created.ticket);
    change(id, true);
  }
  change(resumed, false);
  change(in_tail, false);
  acks.WaitAll();
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted)));
    persister.Stop();
  }
  const std::string ids = "('" + std::string(in_mysql.view()) + "','" +
                          std::string(resumed.view()) + "','" + std::string(in_tail.view()) + "')";
  EXPECT_EQ(Number("SELECT SUM(paused) FROM campaigns WHERE id IN " + ids), 1);
  EXPECT_EQ(Number("SELECT COUNT(*) FROM campaigns WHERE pause_seq > 0 AND id IN " + ids), 3);
  change(in_tail, true);
  acks.WaitAll();
  log.Stop();

  engine::DiscardSink discard;
  engine::Engine recovered(engine::EngineOptions{}, discard);
  Recover(recovered, options_);
  for (const auto& id : {in_mysql, resumed, in_tail})
    ExpectSameCampaign(live, recovered, id);
  EXPECT_EQ(recovered.GetCampaign(in_mysql, now_).value->status, engine::CampaignStatus::kPaused);
  EXPECT_EQ(recovered.GetCampaign(resumed, now_).value->status, engine::CampaignStatus::kLive);
  EXPECT_EQ(recovered.ClaimCoupon(worker_, in_tail, User(1), std::nullopt, now_).outcome,
            Outcome::kPaused);
  EXPECT_EQ(recovered.ClaimCoupon(worker_, resumed, User(1), std::nullopt, now_).outcome,
            Outcome::kCreated);
}

// A PATCH comes back as the newest change of each campaign said, whether MySQL holds it (the
// persister rewrote the campaigns row) or only Kafka's tail does: stock, name and ends_at, and
// the units a top-up added and a claim then took.
TEST_F(RecoveryStackTest, AChangeComesBackFromMysqlAndFromTheTail) {
  const engine::CampaignId in_mysql = Campaign("km");  // topped up and renamed, in MySQL
  const engine::CampaignId in_tail = Campaign("kt");   // changed after the persister stopped
  KafkaLog log(options_);
  engine::Engine live(engine::EngineOptions{}, log);
  log.Start(live);
  Acks acks;
  auto change = [&](const engine::CampaignId& id, std::int64_t add, std::string name) {
    engine::CampaignChange patch;
    patch.stock_add = add;
    patch.name = std::move(name);
    patch.ends_at = now_ + std::chrono::hours(24);
    auto d = live.ChangeCampaign(id, patch, now_);
    ASSERT_EQ(d.outcome, Outcome::kOk);
    acks.Await(log, d.ticket);
    acks.WaitAll();  // the added units join once the log has the change
  };
  auto claim = [&](const engine::CampaignId& id, int user) {
    auto d = live.ClaimCoupon(worker_, id, User(user), std::nullopt, now_);
    ASSERT_EQ(d.outcome, Outcome::kCreated);
    acks.Await(log, d.ticket);
  };
  for (const auto& id : {in_mysql, in_tail}) {
    auto created = live.CreateCampaign(Coupon(id, 2), now_);
    ASSERT_EQ(created.outcome, Outcome::kCreated);
    acks.Await(log, created.ticket);
    claim(id, 1);
    claim(id, 2);
  }
  change(in_mysql, 3, "topped up");
  claim(in_mysql, 3);
  change(in_mysql, -1, "last call");
  acks.WaitAll();
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted)));
    persister.Stop();
  }
  const std::string where = " FROM campaigns WHERE id = '" + std::string(in_mysql.view()) + "'";
  EXPECT_EQ(Number("SELECT stock" + where), 4);
  EXPECT_EQ(Number("SELECT COUNT(*)" + where + " AND name = 'last call' AND change_seq > 0"), 1);
  change(in_tail, 2, "tail");
  claim(in_tail, 3);
  change(in_tail, -1, "tail, last call");
  acks.WaitAll();
  log.Stop();

  engine::DiscardSink discard;
  engine::Engine recovered(engine::EngineOptions{}, discard);
  Recover(recovered, options_);
  for (const auto& id : {in_mysql, in_tail}) {
    ExpectSameCampaign(live, recovered, id);
    const engine::CampaignView want = *live.GetCampaign(id, now_).value;
    const engine::CampaignView got = *recovered.GetCampaign(id, now_).value;
    EXPECT_EQ(got.spec.stock, want.spec.stock);
    EXPECT_EQ(got.spec.name, want.spec.name);
    EXPECT_EQ(got.spec.ends_at, want.spec.ends_at);
    EXPECT_EQ(got.remaining, want.remaining);
    EXPECT_EQ(recovered.Books(id)->stock, got.spec.stock);
  }
  EXPECT_EQ(recovered.GetCampaign(in_mysql, now_).value->spec.stock, 4u);
  EXPECT_EQ(recovered.GetCampaign(in_tail, now_).value->spec.stock, 3u);
  EXPECT_EQ(recovered.GetCampaign(in_tail, now_).value->remaining, 0u);
  EXPECT_EQ(recovered.ClaimCoupon(worker_, in_mysql, User(9), std::nullopt, now_).outcome,
            Outcome::kCreated);
  EXPECT_EQ(recovered.ClaimCoupon(worker_, in_tail, User(9), std::nullopt, now_).outcome,
            Outcome::kSoldOut);
}

// An archive comes back from MySQL (the row alone: its orders stay there, unread) and from the
// tail; either way the campaign is gone, its id refused, its index never given again (a new
// campaign's first order id would repeat the archived one's), and a live one beside it whole.
TEST_F(RecoveryStackTest, AnArchiveComesBackFromMysqlAndFromTheTail) {
  const engine::CampaignId in_mysql = Campaign("am");
  const engine::CampaignId in_tail = Campaign("at");
  const engine::CampaignId kept = Campaign("ak");
  KafkaLog log(options_);
  engine::EngineOptions options;
  options.workers_idle_in_control = true;  // this thread is the only worker
  engine::Engine live(options, log);
  log.Start(live);
  Acks acks;
  std::map<std::string, engine::OrderId> sold;  // each campaign's confirmed order
  for (const auto& id : {in_mysql, in_tail, kept}) {
    auto created = live.CreateCampaign(Sale(id, 5, 2, 500, 600), now_);
    ASSERT_EQ(created.outcome, Outcome::kCreated);
    acks.Await(log, created.ticket);
    acks.WaitAll();
    auto order = live.PlaceOrder(worker_, id, User(1), 2, std::nullopt, now_);
    ASSERT_EQ(order.outcome, Outcome::kCreated);
    acks.Await(log, order.ticket);
    acks.WaitAll();
    auto confirmed = live.ConfirmOrder(worker_, order.value->id, User(1), now_);
    ASSERT_EQ(confirmed.outcome, Outcome::kOk);
    acks.Await(log, confirmed.ticket);
    sold[std::string(id.view())] = order.value->id;
  }
  auto archive = [&](const engine::CampaignId& id) {
    ASSERT_EQ(live.CloseCampaign(id, now_).outcome, Outcome::kOk);
    auto d = live.ArchiveCampaign(id, now_);
    ASSERT_EQ(d.outcome, Outcome::kOk);
    acks.Await(log, d.ticket);
    acks.WaitAll();
  };
  archive(in_mysql);
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted)));
    persister.Stop();
  }
  const std::string of_mysql = "campaign_id = '" + std::string(in_mysql.view()) + "'";
  EXPECT_EQ(Number("SELECT COUNT(*) FROM campaigns WHERE id = '" + std::string(in_mysql.view()) +
                   "' AND archived_seq IS NOT NULL AND archived_at_us IS NOT NULL"),
            1);
  EXPECT_EQ(Number("SELECT COUNT(*) FROM orders WHERE " + of_mysql), 1);  // history stays
  archive(in_tail);
  log.Stop();

  engine::DiscardSink discard;
  engine::Engine recovered(options, discard);
  const RecoveryReport report = Recover(recovered, options_);
  EXPECT_GE(report.archived, 1u);
  EXPECT_GE(recovered.Stats().campaigns_archived, 2u);
  ExpectSameCampaign(live, recovered, kept);
  EXPECT_EQ(recovered.GetOrder(sold[std::string(kept.view())], now_).outcome, Outcome::kOk);
  for (const auto& id : {in_mysql, in_tail}) {
    SCOPED_TRACE(std::string(id.view()));
    EXPECT_EQ(recovered.GetCampaign(id, now_).outcome, Outcome::kNotFound);
    EXPECT_EQ(recovered.GetOrder(sold[std::string(id.view())], now_).outcome, Outcome::kNotFound);
    EXPECT_EQ(recovered.CreateCampaign(Coupon(id, 1), now_).outcome, Outcome::kConflict);
  }
  // A new sale takes an index none of them had: its first order's id is not one handed out.
  engine::CampaignSpec fresh = Coupon(Campaign("an"), 5);
  fresh.kind = engine::CampaignKind::kSale;
  fresh.price = 500;
  fresh.hold_seconds = 600;
  ASSERT_EQ(recovered.CreateCampaign(fresh, now_).outcome, Outcome::kCreated);
  auto order = recovered.PlaceOrder(worker_, fresh.id, User(1), 1, std::nullopt, now_);
  ASSERT_EQ(order.outcome, Outcome::kCreated);
  for (const auto& [campaign, id] : sold)
    EXPECT_NE(order.value->id, id) << campaign;
}

// A coupon's use comes back from the claims row (redeemed, then restored and redeemed again in
// MySQL) and from the tail (a restore after the persister stopped), newest change winning.
TEST_F(RecoveryStackTest, ACouponsUseComesBackFromMysqlAndFromTheTail) {
  const engine::CampaignId id = Campaign("cu");
  KafkaLog log(options_);
  engine::Engine live(engine::EngineOptions{}, log);
  log.Start(live);
  Acks acks;
  auto created = live.CreateCampaign(Coupon(id, 10), now_);
  ASSERT_EQ(created.outcome, Outcome::kCreated);
  acks.Await(log, created.ticket);
  std::vector<std::string> codes;
  for (int user = 1; user <= 2; ++user) {
    auto claim = live.ClaimCoupon(worker_, id, User(user), std::nullopt, now_);
    ASSERT_EQ(claim.outcome, Outcome::kCreated);
    acks.Await(log, claim.ticket);
    codes.emplace_back(claim.value->coupon_code.view());
  }
  auto use = [&](int user, bool redeem, std::string_view order) {
    const engine::OrderRef ref = *engine::OrderRef::Parse(order);
    const std::string& code = codes[static_cast<std::size_t>(user - 1)];
    auto d = redeem ? live.RedeemCoupon(worker_, code, User(user), ref, now_)
                    : live.RestoreCoupon(worker_, code, User(user), ref, now_);
    ASSERT_EQ(d.outcome, Outcome::kOk);
    acks.Await(log, d.ticket);
  };
  use(1, true, "o-1");
  use(1, false, "o-1");
  use(1, true, "o-2");  // user 1: redeemed on o-2, use 3, in MySQL
  use(2, true, "o-3");
  acks.WaitAll();
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted)));
    persister.Stop();
  }
  const std::string of_campaign =
      " FROM claims WHERE campaign_id = '" + std::string(id.view()) + "'";
  EXPECT_EQ(Number("SELECT SUM(redeemed)" + of_campaign), 2);
  EXPECT_EQ(Number("SELECT MAX(use_count)" + of_campaign), 3);
  use(2, false, "o-3");  // user 2: restored, in the tail only
  acks.WaitAll();
  log.Stop();

  engine::DiscardSink discard;
  engine::Engine recovered(engine::EngineOptions{}, discard);
  Recover(recovered, options_);
  auto read = [&](int user) {
    return recovered.GetCoupon(codes[static_cast<std::size_t>(user - 1)], User(user));
  };
  ASSERT_EQ(read(1).outcome, Outcome::kOk);
  EXPECT_TRUE(read(1).value->redeemed);
  ASSERT_EQ(read(2).outcome, Outcome::kOk);
  EXPECT_FALSE(read(2).value->redeemed);
  const engine::OrderRef o2 = *engine::OrderRef::Parse("o-2");
  EXPECT_EQ(recovered.RedeemCoupon(worker_, codes[0], User(1), o2, now_).outcome, Outcome::kOk);
  EXPECT_EQ(
      recovered.RedeemCoupon(worker_, codes[0], User(1), *engine::OrderRef::Parse("o-1"), now_)
          .outcome,
      Outcome::kAlreadyRedeemed);
  EXPECT_EQ(recovered.Books(id)->redeemed, 1);
}

// Order ids a client got before a restart still work after it: each campaign's id key comes
// back, from its MySQL row for a campaign the persister wrote, from its campaign_created event
// in the tail for one it did not; a tampered tag is still refused.
TEST_F(RecoveryStackTest, OrderIdsHandedOutBeforeARestartStillWorkAfterIt) {
  const engine::CampaignId in_mysql = Campaign("im");
  const engine::CampaignId in_tail = Campaign("it");
  KafkaLog log(options_);
  engine::Engine live(engine::EngineOptions{}, log);
  log.Start(live);
  Acks acks;
  // The text each order's id was handed out as, by campaign.
  std::vector<std::pair<engine::CampaignId, std::string>> handed_out;
  auto sell = [&](const engine::CampaignId& id) {
    auto created = live.CreateCampaign(Sale(id, 10, 2, 100, 3600), now_);
    ASSERT_EQ(created.outcome, Outcome::kCreated);
    acks.Await(log, created.ticket);
    for (int user = 0; user < 3; ++user) {
      auto order = live.PlaceOrder(worker_, id, User(user), 1, std::nullopt, now_);
      ASSERT_EQ(order.outcome, Outcome::kCreated);
      acks.Await(log, order.ticket);
      handed_out.emplace_back(id, engine::Engine::OrderIdText(order.value->id).view());
    }
    acks.WaitAll();
  };
  sell(in_mysql);
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted)));
    persister.Stop();
  }
  EXPECT_EQ(Number("SELECT COUNT(*) FROM campaigns WHERE id_key_0 <> 0 OR id_key_1 <> 0"), 1);
  sell(in_tail);
  log.Stop();

  engine::DiscardSink discard;
  engine::Engine recovered(engine::EngineOptions{}, discard);
  const RecoveryReport report = Recover(recovered, options_);
  EXPECT_EQ(report.campaigns, 1u);  // the other campaign is in the tail only
  for (const auto& [campaign, text] : handed_out) {
    SCOPED_TRACE(text);
    std::optional<engine::OrderId> id = engine::Engine::ParseOrderId(text);
    ASSERT_TRUE(id);
    auto read = recovered.GetOrder(*id, now_);
    ASSERT_EQ(read.outcome, Outcome::kOk);
    EXPECT_EQ(read.value->campaign, campaign);
    EXPECT_EQ(engine::Engine::OrderIdText(read.value->id).view(), text);
    engine::OrderId tampered = *id;
    tampered.tag ^= 1;
    EXPECT_EQ(recovered.GetOrder(tampered, now_).outcome, Outcome::kNotFound);
    EXPECT_EQ(recovered.ConfirmOrder(worker_, *id, read.value->user, now_).outcome, Outcome::kOk);
  }
}

TEST_F(RecoveryStackTest, ReplacedOwnersSalesCountNeitherInTheTailNorInMysql) {
  const engine::CampaignId coupon = Campaign("ro");
  Options first = options_;
  first.owner_epoch = TakeOwnership(options_);
  KafkaLog log(first);
  engine::Engine stale(engine::EngineOptions{}, log);
  log.Start(stale);
  Acks acks;
  auto created = stale.CreateCampaign(Coupon(coupon, 10), now_);
  ASSERT_EQ(created.outcome, Outcome::kCreated);
  acks.Await(log, created.ticket);
  auto claim = [&](int user) {
    auto granted = stale.ClaimCoupon(worker_, coupon, User(user), std::nullopt, now_);
    ASSERT_EQ(granted.outcome, Outcome::kCreated);
    acks.Await(log, granted.ticket);
  };
  for (int i = 0; i < 3; ++i)
    claim(i);
  acks.WaitAll();
  // Another engine takes over while this one, unaware (paused, say), sells two more: Kafka
  // takes them, the owner's fence is already in front of them.
  TakeOwnership(options_);
  claim(3);
  claim(4);
  acks.WaitAll();
  log.Stop();

  auto expect_only_the_owners_sales = [&](const engine::Engine& engine) {
    auto view = engine.GetCampaign(coupon, now_);
    ASSERT_TRUE(view.value.has_value());
    EXPECT_EQ(view.value->remaining, 7u);
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(engine.GetClaim(coupon, User(i)).value.has_value(), i < 3) << i;
  };
  // All from the tail: the campaign and three claims apply, two claims are stale.
  {
    engine::DiscardSink discard;
    engine::Engine recovered(engine::EngineOptions{}, discard);
    const RecoveryReport report = Recover(recovered, options_);
    EXPECT_EQ(report.events_replayed, 4u);
    EXPECT_EQ(report.stale_epoch_events, 2u);
    expect_only_the_owners_sales(recovered);
  }
  // The persister agrees, and recovery from its snapshot rebuilds the same.
  {
    Persister persister(options_);
    persister.Start();
    ASSERT_TRUE(WaitForOffsets(static_cast<std::int64_t>(log.probe()->Snapshot().persisted) +
                               2 * options_.topic_partitions));
    persister.Stop();
    EXPECT_EQ(persister.probe()->Snapshot().stale_epoch, 2u);
  }
  EXPECT_EQ(Number("SELECT COUNT(*) FROM claims"), 3);
  engine::DiscardSink discard;
  engine::Engine recovered(engine::EngineOptions{}, discard);
  const RecoveryReport report = Recover(recovered, options_);
  EXPECT_EQ(report.claims, 3u);
  EXPECT_EQ(report.events_replayed + report.stale_epoch_events, 0u);
  expect_only_the_owners_sales(recovered);
}

}  // namespace
}  // namespace hotdeal::persistence
