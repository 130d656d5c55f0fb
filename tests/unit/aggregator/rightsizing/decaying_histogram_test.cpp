#include "fleetscale/aggregator/rightsizing/decaying_histogram.h"

#include <gtest/gtest.h>

#include <chrono>

namespace fleetscale::aggregator::rightsizing {
namespace {

using std::chrono::hours;

TEST(DecayingHistogramTest, BucketsGrowFivePercentFromAMillicore) {
  EXPECT_DOUBLE_EQ(DecayingHistogram::bucketStart(0), 0);
  EXPECT_DOUBLE_EQ(DecayingHistogram::bucketStart(1), kFirstBucketCores);
  for (int bucket = 1; bucket + 1 < DecayingHistogram::bucketCount(); ++bucket) {
    const double width =
        DecayingHistogram::bucketStart(bucket + 1) - DecayingHistogram::bucketStart(bucket);
    const double previous =
        DecayingHistogram::bucketStart(bucket) - DecayingHistogram::bucketStart(bucket - 1);
    ASSERT_NEAR(width / previous, kBucketGrowth, 1e-9) << bucket;
  }
  EXPECT_GE(DecayingHistogram::bucketStart(DecayingHistogram::bucketCount()), kMaxBucketCores);
}

TEST(DecayingHistogramTest, EveryValueFallsInTheBucketThatHoldsIt) {
  for (const double value : {0.0, 0.0005, 0.001, 0.00999, 0.01, 0.1, 0.25, 1.0, 3.7, 64.0, 999.0}) {
    const int bucket = DecayingHistogram::bucketOf(value);
    EXPECT_LE(DecayingHistogram::bucketStart(bucket), value) << value;
    EXPECT_GT(DecayingHistogram::bucketStart(bucket + 1), value) << value;
  }
  EXPECT_EQ(DecayingHistogram::bucketOf(5000), DecayingHistogram::bucketCount() - 1);
  EXPECT_EQ(DecayingHistogram::bucketOf(-1), 0);
}

struct PercentileCase {
  const char* name;
  double share;
  double expected;  // within a bucket (5%) above
};

TEST(DecayingHistogramTest, PercentilesOfAnEvenSpreadAreTheUpperEndsOfTheirBuckets) {
  DecayingHistogram histogram(hours(24));
  // 1000 samples of 0.001 .. 1.000 cores, at one instant.
  for (int i = 1; i <= 1000; ++i) histogram.add(i / 1000.0, 1, 1000);
  const PercentileCase cases[] = {
      {"median", 0.5, 0.5}, {"p90", 0.9, 0.9}, {"p95", 0.95, 0.95}, {"max", 1.0, 1.0}};
  for (const auto& c : cases) {
    const double got = histogram.percentile(c.share);
    EXPECT_GE(got, c.expected) << c.name;
    EXPECT_LE(got, c.expected * 1.06) << c.name;
  }
  EXPECT_DOUBLE_EQ(DecayingHistogram(hours(1)).percentile(0.9), 0);
}

TEST(DecayingHistogramTest, OldSamplesLoseHalfTheirWeightEachHalfLife) {
  DecayingHistogram histogram(hours(1));
  // 100 samples at 1 core, then, two half-lives later, 100 at 2 cores: the old ones weigh a
  // quarter, so 80% of the weight is at 2 cores and the median is there.
  for (int i = 0; i < 100; ++i) histogram.add(1.0, 1, 0);
  for (int i = 0; i < 100; ++i) histogram.add(2.0, 1, 7200);
  EXPECT_NEAR(histogram.percentile(0.5), 2.0, 0.1);
  EXPECT_NEAR(histogram.percentile(0.15), 1.0, 0.05);
  EXPECT_GT(histogram.percentile(0.25), 1.9);  // 20% of the weight is old
}

TEST(DecayingHistogramTest, MovingTheReferenceKeepsThePercentiles) {
  DecayingHistogram histogram(hours(1));
  for (int i = 0; i < 50; ++i) histogram.add(0.3, 1, 0);
  for (int i = 0; i < 50; ++i) histogram.add(0.6, 1, 3600.0 * 30);
  const double before = histogram.percentile(0.9);
  // 45 half-lives on: past the point where the reference moves, the old samples go.
  histogram.add(0.6, 1, 3600.0 * 45);
  EXPECT_DOUBLE_EQ(histogram.percentile(0.9), before);
  EXPECT_GE(histogram.percentile(0.01), 0.6);
  EXPECT_LE(histogram.storedBuckets(), 1U);
}

TEST(DecayingHistogramTest, TheStoredFormGivesTheSamePercentiles) {
  DecayingHistogram histogram(hours(24));
  for (int i = 0; i < 5000; ++i) histogram.add(0.05 + (i % 97) / 200.0, 1 + i % 3, 1000.0 + i);
  std::string bytes;
  histogram.write(bytes);
  EXPECT_EQ(bytes.size(), 24 + 4 * histogram.storedBuckets());
  DecayingHistogram back(hours(24));
  std::string_view view = bytes;
  ASSERT_TRUE(back.read(view));
  EXPECT_TRUE(view.empty());
  for (const double share : {0.1, 0.5, 0.9, 0.95, 1.0}) {
    EXPECT_DOUBLE_EQ(back.percentile(share), histogram.percentile(share)) << share;
  }
  // New samples weigh the same after the trip.
  histogram.add(3.0, 1000, 9000);
  back.add(3.0, 1000, 9000);
  EXPECT_DOUBLE_EQ(back.percentile(0.9), histogram.percentile(0.9));
}

TEST(DecayingHistogramTest, RefusesMalformedStoredForms) {
  DecayingHistogram histogram(hours(24));
  histogram.add(1.0, 1, 100);
  std::string bytes;
  histogram.write(bytes);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    std::string_view view(bytes.data(), cut);
    DecayingHistogram back(hours(24));
    EXPECT_FALSE(back.read(view)) << cut;
  }
  std::string beyond = bytes;
  beyond[8] = '\xff';  // the first bucket, far past the last
  std::string_view view = beyond;
  EXPECT_FALSE(DecayingHistogram(hours(24)).read(view));
}

}  // namespace
}  // namespace fleetscale::aggregator::rightsizing
