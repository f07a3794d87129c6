// The simulated world around the engine: a durable log that hands out tickets and reports
// later (FakeLog, the "Kafka" side), the tables the persister writes from that log (MysqlModel,
// the "MySQL" side), and Holdings, the fold of events into the units each order and claim holds
// that both the live checks and the recovery checks compare the engine's books with.
//
// Everything here is single-threaded and deterministic: every choice comes from the caller's
// Rng, nothing reads a clock or depends on an address.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "hotdeal/engine/event.h"
#include "hotdeal/persistence/snapshot.h"

namespace hotdeal::sim {

using engine::Event;
using engine::EventType;

// The seed's one source of decisions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n); n >= 1.
  std::uint64_t Below(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(engine_);
  }
  // Uniform in [low, high].
  std::int64_t Range(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(engine_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(engine_); }
  template <class T>
  void Shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i)
      std::swap(items[i - 1], items[Below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// The same decision (persistence's SameDecision): what the settler looks for in the log.
bool SameDecision(const Event& a, const Event& b);
std::string Describe(const Event& e);

// What a client learns once the event it waits for is persisted (its 201).
struct Promise {
  enum class Kind : std::uint8_t { kNone, kClaim, kOrderStatus };
  Kind kind = Kind::kNone;
  engine::Claim claim;  // kClaim
  engine::Order order;  // kOrderStatus: the order as answered, `status` the move's target
};

// An event appended and not yet reported, or waiting to be appended again.
struct Appended {
  std::uint64_t ticket = 0;
  Event event;
  bool settler_void = false;  // appended by the settler, not by the engine
  Promise promise;            // the client's, if one waits for this event
  // Whether this attempt is written to the log, once decided (FakeLog::Land); its report, when
  // it comes, agrees.
  std::optional<bool> landed;
};

// The fake durable log. Append takes or refuses; the caller (the simulation) later takes an
// entry out of flight and gives it a fate. The log proper is `kafka`: per campaign, the events
// in the order they became persisted.
class FakeLog final : public engine::EventSink {
 public:
  explicit FakeLog(Rng& rng) : rng_(rng) {}

  std::optional<engine::LogTicket> Append(engine::WorkerId worker,
                                          const Event& event) noexcept override;
  // The settler's append of a void (InDoubtSettler::AppendVoids); refused like Append.
  bool AppendVoid(const Event& void_event);
  // Puts an event waiting to be appended again back in flight (KafkaLog::Reappend); false if
  // the log refuses it now.
  bool Reappend(Appended entry);
  // The promise a client waiting on `ticket` gets once its event is persisted.
  void Await(engine::LogTicket ticket, const Promise& promise);
  // Events the engine appended since the last call, in order (for the live holdings).
  std::vector<Event> TakeAppended();
  void Persist(const Event& event) { kafka[std::string(event.campaign.view())].push_back(event); }
  // In-flight entry `i` is written to the log (`in_log`) or lost. One producer writes a
  // campaign's partition in produce order, so each earlier entry of the campaign still
  // undecided is written (or lost) first; only an attempt appended again comes later.
  void Land(std::size_t i, bool in_log);
  bool InLog(const Event& event) const;

  double refuse_probability = 0.02;
  bool down = false;  // an outage: every append is refused
  std::vector<Appended> in_flight;
  std::vector<Appended> reappend;
  std::map<std::string, std::vector<Event>, std::less<>> kafka;

 private:
  bool Refuses() { return down || rng_.Chance(refuse_probability); }
  Rng& rng_;
  std::uint64_t next_ticket_ = 0;
  std::vector<Event> appended_;
};

// Which units each claim and order holds, folded from events as the engine's state would be:
// live from the events the engine appended and the reports it was given, or at recovery from
// the log in log order.
class Holdings {
 public:
  enum class State : std::uint8_t { kReserved, kConfirmed, kCancelled, kExpired };
  struct Order {
    std::string campaign;
    engine::UserId user;
    std::uint32_t quantity = 0;
    engine::TimePoint expires_at{};
    State state = State::kReserved;
    std::optional<engine::IdempotencyKey> key;  // the Idempotency-Key that made it
  };
  struct Claim {
    std::string campaign;
    engine::UserId user;
    std::optional<engine::IdempotencyKey> key;
  };

  // An event the engine appended (a decision made), or one replayed from the log. Voids are
  // not applied here: see Drop.
  void Apply(const Event& e);
  // Revert of a claim_granted / order_reserved / order_confirmed.
  void Revert(const Event& e);
  // A void applied (ApplyVoid): the claim or order is dropped if it holds units.
  void Drop(const Event& void_event);
  // A reservation ended without an event: by recovery, or due before the engine's first tick.
  void End(std::uint64_t order_id);

  std::int64_t Units(std::string_view campaign) const;
  std::int64_t UserUnits(std::string_view campaign, const engine::UserId& user) const;
  // The user holding the most units in the campaign, and how many (0 if none holds any).
  std::pair<std::string, std::int64_t> TopHolder(std::string_view campaign) const;
  // Users holding more than one claim in the campaign (empty: none).
  std::string DoubleClaims() const;
  const std::map<std::uint64_t, Order>& orders() const { return orders_; }
  const std::map<std::uint64_t, Claim>& claims() const { return claims_; }

 private:
  std::map<std::uint64_t, Order> orders_;
  std::map<std::uint64_t, Claim> claims_;
};

// The tables as the persister writes them (persister.cc), from a prefix of each campaign's log.
class MysqlModel {
 public:
  // Writes `log[applied..end)` of the campaign, as the persister's batches would.
  void CatchUp(const std::vector<Event>& log, std::size_t end);
  std::size_t applied(std::string_view campaign) const;
  // Every row; claims and orders sorted by id (the SQL's ORDER BY), or shuffled.
  persistence::SnapshotRows Rows(Rng* shuffle) const;
  std::int64_t Units(std::string_view campaign) const;

 private:
  void Write(const Event& e);
  std::map<std::string, persistence::CampaignRow, std::less<>> campaigns_;
  std::map<std::uint64_t, persistence::ClaimRow> claims_;
  std::map<std::uint64_t, persistence::OrderRow> orders_;
  std::map<std::string, std::size_t, std::less<>> applied_;
};

}  // namespace hotdeal::sim
