// Google Benchmark suite for the engine: granted claims, sold-out rejections, one hot campaign
// hit by 1 and 2 threads (each with its own WorkerId) beside a single shared std::atomic stock
// counter, order reserve/cancel, the latency of one dependent load into tables of the
// ledger's sizes, and the sale ledger's add/remove step alone (UnitLedger), a claim for an
// unknown campaign after many archives, and a campaign's bytes per unit of stock. Measures the
// engine alone (DiscardSink): no HTTP, no log. Must never be part of a test run; numbers and
// commands go to bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fixed_array.h"
#include "hotdeal/engine/engine.h"
#include "striped_stock.h"
#include "unit_ledger.h"

namespace hotdeal::engine {
namespace {

// A flash sale of typical size: the ledger (2^17 slots) stays in cache, as a hot campaign's does.
constexpr std::uint32_t kSaleStock = 1 << 16;
// The hot-campaign runs take this many claims in all, split over the threads: the whole stock
// of one campaign of sale size, so the ledger stays in cache and the runs measure contention
// on the campaign, not DRAM misses into a quarter-gigabyte ledger (as 2^20 did: ~465 ns).
constexpr std::uint32_t kHotClaims = kSaleStock;
const TimePoint kNow = TimePoint(std::chrono::seconds(1000));

// "prefix" + n, without GCC 12's -Wrestrict false positive on string + string.
std::string Numbered(std::string_view prefix, std::size_t n) {
  char buffer[64];
  int size = std::snprintf(buffer, sizeof(buffer), "%.*s%zu", static_cast<int>(prefix.size()),
                           prefix.data(), n);
  return std::string(buffer, static_cast<std::size_t>(size));
}

const std::vector<UserId>& Users(std::size_t count) {
  static std::vector<UserId> users;
  for (std::size_t i = users.size(); i < count; ++i) {
    users.push_back(*UserId::Parse(Numbered("user-", i)));
  }
  return users;
}

CampaignSpec Spec(std::string_view id, CampaignKind kind, std::uint32_t stock) {
  CampaignSpec spec;
  spec.id = *CampaignId::Parse(id);
  spec.kind = kind;
  spec.stock = stock;
  spec.per_user_limit = 1;
  if (kind == CampaignKind::kSale) {
    spec.price = 100;
    spec.hold_seconds = 600;
  }
  return spec;
}

// An engine whose campaigns are replaced when they run out, so a long run measures steady
// claims rather than sold-out answers; the swap happens with the timer paused.
class Rotation {
 public:
  Rotation(CampaignKind kind, std::uint32_t stock) : kind_(kind), stock_(stock) { Next(); }
  const CampaignId& campaign() const { return campaign_; }
  Engine& engine() { return *engine_; }
  void Next() {
    if (!engine_ || made_ == kCampaignsPerEngine) {
      EngineOptions options;
      options.workers = 1;
      options.campaigns_max = kCampaignsPerEngine;
      options.idempotency_keys_max = 1024;
      engine_.reset();  // free the old tables before the new ones are made
      engine_ = std::make_unique<Engine>(options, sink_);
      made_ = 0;
    }
    campaign_ = *CampaignId::Parse(Numbered("c", made_++));
    engine_->CreateCampaign(Spec(campaign_.view(), kind_, stock_), kNow);
  }

