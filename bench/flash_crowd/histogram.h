// Log-linear latency histogram for flash_crowd: the HdrHistogram idea (each power of two split
// into a fixed number of linear sub-buckets) in a fixed array, so recording is an index
// computation and an increment, memory never grows, and quantiles keep a bounded relative
// error. It must never allocate after construction: it sits on the load loop's hot path.
#pragma once

#include <array>
#include <cstdint>

namespace hotdeal::bench {

class LatencyHistogram {
 public:
  // 2^7 sub-buckets per power of two: a recorded value is reported within 1/128 (< 0.8 %).
  static constexpr int kSubBucketBits = 7;
  static constexpr int64_t kSubBucketCount = int64_t{1} << kSubBucketBits;
  // Values up to 2^37 ns (about 137 s) are told apart; above that they count as saturated.
  // The load run's wall time cap (minutes at most) stays well below.
  static constexpr int kValueBitsMax = 37;
  static constexpr int64_t kValueMax = (int64_t{1} << kValueBitsMax) - 1;
  static constexpr int kBucketCount =
      (kValueBitsMax - kSubBucketBits + 1) * static_cast<int>(kSubBucketCount);

  // Negative values (a clock read out of order) count as zero.
  void Record(int64_t value_ns);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
  int64_t max_ns() const { return max_ns_; }
  int64_t saturated() const { return saturated_; }
  double MeanNs() const;

  // The smallest recorded value v such that at least `quantile` of all values are <= v, given as
  // the top of its sub-bucket and never above the exact maximum. 0 when empty.
  int64_t ValueAtQuantileNs(double quantile) const;

  // Bucket geometry, public so tests can check the edges.
  static int IndexOf(int64_t value_ns);
  static int64_t LowestValueAt(int index);
  static int64_t HighestValueAt(int index);

 private:
  std::array<int64_t, kBucketCount> counts_{};
  int64_t count_ = 0;
  int64_t min_ns_ = kValueMax;
  int64_t max_ns_ = 0;
  int64_t saturated_ = 0;
  // Sum of recorded values for the mean; 2^63 ns is centuries, so it cannot overflow in a run.
  int64_t sum_ns_ = 0;
};

}  // namespace hotdeal::bench
