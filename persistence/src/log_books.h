// The persister's books from the log's side (hotdeal_persister_log_units), and the engine's
// order transitions both they and the persister's batch plan follow. Internal to persistence.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hotdeal/engine/event.h"
#include "hotdeal/persistence/persister.h"

namespace hotdeal::persistence {

// The engine's order transitions: whether an order whose latest logged state is `from`
// (kOrderReserved for a reservation) moves on `move`. A move from a state it cannot leave (a
// repeated confirm, or a confirm appended again that lands after the cancel) changes nothing,
// as Engine::Apply counts it an orphan: the tables never go back to an earlier status.
inline bool Moves(engine::EventType from, engine::EventType move) noexcept {
  using engine::EventType;
  switch (move) {
    case EventType::kOrderConfirmed:
    case EventType::kOrderExpired:
      return from == EventType::kOrderReserved;
    case EventType::kOrderCancelled:
      return from == EventType::kOrderReserved || from == EventType::kOrderConfirmed;
    default:
      return false;
  }
}

// The books from the log's side: each kept campaign's units folded from the events themselves,
// by their ids and the engine's order transitions (Moves), not from what the SQL did. A session
// starts it from MySQL's rows at the stored offsets, the one point where rows and log agree by
// construction (they commit together), so from then on a row the SQL failed to write, dropped
// or wrote twice, or an event MySQL refused (a conflict), makes the two differ. Memory: an id
// per claim and order row of the kept campaigns, about what MySQL's indexes of them hold.
class LogBooks {
  using EventType = engine::EventType;

 public:
  explicit LogBooks(std::uint32_t campaigns_max) : campaigns_max_(campaigns_max) {}

  // A campaign from MySQL or from its campaign_created; past campaigns_max the one created
  // first goes (ties: the smaller id), as the seed's ORDER BY picks them.
  void Keep(const std::string& campaign, std::int64_t created_at_us);
  // Seeding from MySQL: a claim row, an order row in `status`.
  void SeedClaim(const std::string& campaign, std::uint64_t claim_id) {
    if (Books* b = Find(campaign)) Grant(*b, claim_id);
  }
  void SeedOrder(const std::string& campaign, std::uint64_t order_id, std::uint32_t quantity,
                 engine::OrderStatus status);

  // One decoded event of the current owner, in log order. An archive drops the campaign: its
  // rows are history, out of the books on both sides (SeedBooks reads only live campaigns).
  void Apply(const engine::Event& e);

  std::vector<std::string> Campaigns() const;
  Units UnitsOf(const std::string& campaign) const { return campaigns_.at(campaign).units; }

 private:
  struct Order {
    std::uint32_t quantity;
    EventType state;  // kOrderReserved or kOrderConfirmed
  };
  struct Books {
    explicit Books(std::int64_t at) : created_at_us(at) {}
    std::int64_t created_at_us;
    Units units;
    std::unordered_set<std::uint64_t> claims;         // granted, not voided
    std::unordered_map<std::uint64_t, Order> orders;  // reserved or confirmed
    std::unordered_set<std::uint64_t> ended;          // later copies of an ended order are history
  };

  Books* Find(std::string_view campaign) {
    auto it = campaigns_.find(campaign);
    return it == campaigns_.end() ? nullptr : &it->second;
  }
  static void Grant(Books& b, std::uint64_t claim_id) {
    if (b.claims.insert(claim_id).second) ++b.units.claimed;  // else a copy
  }
  static void Reserve(Books& b, std::uint64_t order_id, std::uint32_t quantity);
  static void Move(Books& b, std::uint64_t order_id, EventType move);

  const std::uint32_t campaigns_max_;
  std::map<std::string, Books, std::less<>> campaigns_;
};

}  // namespace hotdeal::persistence
