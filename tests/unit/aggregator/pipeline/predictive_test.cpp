#include "fleetscale/aggregator/pipeline/predictive.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace fleetscale::aggregator {
namespace {

using scaling::PredictiveMode;
using std::chrono::minutes;

const WallTime kMidnight{std::chrono::seconds(1'700'006'400)};  // 2023-11-15 00:00 UTC

// 2 cores at night, 10 in the afternoon.
double dailyCores(WallTime at) {
  const auto minute = std::chrono::duration_cast<minutes>(at.time_since_epoch()).count();
  const double phase = 2 * std::numbers::pi * static_cast<double>(minute % 1440) / 1440;
  return 6 - 4 * std::cos(phase);
}

scaling::WorkloadPolicy policy(PredictiveMode mode) {
  scaling::WorkloadPolicy p;
  p.minReplicas = 1;
  p.maxReplicas = 50;
  p.metrics.push_back(scaling::MetricTarget::utilization(scaling::Resource::kCpu, 50));
  p.predictive.mode = mode;
  p.predictive.lookAhead = minutes(60);
  return p;
}

// `replicas` pods of 1 core requested sharing `cores` of demand.
scaling::WorkloadObservation observe(int replicas, double cores) {
  scaling::WorkloadObservation o;
  o.currentReplicas = replicas;
  for (int i = 0; i < replicas; ++i) {
    scaling::PodInfo pod;
    pod.name = "c/web-" + std::to_string(i);
    pod.cluster = "c";
    pod.cpuRequestMilli = 1000;
    o.pods.push_back(pod);
    o.metrics[scaling::Resource::kCpu][pod.name] =
        scaling::PodMetric{static_cast<std::int64_t>(cores * 1000 / replicas), {}, {}};
  }
  return o;
}

scaling::Decision holding(std::int32_t replicas) {
  scaling::Decision d;
  d.currentReplicas = replicas;
  d.desiredReplicas = replicas;
  return d;
}

// The daily demand on `replicas` pods, one call per 20 s, from `from` until `until`.
void feed(const scaling::WorkloadPolicy& p, PredictiveMemory& memory, WallTime from, WallTime until,
          int replicas) {
  for (WallTime at = from; at < until; at += std::chrono::seconds(20)) {
    auto decision = holding(replicas);
    forecastDemand(p, observe(replicas, dailyCores(at)), {}, at, memory, decision);
  }
}

void learnADay(const scaling::WorkloadPolicy& p, PredictiveMemory& memory, WallTime from) {
  feed(p, memory, from, from + std::chrono::hours(24), 12);
}

TEST(PredictiveTest, OffComputesNothing) {
  PredictiveMemory memory;
  auto decision = holding(3);
  EXPECT_FALSE(
      forecastDemand(policy(PredictiveMode::kOff), observe(3, 1), {}, kMidnight, memory, decision));
  EXPECT_FALSE(memory.forecaster.lastMinute().has_value());
}

TEST(PredictiveTest, SaysItIsLearningUntilItHasSeenADay) {
  PredictiveMemory memory;
  auto decision = holding(3);
  const auto view =
      forecastDemand(policy(PredictiveMode::kOn), observe(3, 1), {}, kMidnight, memory, decision);
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->forecastCores);
  EXPECT_NE(view->note.find("whole day"), std::string::npos);
  EXPECT_NEAR(view->demandCores, 1, 0.01);
  EXPECT_EQ(view->lookAheadSource, "policy");
  EXPECT_EQ(decision.desiredReplicas, 3);
}

// At 05:00 the demand is 5 cores (10 replicas at 50%); by 06:00 it is 6 (12 replicas).
TEST(PredictiveTest, OnRaisesTheDecisionToWhatTheLookAheadNeeds) {
  const auto p = policy(PredictiveMode::kOn);
  PredictiveMemory memory;
  learnADay(p, memory, kMidnight);
  const WallTime at = kMidnight + std::chrono::hours(24 + 5);
  feed(p, memory, kMidnight + std::chrono::hours(24), at, 12);
  auto decision = holding(10);
  const auto view = forecastDemand(p, observe(10, dailyCores(at)), {}, at, memory, decision);
  ASSERT_TRUE(view && view->forecastCores);
  EXPECT_NEAR(*view->forecastCores, dailyCores(at + minutes(60)), 0.6);
  ASSERT_TRUE(view->replicas);
  EXPECT_GE(*view->replicas, 12);
  EXPECT_LE(*view->replicas, 14);
  EXPECT_TRUE(view->raised);
  EXPECT_EQ(decision.desiredReplicas, *view->replicas);
  EXPECT_TRUE(decision.scale);
  ASSERT_FALSE(decision.steps.empty());
  EXPECT_EQ(decision.steps.back().rule, "forecast");
  EXPECT_EQ(decision.steps.back().before, 10);
}

TEST(PredictiveTest, ObserveForecastsButNeverActs) {
  const auto p = policy(PredictiveMode::kObserve);
  PredictiveMemory memory;
  learnADay(p, memory, kMidnight);
  const WallTime at = kMidnight + std::chrono::hours(24 + 8);
  auto decision = holding(8);
  const auto view = forecastDemand(p, observe(8, dailyCores(at)), {}, at, memory, decision);
  ASSERT_TRUE(view && view->replicas);
  EXPECT_GT(*view->replicas, 8);
  EXPECT_FALSE(view->raised);
  EXPECT_EQ(decision.desiredReplicas, 8);
  EXPECT_FALSE(decision.scale);
}

// Evening: the forecast falls well below what runs, the reactive decision holds. The forecast
// alone must not scale in.
TEST(PredictiveTest, NeverScalesInOnAForecastAlone) {
  const auto p = policy(PredictiveMode::kOn);
  PredictiveMemory memory;
  learnADay(p, memory, kMidnight);
  const WallTime at = kMidnight + std::chrono::hours(24 + 20);
  feed(p, memory, kMidnight + std::chrono::hours(24), at, 20);
  auto decision = holding(20);
  const auto view = forecastDemand(p, observe(20, dailyCores(at)), {}, at, memory, decision);
  ASSERT_TRUE(view && view->replicas);
  EXPECT_LT(*view->replicas, 20) << "the forecast is lower than what runs";
  EXPECT_EQ(decision.desiredReplicas, 20);
  EXPECT_FALSE(decision.scale);
  EXPECT_TRUE(decision.steps.empty());
}

TEST(PredictiveTest, TheLookAheadIsTheLearnedStartUpTimeWhenThePolicyLeavesItOut) {
  auto p = policy(PredictiveMode::kObserve);
  p.predictive.lookAhead.reset();
  PredictiveMemory memory;
  auto decision = holding(2);
  EXPECT_EQ(forecastDemand(p, observe(2, 1), {}, kMidnight, memory, decision)->lookAheadSource,
            "default");
  memory.startup.scaleWritten("c", 2, 4, kMidnight);
  memory.startup.readySeen("c", 4, kMidnight + std::chrono::seconds(150));
  const auto view = forecastDemand(p, observe(2, 1), {}, kMidnight, memory, decision);
  EXPECT_EQ(view->lookAheadSource, "learned start-up time");
  EXPECT_EQ(view->lookAhead, minutes(3)) << "150 s, in whole minutes";
}

// A restarted aggregator: 26 hours of stored 10 s rollups in two clusters, the demand split
// between them, make the forecaster ready at once.
TEST(PredictiveTest, StoredRollupsSeedTheForecaster) {
  std::vector<RollupRow> rows;
  const WallTime end = kMidnight + std::chrono::hours(26);
  for (const char* cluster : {"aws", "gcp"}) {  // per cluster, in time order, as the store gives
    for (WallTime at = kMidnight; at < end; at += std::chrono::seconds(10)) {
      RollupRow row;
      row.bucketStartUnixMs = toUnixMillis(at);
      row.workload = WorkloadKey{"shop", "Deployment", "web"};
      row.cluster = cluster;
      row.cpuUsageCores = dailyCores(at) / 2;
      rows.push_back(row);
    }
  }
  PredictiveMemory memory;
  EXPECT_EQ(seedDemandHistory(memory, rows, end - minutes(10)), 26u * 60 - 10)
      << "the minutes from `until` on are left to the live decisions";
  ASSERT_TRUE(memory.forecaster.ready());
  const auto minute = std::chrono::duration_cast<minutes>((end + minutes(30)).time_since_epoch());
  EXPECT_NEAR(*memory.forecaster.forecast(minute.count()), dailyCores(end + minutes(30)), 0.3);
}

}  // namespace
}  // namespace fleetscale::aggregator
