// Striped stock: the take/refill/steal protocol and the argument for why "sold out" is exact.
#include "striped_stock.h"

#include <algorithm>

#include "hotdeal/base/check.h"
#include "spin_lock.h"

namespace hotdeal::engine::detail {
namespace {
constexpr std::uint64_t kTransferStarted = std::uint64_t{1} << 32;
constexpr std::uint64_t kInFlightMask = kTransferStarted - 1;
constexpr std::int64_t kBatchMax = 256;
constexpr std::int64_t kStripesPerWorkerShare = 16;
}  // namespace

StripedStock::StripedStock(std::uint32_t stock, std::uint32_t workers)
    : batch_(std::clamp<std::int64_t>(stock / (std::int64_t{workers} * kStripesPerWorkerShare), 1,
                                      kBatchMax)),
      workers_(workers),
      stripes_(std::make_unique<Stripe[]>(workers)),
      pool_(stock) {
  HOTDEAL_ASSERT(workers >= 1);
}

std::size_t StripedStock::Bytes(std::uint32_t workers) noexcept {
  return sizeof(StripedStock) + sizeof(Stripe) * workers;
}

bool StripedStock::TakeFromStripe(Stripe& stripe, std::int64_t quantity) noexcept {
  std::int64_t units = stripe.units.load(std::memory_order_seq_cst);
  while (units >= quantity) {
    if (stripe.units.compare_exchange_weak(units, units - quantity, std::memory_order_seq_cst)) {
      return true;
    }
  }
  return false;
}

bool StripedStock::Take(std::uint32_t worker, std::uint32_t quantity) noexcept {
  HOTDEAL_DEBUG_ASSERT(worker < workers_);
  HOTDEAL_DEBUG_ASSERT(quantity >= 1);
  if (TakeFromStripe(stripes_[worker], quantity)) return true;
  unsigned spins = 0;
  for (;;) {
    if (Gather(worker, quantity)) return true;
    // Gathering fell short. Before answering "not enough", prove it with a scan no transfer
    // overlapped; units only in flight would otherwise be missed.
    std::uint64_t state = state_.load(std::memory_order_seq_cst);
    std::int64_t free = ScanFree();
    if (free < 0) {
      SpinWait(spins);
      continue;
    }
    if (free >= quantity) continue;  // returns or transfers landed since: gather again
    if (free == 0) {
      // Fails if a return bumped the counter after `state` was read: that unit is free now.
      state_.compare_exchange_strong(state, state | 1, std::memory_order_seq_cst);
    }
    return false;
  }
}

// Moves units from the pool (a batch beyond what is needed) and then from other stripes into
// this worker's hands, announced in transfers_ for the whole time they are invisible.
bool StripedStock::Gather(std::uint32_t worker, std::int64_t quantity) noexcept {
  transfers_.fetch_add(kTransferStarted | 1, std::memory_order_seq_cst);
  std::int64_t gathered = 0;
  std::int64_t pool = pool_.load(std::memory_order_seq_cst);
  while (pool > 0) {
    std::int64_t take = std::min(pool, quantity + batch_ - 1);
    if (pool_.compare_exchange_weak(pool, pool - take, std::memory_order_seq_cst)) {
      gathered = take;
      break;
    }
  }
  for (std::uint32_t step = 0; step < workers_ && gathered < quantity; ++step) {
    Stripe& victim = stripes_[(worker + step) % workers_];
    std::int64_t units = victim.units.load(std::memory_order_seq_cst);
    while (units > 0 && gathered < quantity) {
      std::int64_t take = std::min(units, quantity - gathered);
      if (victim.units.compare_exchange_weak(units, units - take, std::memory_order_seq_cst)) {
        gathered += take;
        units -= take;
      }
    }
  }
  bool enough = gathered >= quantity;
  std::int64_t keep = enough ? gathered - quantity : gathered;
  if (keep > 0) stripes_[worker].units.fetch_add(keep, std::memory_order_seq_cst);
  transfers_.fetch_sub(1, std::memory_order_seq_cst);
  return enough;
}

// Exactness: in the single seq_cst order, a transfer either finished before the first load of
// transfers_ (so its deposit precedes every load of the scan and is counted), was in flight at
// that load (low bits non-zero: rejected), or started before the last load (high bits changed:
// rejected). A transfer starting after the last load can only move units the scan already saw
// as absent. Returns are deposited before MarkReturned, which Take's flag CAS detects.
std::int64_t StripedStock::ScanFree() const noexcept {
  std::uint64_t before = transfers_.load(std::memory_order_seq_cst);
  if ((before & kInFlightMask) != 0) return -1;
  // Units below zero anywhere mean more was granted than exists: an oversell, which must stop
  // the process rather than be summed away (or spun on) here.
  std::int64_t free = pool_.load(std::memory_order_seq_cst);
  HOTDEAL_ASSERT(free >= 0);
  for (std::uint32_t i = 0; i < workers_; ++i) {
    std::int64_t units = stripes_[i].units.load(std::memory_order_seq_cst);
    HOTDEAL_ASSERT(units >= 0);
    free += units;
  }
  if (transfers_.load(std::memory_order_seq_cst) != before) return -1;
  return free;
}

void StripedStock::Give(std::uint32_t worker, std::uint32_t quantity) noexcept {
  HOTDEAL_DEBUG_ASSERT(worker < workers_);
  stripes_[worker].units.fetch_add(quantity, std::memory_order_seq_cst);
  MarkReturned();
}

void StripedStock::MarkReturned() noexcept {
  std::uint64_t state = state_.load(std::memory_order_seq_cst);
  while (!state_.compare_exchange_weak(state, (state + 2) & ~std::uint64_t{1},
                                       std::memory_order_seq_cst)) {
  }
}

std::uint32_t StripedStock::Free() const noexcept {
  unsigned spins = 0;
  for (;;) {
    std::int64_t free = ScanFree();
    if (free >= 0) return static_cast<std::uint32_t>(free);
    SpinWait(spins);
  }
}

}  // namespace hotdeal::engine::detail