 private:
  static constexpr std::uint32_t kCampaignsPerEngine = 32;
  CampaignKind kind_;
  std::uint32_t stock_;
  DiscardSink sink_;
  std::unique_ptr<Engine> engine_;
  CampaignId campaign_;
  std::uint32_t made_ = 0;
};

// Arg: the campaign's stock. Its coupon ledger (~127 bytes per unit) decides whether a new
// user's bucket is found in L2 (4096: 450 KiB) or in L3 (65536: 7 MiB).
void ClaimGranted(benchmark::State& state) {
  auto stock = static_cast<std::uint32_t>(state.range(0));
  const std::vector<UserId>& users = Users(stock);
  Rotation rotation(CampaignKind::kCoupon, stock);
  std::uint32_t next = 0;
  for (auto _ : state) {
    if (next == stock) {
      state.PauseTiming();
      rotation.Next();
      next = 0;
      state.ResumeTiming();
    }
    Decision<Claim> made =
        rotation.engine().ClaimCoupon({0}, rotation.campaign(), users[next++], {}, kNow);
    benchmark::DoNotOptimize(made);
    if (made.outcome != Outcome::kCreated) state.SkipWithError("claim not granted");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ClaimGranted)->Arg(1 << 12)->Arg(kSaleStock);

void ClaimSoldOut(benchmark::State& state) {
  const std::vector<UserId>& users = Users(kSaleStock);
  DiscardSink sink;
  Engine engine(EngineOptions{}, sink);
  CampaignId campaign = *CampaignId::Parse("sold-out");
  engine.CreateCampaign(Spec(campaign.view(), CampaignKind::kCoupon, 1), kNow);
  engine.ClaimCoupon({0}, campaign, users[0], {}, kNow);
  engine.ClaimCoupon({0}, campaign, users[1], {}, kNow);  // the take that finds none sets the flag
  std::uint32_t next = 0;
  for (auto _ : state) {
    Decision<Claim> made = engine.ClaimCoupon({0}, campaign, users[next], {}, kNow);
    benchmark::DoNotOptimize(made);
    next = (next + 1) & (kSaleStock - 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ClaimSoldOut);

// A claim for an id no campaign has (a mistyped link, a scanner), in an engine of the default
// --campaigns-max holding half of it, after `range(0)` campaigns were created and archived: how
// long the id index's probe for a missing id gets as campaigns come and go.
void ClaimUnknownCampaign(benchmark::State& state) {
  DiscardSink sink;
  EngineOptions options;
  options.workers_idle_in_control = true;  // this thread is the only worker
  Engine engine(options, sink);
  for (std::size_t i = 0; i < options.campaigns_max / 2; ++i)
    engine.CreateCampaign(Spec(Numbered("live-", i), CampaignKind::kCoupon, 1), kNow);
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    CampaignSpec spec =
        Spec(Numbered("gone-", static_cast<std::size_t>(i)), CampaignKind::kCoupon, 1);
    spec.stock_max = 1;
    engine.CreateCampaign(spec, kNow);
    engine.CloseCampaign(spec.id, kNow);
    if (engine.ArchiveCampaign(spec.id, kNow).outcome != Outcome::kOk) {
      state.SkipWithError("archive refused");
      return;
    }
  }
  std::vector<CampaignId> unknown;
  for (std::size_t i = 0; i < 64; ++i)
    unknown.push_back(*CampaignId::Parse(Numbered("unknown-", i)));
  const UserId user = Users(1)[0];
  std::size_t next = 0;
  for (auto _ : state) {
    Decision<Claim> made = engine.ClaimCoupon({0}, unknown[next], user, {}, kNow);
    benchmark::DoNotOptimize(made);
    next = (next + 1) % unknown.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ClaimUnknownCampaign)->Arg(0)->Arg(4096)->Arg(65536);

// One campaign shared by all threads; made before the threads start, dropped after.
struct HotCampaign {
  DiscardSink sink;
  std::unique_ptr<Engine> engine;
  CampaignId campaign = *CampaignId::Parse("hot");
};
HotCampaign* hot = nullptr;

void HotSetup(const benchmark::State& state) {
  Users(kHotClaims);
  hot = new HotCampaign;
  EngineOptions options;
  options.workers = static_cast<std::uint32_t>(state.threads());
  options.idempotency_keys_max = 1024;
  hot->engine = std::make_unique<Engine>(options, hot->sink);
  hot->engine->CreateCampaign(Spec("hot", CampaignKind::kCoupon, kHotClaims), kNow);
}
void HotTeardown(const benchmark::State&) {
  delete hot;
  hot = nullptr;
}

void ClaimHotCampaign(benchmark::State& state) {
  const std::vector<UserId>& users = Users(kHotClaims);
  auto worker = static_cast<std::uint32_t>(state.thread_index());
  auto threads = static_cast<std::uint32_t>(state.threads());
  std::uint32_t next = worker;  // thread t claims users t, t + threads, ...: all distinct
  for (auto _ : state) {
    Decision<Claim> made = hot->engine->ClaimCoupon({worker}, hot->campaign, users[next], {}, kNow);
    benchmark::DoNotOptimize(made);
    next += threads;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ClaimHotCampaign)
    ->Setup(HotSetup)
    ->Teardown(HotTeardown)
    ->Threads(1)
    ->Iterations(kHotClaims)
    ->UseRealTime();
BENCHMARK(ClaimHotCampaign)
    ->Setup(HotSetup)
    ->Teardown(HotTeardown)
    ->Threads(2)
    ->Iterations(kHotClaims / 2)
    ->UseRealTime();

// The stock step alone, striped and not: what every core fighting over one line costs.
detail::StripedStock* striped = nullptr;
std::atomic<std::int64_t> shared_stock{0};

void StripedSetup(const benchmark::State& state) {
  striped = new detail::StripedStock(4'000'000'000u, static_cast<std::uint32_t>(state.threads()));
}
void StripedTeardown(const benchmark::State&) {
  delete striped;
  striped = nullptr;
}

void StockTakeStriped(benchmark::State& state) {
  auto worker = static_cast<std::uint32_t>(state.thread_index());
  for (auto _ : state)
    benchmark::DoNotOptimize(striped->Take(worker, 1));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StockTakeStriped)
    ->Setup(StripedSetup)
    ->Teardown(StripedTeardown)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

void SharedSetup(const benchmark::State&) {
  shared_stock.store(std::int64_t{1} << 62);
}

// The baseline: one std::atomic counter that every thread decrements.
void StockTakeSharedAtomic(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(shared_stock.fetch_sub(1, std::memory_order_acq_rel) > 0);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(StockTakeSharedAtomic)->Setup(SharedSetup)->Threads(1)->Threads(2)->UseRealTime();

// The floor under ClaimGranted at large stock: one load that depends on the one before, into
// a table of range(0) MiB laid out like the ledger (MakeFixedArray: huge pages from 2 MiB up),
// one line per 128 bytes in a random cycle. A new user's claim waits for exactly such a miss
// (the ledger entry, then a locked compare-exchange on it), so it cannot overlap the next one.
void DependentLoad(benchmark::State& state) {
  constexpr std::size_t kStride = 128 / sizeof(std::uint64_t);
  std::size_t words = static_cast<std::size_t>(state.range(0)) << 20 >> 3;
  detail::FixedArray<std::uint64_t> table = detail::MakeFixedArray<std::uint64_t>(words);
  std::vector<std::uint64_t> order(words / kStride);
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i * kStride;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  for (std::size_t i = 0; i < order.size(); ++i)
    table[order[i]] = order[(i + 1) % order.size()];
  std::uint64_t at = order[0];
  for (auto _ : state) {
    at = table[at];
    benchmark::DoNotOptimize(at);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(DependentLoad)->Arg(1)->Arg(2)->Arg(4)->Arg(16);

void OrderReserveCancel(benchmark::State& state) {
  const std::vector<UserId>& users = Users(kSaleStock);
  Rotation rotation(CampaignKind::kSale, kSaleStock);
  // Each order takes a slot for the campaign's life: 2 * stock of them.
  std::uint32_t orders = 0;
  for (auto _ : state) {
    if (orders == 2 * kSaleStock) {
      state.PauseTiming();
      rotation.Next();
      orders = 0;
      state.ResumeTiming();
    }
    const UserId& user = users[orders & (kSaleStock - 1)];
    Decision<Order> placed =
        rotation.engine().PlaceOrder({0}, rotation.campaign(), user, 1, {}, kNow);
    Decision<Order> cancelled = rotation.engine().CancelOrder({0}, placed.value->id, user, kNow);
    benchmark::DoNotOptimize(cancelled);
    ++orders;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(OrderReserveCancel);

// The sale ledger's step of one order alone, as PlaceOrder and ReturnUnits take it: units added
// for a new user, units given back by an earlier one, half the stock's users holding units (a
// churned sale at steady state). Each thread adds and removes its own users. Arg: the stock,
// whose ledger fits in L2 (4096: 256 KiB) or not (65536: 4 MiB).
constexpr std::array<std::uint64_t, 2> kLedgerSecret{0x5EED, 0xC0FFEE};
detail::UnitLedger* unit_ledger = nullptr;

std::uint32_t LedgerStock(const benchmark::State& state) {
  return static_cast<std::uint32_t>(state.range(0));
}
void UnitLedgerSetup(const benchmark::State& state) {
  Users(LedgerStock(state));
  unit_ledger = new detail::UnitLedger(LedgerStock(state),
                                       static_cast<std::uint32_t>(state.threads()), kLedgerSecret);
}
void UnitLedgerTeardown(const benchmark::State&) {
  delete unit_ledger;
  unit_ledger = nullptr;
}

// Thread t's k-th user: users t, t + threads, ... round the stock's users.
const UserId& ThreadUser(const benchmark::State& state, std::uint64_t k) {
  auto threads = static_cast<std::uint64_t>(state.threads());
  return Users(LedgerStock(state))[(state.thread_index() + k * threads) % LedgerStock(state)];
}
std::uint64_t LivePerThread(const benchmark::State& state) {
  return LedgerStock(state) / 2 / static_cast<std::uint64_t>(state.threads());
}

void UnitLedgerAddRemove(benchmark::State& state) {
  std::uint64_t live = LivePerThread(state);
  for (std::uint64_t k = 0; k < live; ++k)
    unit_ledger->Add(ThreadUser(state, k), 1, 1);
  std::uint64_t next = live;
  for (auto _ : state) {
    benchmark::DoNotOptimize(unit_ledger->Add(ThreadUser(state, next), 1, 1));
    unit_ledger->Remove(ThreadUser(state, next - live), 1);
    ++next;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(UnitLedgerAddRemove)
    ->Setup(UnitLedgerSetup)
    ->Teardown(UnitLedgerTeardown)
    ->Arg(1 << 12)
    ->Arg(kSaleStock)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// Contended: both threads order and cancel for one user (limit 2), so the user's record is
// freed and filled again under the other thread's Adds.
void UnitLedgerAddRemoveOneUser(benchmark::State& state) {
  const UserId& user = Users(1)[0];
  for (auto _ : state) {
    benchmark::DoNotOptimize(unit_ledger->Add(user, 1, 2));
    unit_ledger->Remove(user, 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(UnitLedgerAddRemoveOneUser)
    ->Setup(UnitLedgerSetup)
    ->Teardown(UnitLedgerTeardown)
    ->Arg(kSaleStock)
    ->Threads(2)
    ->UseRealTime();

// Memory per unit of stock (a goal of issue 14: bytes per unit for both kinds), as
// Engine::Footprint counts it: every fixed table of one campaign of `stock` units with 2 workers.
// Creation is what is timed (the tables are made and every page touched); the counters carry
// the bytes. The third argument: 1 for the default top-up headroom (stock_max = stock + 1024),
// 0 for none (stock_max = stock), what the headroom costs.
void CampaignFootprint(benchmark::State& state) {
  auto kind = static_cast<CampaignKind>(state.range(0));
  auto stock = static_cast<std::uint32_t>(state.range(1));
  const bool headroom = state.range(2) != 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    DiscardSink sink;
    EngineOptions options;
    options.workers = 2;
    Engine engine(options, sink);
    CampaignSpec spec;
    spec.id = *CampaignId::Parse("footprint");
    spec.kind = kind;
    spec.stock = stock;
    if (kind == CampaignKind::kSale) spec.hold_seconds = 300;
    if (!headroom) spec.stock_max = stock;
    benchmark::DoNotOptimize(engine.CreateCampaign(spec, kNow));
    bytes = engine.Footprint(spec.id)->bytes;
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_unit"] = static_cast<double>(bytes) / stock;
}
BENCHMARK(CampaignFootprint)
    ->ArgsProduct({{static_cast<int>(CampaignKind::kCoupon), static_cast<int>(CampaignKind::kSale)},
                   {1000, 1 << 16, 1 << 20},
                   {0, 1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hotdeal::engine

BENCHMARK_MAIN();
