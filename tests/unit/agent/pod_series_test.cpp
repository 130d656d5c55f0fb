#include "fleetscale/agent/pod_series.h"

#include <gtest/gtest.h>

namespace fleetscale::agent {
namespace {

using std::chrono::milliseconds;

Exposition parsed(const std::string& text) {
  auto exposition = parseExposition(text);
  EXPECT_TRUE(exposition.ok()) << exposition.error().message;
  return exposition.ok() ? *exposition : Exposition{};
}

std::string counterText(double requests) {
  return "# TYPE http_requests_total counter\n"
         "http_requests_total{code=\"200\",method=\"GET\"} " +
         std::to_string(requests) +
         "\n"
         "# TYPE queue_depth gauge\n"
         "queue_depth 7\n"
         "# TYPE latency_seconds histogram\n"
         "latency_seconds_bucket{le=\"+Inf\"} 3\n"
         "latency_seconds_sum 1.5\n"
         "latency_seconds_count 3\n"
         "temperature 21.5\n";
}

TEST(PodSeriesTest, CounterRatesAreNamedPerSecond) {
  EXPECT_EQ(rateName("http_requests_total"), "http_requests_per_second");
  EXPECT_EQ(rateName("jobs_done"), "jobs_done_per_second");
  EXPECT_EQ(rateName("_total"), "_total_per_second");
}

TEST(PodSeriesTest, GaugesAsServedCountersAsRatesFromTheSecondScrape) {
  PodSeriesBuilder builder(100);
  const WallTime t0 = fromUnixMillis(1'800'000'000'000);
  auto first = builder.build("uid-1", parsed(counterText(100)), t0);
  EXPECT_EQ(first.metrics.pod_uid(), "uid-1");
  EXPECT_EQ(first.metrics.scraped_unix_ms(), 1'800'000'000'000);
  ASSERT_EQ(first.metrics.series_size(), 2) << "no rate yet; histograms are left out";
  EXPECT_EQ(first.metrics.series(0).name(), "queue_depth");
  EXPECT_EQ(first.metrics.series(0).value(), 7);
  EXPECT_EQ(first.metrics.series(1).name(), "temperature") << "untyped counts as a gauge";

  auto second = builder.build("uid-1", parsed(counterText(130)), t0 + milliseconds(1500));
  ASSERT_EQ(second.metrics.series_size(), 3);
  const auto& rate = second.metrics.series(0);
  EXPECT_EQ(rate.name(), "http_requests_per_second");
  EXPECT_DOUBLE_EQ(rate.value(), 20.0) << "30 requests in 1.5 s";
  ASSERT_EQ(rate.labels_size(), 4);
  EXPECT_EQ(rate.labels(0), "code");
  EXPECT_EQ(rate.labels(1), "200");
  EXPECT_EQ(rate.labels(2), "method");
  EXPECT_EQ(rate.labels(3), "GET");
}

TEST(PodSeriesTest, ACounterThatWentDownHasNoRateUntilTheNextScrape) {
  PodSeriesBuilder builder(100);
  const WallTime t0 = fromUnixMillis(1'800'000'000'000);
  (void)builder.build("uid-1", parsed(counterText(500)), t0);
  auto restarted = builder.build("uid-1", parsed(counterText(4)), t0 + milliseconds(1000));
  for (const auto& series : restarted.metrics.series()) {
    EXPECT_NE(series.name(), "http_requests_per_second");
  }
  auto next = builder.build("uid-1", parsed(counterText(14)), t0 + milliseconds(2000));
  EXPECT_DOUBLE_EQ(next.metrics.series(0).value(), 10.0);
}

TEST(PodSeriesTest, PodsKeepTheirOwnCountersAndGoneOnesAreForgotten) {
  PodSeriesBuilder builder(100);
  const WallTime t0 = fromUnixMillis(1'800'000'000'000);
  (void)builder.build("a", parsed(counterText(0)), t0);
  (void)builder.build("b", parsed(counterText(1000)), t0);
  builder.retain({"a"});
  auto a = builder.build("a", parsed(counterText(10)), t0 + milliseconds(1000));
  auto b = builder.build("b", parsed(counterText(1010)), t0 + milliseconds(1000));
  EXPECT_DOUBLE_EQ(a.metrics.series(0).value(), 10.0);
  EXPECT_EQ(b.metrics.series_size(), 2) << "b was forgotten: its counter starts over";
}

TEST(PodSeriesTest, SeriesBeyondTheCapAreDroppedAndCounted) {
  PodSeriesBuilder builder(2);
  std::string text;
  for (int i = 0; i < 5; ++i) text += "load{cpu=\"" + std::to_string(i) + "\"} 1\n";
  text += "nan_gauge NaN\n";
  auto result = builder.build("a", parsed(text), fromUnixMillis(1'800'000'000'000));
  EXPECT_EQ(result.metrics.series_size(), 2);
  EXPECT_EQ(result.dropped, 3u) << "non-finite values are left out, not counted";
}

}  // namespace
}  // namespace fleetscale::agent
