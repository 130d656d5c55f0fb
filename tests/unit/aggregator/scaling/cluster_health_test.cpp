// The health state machine over simulated time, as tables of (time, signals) -> state.
#include "fleetscale/aggregator/scaling/cluster_health.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

using std::chrono::seconds;

struct Step {
  int atSecond;
  double coverage;
  bool api;
  HealthState expected;
};

void run(const std::string& name, const std::vector<Step>& steps,
         HealthState initial = HealthState::kHealthy) {
  SCOPED_TRACE(name);
  ClusterHealth health(HealthThresholds{}, initial);
  const SteadyTime start{std::chrono::hours(1)};
  for (const auto& step : steps) {
    health.update(HealthSignals{step.coverage, step.api}, start + seconds(step.atSecond));
    EXPECT_EQ(healthStateName(health.state()), healthStateName(step.expected))
        << "at " << step.atSecond << " s";
  }
}

constexpr auto H = HealthState::kHealthy;
constexpr auto S = HealthState::kSuspect;
constexpr auto F = HealthState::kFailed;
constexpr auto R = HealthState::kRecovering;

TEST(ClusterHealthTest, DarkClusterFailsAfterTenSecondsAndRecoversAfterSixty) {
  run("kill and revive", {{0, 1.0, true, H},
                          {1, 0.0, false, S},
                          {10, 0.0, false, S},
                          {11, 0.0, false, F},  // 10 s with neither signal
                          {100, 0.0, false, F},
                          {101, 1.0, true, R},
                          {160, 1.0, true, R},
                          {161, 1.0, true, H}});  // 60 s of both
}

TEST(ClusterHealthTest, FailedAfterCountsFromTheLastSignOfLife) {
  // Agents are noticed silent only once their nodes go stale (3 s after the last batch): the
  // silence is dated from the last batch, so the cluster fails 10 s after it went dark.
  ClusterHealth health(HealthThresholds{});
  const SteadyTime start{std::chrono::hours(1)};
  health.update(HealthSignals{1.0, true}, start);
  HealthSignals silent{0.0, false};
  silent.silentFor = seconds(3);
  health.update(silent, start + seconds(3));
  EXPECT_EQ(health.state(), HealthState::kSuspect);
  silent.silentFor = seconds(9);
  health.update(silent, start + seconds(9));
  EXPECT_EQ(health.state(), HealthState::kSuspect);
  silent.silentFor = seconds(10);
  health.update(silent, start + seconds(10));
  EXPECT_EQ(health.state(), HealthState::kFailed);
  // A sign of life resets it: the next silence counts afresh.
  health.update(HealthSignals{1.0, true}, start + seconds(11));
  EXPECT_EQ(health.state(), HealthState::kRecovering);
}

TEST(ClusterHealthTest, OneSignalAloneNeverFails) {
  run("API partition, agents alive",
      {{0, 1.0, false, S}, {30, 1.0, false, S}, {300, 1.0, false, S}, {301, 1.0, true, H}});
  run("agents partitioned, API alive",
      {{0, 0.0, true, S}, {300, 0.0, true, S}, {301, 0.9, true, H}});
}

TEST(ClusterHealthTest, FlappingAgentsDoNotFailACluster) {
  // Coverage dips below the threshold every other second while the API answers: suspect at
  // worst, never failed.
  std::vector<Step> steps;
  for (int t = 0; t < 60; ++t)
    steps.push_back({t, t % 2 == 0 ? 1.0 : 0.2, true, t % 2 == 0 ? H : S});
  run("flapping agents", steps);
  // Both signals blinking with gaps shorter than failedAfter never fail the cluster either.
  std::vector<Step> blinking;
  for (int t = 0; t < 100; t += 5) {
    blinking.push_back({t, 0.0, false, S});
    blinking.push_back({t + 4, 1.0, true, H});
  }
  run("blinking", blinking);
}

TEST(ClusterHealthTest, RecoveryNeedsSixtyUninterruptedSecondsAndCanFailAgain) {
  run("interrupted recovery",
      {{0, 0.0, false, F},
       {1, 1.0, true, R},
       {40, 1.0, false, R},  // one signal lost: the 60 s start over
       {41, 1.0, true, R},
       {100, 1.0, true, R},
       {101, 1.0, true, H}},
      F);
  run("relapse", {{0, 1.0, true, R}, {5, 0.0, false, R}, {15, 0.0, false, F}}, R);
}

TEST(ClusterHealthTest, TransitionsCarryAReason) {
  ClusterHealth health(HealthThresholds{});
  const SteadyTime t0{std::chrono::hours(1)};
  auto transition = health.update(HealthSignals{0.0, true}, t0);
  ASSERT_TRUE(transition);
  EXPECT_EQ(transition->from, HealthState::kHealthy);
  EXPECT_EQ(transition->to, HealthState::kSuspect);
  EXPECT_EQ(transition->reason, "agents silent (coverage 0%), API reachable");
  EXPECT_FALSE(health.update(HealthSignals{0.0, true}, t0 + seconds(1)))
      << "no change, no transition";
}

// Issue 19: the log said "API reachable" for webhook clusters, which have no API (and /status
// said apiReachable: false). Their reasons say there is no API to probe.
TEST(ClusterHealthTest, AWebhookClusterHasNoApiInItsReasons) {
  ClusterHealth health(HealthThresholds{});
  const SteadyTime t0{std::chrono::hours(1)};
  HealthSignals signals;
  signals.agentCoverage = 0.0;
  signals.apiReachable = false;  // mirrors the silent agents
  signals.hasApi = false;
  auto transition = health.update(signals, t0);
  ASSERT_TRUE(transition);
  EXPECT_EQ(transition->reason, "agents silent (coverage 0%), no API to probe (webhook)");
}

TEST(ClusterHealthTest, HeldFailureTurnsSuspectAndRestartsTheFailureClock) {
  ClusterHealth health(HealthThresholds{});
  const SteadyTime start{std::chrono::hours(1)};
  for (int second = 1; second <= 30; ++second) {
    health.update(HealthSignals{0.0, false, seconds(second)}, start + seconds(second), true);
    ASSERT_EQ(health.state(), HealthState::kSuspect) << second << " s";
  }
  health.update(HealthSignals{0.0, false, seconds(39)}, start + seconds(39));
  EXPECT_EQ(health.state(), HealthState::kSuspect) << "9 s after the hold ended";
  health.update(HealthSignals{0.0, false, seconds(40)}, start + seconds(40));
  EXPECT_EQ(health.state(), HealthState::kFailed);
}

TEST(ClusterHealthTest, NoClusterReachableNeedsEveryClusterSilent) {
  const HealthThresholds thresholds;
  EXPECT_FALSE(noClusterReachable({}, thresholds)) << "no cluster: nothing to hold";
  EXPECT_TRUE(noClusterReachable({{0.0, false}, {0.2, false}}, thresholds));
  EXPECT_FALSE(noClusterReachable({{0.0, false}, {0.0, true}}, thresholds)) << "an API answers";
  EXPECT_FALSE(noClusterReachable({{0.0, false}, {0.5, false}}, thresholds)) << "agents report";
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
