// The simulation driver (sim.h). One Simulation per seed: Setup creates the campaigns, Step
// draws one step kind and runs it against the engine, the fake log or the clock, CheckLive runs
// after every step and CheckRecovered after every crash.
//
// Adding a decision kind (coupon redeem, campaign pause, top-up): one StepKind with its weight
// in kStepWeights, one Do* method, and the promise or holdings rule its outcome adds to the
// checks (Promise, Holdings::Apply).
#include "sim.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "hotdeal/engine/engine.h"
#include "hotdeal/engine/names.h"
#include "world.h"

namespace hotdeal::sim {
namespace {

using engine::CampaignId;
using engine::CampaignKind;
using engine::Decision;
using engine::IdempotencyKey;
using engine::OrderId;
using engine::OrderRef;
using engine::OrderStatus;
using engine::Outcome;
using engine::TimePoint;
using engine::UserId;
using engine::WorkerId;

constexpr TimePoint kStart{std::chrono::seconds{1'700'000'000}};

// A broken invariant: ends the run with the message.
struct Broken : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(const std::string& what) {
  throw Broken(what);
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kCreated:
      return "created";
    case Outcome::kReplayed:
      return "replayed";
    case Outcome::kInvalid:
      return "invalid";
    case Outcome::kNotFound:
      return "not_found";
    case Outcome::kNotStarted:
      return "not_started";
    case Outcome::kEnded:
      return "ended";
    case Outcome::kPaused:
      return "paused";
    case Outcome::kSoldOut:
      return "sold_out";
    case Outcome::kAlreadyClaimed:
      return "already_claimed";
    case Outcome::kAlreadyRedeemed:
      return "already_redeemed";
    case Outcome::kExpired:
      return "expired";
    case Outcome::kLimitExceeded:
      return "limit_exceeded";
    case Outcome::kConflict:
      return "conflict";
    case Outcome::kOverCapacity:
      return "over_capacity";
    case Outcome::kCapacity:
      return "capacity";
    case Outcome::kLogUnavailable:
      return "log_unavailable";
    case Outcome::kInDoubt:
      return "in_doubt";
    case Outcome::kPending:
      return "pending";
  }
  return "unknown";
}

template <class Id>
Id MakeId(const std::string& text) {
  return *Id::Parse(text);
}

std::string Text(OrderId id) {
  return std::string(engine::Engine::OrderIdText(id).view());
}

std::string Text(engine::ClaimId id) {
  return std::string(engine::Engine::ClaimIdText(id).view());
}

// Statuses a promised order may read as later: moves only go forward, and cancelled or
// expired is final.
bool StillHolds(OrderStatus promised, OrderStatus shown) {
  switch (promised) {
    case OrderStatus::kReserved:
      return true;
    case OrderStatus::kConfirmed:
      return shown == OrderStatus::kConfirmed || shown == OrderStatus::kCancelled;
    case OrderStatus::kCancelled:
    case OrderStatus::kExpired:
      return shown == promised;
  }
  return false;
}

int Rank(OrderStatus status) {
  return status == OrderStatus::kReserved ? 0 : status == OrderStatus::kConfirmed ? 1 : 2;
}

enum class StepKind : std::uint8_t {
  kClaim,
  kOrder,
  kConfirm,
  kCancel,
  kRead,
  kExpire,
  kClock,
  kReport,
  kReappend,
  kSettle,
  kOutage,
  kPause,    // an admin pauses or resumes a campaign
  kUse,      // the shop's checkout redeems or restores a claimed coupon
  kChange,   // an admin tops up or takes back stock, or renames a campaign (PATCH)
  kArchive,  // an admin ends a campaign (PATCH ends_at) or archives an ended one (DELETE)
  kCrash,
  kCount,
};
// Base weights; each seed scales every one by 0..2, so some seeds are report-starved, some
// cancel-heavy, some crash often.
constexpr std::array<double, static_cast<std::size_t>(StepKind::kCount)> kStepWeights = {
    18, 18, 7, 7, 6, 4, 6, 26, 5, 4, 0.5, 1.5, 3, 2, 1.5, 0};

struct Campaign {
  engine::CampaignSpec spec;
  std::vector<UserId> users;
  std::uint32_t order_attempts = 0;  // answered kCreated or kLogUnavailable: a slot each
  bool paused = false;    // as the engine was last told (or, after a crash, as the log says)
  bool archived = false;  // likewise; the engine holds nothing of it then
  bool archive_unlogged = false;  // archived, and the log has not reported the archive yet
};

// A coupon's use as the model knows it: redeemed or not, and the order of its last change ("":
// never used).
struct CouponUse {
  bool redeemed = false;
  std::string order;
};

struct KnownOrder {
  OrderId id;
  std::size_t campaign = 0;
  UserId user;
};

// An in-doubt decision the settler holds: judged from the log, then its void appended until
// the log has it.
struct Doubt {
  engine::Event decision;
  std::optional<engine::Event> void_event;
};

class Simulation {
 public:
  Simulation(const SimOptions& options, Progress* progress)
      : options_(options), progress_(progress), rng_(options.seed), log_(rng_) {}

  SimResult Run() {
    try {
      Setup();
      for (step_ = 1; step_ <= options_.steps; ++step_) {
        Phase("step");
        Step();
        CheckLive();
      }
      Phase("final crash");
      Crash();
    } catch (const Broken& broken) {
      result_.ok = false;
      result_.failure = "seed " + std::to_string(options_.seed) + " step " + std::to_string(step_) +
                        " (after " + std::to_string(result_.counts.crashes) +
                        " crashes): " + broken.what();
    }
    result_.counts.steps = step_ > options_.steps ? options_.steps : step_;
    return result_;
  }

 private:
  // ---- setup -------------------------------------------------------------------------------

  void Setup() {
    engine_options_.workers = static_cast<std::uint32_t>(rng_.Range(1, 8));
    const bool durable = rng_.Chance(0.5);
    engine_options_.await_acknowledgement = options_.acks == SimOptions::Acks::kAny
                                                ? durable
                                                : options_.acks == SimOptions::Acks::kDurable;
    engine_options_.campaigns_max = 4;
    // This thread is every worker: a control call passes their quiescent points itself.
    engine_options_.workers_idle_in_control = true;
    engine_options_.stock_max = 64;
    // Large enough that no 8-way bucket fills in a run (the table's hash key is random).
    engine_options_.idempotency_keys_max = 1 << 16;
    for (std::size_t i = 0; i < weights_.size(); ++i)
      weights_[i] = kStepWeights[i] * static_cast<double>(rng_.Range(0, 4)) / 2;
    const double crashes = static_cast<double>(rng_.Range(0, options_.crashes_max));
    weights_[static_cast<std::size_t>(StepKind::kCrash)] = 100.0 * crashes / options_.steps;
    log_.refuse_probability = static_cast<double>(rng_.Range(0, 5)) / 100;
    persisted_ = 0.6 + static_cast<double>(rng_.Range(0, 35)) / 100;
    not_persisted_ = (1 - persisted_) * static_cast<double>(rng_.Range(0, 10)) / 10;
    engine_ = std::make_unique<engine::Engine>(engine_options_, log_);
    const auto count = static_cast<std::size_t>(rng_.Range(1, 3));
    for (std::size_t i = 0; i < count; ++i)
      CreateCampaign(i);
    Trace("workers " + std::to_string(engine_options_.workers) + ", durable acks " +
          (engine_options_.await_acknowledgement ? "on" : "off") + ", " + std::to_string(count) +
          " campaigns");
  }

  // A campaign named by `index`, for the model's campaigns_; false if the engine answered
  // kCapacity, which it must exactly when the model's table is full.
  bool CreateCampaign(std::size_t index) {
    Campaign campaign;
    engine::CampaignSpec& spec = campaign.spec;
    spec.id = MakeId<CampaignId>("c" + std::to_string(index));
    spec.kind = rng_.Chance(0.5) ? CampaignKind::kSale : CampaignKind::kCoupon;
    spec.name = "sale day";
    spec.stock = static_cast<std::uint32_t>(rng_.Range(1, 50));
    spec.starts_at = kStart;
    if (spec.kind == CampaignKind::kCoupon && rng_.Chance(0.5)) {
      // Terms ride on the creation into the log, MySQL and back (CheckTermsRecovered).
      spec.terms.discount =
          rng_.Chance(0.5) ? engine::DiscountKind::kPercent : engine::DiscountKind::kAmount;
      spec.terms.discount_value = rng_.Range(1, 100);
      spec.terms.min_spend = rng_.Range(0, 10'000);
      spec.terms.valid_seconds = static_cast<std::uint32_t>(rng_.Range(1, 3'600));
    }
    if (spec.kind == CampaignKind::kSale) {
      spec.per_user_limit = static_cast<std::uint32_t>(rng_.Range(1, 5));
      spec.price = 100;
      spec.hold_seconds = static_cast<std::uint32_t>(rng_.Range(1, 30));
    }
    const auto users =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(options_.users_per_unit * spec.stock));
    const std::string user_prefix = "u" + std::to_string(index) + "-";
    for (std::int64_t u = 0; u < users; ++u)
      campaign.users.push_back(MakeId<UserId>(user_prefix + std::to_string(u)));
    // The admin retries a creation the log refused.
    Decision<engine::CampaignView> d;
    do {
      d = engine_->CreateCampaign(spec, now_);
    } while (d.outcome == Outcome::kLogUnavailable);
    TakeAppended();
    std::size_t held = 0;  // places taken: live campaigns and archives not yet logged
    for (const Campaign& other : campaigns_)
      held += !other.archived || other.archive_unlogged ? 1 : 0;
    const bool full = held >= engine_options_.campaigns_max;
    if (d.outcome == Outcome::kCapacity && full) return false;
    if (d.outcome != Outcome::kCreated || full)
      Fail("creating " + std::string(spec.id.view()) + " with " + std::to_string(held) +
           " places taken answered " + std::string(OutcomeName(d.outcome)));
    // Creations are always persisted here: a lost creation only withdraws the campaign, and
    // a campaign whose creation is in doubt sells nothing until a restart.
    auto created =
        std::find_if(log_.in_flight.begin(), log_.in_flight.end(),
                     [&](const Appended& entry) { return entry.ticket == d.ticket.value; });
    if (created == log_.in_flight.end()) Fail("a creation answered created is not in flight");
    log_.Persist(created->event);
    engine_->Acknowledge(created->event);
    log_.in_flight.erase(created);
    Trace("campaign " + std::string(spec.id.view()) + ": " + std::string(engine::Name(spec.kind)) +
          ", stock " + std::to_string(spec.stock) + ", limit " +
          std::to_string(spec.per_user_limit) + ", hold " + std::to_string(spec.hold_seconds) +
          "s, " + std::to_string(campaign.users.size()) + " users");
    campaigns_.push_back(std::move(campaign));
    return true;
  }

  // ---- steps -------------------------------------------------------------------------------

  void Step() {
    double total = 0;
    for (double w : weights_)
      total += w;
    double pick = static_cast<double>(rng_.Below(1'000'000)) / 1'000'000 * total;
    std::size_t kind = 0;
    while (kind + 1 < weights_.size() && pick >= weights_[kind]) {
      pick -= weights_[kind];
      ++kind;
    }
    switch (static_cast<StepKind>(kind)) {
      case StepKind::kClaim:
        return DoClaim();
      case StepKind::kOrder:
        return DoOrder();
      case StepKind::kConfirm:
        return DoMove(/*confirm=*/true);
      case StepKind::kCancel:
        return DoMove(/*confirm=*/false);
      case StepKind::kRead:
        return DoRead();
      case StepKind::kExpire:
        return DoExpire();
      case StepKind::kClock:
        return DoClock();
      case StepKind::kReport:
        return DoReport();
      case StepKind::kReappend:
        return DoReappend();
      case StepKind::kSettle:
        return DoSettle();
      case StepKind::kOutage:
        log_.down = !log_.down;
        return Trace(log_.down ? "log outage begins" : "log outage ends");
      case StepKind::kPause:
        return DoPause();
      case StepKind::kChange:
        return DoChange();
      case StepKind::kUse:
        return DoUse();
      case StepKind::kArchive:
        return DoArchive();
      case StepKind::kCrash:
        if (result_.counts.crashes < options_.crashes_max) Crash();
        return;
      case StepKind::kCount:
        return;
    }
  }

  WorkerId AnyWorker() {
    return WorkerId{static_cast<std::uint32_t>(rng_.Below(engine_options_.workers))};
  }

  // A campaign the engine holds (not archived), of `kind` if given.
  std::optional<std::size_t> AnyCampaign(std::optional<CampaignKind> kind = std::nullopt) {
    std::vector<std::size_t> matching;
    for (std::size_t i = 0; i < campaigns_.size(); ++i)
      if (!campaigns_[i].archived && (!kind || campaigns_[i].spec.kind == *kind))
        matching.push_back(i);
    if (matching.empty()) return std::nullopt;
    return matching[rng_.Below(matching.size())];
  }

  // No key, a new one, or one the user sent before (a retry or a duplicate request).
  std::optional<IdempotencyKey> AnyKey(std::size_t campaign, const UserId& user) {
    const std::uint64_t roll = rng_.Below(4);
    if (roll < 2) return std::nullopt;
    std::vector<std::string>& used = keys_used_[{campaign, std::string(user.view())}];
    if (roll == 3 && !used.empty()) return MakeId<IdempotencyKey>(used[rng_.Below(used.size())]);
    used.push_back("k" + std::to_string(++keys_made_));
    return MakeId<IdempotencyKey>(used.back());
  }

  std::string KeyName(std::size_t campaign, const UserId& user,
                      const std::optional<IdempotencyKey>& key) {
    return std::to_string(campaign) + "/" + std::string(user.view()) + "/" +
           std::string(key ? key->view() : "");
  }

  void DoClaim() {
    const std::optional<std::size_t> c = AnyCampaign(CampaignKind::kCoupon);
    if (!c) return;
    Campaign& campaign = campaigns_[*c];
    const UserId user = campaign.users[rng_.Below(campaign.users.size())];
    const std::optional<IdempotencyKey> key = AnyKey(*c, user);
    const WorkerId worker = AnyWorker();
    const std::uint32_t remaining = Books(*c).remaining;
    Decision<engine::Claim> d = engine_->ClaimCoupon(worker, campaign.spec.id, user, key, now_);
    TakeAppended();
    CheckPauseAnswer(campaign, d.outcome);
    Trace("claim w" + std::to_string(worker.value) + " " + std::string(campaign.spec.id.view()) +
          " " + std::string(user.view()) + (key ? " key " + std::string(key->view()) : "") +
          " -> " + std::string(OutcomeName(d.outcome)));
    switch (d.outcome) {
      case Outcome::kCreated:
        ++result_.counts.claims;
        if (key) KeyDecided(KeyName(*c, user, key), user, d.value->id.value);
        log_.Await(d.ticket, {Promise::Kind::kClaim, *d.value, {}});
        return;
      case Outcome::kReplayed:
        CheckReplay(KeyName(*c, user, key), d.value->id.value);
        return RevealClaim(*d.value);
      case Outcome::kAlreadyClaimed:
        return RevealClaim(*d.value);
      case Outcome::kSoldOut:
      case Outcome::kOverCapacity:
        if (remaining >= 1) WornOut("claim", d.outcome, remaining, 1);
        return;
      case Outcome::kLogUnavailable:
      case Outcome::kPending:
      case Outcome::kInDoubt:
      case Outcome::kPaused:
      case Outcome::kEnded:
        return;
      default:
        Fail("claim answered " + std::string(OutcomeName(d.outcome)));
    }
  }

  // At or after its ends_at as the model has it.
  bool Ended(const Campaign& campaign) const {
    return campaign.spec.ends_at && now_ >= *campaign.spec.ends_at;
  }

  // Claims and orders answer kPaused only while paused and kEnded only once ended, and nothing
  // is granted then.
  void CheckPauseAnswer(const Campaign& campaign, Outcome outcome) {
    if (outcome == Outcome::kEnded && !Ended(campaign))
      Fail(std::string(campaign.spec.id.view()) + " answered ended before its ends_at");
    if (Ended(campaign) && outcome == Outcome::kCreated)
      Fail(std::string(campaign.spec.id.view()) + " granted after its ends_at");
    if (Ended(campaign)) return;  // an ended campaign answers ended, paused or not
    if (outcome == Outcome::kPaused && !campaign.paused)
      Fail(std::string(campaign.spec.id.view()) + " answered paused while not paused");
    // Answers decided by the Idempotency-Key before the window (a replay, a wait, a spent key)
    // may come while paused; a new decision may not.
    if (campaign.paused && outcome == Outcome::kCreated)
      Fail(std::string(campaign.spec.id.view()) + " granted while paused");
  }

  // The admin flips a campaign: kOk stands at once (the event is appended until the log has
  // it); a refused append changes nothing.
  void DoPause() {
    const std::optional<std::size_t> c = AnyCampaign();
    if (!c) return;
    Campaign& campaign = campaigns_[*c];
    const bool pause = !campaign.paused;
    Decision<engine::CampaignView> d = pause ? engine_->PauseCampaign(campaign.spec.id, now_)
                                             : engine_->ResumeCampaign(campaign.spec.id, now_);
    TakeAppended();
    Trace(std::string(pause ? "pause " : "resume ") + std::string(campaign.spec.id.view()) +
          " -> " + std::string(OutcomeName(d.outcome)));
    if (d.outcome == Outcome::kOk) {
      campaign.paused = pause;
      if (Ended(campaign) != (d.value->status == engine::CampaignStatus::kEnded))
        Fail("a pause or resume of " + std::string(campaign.spec.id.view()) + " shows status " +
             std::string(engine::Name(d.value->status)));
      if (!Ended(campaign) && (d.value->status == engine::CampaignStatus::kPaused) != pause)
        Fail("a " + std::string(pause ? "pause" : "resume") + " answered ok shows status " +
             std::string(engine::Name(d.value->status)));
    } else if (d.outcome != Outcome::kLogUnavailable) {
      Fail("a pause or resume answered " + std::string(OutcomeName(d.outcome)));
    }
  }

  // An admin's PATCH. Stock moves by a top-up or a take-back of a few units, sometimes more than
  // the table holds or than is free; a rename rides along. The answer must be the model's: kOk
  // with the new stock, kConflict only for a take-back of more than is free, kCapacity only past
  // stock_max, kInvalid only for a stock below 1; a refused append changes nothing.
  void DoChange() {
    const std::optional<std::size_t> any = AnyCampaign();
    if (!any) return;
    const std::size_t c = *any;
    Campaign& campaign = campaigns_[c];
    engine::CampaignChange change;
    std::int64_t add = rng_.Range(1, 8);
    if (rng_.Chance(0.5)) add = -add;
    if (rng_.Chance(0.8)) change.stock_add = add;
    if (!change.stock_add || rng_.Chance(0.2)) change.name = "sale day " + std::to_string(step_);
    add = change.stock_add.value_or(0);
    const engine::CampaignBooks before = Books(c);
    const std::int64_t stock = std::int64_t{campaign.spec.stock} + add;
    Decision<engine::CampaignView> d = engine_->ChangeCampaign(campaign.spec.id, change, now_);
    TakeAppended();
    Trace("change " + std::string(campaign.spec.id.view()) + " stock " + std::to_string(add) +
          (change.name ? " name" : "") + " -> " + std::string(OutcomeName(d.outcome)));
    const bool conflict = add < 0 && -add > std::int64_t{before.remaining};
    const bool over = stock > std::int64_t{before.stock_max};
    const bool invalid = stock < 1;
    auto expect = [&](bool ok, const char* what) {
      if (!ok)
        Fail("a change by " + std::to_string(add) + " of " + std::string(campaign.spec.id.view()) +
             " (stock " + std::to_string(campaign.spec.stock) + ", remaining " +
             std::to_string(before.remaining) + ") answered " + what);
    };
    switch (d.outcome) {
      case Outcome::kOk:
        expect(!conflict && !over && !invalid, "ok");
        expect(d.value->spec.stock == stock, "ok with another stock");
        campaign.spec.stock = static_cast<std::uint32_t>(stock);
        if (change.name) campaign.spec.name = *change.name;
        ++result_.counts.changes;
        return;
      case Outcome::kConflict:
        return expect(conflict && !invalid && !over, "conflict");
      case Outcome::kCapacity:
        return expect(over && !invalid, "capacity");
      case Outcome::kInvalid:
        return expect(invalid, "invalid");
      case Outcome::kLogUnavailable:
        return;
      default:
        return expect(false, OutcomeName(d.outcome).data());
    }
  }

  // A sale's last day: the admin ends a campaign by moving its ends_at to now, and archives an
  // ended one. The archive's answer must be the model's: kOk only for a campaign with nothing
  // in play (no live reservation, nothing in doubt, no top-up waiting for the log, every coupon
  // redeemed or expired), else kConflict; a
  // refused append changes nothing. Each archive frees a place, which the next sale takes.
  void DoArchive() {
    const std::optional<std::size_t> c = AnyCampaign();
    if (!c) return;
    Campaign& campaign = campaigns_[*c];
    const std::string id(campaign.spec.id.view());
    if (!Ended(campaign)) {
      if (now_ <= campaign.spec.starts_at) return;  // an end must come after the start
      engine::CampaignChange change;
      change.ends_at = std::optional<TimePoint>(now_);
      Decision<engine::CampaignView> d = engine_->ChangeCampaign(campaign.spec.id, change, now_);
      TakeAppended();
      Trace("end " + id + " -> " + std::string(OutcomeName(d.outcome)));
      if (d.outcome == Outcome::kOk) {
        campaign.spec.ends_at = now_;
        if (d.value->status != engine::CampaignStatus::kEnded)
          Fail("an end of " + id + " shows " + std::string(engine::Name(d.value->status)));
        ++result_.counts.changes;
      } else if (d.outcome != Outcome::kLogUnavailable) {
        Fail("an end of " + id + " answered " + std::string(OutcomeName(d.outcome)));
      }
      return;
    }
    const engine::CampaignBooks b = Books(*c);
    // Every coupon redeemed, or past its expiry: valid_seconds after a claim, which came before
    // the end.
    const engine::CouponTerms& terms = campaign.spec.terms;
    const bool expired = terms.valid_seconds != 0 && campaign.spec.ends_at &&
                         now_ >= *campaign.spec.ends_at + std::chrono::seconds{terms.valid_seconds};
    const bool spent =
        campaign.spec.kind == CampaignKind::kSale || b.claimed == b.redeemed || expired;
    const bool archivable =
        b.held == 0 && b.in_doubt == 0 && b.stock == campaign.spec.stock && spent;
    Decision<engine::CampaignView> d = engine_->ArchiveCampaign(campaign.spec.id, now_);
    TakeAppended();
    Trace("archive " + id + " (held " + std::to_string(b.held) + ", in doubt " +
          std::to_string(b.in_doubt) + ", claimed " + std::to_string(b.claimed) + ", redeemed " +
          std::to_string(b.redeemed) + ") -> " + std::string(OutcomeName(d.outcome)));
    switch (d.outcome) {
      case Outcome::kOk:
        if (!archivable) Fail("archived " + id + " with units or coupons still in play");
        campaign.archived = true;
        campaign.archive_unlogged = true;
        ++result_.counts.archives;
        if (engine_->GetCampaign(campaign.spec.id, now_).outcome != Outcome::kNotFound ||
            engine_->Books(campaign.spec.id))
          Fail("archived " + id + " is still found");
        // The next day's sale, in the place the archive frees once the log has it.
        if (!log_.down) CreateCampaign(campaigns_.size());
        return;
      case Outcome::kConflict:
        if (archivable) Fail("an archive of " + id + " with nothing in play answered conflict");
        return;
      case Outcome::kLogUnavailable:
        return;
      default:
        Fail("an archive of " + id + " answered " + std::string(OutcomeName(d.outcome)));
    }
  }

  // After recovery a campaign is archived exactly when the log has its archive (appended until
  // persisted, so a crash before then brings it back, whole); an archived one is found by
  // nothing, and its place is free.
  void CheckArchivesAsLogged() {
    for (Campaign& campaign : campaigns_) {
      campaign.archived = Logged(campaign.spec.id, engine::EventType::kCampaignArchived);
      campaign.archive_unlogged = false;
      const bool found = engine_->GetCampaign(campaign.spec.id, now_).outcome == Outcome::kOk;
      if (found == campaign.archived)
        Fail("recovered " + std::string(campaign.spec.id.view()) +
             (found ? " although the log has its archive" : " as archived, or lost it"));
    }
  }

  // After recovery a campaign's stock and name are its newest change's in the log (by seq), or
  // its creation's; with nothing topping up, the books' stock is all of it.
  void CheckChangesAsLogged() {
    for (std::size_t c = 0; c < campaigns_.size(); ++c) {
      Campaign& campaign = campaigns_[c];
      if (campaign.archived) continue;
      std::uint64_t newest = 0;
      if (auto it = log_.kafka.find(campaign.spec.id.view()); it != log_.kafka.end()) {
        for (const engine::Event& e : it->second) {
          if (e.type == engine::EventType::kCampaignCreated && newest == 0) {
            campaign.spec.stock = e.spec.stock;
            campaign.spec.name = e.spec.name;
            campaign.spec.ends_at = e.spec.ends_at;
          }
          if (e.type == engine::EventType::kCampaignChanged && e.seq > newest) {
            newest = e.seq;
            campaign.spec.stock = e.spec.stock;
            campaign.spec.name = e.spec.name;
            campaign.spec.ends_at = e.spec.ends_at;
          }
        }
      }
      const engine::CampaignSpec shown = engine_->GetCampaign(campaign.spec.id, now_).value->spec;
      if (shown.ends_at != campaign.spec.ends_at)
        Fail("recovered " + std::string(campaign.spec.id.view()) +
             " with another ends_at than its newest change in the log");
      if (shown.stock != campaign.spec.stock || Books(c).stock != campaign.spec.stock ||
          shown.name != campaign.spec.name) {
        Fail("recovered " + std::string(campaign.spec.id.view()) + " with stock " +
             std::to_string(shown.stock) + " (books " + std::to_string(Books(c).stock) +
             ") named \"" + shown.name + "\", the log says " + std::to_string(campaign.spec.stock) +
             " named \"" + campaign.spec.name + "\"");
      }
    }
  }

  // After recovery a campaign is paused as its newest pause or resume in the log says (by seq:
  // an event appended again may land after a newer one).
  void CheckPausedAsLogged() {
    for (Campaign& campaign : campaigns_) {
      if (campaign.archived) continue;
      std::uint64_t newest = 0;
      bool paused = false;
      if (auto it = log_.kafka.find(campaign.spec.id.view()); it != log_.kafka.end()) {
        for (const engine::Event& e : it->second) {
          const bool flip = e.type == engine::EventType::kCampaignPaused ||
                            e.type == engine::EventType::kCampaignResumed;
          if (flip && e.seq > newest) {
            newest = e.seq;
            paused = e.type == engine::EventType::kCampaignPaused;
          }
        }
      }
      campaign.paused = paused;
      const engine::CampaignStatus status =
          engine_->GetCampaign(campaign.spec.id, now_).value->status;
      if (Ended(campaign) != (status == engine::CampaignStatus::kEnded))
        Fail("recovered " + std::string(campaign.spec.id.view()) + " shows " +
             std::string(engine::Name(status)) + " against its ends_at");
      if (!Ended(campaign) && (status == engine::CampaignStatus::kPaused) != paused)
        Fail("recovered " + std::string(campaign.spec.id.view()) + " shows " +
             std::string(engine::Name(status)) + ", the log says " +
             (paused ? "paused" : "not paused"));
    }
  }

  // A checkout redeems (or, its order cancelled, restores) a coupon on one of three orders. The
  // answer must be the model's: a coupon is redeemed on at most one order at a time, a second
  // order is refused, only the order it was redeemed on restores it, and only an issued coupon
  // past its expires_at is refused as expired.
  void DoUse() {
    const std::optional<std::size_t> c = AnyCampaign(CampaignKind::kCoupon);
    if (!c) return;
    Campaign& campaign = campaigns_[*c];
    const UserId user = campaign.users[rng_.Below(campaign.users.size())];
    Decision<engine::Claim> held = engine_->GetClaim(campaign.spec.id, user);
    if (held.outcome != Outcome::kOk) return;  // none, or not final: nothing to use yet
    const std::string code(held.value->coupon_code.view());
    const bool redeem = rng_.Below(2) == 0;
    const std::string order = "o" + std::to_string(rng_.Below(3));
    const WorkerId worker = AnyWorker();
    Decision<engine::Claim> d =
        redeem ? engine_->RedeemCoupon(worker, code, user, MakeId<OrderRef>(order), now_)
               : engine_->RestoreCoupon(worker, code, user, MakeId<OrderRef>(order), now_);
    TakeAppended();
    Trace(std::string(redeem ? "redeem " : "restore ") + std::string(campaign.spec.id.view()) +
          " " + std::string(user.view()) + " " + order + " -> " +
          std::string(OutcomeName(d.outcome)));
    CouponUse& model = uses_[held.value->id.value];
    const bool expired = held.value->StatusAt(now_) == engine::CouponStatus::kExpired;
    switch (d.outcome) {
      case Outcome::kOk:
        if (redeem && model.redeemed && model.order != order)
          Fail("a coupon redeemed on " + model.order + " was redeemed again on " + order);
        if (!redeem && model.order != order)
          Fail("a coupon last used on \"" + model.order + "\" was restored by " + order);
        if (redeem && !model.redeemed && expired) Fail("an expired coupon was redeemed");
        if (d.value->redeemed != redeem) Fail("a use answered ok shows the other state");
        model = {redeem, order};
        return;
      case Outcome::kAlreadyRedeemed:
        if (!redeem || !model.redeemed || model.order == order)
          Fail("already_redeemed answered to " + order + " of a coupon not redeemed elsewhere");
        return;
      case Outcome::kConflict:
        if (redeem || model.order == order) Fail("a restore by its own order was refused");
        return;
      case Outcome::kExpired:
        if (!redeem || model.redeemed || !expired) Fail("expired answered to a usable coupon");
        return;
      case Outcome::kLogUnavailable:
      case Outcome::kPending:
      case Outcome::kInDoubt:
        return;
      default:
        Fail("a coupon use answered " + std::string(OutcomeName(d.outcome)));
    }
  }

  // After recovery each claim's coupon is used as its newest change in the log says (by `use`:
  // a change appended again may land after a newer one), and the model starts from there.
  // A change logged before its claim's grant is an orphan, as replay finds it: a claim the log
  // lost (--ack memory) left its redeem behind, and after the restart its worker's serial, so
  // its id, went to a new claim.
  void CheckUseAsLogged() {
    uses_.clear();
    std::map<std::uint64_t, std::uint32_t> newest;
    std::set<std::uint64_t> granted;
    for (const auto& [campaign, events] : log_.kafka) {
      for (const engine::Event& e : events) {
        if (e.type == engine::EventType::kClaimGranted) {
          granted.insert(e.claim_id.value);
          newest.erase(e.claim_id.value);
          uses_.erase(e.claim_id.value);
        }
        if (e.type == engine::EventType::kClaimVoided) granted.erase(e.claim_id.value);
        const bool use = e.type == engine::EventType::kCouponRedeemed ||
                         e.type == engine::EventType::kCouponRestored;
        if (!use || !granted.count(e.claim_id.value) || e.use <= newest[e.claim_id.value]) continue;
        newest[e.claim_id.value] = e.use;
        uses_[e.claim_id.value] = {e.type == engine::EventType::kCouponRedeemed,
                                   std::string(e.order_ref.view())};
      }
    }
    for (const Campaign& campaign : campaigns_) {
      if (campaign.spec.kind != CampaignKind::kCoupon || campaign.archived) continue;
      for (const UserId& user : campaign.users) {
        Decision<engine::Claim> held = engine_->GetClaim(campaign.spec.id, user);
        if (!held.value) continue;
        const bool logged = uses_[held.value->id.value].redeemed;
        if (held.value->redeemed != logged)
          Fail("recovered " + std::string(user.view()) + "'s coupon of " +
               std::string(campaign.spec.id.view()) + " as " +
               (held.value->redeemed ? "redeemed" : "issued") + ", the log says otherwise");
      }
    }
  }

  void CheckTermsRecovered() {
    for (const Campaign& campaign : campaigns_) {
      if (campaign.archived) continue;
      if (!(engine_->GetCampaign(campaign.spec.id, now_).value->spec.terms == campaign.spec.terms))
        Fail("recovered " + std::string(campaign.spec.id.view()) + " with other coupon terms");
    }
  }

  void DoOrder() {
    const std::optional<std::size_t> c = AnyCampaign(CampaignKind::kSale);
    if (!c) return;
    Campaign& campaign = campaigns_[*c];
    if (options_.orders_per_unit > 0 &&
        campaign.order_attempts >= std::max(1.0, options_.orders_per_unit * campaign.spec.stock))
      return;
    const UserId user = campaign.users[rng_.Below(campaign.users.size())];
    const auto quantity = static_cast<std::uint32_t>(rng_.Range(1, campaign.spec.per_user_limit));
    const std::optional<IdempotencyKey> key = AnyKey(*c, user);
    const WorkerId worker = AnyWorker();
    const std::uint32_t remaining = Books(*c).remaining;
    const std::int64_t held = holdings_.UserUnits(campaign.spec.id.view(), user);
    Decision<engine::Order> d =
        engine_->PlaceOrder(worker, campaign.spec.id, user, quantity, key, now_);
    TakeAppended();
    CheckPauseAnswer(campaign, d.outcome);
    Trace("order w" + std::to_string(worker.value) + " " + std::string(campaign.spec.id.view()) +
          " " + std::string(user.view()) + " x" + std::to_string(quantity) +
          (key ? " key " + std::string(key->view()) : "") + " -> " +
          std::string(OutcomeName(d.outcome)) + (d.value ? " " + Text(d.value->id) : ""));
    switch (d.outcome) {
      case Outcome::kCreated:
        ++result_.counts.orders;
        ++campaign.order_attempts;
        orders_.push_back({d.value->id, *c, user});
        tagged_[d.value->id.value] = d.value->id;
        if (key) KeyDecided(KeyName(*c, user, key), user, d.value->id.value);
        log_.Await(d.ticket, {Promise::Kind::kOrderStatus, {}, *d.value});
        return;
      case Outcome::kLogUnavailable:
        ++campaign.order_attempts;
        return;
      case Outcome::kReplayed:
        CheckReplay(KeyName(*c, user, key), d.value->id.value);
        return RevealOrder(*d.value, /*as_reserved=*/true);
      case Outcome::kLimitExceeded:
        if (held + quantity <= campaign.spec.per_user_limit) {
          Fail("order x" + std::to_string(quantity) + " of " + std::string(user.view()) +
               " answered limit_exceeded while the user holds " + std::to_string(held) +
               " of limit " + std::to_string(campaign.spec.per_user_limit));
        }
        return;
      case Outcome::kSoldOut:
      case Outcome::kOverCapacity:
        if (remaining >= quantity) WornOut("order", d.outcome, remaining, quantity);
        return;
      case Outcome::kConflict:
        // A key whose order ended and whose slot was reused since: the first answer is gone.
        if (key && KeysEndedOrder(KeyName(*c, user, key), user)) return;
        Fail("order answered conflict");
        return;
      case Outcome::kPending:
      case Outcome::kInDoubt:
      case Outcome::kPaused:
      case Outcome::kEnded:
        return;
      default:
        Fail("order answered " + std::string(OutcomeName(d.outcome)));
    }
  }

  void DoMove(bool confirm) {
    if (orders_.empty()) return;
    const KnownOrder& order = orders_[rng_.Below(orders_.size())];
    Campaign& campaign = campaigns_[order.campaign];
    const bool owner = rng_.Below(10) != 0;
    const UserId user = owner ? order.user : campaign.users[rng_.Below(campaign.users.size())];
    const WorkerId worker = AnyWorker();
    // The id may name another user's order now: a slot whose order the log lost is handed out
    // again after a restart.
    auto held = holdings_.orders().find(order.id.value);
    const bool known =
        held != holdings_.orders().end() && held->second.user == order.user && Live(held->second);
    Decision<engine::Order> d = confirm ? engine_->ConfirmOrder(worker, order.id, user, now_)
                                        : engine_->CancelOrder(worker, order.id, user, now_);
    TakeAppended();
    Trace(std::string(confirm ? "confirm" : "cancel") + " w" + std::to_string(worker.value) + " " +
          Text(order.id) + " by " + std::string(user.view()) + " -> " +
          std::string(OutcomeName(d.outcome)) +
          (d.value ? " " + std::string(engine::Name(d.value->status)) : ""));
    const OrderStatus target = confirm ? OrderStatus::kConfirmed : OrderStatus::kCancelled;
    switch (d.outcome) {
      case Outcome::kOk:
        if (held == holdings_.orders().end() || !(held->second.user == user))
          Fail("a user moved order " + Text(order.id) + " that is not theirs");
        if (d.ticket.value != 0) {
          engine::Order moved = *d.value;
          moved.status = target;
          log_.Await(d.ticket, {Promise::Kind::kOrderStatus, {}, moved});
          return;
        }
        return RevealOrder(*d.value);  // moved already: the same request again
      case Outcome::kConflict:
        return RevealOrder(*d.value);
      case Outcome::kNotFound:
        if (user == order.user && known && !campaign.archived)
          Fail("the owner's " + std::string(confirm ? "confirm" : "cancel") + " of " +
               Text(order.id) + " answered not_found, but the order was decided");
        return;
      case Outcome::kLogUnavailable:
      case Outcome::kPending:
      case Outcome::kInDoubt:
        return;
      default:
        Fail(std::string(confirm ? "confirm" : "cancel") + " answered " +
             std::string(OutcomeName(d.outcome)));
    }
  }

  void DoRead() {
    if (rng_.Chance(0.5) && !orders_.empty()) {
      const KnownOrder& order = orders_[rng_.Below(orders_.size())];
      Decision<engine::Order> d = engine_->GetOrder(order.id, now_);
      if (d.outcome == Outcome::kOk) RevealOrder(*d.value);
      return;
    }
    const std::optional<std::size_t> c = AnyCampaign(CampaignKind::kCoupon);
    if (!c) return;
    const Campaign& campaign = campaigns_[*c];
    Decision<engine::Claim> d =
        engine_->GetClaim(campaign.spec.id, campaign.users[rng_.Below(campaign.users.size())]);
    if (d.outcome == Outcome::kOk) RevealClaim(*d.value);
  }

  void DoExpire() {
    const WorkerId worker = AnyWorker();
    const std::size_t expired = engine_->ExpireDue(worker, now_);
    TakeAppended();
    Trace("expire w" + std::to_string(worker.value) + " -> " + std::to_string(expired));
  }

  void DoClock() {
    const std::int64_t micros =
        rng_.Chance(0.1) ? rng_.Range(0, 40'000'000) : rng_.Range(0, 2'000'000);
    now_ += std::chrono::microseconds{micros};
    Trace("clock +" + std::to_string(micros) + "us");
  }

  // A report of an event in flight, in any order: persisted, not persisted or possibly
  // persisted, handled as KafkaLog::Settle does.
  void DoReport() {
    if (log_.in_flight.empty()) return;
    const std::size_t i = rng_.Below(log_.in_flight.size());
    const double roll = static_cast<double>(rng_.Below(1000)) / 1000;
    bool persisted = roll < persisted_;
    const bool doubtful = roll >= persisted_ + not_persisted_;
    // Possibly persisted: whether it really is in the log is the world's choice, not the log's.
    if (!log_.in_flight[i].landed) log_.Land(i, persisted || (doubtful && rng_.Chance(0.5)));
    // A certain report agrees with where the attempt landed.
    if (!doubtful) persisted = *log_.in_flight[i].landed;
    Appended entry = std::move(log_.in_flight[i]);
    log_.in_flight.erase(log_.in_flight.begin() + static_cast<std::ptrdiff_t>(i));
    const engine::Event& e = entry.event;
    if (persisted) {
      Trace("report persisted: " + Describe(e));
    } else {
      Trace(std::string(doubtful ? "report possibly persisted (" : "report not persisted (") +
            (*entry.landed ? "in the log): " : "not in the log): ") + Describe(e));
    }
    // The settler's own voids: its waiter, not the engine's report, acts on them.
    if (entry.settler_void) {
      if (!persisted) return log_.reappend.push_back(std::move(entry));
      engine_->ApplyVoid(e);
      holdings_.Drop(e);
      return;
    }
    const engine::Durability durability = persisted  ? engine::Durability::kPersisted
                                          : doubtful ? engine::Durability::kPossiblyPersisted
                                                     : engine::Durability::kNotPersisted;
    if (persisted && e.type == engine::EventType::kCampaignArchived) {
      for (Campaign& campaign : campaigns_)
        if (campaign.spec.id == e.campaign) campaign.archive_unlogged = false;
    }
    // The engine's one report entry, as KafkaLog calls it.
    switch (engine_->Report(e, durability)) {
      case engine::LogReports::Next::kDone:
        if (!persisted) return holdings_.Revert(e);
        if (EndWaitsForTheLog(e)) holdings_.Apply(e);
        return Keep(entry.promise);
      case engine::LogReports::Next::kAppendAgain:
        return log_.reappend.push_back(std::move(entry));
      case engine::LogReports::Next::kSettle:
        doubts_.push_back({e, std::nullopt});
        ++result_.counts.in_doubt;
        return;
    }
  }

  void DoReappend() {
    if (log_.reappend.empty()) return;
    const std::size_t i = rng_.Below(log_.reappend.size());
    if (!log_.Reappend(log_.reappend[i])) return;
    Trace("appended again: " + Describe(log_.reappend[i].event));
    log_.reappend.erase(log_.reappend.begin() + static_cast<std::ptrdiff_t>(i));
  }

  // The settler's protocol (in_doubt_settler.cc): judge from the log; absent, append the void,
  // and restock only once the void is persisted (DoReport).
  void DoSettle() {
    if (doubts_.empty()) return;
    const std::size_t i = rng_.Below(doubts_.size());
    Doubt& doubt = doubts_[i];
    if (!doubt.void_event) {
      const bool found = log_.InLog(doubt.decision);
      doubt.void_event = engine_->SettleInDoubt(doubt.decision, found);
      Trace(std::string("settle ") + (found ? "found: " : "absent: ") + Describe(doubt.decision));
      if (!doubt.void_event) {
        doubts_.erase(doubts_.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      }
    }
    if (log_.AppendVoid(*doubt.void_event)) {
      Trace("void appended: " + Describe(*doubt.void_event));
      doubts_.erase(doubts_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  // The log's events in log order: a void drops what it voids, as replay applies it.
  static void Fold(Holdings& holdings, const engine::Event& e) {
    if (e.type == engine::EventType::kClaimVoided || e.type == engine::EventType::kOrderVoided) {
      holdings.Drop(e);
    } else {
      holdings.Apply(e);
    }
  }

  void TakeAppended() {
    for (const engine::Event& e : log_.TakeAppended())
      if (!EndWaitsForTheLog(e)) holdings_.Apply(e);
  }

  // An order's end gives its units back only once the log has it (Engine::Acknowledge; the
  // fake log's tickets are never 0); the live holdings apply it then (DoReport).
  static bool EndWaitsForTheLog(const engine::Event& e) {
    return e.type == engine::EventType::kOrderCancelled ||
           e.type == engine::EventType::kOrderExpired;
  }

  // ---- what clients were told ----------------------------------------------------------------

  // A 201 (or 200) a client got: it must hold for ever after.
  void Keep(const Promise& promise) {
    if (promise.kind == Promise::Kind::kClaim) return PromiseClaim(promise.claim);
    if (promise.kind == Promise::Kind::kOrderStatus) return PromiseOrder(promise.order);
  }

  void PromiseClaim(const engine::Claim& claim) {
    auto [it, fresh] = promised_claims_.try_emplace(
        {std::string(claim.campaign.view()), std::string(claim.user.view())}, claim);
    if (!fresh && !(it->second.id == claim.id)) {
      Fail("user " + std::string(claim.user.view()) + " was promised two claims");
    }
    result_.counts.promises += fresh ? 1 : 0;
  }

  void PromiseOrder(const engine::Order& order) {
    auto it = promised_orders_.find(order.id.value);
    if (it == promised_orders_.end()) {
      // With acks from memory a move can be logged for a reservation the log lost (a documented
      // loss of --ack memory): only moves of a promised reservation are promises.
      if (order.status != OrderStatus::kReserved) return;
      promised_orders_.emplace(order.id.value, order);
      ++result_.counts.promises;
      return;
    }
    // A move's report may come after the report of the move that followed it (acks from
    // memory): the later status stands.
    if (StillHolds(order.status, it->second.status)) return;
    if (!StillHolds(it->second.status, order.status)) {
      Fail("order " + Text(order.id) + " was promised " +
           std::string(engine::Name(it->second.status)) + " and then " +
           std::string(engine::Name(order.status)));
    }
    if (Rank(order.status) > Rank(it->second.status)) it->second.status = order.status;
  }

  // A value the engine showed a client. With durable acks it is final, so the log must have it.
  void RevealClaim(const engine::Claim& claim) {
    if (!engine_options_.await_acknowledgement) return;
    if (!Logged(claim.campaign, engine::EventType::kClaimGranted, claim.id.value)) {
      Fail("claim " + std::string(engine::Engine::ClaimIdText(claim.id).view()) +
           " shown to its user, but not in the log");
    }
    PromiseClaim(claim);
  }

  // `as_reserved`: a key's replay, which answers the reservation whatever happened since.
  void RevealOrder(const engine::Order& order, bool as_reserved = false) {
    if (!engine_options_.await_acknowledgement || InDoubt(order.id)) return;
    const bool logged =
        order.status == OrderStatus::kExpired ||  // expires_at passed: no event needed
        Logged(order.campaign,
               order.status == OrderStatus::kReserved    ? engine::EventType::kOrderReserved
               : order.status == OrderStatus::kConfirmed ? engine::EventType::kOrderConfirmed
                                                         : engine::EventType::kOrderCancelled,
               order.id.value);
    if (!logged) {
      Fail("order " + Text(order.id) + " shown " + std::string(engine::Name(order.status)) +
           ", but that is not in the log");
    }
    if (!as_reserved || !promised_orders_.count(order.id.value)) PromiseOrder(order);
  }

  bool Logged(const CampaignId& campaign, engine::EventType type) const {
    auto it = log_.kafka.find(campaign.view());
    return it != log_.kafka.end() &&
           std::any_of(it->second.begin(), it->second.end(),
                       [&](const engine::Event& e) { return e.type == type; });
  }

  bool Logged(const CampaignId& campaign, engine::EventType type, std::uint64_t id) const {
    auto it = log_.kafka.find(campaign.view());
    if (it == log_.kafka.end()) return false;
    for (const engine::Event& e : it->second) {
      const std::uint64_t event_id =
          type == engine::EventType::kClaimGranted ? e.claim_id.value : e.order_id.value;
      if (e.type == type && event_id == id) return true;
    }
    return false;
  }

  // Marked in doubt and not settled: held by the settler, or its void not yet persisted.
  bool InDoubt(OrderId id) const {
    for (const Doubt& doubt : doubts_)
      if (doubt.decision.order_id == id) return true;
    auto voids = [&](const std::vector<Appended>& entries) {
      return std::any_of(entries.begin(), entries.end(), [&](const Appended& entry) {
        return entry.settler_void && entry.event.order_id == id;
      });
    };
    return voids(log_.in_flight) || voids(log_.reappend);
  }

  void CheckReplay(const std::string& key, std::uint64_t answered) {
    auto it = first_decision_.find(key);
    if (it != first_decision_.end() && it->second.id != answered) {
      Fail("key " + key + " replayed another decision than the one it made");
    }
  }

  // Whether a held decision is the one `key` (a KeyName) made: the same user and key. An id
  // value lost in a crash may name another decision after it, the same user's under another
  // key too.
  template <class Held>
  static bool MadeBy(const Held& held, const std::string& key, const UserId& user) {
    const std::string_view raw = std::string_view(key).substr(key.rfind('/') + 1);
    return held.user == user && held.key && held.key->view() == raw;
  }

  // The decision the key made first, within the idempotency window, if it still stands.
  const Holdings::Order* FirstOrder(const std::string& key, const UserId& user) const {
    auto it = first_decision_.find(key);
    if (it == first_decision_.end() || now_ - it->second.at >= engine_options_.idempotency_window)
      return nullptr;
    auto held = holdings_.orders().find(it->second.id);
    return held != holdings_.orders().end() && MadeBy(held->second, key, user) ? &held->second
                                                                               : nullptr;
  }

  bool KeysEndedOrder(const std::string& key, const UserId& user) const {
    const Holdings::Order* first = FirstOrder(key, user);
    return first && !Live(*first);
  }

  // A key makes a second decision only once its first was undone (reverted, voided, or lost
  // in a crash) or the key aged out of the idempotency window.
  void KeyDecided(const std::string& key, const UserId& user, std::uint64_t id) {
    auto it = first_decision_.find(key);
    if (it != first_decision_.end() && now_ - it->second.at < engine_options_.idempotency_window) {
      const std::uint64_t first = it->second.id;
      // The same value again: the first was lost in a crash and its id made afresh (the new
      // decision is in the holdings already).
      if (first == id) {
        first_decision_[key] = {id, now_};
        return;
      }
      auto claim = holdings_.claims().find(first);
      const bool claim_stands =
          claim != holdings_.claims().end() && MadeBy(claim->second, key, user);
      if (FirstOrder(key, user) || claim_stands) {
        Fail("key " + key + " made a second decision while its first stands (" +
             (claim_stands ? Text(engine::ClaimId{first}) : Text(OrderId{first})) + ", " +
             std::to_string((now_ - it->second.at).count() / 1'000'000) + " s ago)");
      }
    }
    first_decision_[key] = {id, now_};
  }

  // ---- invariants ------------------------------------------------------------------------------

  // Holds its units and has not ended by the clock.
  bool Live(const Holdings::Order& order) const {
    return order.state == Holdings::State::kConfirmed ||
           (order.state == Holdings::State::kReserved && now_ < order.expires_at);
  }

  engine::CampaignBooks Books(std::size_t c) const {
    std::optional<engine::CampaignBooks> books = engine_->Books(campaigns_[c].spec.id);
    if (!books) Fail("campaign " + std::string(campaigns_[c].spec.id.view()) + " is gone");
    return *books;
  }

  [[noreturn]] void WornOut(const char* what, Outcome outcome, std::uint32_t remaining,
                            std::uint32_t quantity) {
    Fail(std::string(what) + " x" + std::to_string(quantity) + " answered " +
         std::string(OutcomeName(outcome)) + " while the campaign has " +
         std::to_string(remaining) + " units remaining (the campaign wears out)");
  }

  void CheckLive() {
    for (std::size_t c = 0; c < campaigns_.size(); ++c) {
      const Campaign& campaign = campaigns_[c];
      if (campaign.archived) continue;
      const std::string_view id = campaign.spec.id.view();
      const engine::CampaignBooks b = Books(c);
      const std::int64_t units = b.claimed + b.held + b.confirmed + b.in_doubt;
      if (std::int64_t{b.stock} - b.remaining != units) {
        Fail("books of " + std::string(id) + " do not close: stock " + std::to_string(b.stock) +
             " remaining " + std::to_string(b.remaining) + " in doubt " +
             std::to_string(b.in_doubt) + " claimed " + std::to_string(b.claimed) + " held " +
             std::to_string(b.held) + " confirmed " + std::to_string(b.confirmed));
      }
      if (units > b.stock) Fail(std::string(id) + " sold " + std::to_string(units) + " units");
      // What is still topping up (a top-up the log has not acknowledged) is the only gap.
      if (b.stock > campaign.spec.stock ||
          engine_->GetCampaign(campaign.spec.id, now_).value->spec.stock != campaign.spec.stock)
        Fail(std::string(id) + " shows another stock than its changes gave it: books " +
             std::to_string(b.stock) + ", model " + std::to_string(campaign.spec.stock));
      if (units != holdings_.Units(id)) {
        Fail("books of " + std::string(id) + " count " + std::to_string(units) + " units (held " +
             std::to_string(b.held) + ", confirmed " + std::to_string(b.confirmed) +
             "), the decisions logged hold " + std::to_string(holdings_.Units(id)) +
             Disagreements(id));
      }
      if (auto [user, held] = holdings_.TopHolder(id); held > campaign.spec.per_user_limit) {
        Fail("user " + user + " holds " + std::to_string(held) + " units of " + std::string(id) +
             ", past the limit of " + std::to_string(campaign.spec.per_user_limit));
      }
    }
    if (std::string twice = holdings_.DoubleClaims(); !twice.empty())
      Fail("two claims of " + twice);
    CheckPromises();
  }

  // The logged orders whose status the engine shows otherwise than the holdings: for a
  // failure's text.
  // The id a client holds for the logged order `value` (events carry the value alone).
  OrderId Tagged(std::uint64_t value) const {
    auto it = tagged_.find(value);
    return it != tagged_.end() ? it->second : OrderId{value};
  }

  std::string Disagreements(std::string_view campaign) const {
    std::string text;
    std::set<std::uint64_t> seen;
    auto log = log_.kafka.find(campaign);
    if (log == log_.kafka.end()) return text;
    for (const engine::Event& e : log->second) {
      if (e.order_id.value == 0 || !seen.insert(e.order_id.value).second) continue;
      Decision<engine::Order> d = engine_->GetOrder(Tagged(e.order_id.value), now_);
      const bool shown_live = d.outcome == Outcome::kPending ||
                              (d.value && (d.value->status == OrderStatus::kReserved ||
                                           d.value->status == OrderStatus::kConfirmed));
      auto held = holdings_.orders().find(e.order_id.value);
      const bool live =
          held != holdings_.orders().end() && (held->second.state == Holdings::State::kReserved ||
                                               held->second.state == Holdings::State::kConfirmed);
      if (shown_live == live) continue;
      text += "; " + Text(e.order_id) + " x" + std::to_string(e.quantity) + " is " +
              std::string(OutcomeName(d.outcome)) +
              (d.value ? " " + std::string(engine::Name(d.value->status)) : "") +
              " in the engine, " + (live ? "live" : "not live") + " in the log";
    }
    return text;
  }

  bool Archived(const CampaignId& id) const {
    return std::any_of(campaigns_.begin(), campaigns_.end(), [&](const Campaign& campaign) {
      return campaign.archived && campaign.spec.id == id;
    });
  }

  // What clients were promised stands, but for an archived campaign's: the shop archived it, and
  // its rows stay in MySQL for the record.
  void CheckPromises() {
    for (const auto& [key, claim] : promised_claims_) {
      if (Archived(claim.campaign)) continue;
      Decision<engine::Claim> d = engine_->GetClaim(claim.campaign, claim.user);
      if (d.outcome != Outcome::kOk || !(d.value->id == claim.id) ||
          !(d.value->coupon_code == claim.coupon_code)) {
        Fail("claim " + std::string(engine::Engine::ClaimIdText(claim.id).view()) + " of " +
             key.second + " was promised, now " + std::string(OutcomeName(d.outcome)));
      }
    }
    for (const auto& [id, order] : promised_orders_) {
      if (Archived(order.campaign)) continue;
      Decision<engine::Order> d = engine_->GetOrder(order.id, now_);
      if (d.outcome == Outcome::kPending) continue;  // a later move not yet acknowledged
      const bool final =
          order.status == OrderStatus::kCancelled || order.status == OrderStatus::kExpired;
      // An ended order's slot is reused, and its id then reads as not found.
      auto held = holdings_.orders().find(id);
      const bool ended = final || (held != holdings_.orders().end() && !Live(held->second));
      if (d.outcome == Outcome::kNotFound && ended) continue;
      if (d.outcome != Outcome::kOk || !StillHolds(order.status, d.value->status) ||
          d.value->quantity != order.quantity || !(d.value->user == order.user)) {
        Fail("order " + Text(order.id) + " was promised " +
             std::string(engine::Name(order.status)) + ", now " +
             std::string(OutcomeName(d.outcome)) +
             (d.value ? " " + std::string(engine::Name(d.value->status)) : ""));
      }
    }
  }

  // ---- crash and recovery ----------------------------------------------------------------------

  void Crash() {
    ++result_.counts.crashes;
    if (progress_) progress_->crashes = result_.counts.crashes;
    // What was in flight meets its real fate; the clients waiting for it heard nothing.
    for (std::size_t i = 0; i < log_.in_flight.size(); ++i)
      log_.Land(i, rng_.Chance(0.5));
    log_.in_flight.clear();
    log_.reappend.clear();
    log_.down = false;
    doubts_.clear();
    // The persister got somewhere into each campaign's log.
    std::map<std::string, std::size_t> snapshot_end;
    for (const auto& [campaign, events] : log_.kafka) {
      const std::size_t end =
          static_cast<std::size_t>(rng_.Range(static_cast<std::int64_t>(mysql_.applied(campaign)),
                                              static_cast<std::int64_t>(events.size())));
      mysql_.CatchUp(events, end);
      snapshot_end[campaign] = end;
    }
    Trace("crash " + std::to_string(result_.counts.crashes));
    Phase("recovery");
    const Holdings before = std::move(holdings_);  // the state the crash ended
    engine_.reset();
    engine_ = std::make_unique<engine::Engine>(engine_options_, log_);
    engine::DiscardSink discard;
    engine::Engine probe(engine_options_, discard);
    Recover({engine_.get(), &probe});
    holdings_ = Holdings();
    for (const auto& [campaign, events] : log_.kafka)
      for (const engine::Event& e : events)
        Fold(holdings_, e);
    Phase("recovery check");
    CheckArchivesAsLogged();
    CheckChangesAsLogged();  // before the pauses: it sets ends_at, and an ended one shows ended
    CheckPausedAsLogged();
    CheckUseAsLogged();
    CheckTermsRecovered();
    CheckMysqlMatchesLog();
    ExpireRecovered(before);
    CheckLive();
    Phase("sell-out check");
    CheckSellsOut(probe);
  }

  // The snapshot rows and then each campaign's tail, interleaved as partitions may be consumed,
  // applied alike to every engine given.
  void Recover(const std::vector<engine::Engine*>& engines) {
    const persistence::SnapshotRows rows = mysql_.Rows(options_.shuffle_rows ? &rng_ : nullptr);
    Trace("snapshot: " + std::to_string(rows.claims.size()) + " claims, " +
          std::to_string(rows.orders.size()) + " orders");
    for (const persistence::ClaimRow& row : rows.claims) {
      Trace("  claim row " + Text(row.claim_id) + " " + std::string(row.user.view()) +
            (row.idempotency_key ? " key " + std::string(row.idempotency_key->view()) : ""));
    }
    for (const persistence::OrderRow& row : rows.orders) {
      Trace("  order row " + Text(row.order_id) + " " + std::string(row.user.view()) + " x" +
            std::to_string(row.quantity) + " " + std::string(engine::Name(row.status)));
    }
    for (engine::Engine* e : engines) {
      persistence::RecoveryReport report;
      Replayed(persistence::ApplySnapshot(*e, rows, report));
    }
    std::vector<std::pair<const std::vector<engine::Event>*, std::size_t>> tails;
    for (const auto& [campaign, events] : log_.kafka)
      tails.emplace_back(&events, mysql_.applied(campaign));
    for (;;) {
      std::vector<std::size_t> open;
      for (std::size_t t = 0; t < tails.size(); ++t)
        if (tails[t].second < tails[t].first->size()) open.push_back(t);
      if (open.empty()) break;
      auto& [events, next] = tails[open[rng_.Below(open.size())]];
      Trace("  tail: " + Describe((*events)[next]));
      for (engine::Engine* e : engines)
        Replayed(e->Apply((*events)[next]));
      ++next;
    }
    for (engine::Engine* e : engines)
      Replayed(e->FinishRecovery());
  }

  // Every history here is one a live engine made: recovery must accept it.
  static void Replayed(const std::optional<engine::ReplayError>& error) {
    if (error) Fail("recovery refused the log: " + error->message);
  }

  // The recovered engine's first tick expires what is due, as a server's does. A reservation
  // recovery ended (it reads expired before its expires_at: beyond the stock or the limit) must
  // be one whose end the log lost: ended before the crash.
  void ExpireRecovered(const Holdings& before) {
    // The log takes these: a refused expiry stays reserved until the next tick, and then the
    // holdings below could not tell it from one that recovery ended.
    const double refuse_probability = log_.refuse_probability;
    log_.refuse_probability = 0;
    for (std::uint32_t w = 0; w < engine_options_.workers; ++w)
      engine_->ExpireDue(WorkerId{w}, now_);
    log_.refuse_probability = refuse_probability;
    TakeAppended();
    // ... and persists them at once, so that with durable acks their units are back too.
    for (std::size_t i = 0; i < log_.in_flight.size(); ++i) {
      log_.Land(i, true);
      const Appended& entry = log_.in_flight[i];
      engine_->Acknowledge(entry.event);
      if (EndWaitsForTheLog(entry.event)) holdings_.Apply(entry.event);
    }
    log_.in_flight.clear();
    std::vector<std::uint64_t> ended;
    for (const auto& [id, order] : holdings_.orders()) {
      if (order.state != Holdings::State::kReserved) continue;
      if (order.expires_at <= now_) {
        ended.push_back(id);  // ended by recovery (no event to expire it) or due anyway
        continue;
      }
      Decision<engine::Order> d = engine_->GetOrder(Tagged(id), now_);
      if (d.outcome != Outcome::kOk || d.value->status != OrderStatus::kExpired) continue;
      Trace("recovery ended " + Text(OrderId{id}) + " of " + std::string(order.user.view()));
      auto was = before.orders().find(id);
      if (was != before.orders().end() && was->second.user == order.user &&
          (was->second.state == Holdings::State::kReserved ||
           was->second.state == Holdings::State::kConfirmed)) {
        Fail("recovery ended order " + Text(OrderId{id}) + " of " + std::string(order.user.view()) +
             ", live before the crash and due to hold " +
             std::to_string((order.expires_at - now_).count() / 1'000'000) + " s more");
      }
      ended.push_back(id);
    }
    for (std::uint64_t id : ended)
      holdings_.End(id);
    Trace("recovery: " + std::to_string(engine_->Stats().reservations_dropped) +
          " reservations dropped, " + std::to_string(engine_->Stats().orphan_events) +
          " orphan events");
  }

  // The persister's tables, caught up to the end of the log, hold what the log's fold holds.
  void CheckMysqlMatchesLog() {
    MysqlModel caught_up = mysql_;
    for (const auto& [campaign, events] : log_.kafka)
      caught_up.CatchUp(events, events.size());
    for (std::size_t c = 0; c < campaigns_.size(); ++c) {
      if (campaigns_[c].archived) continue;  // its rows stay as history, unread by recovery
      const std::string_view id = campaigns_[c].spec.id.view();
      if (Books(c).in_doubt != 0) Fail("recovered " + std::string(id) + " with units in doubt");
      if (caught_up.Units(id) != holdings_.Units(id)) {
        Fail("MySQL (caught up) holds " + std::to_string(caught_up.Units(id)) + " units of " +
             std::string(id) + ", the log " + std::to_string(holdings_.Units(id)));
      }
    }
  }

  // A recovered campaign still sells: fresh users take every remaining unit, one by one,
  // and then hear sold out.
  void CheckSellsOut(engine::Engine& probe) {
    for (std::uint32_t w = 0; w < engine_options_.workers; ++w)
      probe.ExpireDue(WorkerId{w}, now_);
    for (const Campaign& campaign : campaigns_) {
      if (campaign.archived) continue;
      const engine::CampaignSpec& spec = campaign.spec;
      if (Ended(campaign)) {
        const UserId fresh = MakeId<UserId>("fresh-ended");
        const Outcome outcome =
            spec.kind == CampaignKind::kCoupon
                ? probe.ClaimCoupon(AnyWorker(), spec.id, fresh, std::nullopt, now_).outcome
                : probe.PlaceOrder(AnyWorker(), spec.id, fresh, 1, std::nullopt, now_).outcome;
        if (outcome != Outcome::kEnded)
          Fail("recovered " + std::string(spec.id.view()) + " past its end answers " +
               std::string(OutcomeName(outcome)));
        continue;
      }
      probe.ResumeCampaign(spec.id, now_);  // a paused sale sells out once resumed
      for (std::uint32_t n = 0;; ++n) {
        const std::uint32_t remaining = probe.Books(spec.id)->remaining;
        const UserId fresh = MakeId<UserId>("fresh-" + std::to_string(n));
        const std::uint32_t quantity =
            std::max<std::uint32_t>(1, std::min(remaining, spec.per_user_limit));
        const WorkerId worker = AnyWorker();
        const Outcome outcome =
            spec.kind == CampaignKind::kCoupon
                ? probe.ClaimCoupon(worker, spec.id, fresh, std::nullopt, now_).outcome
                : probe.PlaceOrder(worker, spec.id, fresh, quantity, std::nullopt, now_).outcome;
        if (remaining == 0) {
          if (outcome != Outcome::kSoldOut)
            Fail("recovered " + std::string(spec.id.view()) + " sold out answers " +
                 std::string(OutcomeName(outcome)));
          break;
        }
        if (outcome != Outcome::kCreated) {
          Fail("after recovery, a fresh user's " +
               std::string(spec.kind == CampaignKind::kCoupon ? "claim" : "order") + " x" +
               std::to_string(quantity) + " of " + std::string(spec.id.view()) + " answered " +
               std::string(OutcomeName(outcome)) + " with " + std::to_string(remaining) +
               " units remaining");
        }
      }
      const engine::CampaignBooks b = *probe.Books(spec.id);
      if (b.claimed + b.held + b.confirmed != spec.stock)
        Fail("sold out " + std::string(spec.id.view()) + " took " +
             std::to_string(b.claimed + b.held + b.confirmed) + " of " +
             std::to_string(spec.stock) + " units");
    }
  }

  // ---- output ------------------------------------------------------------------------------

  void Trace(const std::string& line) const {
    if (options_.verbose)
      std::printf("[%llu] %s\n", static_cast<unsigned long long>(step_), line.c_str());
  }

  void Phase(const char* phase) {
    if (!progress_) return;
    progress_->step = step_;
    std::snprintf(progress_->phase, sizeof progress_->phase, "%s", phase);
  }

  const SimOptions options_;
  Progress* progress_;
  Rng rng_;
  FakeLog log_;
  engine::EngineOptions engine_options_;
  std::unique_ptr<engine::Engine> engine_;
  std::array<double, static_cast<std::size_t>(StepKind::kCount)> weights_{};
  double persisted_ = 0.85;      // report probabilities, per seed
  double not_persisted_ = 0.05;  // the rest is possibly persisted
  TimePoint now_ = kStart;
  std::uint64_t step_ = 0;
  std::vector<Campaign> campaigns_;
  std::vector<KnownOrder> orders_;
  // Order ids as the clients were given them (with their tag), by the value the log carries.
  std::map<std::uint64_t, OrderId> tagged_;
  std::vector<Doubt> doubts_;
  Holdings holdings_;
  MysqlModel mysql_;
  std::map<std::pair<std::size_t, std::string>, std::vector<std::string>> keys_used_;
  // Each claim's coupon as the engine last answered it used (or, after a crash, as the log says).
  std::map<std::uint64_t, CouponUse> uses_;
  std::uint64_t keys_made_ = 0;
  struct KeyDecision {
    std::uint64_t id = 0;  // the claim or order it made
    TimePoint at{};
  };
  std::map<std::string, KeyDecision> first_decision_;
  std::map<std::pair<std::string, std::string>, engine::Claim> promised_claims_;
  std::map<std::uint64_t, engine::Order> promised_orders_;
  SimResult result_;
};

}  // namespace

std::string ReplayCommand(const SimOptions& options) {
  const SimOptions defaults;
  auto decimal = [](double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return std::string(text);
  };
  std::string command = "tests/sim/run --seed " + std::to_string(options.seed) + " --verbose";
  auto knob = [&](bool differs, const std::string& flag) {
    if (differs) command += " " + flag;
  };
  knob(options.steps != defaults.steps, "--steps " + std::to_string(options.steps));
  knob(options.orders_per_unit != defaults.orders_per_unit,
       "--orders-per-unit " + decimal(options.orders_per_unit));
  knob(options.crashes_max != defaults.crashes_max,
       "--crashes-max " + std::to_string(options.crashes_max));
  knob(options.users_per_unit != defaults.users_per_unit,
       "--users-per-unit " + decimal(options.users_per_unit));
  knob(options.acks == SimOptions::Acks::kDurable, "--acks durable");
  knob(options.acks == SimOptions::Acks::kMemory, "--acks memory");
  knob(!options.shuffle_rows, "--sorted-rows");
  return command;
}

std::string SimResult::Summary() const {
  return std::to_string(counts.steps) + " steps, " + std::to_string(counts.crashes) + " crashes, " +
         std::to_string(counts.claims) + " claims, " + std::to_string(counts.orders) + " orders, " +
         std::to_string(counts.in_doubt) + " in doubt, " + std::to_string(counts.promises) +
         " promises, " + std::to_string(counts.changes) + " changes, " +
         std::to_string(counts.archives) + " archives";
}

SimResult RunSeed(const SimOptions& options, Progress* progress) {
  return Simulation(options, progress).Run();
}

}  // namespace hotdeal::sim
