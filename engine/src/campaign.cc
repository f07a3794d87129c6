// Campaign validation, sizing and views.
#include "campaign.h"

#include <algorithm>
#include <limits>

#include "hotdeal/base/check.h"
#include "ids.h"

namespace hotdeal::engine::detail {
namespace {
// Every live order holds at least one unit, so `stock` slots hold every live order. The
// quarter more keeps ended orders readable by their id for a while before the free queue reuses
// their slots, and covers the slots stranded in workers' fresh chunks (at most a chunk of
// kChunkItemsMax per worker, chunk_allocator.h), so a reservation never finds every slot taken
// while a unit is free.
constexpr std::uint64_t kOrderSlotsSpareMin = 64;
// Users each ledger is sized for: a coupon's claimants in CouponLedger, a sale's buyers holding
// units in UnitLedger, at most one per unit either way; the other kind's ledger stays minimal.
// Every table is sized for stock_max, the most the stock may be topped up to.
std::uint32_t ClaimantsFor(const CampaignSpec& spec) {
  return spec.kind == CampaignKind::kCoupon ? spec.stock_max : 0;
}
std::uint32_t BuyersFor(const CampaignSpec& spec) {
  return spec.kind == CampaignKind::kSale ? spec.stock_max : 0;
}
// Users the holder filter is sized for: coupon holders, one per unit; sales have none.
std::uint32_t HoldersFor(const CampaignSpec& spec) {
  return spec.kind == CampaignKind::kCoupon ? spec.stock_max : 0;
}
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
std::int64_t EndsAtMicros(const std::optional<TimePoint>& ends_at) {
  return ends_at ? ends_at->time_since_epoch().count() : kNever;
}
}  // namespace

bool Campaign::ValidTerms(const CouponTerms& terms, TimePoint starts_at) noexcept {
  switch (terms.discount) {
    case DiscountKind::kNone:
      if (terms.discount_value != 0) return false;
      break;
    case DiscountKind::kPercent:
      if (terms.discount_value < 1 || terms.discount_value > 100) return false;
      break;
    case DiscountKind::kAmount:
      if (terms.discount_value < 1) return false;
      break;
  }
  if (terms.min_spend < 0) return false;
  if (terms.valid_seconds != 0 && terms.valid_until) return false;
  return !terms.valid_until || *terms.valid_until > starts_at;
}

Outcome Campaign::Validate(const CampaignSpec& spec, std::uint32_t stock_max) noexcept {
  if (spec.id.empty()) return Outcome::kInvalid;
  if (spec.stock < 1 || spec.stock > spec.stock_max || spec.stock_max > stock_max)
    return Outcome::kInvalid;
  if (spec.per_user_limit < 1) return Outcome::kInvalid;
  if (spec.ends_at && *spec.ends_at <= spec.starts_at) return Outcome::kInvalid;
  switch (spec.kind) {
    case CampaignKind::kCoupon:
      if (spec.per_user_limit != 1) return Outcome::kInvalid;
      if (spec.price != 0 || spec.hold_seconds != 0) return Outcome::kInvalid;
      return ValidTerms(spec.terms, spec.starts_at) ? Outcome::kOk : Outcome::kInvalid;
    case CampaignKind::kSale:
      if (spec.terms != CouponTerms{}) return Outcome::kInvalid;
      if (spec.hold_seconds < 1 || spec.price < 0) return Outcome::kInvalid;
      // amount = price * quantity must fit for every quantity the limit allows.
      if (spec.price > std::numeric_limits<std::int64_t>::max() / spec.per_user_limit) {
        return Outcome::kInvalid;
      }
      return Outcome::kOk;
  }
  return Outcome::kInvalid;
}

std::uint64_t Campaign::OrderSlotsFor(std::uint64_t stock, std::uint32_t workers) noexcept {
  std::uint64_t stranded = std::uint64_t{workers} * ChunkAllocator::kChunkItemsMax;
  return stock + std::max({stock / 4, stranded + 1, kOrderSlotsSpareMin});
}

CampaignFootprint Campaign::FootprintFor(const CampaignSpec& spec, std::uint32_t workers) noexcept {
  CampaignFootprint footprint;
  // Every claimed or holding user has at least one unit, so the stock bounds live users.
  footprint.users_max = spec.stock_max;
  footprint.orders_max = spec.kind == CampaignKind::kSale
                             ? static_cast<std::uint32_t>(OrderSlotsFor(spec.stock_max, workers))
                             : 0;
  std::uint32_t holders = HoldersFor(spec);
  footprint.bytes = sizeof(Campaign) + StripedStock::Bytes(workers) +
                    CouponLedger::BytesFor(ClaimantsFor(spec), workers) +
                    UnitLedger::BytesFor(BuyersFor(spec), workers) +
                    HolderFilter::BytesFor(holders) +
                    sizeof(WorkerShare) * (std::size_t{workers} + 1) +
                    (footprint.orders_max ? OrderTable::BytesFor(footprint.orders_max) : 0);
  return footprint;
}

Campaign::Campaign(std::uint32_t index, const CampaignSpec& spec, std::uint32_t workers,
                   std::uint64_t seed, std::array<std::uint64_t, 2> secret)
    : index_(index),
      workers_(workers),
      spec_(spec),
      footprint_(FootprintFor(spec, workers)),
      stock_total_(spec.stock),
      ends_at_us_(EndsAtMicros(spec.ends_at)),
      name_(names_.emplace_back(std::make_unique<std::string>(spec.name)).get()),
      stock_(spec.stock, workers),
      ledger_(ClaimantsFor(spec), workers, secret, seed),
      units_(BuyersFor(spec), workers, secret),
      holders_(HoldersFor(spec)),
      orders_(footprint_.orders_max, workers),
      shares_(std::make_unique<WorkerShare[]>(workers + 1)) {
  HOTDEAL_ASSERT(index < kCampaignsMax);
}

bool Campaign::EndedAt(TimePoint now) const noexcept {
  return now.time_since_epoch().count() >= ends_at_us_.load(std::memory_order_relaxed);
}

CampaignSpec Campaign::Spec() const {
  CampaignSpec spec = spec_;
  spec.stock = stock_total_.load(std::memory_order_relaxed);
  std::int64_t ends_at = ends_at_us_.load(std::memory_order_relaxed);
  spec.ends_at.reset();
  if (ends_at != kNever) spec.ends_at = TimePoint{std::chrono::microseconds{ends_at}};
  spec.name = *name_.load(std::memory_order_acquire);
  return spec;
}

void Campaign::Change(const CampaignSpec& spec, std::uint64_t seq) {
  if (changed_seq_ >= seq) return;
  changed_seq_ = seq;
  stock_total_.store(spec.stock, std::memory_order_relaxed);
  ends_at_us_.store(EndsAtMicros(spec.ends_at), std::memory_order_relaxed);
  if (spec.name != *name_.load(std::memory_order_relaxed)) {
    name_.store(names_.emplace_back(std::make_unique<std::string>(spec.name)).get(),
                std::memory_order_release);
  }
}

void Campaign::JoinTopUp(std::uint32_t units) noexcept {
  topping_up_.fetch_sub(units, std::memory_order_relaxed);
  stock_.Give(0, units);  // a CAS and fetch_add stock: any thread may use any stripe
}

std::uint32_t Campaign::stock_in_play() const noexcept {
  return stock_total_.load(std::memory_order_relaxed) - topping_up_.load(std::memory_order_relaxed);
}

CampaignView Campaign::View(TimePoint now) const {
  CampaignView view;
  view.spec = Spec();
  view.remaining = stock_.Free();
  switch (Window(now)) {
    case Outcome::kNotStarted:
      view.status = CampaignStatus::kScheduled;
      break;
    case Outcome::kEnded:
      view.status = CampaignStatus::kEnded;
      break;
    case Outcome::kPaused:
      view.status = CampaignStatus::kPaused;
      break;
    default:
      view.status = view.remaining == 0 ? CampaignStatus::kSoldOut : CampaignStatus::kLive;
      break;
  }
  return view;
}

std::uint64_t Campaign::NextSerial(std::uint32_t worker) noexcept {
  std::uint64_t serial = ++shares_[worker].serial;
  // Ids and sequence numbers carry the serial in kSerialBits; wrapping would repeat an id.
  HOTDEAL_ASSERT(serial <= kSerialMax);
  return serial;
}

void Campaign::Count(std::uint32_t worker, Book book, std::int64_t units) noexcept {
  auto index = static_cast<std::size_t>(book);
  if (worker == kAnyThread) {
    shares_[workers_].books[index].fetch_add(units, std::memory_order_relaxed);
    return;
  }
  HOTDEAL_DEBUG_ASSERT(worker < workers_);
  std::atomic<std::int64_t>& count = shares_[worker].books[index];
  // Single writer: a relaxed load and store, no locked instruction on the hot path.
  count.store(count.load(std::memory_order_relaxed) + units, std::memory_order_relaxed);
}

std::int64_t Campaign::Total(Book book) const noexcept {
  std::int64_t total = 0;
  for (std::uint32_t row = 0; row <= workers_; ++row) {
    total += shares_[row].books[static_cast<std::size_t>(book)].load(std::memory_order_relaxed);
  }
  return total;
}

void Campaign::RestoreSerial(std::uint64_t seq) noexcept {
  std::uint32_t worker = SeqWorker(seq);
  if (worker >= workers_) return;  // made by a worker this process does not have
  std::uint64_t serial = SeqSerial(seq);
  if (shares_[worker].serial < serial) shares_[worker].serial = serial;
}

}  // namespace hotdeal::engine::detail
