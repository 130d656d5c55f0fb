// The HPA-like baseline on simulated time: it acts only on 15 s metrics at 15 s syncs, so a load
// step is answered at the first sync after the first scrape whose window saw it, with what the
// HPA rules give for that window's mean.
#include "fleetscale/sim/hpa_baseline.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fleetscale::sim {
namespace {

constexpr const char* kScenario = R"(
name: baseline
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, nodes: 2, node-capacity: {cpu: 16}}
workloads:
  - name: api
    namespace: web
    replicas: 2
    idle: {cpu: 0}
    resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {cpu: "2", memory: 512Mi}}
    load:
      cpu: {curve: step, initial: 600m, steps: [{at: 15.5s, value: 2600m}]}
      memory: 300Mi
    autoscale:
      min-replicas: 2
      max-replicas: 10
      cpu-utilization: 80
      behavior: {scaleUp: {policies: [{type: Percent, value: 900, periodSeconds: 15}]}}
)";

TEST(HpaBaselineTest, AnswersALoadStepAtTheFirstSyncAfterAScrapeThatSawIt) {
  auto scenario = parseScenario(kScenario);
  ASSERT_TRUE(scenario) << scenario.error().message;
  FleetModel model(*scenario, WallTime{} + std::chrono::hours(24 * 365 * 50));
  HpaBaseline baseline(*scenario, BaselineOptions{});
  std::vector<std::pair<double, BaselineWrite>> writes;
  for (int tick = 0; tick <= 400; ++tick) {  // 40 s in 100 ms steps
    const SimTime now = fromSeconds(tick * 0.1);
    model.step(now);
    for (auto& write : baseline.step(model, now)) {
      model.findCluster(write.cluster)
          ->setReplicas(write.kind, write.namespaceName, write.name, write.replicas, "", now);
      writes.emplace_back(toSeconds(now), std::move(write));
    }
  }
  // Scrapes at 0, 15, 30 s; syncs at 7.5, 22.5, 37.5 s. At 22.5 s the 0-15 s window shows 60%
  // (the minimum of 2 holds); the 15-30 s window holds the step at 15.5 s: a pod's mean is
  // (0.5 x 0.3 + 14.5 x 1.3) / 15 = 1.267 cores, 253% of its request, so at 37.5 s
  // ceil(2 x 2.53 / 0.8) = 7.
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_NEAR(writes[0].first, 37.5, 0.05);
  EXPECT_EQ(writes[0].second.cluster, "aws-us-east-1");
  EXPECT_EQ(writes[0].second.name, "api");
  const double meanPerPod = (0.5 * 0.3 + 14.5 * 1.3) / 15;
  EXPECT_EQ(writes[0].second.replicas, static_cast<int>(std::ceil(2 * meanPerPod / 0.5 / 0.8)));
  EXPECT_EQ(writes[0].second.replicas, 7);
}

}  // namespace
}  // namespace fleetscale::sim
