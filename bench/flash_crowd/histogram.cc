// Log-linear latency histogram: index arithmetic and quantile walk.
#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace hotdeal::bench {

int LatencyHistogram::IndexOf(int64_t value_ns) {
  assert(value_ns >= 0 && value_ns <= kValueMax);
  const auto value = static_cast<uint64_t>(value_ns);
  // Values below 2 * kSubBucketCount map one to one; above, each power of two is split into
  // kSubBucketCount equal slices, so the shift drops only bits below the relative precision.
  const int magnitude = std::bit_width(value | 1) - 1;
  const int shift = std::max(0, magnitude - kSubBucketBits);
  return static_cast<int>(shift * kSubBucketCount + static_cast<int64_t>(value >> shift));
}

int64_t LatencyHistogram::LowestValueAt(int index) {
  const int shift = std::max(0, index / static_cast<int>(kSubBucketCount) - 1);
  return (index - shift * kSubBucketCount) << shift;
}

int64_t LatencyHistogram::HighestValueAt(int index) {
  const int shift = std::max(0, index / static_cast<int>(kSubBucketCount) - 1);
  return ((index - shift * kSubBucketCount + 1) << shift) - 1;
}

void LatencyHistogram::Record(int64_t value_ns) {
  value_ns = std::max<int64_t>(value_ns, 0);
  if (value_ns > kValueMax) {
    ++saturated_;
    value_ns = kValueMax;
  }
  ++counts_[IndexOf(value_ns)];
  ++count_;
  sum_ns_ += value_ns;
  min_ns_ = std::min(min_ns_, value_ns);
  max_ns_ = std::max(max_ns_, value_ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBucketCount; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
  saturated_ += other.saturated_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

double LatencyHistogram::MeanNs() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_) / static_cast<double>(count_);
}

int64_t LatencyHistogram::ValueAtQuantileNs(double quantile) const {
  if (count_ == 0) return 0;
  quantile = std::clamp(quantile, 0.0, 1.0);
  // Rank of the wanted value, 1-based; at least 1 so quantile 0 answers the minimum.
  const auto rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(quantile * static_cast<double>(count_))));
  int64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(HighestValueAt(i), min_ns(), max_ns_);
  }
  return max_ns_;
}

}  // namespace hotdeal::bench
