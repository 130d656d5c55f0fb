// The replay core on hand-made histories: a load step answered at the right step with the HPA's
// numbers, the measurements of both the replayed policy and the recorded replicas, clusters
// summed, and histories that cannot be replayed.
#include "fleetscale/aggregator/replay/replay.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/policy_fixtures.h"

namespace fleetscale::aggregator {
namespace {

using namespace std::chrono_literals;

WallTime at(int seconds) { return WallTime(std::chrono::seconds(1'800'000'000 + seconds)); }

// Two replicas of 0.5 core request, `cpu` cores used in total, in one cluster.
ReplaySample sample(int seconds, double cpu, double replicas = 2,
                    const std::string& cluster = "aws") {
  ReplaySample s;
  s.time = at(seconds);
  s.namespaceName = "shop";
  s.name = "web";
  s.cluster = cluster;
  s.replicas = replicas;
  s.readyReplicas = replicas;
  s.cpuUsageCores = cpu;
  s.cpuRequestCores = 0.5 * replicas;
  s.memoryUsageBytes = 100e6 * replicas;
  s.memoryRequestBytes = 256e6 * replicas;
  return s;
}

// 0.5 cores (50% of 2 x 0.5) for a minute, then 2 cores from t=60 s, every 10 s until t=90 s.
std::vector<ReplaySample> loadStep() {
  std::vector<ReplaySample> samples;
  for (int t = 0; t <= 90; t += 10) samples.push_back(sample(t, t < 60 ? 0.5 : 2.0));
  return samples;
}

TEST(ReplayTest, LoadStepScalesUpAtTheStepWithTheHpaNumbers) {
  const auto replay = replayWorkload(testing::shopWebAtHalfCpu(), loadStep(), {});
  ASSERT_TRUE(replay.ok()) << replay.error().message;
  ASSERT_EQ(replay->steps.size(), 10u);
  EXPECT_DOUBLE_EQ(replay->capacityPerReplicaCores, 0.5);  // the request per replica
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(replay->steps[i].scaled) << "step " << i << ": " << replay->steps[i].reason;
    EXPECT_EQ(replay->steps[i].desiredReplicas, 2);
  }
  // t=60: 200% of requests against 50% wants 8; without behavior the legacy limit allows
  // max(2 x 2, 4) = 4.
  const ReplayStep& step = replay->steps[6];
  EXPECT_EQ(step.time, at(60));
  EXPECT_TRUE(step.scaled);
  EXPECT_EQ(step.currentReplicas, 2);
  EXPECT_EQ(step.desiredReplicas, 4);
  EXPECT_NE(step.reason.find("2 to 4"), std::string::npos) << step.reason;
  // t=70: four ready replicas at 100% want 8, now within the limit (max(2 x 4, 4)).
  EXPECT_TRUE(replay->steps[7].scaled);
  EXPECT_EQ(replay->steps[7].readyReplicas, 4);
  EXPECT_EQ(replay->steps[7].desiredReplicas, 8);
  // t=80: eight at 50%: on target.
  EXPECT_FALSE(replay->steps[8].scaled) << replay->steps[8].reason;
  EXPECT_EQ(replay->steps[8].desiredReplicas, 8);
  EXPECT_EQ(replay->steps[9].readyReplicas, 8);
}

// Issue 14: a history recorded at a CPU limit. Two replicas capped at 0.5 core each used 1 core
// (100% of their requests against a 50% target) while wanting 3: throttling-aware, the replay
// reads the demand (usage plus the recorded unmet demand) and asks for what it needs at once;
// on usage it sees only what the limit let through.
TEST(ReplayTest, AThrottlingAwareReplayReadsTheRecordedUnmetDemand) {
  std::vector<ReplaySample> capped;
  for (int t = 0; t <= 30; t += 10) {
    capped.push_back(sample(t, t < 10 ? 0.5 : 1.0));
    if (t >= 10) capped.back().cpuUnmetDemandCores = 2.0;
  }
  auto workload = testing::shopWebAtHalfCpu();
  workload.policy.cpuDemand = scaling::CpuDemand::kUsage;
  const auto onUsage = replayWorkload(workload, capped, {});
  workload.policy.cpuDemand = scaling::CpuDemand::kThrottlingAware;
  const auto onDemand = replayWorkload(workload, capped, {});
  ASSERT_TRUE(onUsage.ok() && onDemand.ok());
  EXPECT_DOUBLE_EQ(onDemand->steps[1].demandCores, 3.0) << "measured against the demand";
  EXPECT_DOUBLE_EQ(onUsage->steps[1].demandCores, 3.0) << "whichever figure decides";
  EXPECT_EQ(onUsage->steps[1].desiredReplicas, 4) << "100% of requests: 4 at 50%";
  EXPECT_EQ(onDemand->steps[1].desiredReplicas, 4) << "the legacy rate limit (x2) caps it";
  EXPECT_EQ(onDemand->steps[2].desiredReplicas, 8) << "3 cores want 12; 2 x 4 allowed";
  EXPECT_LT(onDemand->replayed.shortfallCoreSeconds, onUsage->replayed.shortfallCoreSeconds);
}

TEST(ReplayTest, MeasuresThePolicyAndTheRecordedReplicasOnTheSameLoad) {
  const auto replay = replayWorkload(testing::shopWebAtHalfCpu(), loadStep(), {});
  ASSERT_TRUE(replay.ok()) << replay.error().message;
  const ReplayMeasurements& policy = replay->replayed;
  EXPECT_DOUBLE_EQ(policy.seconds, 100);  // ten steps of 10 s, the last as long as the others
  // Short only during the step at t=60 (2 cores against 2 x 0.5); at t=70 four replicas serve
  // exactly 2 cores.
  EXPECT_DOUBLE_EQ(policy.underProvisionedSeconds, 10);
  EXPECT_DOUBLE_EQ(policy.shortfallCoreSeconds, 10);
  EXPECT_DOUBLE_EQ(policy.slackCoreSeconds, 6 * 10 * 0.5 + 2 * 10 * 2.0);
  // Half the capacity idle before the step and with eight replicas, none at t=60 and t=70.
  EXPECT_DOUBLE_EQ(policy.meanSlack, (60 * 0.5 + 20 * 0.5) / 100);
  EXPECT_EQ(policy.actions, 2);
  EXPECT_DOUBLE_EQ(policy.peakReplicas, 8);

  const ReplayMeasurements& recorded = replay->recorded;
  EXPECT_DOUBLE_EQ(recorded.underProvisionedSeconds, 40);  // two replicas from t=60 on
  EXPECT_DOUBLE_EQ(recorded.shortfallCoreSeconds, 40);
  EXPECT_EQ(recorded.actions, 0);
  EXPECT_DOUBLE_EQ(recorded.meanReplicas, 2);
}

TEST(ReplayTest, ReadinessDelayKeepsNewReplicasOutOfServiceUntilReady) {
  ReplayOptions options;
  options.readinessDelay = 25s;
  const auto replay = replayWorkload(testing::shopWebAtHalfCpu(), loadStep(), options);
  ASSERT_TRUE(replay.ok()) << replay.error().message;
  EXPECT_EQ(replay->steps[6].desiredReplicas, 4);
  // Asked for at t=60, serving from t=85: two ready replicas at t=70 and t=80.
  EXPECT_EQ(replay->steps[7].readyReplicas, 2);
  EXPECT_EQ(replay->steps[8].readyReplicas, 2);
  EXPECT_GE(replay->steps[9].readyReplicas, 4);
  EXPECT_DOUBLE_EQ(replay->replayed.underProvisionedSeconds, 30);
}

TEST(ReplayTest, SumsClustersAtTheSameTime) {
  std::vector<ReplaySample> samples;
  for (int t = 0; t <= 30; t += 10) {
    samples.push_back(sample(t, 1.0, 2, "aws"));  // 100% in each cluster: twice the target
    samples.push_back(sample(t, 1.0, 2, "gcp"));
  }
  const auto replay = replayWorkload(testing::shopWebAtHalfCpu(), samples, {});
  ASSERT_TRUE(replay.ok()) << replay.error().message;
  ASSERT_EQ(replay->steps.size(), 4u);
  EXPECT_DOUBLE_EQ(replay->steps[0].demandCores, 2.0);
  EXPECT_DOUBLE_EQ(replay->steps[0].recordedReplicas, 4);
  EXPECT_EQ(replay->steps[0].currentReplicas, 4);
  EXPECT_EQ(replay->steps[0].desiredReplicas, 8);
}

TEST(ReplayTest, CapacityPerReplicaCanBeGiven) {
  ReplayOptions options;
  options.capacityPerReplicaCores = 1.0;  // each replica serves twice its request
  const auto replay = replayWorkload(testing::shopWebAtHalfCpu(), loadStep(), options);
  ASSERT_TRUE(replay.ok()) << replay.error().message;
  EXPECT_DOUBLE_EQ(replay->replayed.underProvisionedSeconds, 0);
  EXPECT_DOUBLE_EQ(replay->recorded.underProvisionedSeconds, 0);
}

TEST(ReplayTest, HistoriesThatCannotBeReplayedAreErrors) {
  auto other = testing::shopWebAtHalfCpu();
  other.name = "api";
  const auto missing = replayWorkload(other, loadStep(), {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "the history has no samples of shop/api");

  const auto empty =
      replayWorkload(testing::shopWebAtHalfCpu(), {sample(0, 0, 0), sample(10, 0, 0)}, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "the history never shows a replica of shop/web");

  auto noRequest = sample(0, 1, 2);
  noRequest.cpuRequestCores = 0;
  const auto unmeasurable = replayWorkload(testing::shopWebAtHalfCpu(), {noRequest}, {});
  ASSERT_FALSE(unmeasurable.ok());
  EXPECT_EQ(unmeasurable.error().message,
            "shop/web has no CPU request in the history: pass the capacity per replica");
}

}  // namespace
}  // namespace fleetscale::aggregator
