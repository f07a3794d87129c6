// The deterministic simulation of hotdeal ("Sale day under churn"), in the spirit of
// TigerBeetle's VOPR and FoundationDB's simulator: one seed decides a whole run of the real
// engine (campaigns, workers, durable acks on or off, thousands of claims, orders, moves,
// retries, clock steps, log reports delayed, reordered, lost or in doubt, and crashes
// recovered through persistence's snapshot code), and invariants are checked after every step
// and after every recovery. A failing seed prints itself and the step, and replays exactly.
//
// Must never: read a clock, start a thread, or let an address or the environment decide
// anything. The engine's own random keys (coupon codes, hash seeds) change no decision the
// simulation makes or checks.
#pragma once

#include <cstdint>
#include <string>

namespace hotdeal::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  std::uint32_t steps = 3000;
  // Per sale campaign: order attempts that take an order slot (answered kCreated or
  // kLogUnavailable) before the clients stop ordering, as a multiple of the stock (at least 1);
  // 0: no bound. A bound well below the slot table (2 x stock) keeps a run clear of the
  // order-slot wear-out, so that recovery can be looked at alone.
  double orders_per_unit = 0;
  std::uint32_t crashes_max = 4;
  // Distinct users per campaign, as a multiple of its stock (the ledger holds 2 x stock users,
  // rounded up to a power of two, for the campaign's life).
  double users_per_unit = 1.0;
  // Snapshot rows in any order the table can return (true), or in id order as recovery.cc's
  // ORDER BY reads them.
  bool shuffle_rows = true;
  // Durable acks (EngineOptions::await_acknowledgement): the seed picks, or always on or off.
  enum class Acks : std::uint8_t { kAny, kDurable, kMemory };
  Acks acks = Acks::kAny;
  bool verbose = false;  // every step to stdout
};

// Where a run is, for a report from outside the process (an abort in a forked child).
struct Progress {
  std::uint64_t step = 0;
  std::uint32_t crashes = 0;
  char phase[48] = {};
};

struct SimResult {
  // Plain numbers: a forked child hands them over through a shared page.
  struct Counts {
    std::uint64_t steps = 0;
    std::uint32_t crashes = 0;
    std::uint64_t claims = 0;    // claims answered kCreated
    std::uint64_t orders = 0;    // orders answered kCreated
    std::uint64_t in_doubt = 0;  // decisions a possibly-persisted report put in doubt
    std::uint64_t promises = 0;  // claims and orders whose 201 the clients were given
    std::uint64_t changes = 0;   // PATCHes of stock, name or ends_at answered kOk
    std::uint64_t archives = 0;  // archives answered kOk
  };
  bool ok = true;
  std::string failure;  // what broke, with the seed and the step
  Counts counts;
  std::string Summary() const;
};

// The command that replays `options` step by step: tests/sim/run --seed S --verbose and the
// knobs that differ from the defaults.
std::string ReplayCommand(const SimOptions& options);

// Runs one seed in this process (an engine abort ends the process).
SimResult RunSeed(const SimOptions& options, Progress* progress = nullptr);
// Runs one seed in a forked child, so that an abort (HOTDEAL_ASSERT) is a failure of that
// seed, reported with the step it happened at and what the child printed to stderr.
SimResult RunSeedIsolated(const SimOptions& options);

}  // namespace hotdeal::sim
