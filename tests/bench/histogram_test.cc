// LatencyHistogram: bucket edges, quantiles within the promised relative error, merging.
#include "histogram.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace hotdeal::bench {
namespace {

TEST(LatencyHistogramTest, BucketsTileTheRangeWithoutGaps) {
  for (int index = 1; index < LatencyHistogram::kBucketCount; ++index) {
    EXPECT_EQ(LatencyHistogram::LowestValueAt(index),
              LatencyHistogram::HighestValueAt(index - 1) + 1)
        << index;
  }
  EXPECT_EQ(LatencyHistogram::IndexOf(LatencyHistogram::kValueMax),
            LatencyHistogram::kBucketCount - 1);
}

TEST(LatencyHistogramTest, EveryValueFallsInItsBucket) {
  for (int64_t value = 0; value < (int64_t{1} << 36); value = value * 3 / 2 + 1) {
    const int index = LatencyHistogram::IndexOf(value);
    EXPECT_LE(LatencyHistogram::LowestValueAt(index), value);
    EXPECT_GE(LatencyHistogram::HighestValueAt(index), value);
    // The promised precision: a bucket is at most 1/128 of its values wide.
    const int64_t width =
        LatencyHistogram::HighestValueAt(index) - LatencyHistogram::LowestValueAt(index) + 1;
    EXPECT_LE(width * LatencyHistogram::kSubBucketCount, std::max<int64_t>(value, 128)) << value;
  }
}

TEST(LatencyHistogramTest, QuantilesOfAUniformRun) {
  LatencyHistogram histogram;
  for (int64_t us = 1; us <= 100'000; ++us)
    histogram.Record(us * 1000);
  EXPECT_EQ(histogram.count(), 100'000);
  EXPECT_EQ(histogram.min_ns(), 1000);
  EXPECT_EQ(histogram.max_ns(), 100'000'000);
  EXPECT_NEAR(static_cast<double>(histogram.ValueAtQuantileNs(0.5)), 50e6, 50e6 / 128);
  EXPECT_NEAR(static_cast<double>(histogram.ValueAtQuantileNs(0.99)), 99e6, 99e6 / 128);
  EXPECT_NEAR(static_cast<double>(histogram.ValueAtQuantileNs(0.999)), 99.9e6, 99.9e6 / 128);
  EXPECT_EQ(histogram.ValueAtQuantileNs(1.0), 100'000'000);
  // Quantiles answer the top of the value's bucket: the same bucket as the exact minimum.
  EXPECT_EQ(LatencyHistogram::IndexOf(histogram.ValueAtQuantileNs(0.0)),
            LatencyHistogram::IndexOf(1000));
  EXPECT_NEAR(histogram.MeanNs(), 50.0005e6, 1);
}

TEST(LatencyHistogramTest, OutliersAreNeverHidden) {
  LatencyHistogram histogram;
  for (int i = 0; i < 999; ++i)
    histogram.Record(1'000'000);
  histogram.Record(3'000'000'000);
  EXPECT_EQ(histogram.ValueAtQuantileNs(0.999),
            LatencyHistogram::HighestValueAt(LatencyHistogram::IndexOf(1'000'000)));
  EXPECT_EQ(histogram.ValueAtQuantileNs(0.9999), 3'000'000'000);
}

TEST(LatencyHistogramTest, SaturatesInsteadOfGrowing) {
  LatencyHistogram histogram;
  histogram.Record(-5);
  histogram.Record(LatencyHistogram::kValueMax + 1000);
  EXPECT_EQ(histogram.count(), 2);
  EXPECT_EQ(histogram.saturated(), 1);
  EXPECT_EQ(histogram.min_ns(), 0);
  EXPECT_EQ(histogram.max_ns(), LatencyHistogram::kValueMax);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram left;
  LatencyHistogram right;
  LatencyHistogram both;
  for (int64_t value = 1; value < 10'000'000; value = value * 5 / 4 + 7) {
    (value % 2 == 0 ? left : right).Record(value);
    both.Record(value);
  }
  left.Merge(right);
  EXPECT_EQ(left.count(), both.count());
  EXPECT_EQ(left.min_ns(), both.min_ns());
  EXPECT_EQ(left.max_ns(), both.max_ns());
  for (const double quantile : {0.1, 0.5, 0.9, 0.99, 1.0}) {
    EXPECT_EQ(left.ValueAtQuantileNs(quantile), both.ValueAtQuantileNs(quantile));
  }
}

TEST(LatencyHistogramTest, EmptyAnswersZero) {
  const LatencyHistogram histogram;
  EXPECT_EQ(histogram.ValueAtQuantileNs(0.99), 0);
  EXPECT_EQ(histogram.min_ns(), 0);
  EXPECT_EQ(histogram.MeanNs(), 0.0);
}

}  // namespace
}  // namespace hotdeal::bench
