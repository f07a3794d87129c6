// The free units of one campaign, striped per worker so that a hot campaign hit by every core
// does not collapse onto one contended cache line. Knows nothing of users, orders or events;
// must never grant more than the stock it was given, and never answer "none free" while a unit
// is free.
//
// Layout: a shared pool holds the units no worker has pulled yet; each worker has a
// cache-line-sized stripe it takes from first. An empty stripe refills a batch from the pool,
// and when the pool is empty too it steals from the other stripes. Units in a worker's hands
// during such a transfer are invisible to the others, so every transfer is announced in
// `transfers_` and a "none free" answer is only given after a scan that no transfer overlapped.
//
// Threading: Take and Give may be called concurrently from any threads, each passing its own
// worker index. Every operation on pool, stripes and transfers_ is seq_cst: the exactness
// argument (in striped_stock.cc) needs one total order over them; on x86 the loads are plain
// moves and the read-modify-writes are locked instructions either way.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace hotdeal::engine::detail {

class StripedStock {
 public:
  StripedStock(std::uint32_t stock, std::uint32_t workers);

  // The sold-out fast path: one load and a branch. True only after a scan proved that no unit
  // was free and no unit has been returned since.
  bool SoldOut() const noexcept { return (state_.load(std::memory_order_acquire) & 1) != 0; }

  // Takes `quantity` units at once, or none. False means fewer than `quantity` were free.
  bool Take(std::uint32_t worker, std::uint32_t quantity) noexcept;

  // Returns units (a cancel, an expiry, an undo) to `worker`'s stripe and clears the sold-out
  // flag, so the campaign sells again at once.
  void Give(std::uint32_t worker, std::uint32_t quantity) noexcept;

  // Free units: exact when no Take or Give runs concurrently, a snapshot otherwise.
  std::uint32_t Free() const noexcept;

  static std::size_t Bytes(std::uint32_t workers) noexcept;

 private:
  struct alignas(64) Stripe {
    std::atomic<std::int64_t> units{0};
  };

  bool TakeFromStripe(Stripe& stripe, std::int64_t quantity) noexcept;
  bool Gather(std::uint32_t worker, std::int64_t quantity) noexcept;
  // The free units, or -1 when a transfer overlapped the scan and the sum cannot be trusted.
  std::int64_t ScanFree() const noexcept;
  void MarkReturned() noexcept;

  // How many units a refill moves from the pool: large enough that the pool line is touched
  // once per batch, small enough that stock does not sit idle in one worker's stripe.
  std::int64_t batch_;
  std::uint32_t workers_;
  std::unique_ptr<Stripe[]> stripes_;
  alignas(64) std::atomic<std::int64_t> pool_;
  // High 32 bits: transfers started; low 32 bits: transfers in flight.
  alignas(64) std::atomic<std::uint64_t> transfers_{0};
  // Bit 0: sold out. Bits 1..63: a counter bumped by every return, so a scan that began before
  // a return cannot set the flag after it.
  alignas(64) std::atomic<std::uint64_t> state_{0};
};

}  // namespace hotdeal::engine::detail
