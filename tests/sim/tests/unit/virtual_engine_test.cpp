#include "fleetscale/sim/virtual_engine.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fleetscale::sim {
namespace {

using aggregator::scaling::HealthState;

// One cluster, shop/api at 2 replicas (500m request, 80% target: 400m a replica), 600m of load
// that steps to 2.2 cores at 12 s. `behavior` lets one decision jump as far as the formula asks:
// ceil(2 x (1.1 / 0.5) / 0.8) = 6. The agents sample at whole seconds, the aggregator decides at
// half past.
std::string stepScenario(const std::string& limit = "2", const std::string& extra = "") {
  return R"(
name: virtual-step
seed: 21
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    nodes: 2
    node-capacity: {cpu: 8, memory: 32Gi}
    scheduling-delay: 1s
    readiness-delay: 1s
workloads:
  - name: api
    namespace: web
    replicas: 2
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: ")" +
         limit + R"(", memory: 512Mi}
    capacity-per-replica: 400m
    load:
      cpu: {curve: step, initial: 600m, steps: [{at: 12s, value: 2200m}]}
      memory: 300Mi
    autoscale:
      min-replicas: 2
      max-replicas: 10
      cpu-utilization: 80
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          policies: [{type: Percent, value: 900, periodSeconds: 15}]
)" + extra;
}

// The scenario's timing with the clocks' phases pinned for the figures worked out below: agents
// at whole seconds, decisions half a second later, metrics-server scraping from second 0 (the
// engine's defaults are half a period later: the mean phase).
std::unique_ptr<VirtualEngine> engineFor(const std::string& yaml, VirtualOptions options = {}) {
  auto scenario = parseScenario(yaml);
  EXPECT_TRUE(scenario) << scenario.error().message;
  if (!scenario) return nullptr;
  auto timing = virtualTiming(*scenario);
  EXPECT_TRUE(timing) << timing.error().message;
  if (!timing) return nullptr;
  timing->agentPhaseSeconds = 0;
  timing->decisionPhaseSeconds = 0.5;
  timing->baselineScrapePhaseSeconds = 0;
  options.timing = *timing;
  auto engine = VirtualEngine::create(*scenario, std::move(options));
  EXPECT_TRUE(engine) << engine.error().message;
  return engine ? std::move(*engine) : nullptr;
}

std::vector<ScaleAction> actionsOf(const VirtualEngine& engine, const std::string& workload) {
  std::vector<ScaleAction> out;
  for (const auto& action : engine.timeline().actions) {
    if (action.workload == workload) out.push_back(action);
  }
  return out;
}

const aggregator::WorkloadSnapshot* apiIn(const VirtualEngine& engine) {
  const aggregator::FleetSnapshot* snapshot = engine.lastSnapshot();
  if (snapshot == nullptr) return nullptr;
  return snapshot->find(aggregator::WorkloadKey{"web", "Deployment", "api"});
}

TEST(VirtualEngineTest, ALoadStepIsAnsweredOneSampleAndOneDecisionLater) {
  VirtualOptions options;
  options.durationSeconds = 30;
  auto engine = engineFor(stepScenario(), options);
  ASSERT_TRUE(engine);
  engine->run();
  EXPECT_TRUE(engine->finished());
  EXPECT_DOUBLE_EQ(engine->now(), 30);
  // The sample at 12 s covers (11, 12]: 50 ms of the new load, 68% utilization, which the HPA
  // rules leave alone (2 is the minimum). The sample at 13 s sees 110%: the decision at 13.5 s
  // asks for 6.
  const auto actions = actionsOf(*engine, "web/api");
  ASSERT_EQ(actions.size(), 1u) << engine->reportJson()["scale_actions"].dump();
  EXPECT_DOUBLE_EQ(actions[0].seconds, 13.5);
  EXPECT_EQ(actions[0].cluster, "aws-us-east-1");
  EXPECT_EQ(actions[0].from, 2);
  EXPECT_EQ(actions[0].to, 6);
  EXPECT_EQ(actions[0].user, "system:serviceaccount:fleetscale:fleetscale-aggregator");

  const Report report = engine->report();
  ASSERT_EQ(report.workloads.size(), 1u);
  const WorkloadReport& api = report.workloads[0];
  ASSERT_EQ(api.loadChanges.size(), 1u);
  ASSERT_TRUE(api.loadChanges[0].firstRequestSeconds);
  EXPECT_NEAR(*api.loadChanges[0].firstRequestSeconds, 1.5, 1e-9);
  // The controllers act on the next tick (13.55 s); 1 s to run, 1 s to Ready: 15.55 s. The
  // timeline has a sample at that very tick because the cluster changed.
  ASSERT_TRUE(api.loadChanges[0].readySeconds);
  EXPECT_NEAR(*api.loadChanges[0].readySeconds, 3.55, 1e-9);
  EXPECT_EQ(api.scaleActions, 1);
  EXPECT_DOUBLE_EQ(report.durationSeconds, 30);
}

TEST(VirtualEngineTest, NewPodsCountOnceTheAgentsDiscoverThemAndTheKubeletSaysTheyAreReady) {
  VirtualOptions options;
  options.durationSeconds = 30;
  auto engine = engineFor(stepScenario(), options);
  ASSERT_TRUE(engine);
  // The four new pods run from 14.55 s. The agents rediscover cgroups every 2 s (at 14 s, too
  // early; at 16 s) and read the kubelet every 5 s (at 15 s: running, not Ready; at 20 s:
  // Ready since 15.55 s), and a refresh applies from the next sample.
  engine->runUntil(15.5);
  const aggregator::WorkloadSnapshot* api = apiIn(*engine);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->total.replicasSeen, 2) << "not discovered yet";

  engine->runUntil(16.5);
  api = apiIn(*engine);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->total.replicasSeen, 6);
  EXPECT_EQ(api->total.replicasReady, 2);
  int withoutUsage = 0;
  for (const auto& pod : api->pods) withoutUsage += std::isnan(pod.cpuUsageCores) ? 1 : 0;
  EXPECT_EQ(withoutUsage, 4) << "a container's first read has no rate";

  engine->runUntil(20.5);
  EXPECT_EQ(apiIn(*engine)->total.replicasReady, 2) << "the 20 s refresh applies from 21 s";
  engine->runUntil(21.5);
  api = apiIn(*engine);
  EXPECT_EQ(api->total.replicasReady, 6);
  EXPECT_NEAR(api->total.cpuUsageCores, 2.2, 1e-6) << "the load spread over six";
  for (const auto& pod : api->pods) {
    EXPECT_GT(pod.startTimeUnixMs, 0) << pod.pod;
    EXPECT_EQ(pod.startTimeUnixMs % 1000, 0) << "the kubelet's timestamps have whole seconds";
  }
  engine->run();
  EXPECT_EQ(actionsOf(*engine, "web/api").size(), 1u) << "six is where it stays (73%)";
}

TEST(VirtualEngineTest, AgentsReportTheCpuALimitThrottled) {
  // A 1-core limit and 3 cores over 2 replicas: each uses 1 core and is throttled for 0.5.
  std::string yaml = stepScenario("1");
  const std::string step = "{at: 12s, value: 2200m}";
  yaml.replace(yaml.find(step), step.size(), "{at: 2s, value: 3}");
  VirtualOptions options;
  options.durationSeconds = 4;
  auto engine = engineFor(yaml, options);
  ASSERT_TRUE(engine);
  engine->runUntil(3.5);
  const aggregator::WorkloadSnapshot* api = apiIn(*engine);
  ASSERT_NE(api, nullptr);
  ASSERT_EQ(api->pods.size(), 2u);
  for (const auto& pod : api->pods) {
    EXPECT_NEAR(pod.cpuUsageCores, 1.0, 1e-6) << pod.pod;
    EXPECT_NEAR(pod.cpuThrottledCores, 0.5, 1e-6) << pod.pod;
  }
}

// Issue 14: under a CPU limit, usage stops at the limit and the HPA's figure climbs in rounds;
// the throttled time shows what the replicas want, and one decision reaches the right size.
// Limits of 500m (the request), 3.9 cores from 12 s: 10 replicas serve it at the 80% target.
TEST(VirtualEngineTest, ACappedStepReachesItsSizeInOneRoundThrottlingAwareAndInRoundsOnUsage) {
  auto cappedStep = [](const std::string& demand) {
    std::string yaml = stepScenario("500m", "");
    const std::string step = "{at: 12s, value: 2200m}";
    yaml.replace(yaml.find(step), step.size(), "{at: 12s, value: 3900m}");
    yaml.replace(yaml.find("max-replicas: 10"), 16, "max-replicas: 20");
    return yaml + "      demand: " + demand + "\n";
  };
  VirtualOptions options;
  options.durationSeconds = 60;
  auto aware = engineFor(cappedStep("throttling-aware"), options);
  ASSERT_TRUE(aware);
  aware->run();
  const auto once = actionsOf(*aware, "web/api");
  ASSERT_EQ(once.size(), 1u) << aware->reportJson()["scale_actions"].dump();
  // The sample at 13 s: each replica used its 0.5 and was throttled 1.45 s a second.
  EXPECT_DOUBLE_EQ(once[0].seconds, 13.5);
  EXPECT_EQ(once[0].to, 10) << "ceil(2 x (1.95 / 0.5) / 0.8)";

  auto usage = engineFor(cappedStep("usage"), options);
  ASSERT_TRUE(usage);
  usage->run();
  const auto rounds = actionsOf(*usage, "web/api");
  ASSERT_GE(rounds.size(), 2u) << usage->reportJson()["scale_actions"].dump();
  EXPECT_DOUBLE_EQ(rounds[0].seconds, 13.5);
  EXPECT_EQ(rounds[0].to, 3) << "100% of the request is all usage can show: ceil(2 x 1.25)";
  const auto readyAware = aware->report().workloads[0].loadChanges[0].readySeconds;
  const auto readyUsage = usage->report().workloads[0].loadChanges[0].readySeconds;
  ASSERT_TRUE(readyAware);
  EXPECT_TRUE(!readyUsage || *readyUsage > *readyAware + 5)
      << "aware " << *readyAware << " s, usage " << (readyUsage ? *readyUsage : -1) << " s";
}

TEST(VirtualEngineTest, TheHpaBaselineAnswersAtItsSyncOnItsScrapedMeans) {
  VirtualOptions options;
  options.durationSeconds = 30;
  options.hpaBaseline = true;
  auto engine = engineFor(stepScenario(), options);
  ASSERT_TRUE(engine);
  engine->run();
  EXPECT_EQ(engine->lastSnapshot(), nullptr) << "the aggregator does not decide";
  // Scrapes at 0, 15 and 30 s (a pod needs two for a CPU figure), syncs at 7.5, 22.5 s: the sync
  // at 22.5 s reads the 15 s scrape, the mean over 0-15 s: (0.6 x 12 + 2.2 x 3) / 15 = 0.92
  // cores over two pods, 92% of the request, ratio 1.15: ceil(2 x 1.15) = 3.
  const auto actions = actionsOf(*engine, "web/api");
  ASSERT_FALSE(actions.empty());
  EXPECT_DOUBLE_EQ(actions[0].seconds, 22.5);
  EXPECT_EQ(actions[0].from, 2);
  EXPECT_EQ(actions[0].to, 3);
  EXPECT_EQ(actions[0].user, "system:serviceaccount:kube-system:horizontal-pod-autoscaler");
}

// Two clusters of 3 + 3 replicas under 2.2 cores; gcp dies at 20 s and comes back at 50 s.
const char* kKillScenario = R"(
name: virtual-kill
seed: 17
aggregator: {healthy-after: 10s}
defaults:
  nodes: 2
  node-capacity: {cpu: 8, memory: 32Gi}
  scheduling-delay: 1s
  readiness-delay: 2s
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1}
workloads:
  - name: checkout
    namespace: shop
    replicas: {aws-us-east-1: 3, gcp-europe-west1: 3}
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: "1", memory: 512Mi}
    capacity-per-replica: 400m
    load: {cpu: 2200m, memory: 1Gi}
    autoscale: {min-replicas: 2, max-replicas: 20, cpu-utilization: 80}
faults:
  - {at: 20s, fault: kill-cluster, cluster: gcp-europe-west1}
  - {at: 50s, fault: revive-cluster, cluster: gcp-europe-west1}
)";

TEST(VirtualEngineTest, AKilledClusterFailsAfterItsSilenceAndItsShareMovesToTheSurvivor) {
  VirtualOptions options;
  options.durationSeconds = 75;
  auto engine = engineFor(kKillScenario, options);
  ASSERT_TRUE(engine);
  engine->runUntil(21);
  EXPECT_EQ(engine->clusterHealth("gcp-europe-west1"), HealthState::kSuspect)
      << "the API is gone, the agents' last batch is still fresh";
  engine->runUntil(29);
  EXPECT_EQ(engine->clusterHealth("gcp-europe-west1"), HealthState::kSuspect);
  // Last signs of life: the agents' batch at 19 s, the probe at 19.5 s. Failed 10 s after the
  // later one, at the decision of 29.5 s, which moves gcp's share to aws at once.
  engine->runUntil(29.5);
  EXPECT_EQ(engine->clusterHealth("gcp-europe-west1"), HealthState::kFailed);
  engine->run();
  EXPECT_EQ(engine->clusterHealth("gcp-europe-west1"), HealthState::kHealthy)
      << "both signals back for healthy-after (10 s)";

  const Report report = engine->report();
  ASSERT_EQ(report.workloads.size(), 1u);
  ASSERT_EQ(report.workloads[0].failovers.size(), 1u);
  const FailoverResult& failover = report.workloads[0].failovers[0];
  ASSERT_TRUE(failover.survivorRequestSeconds);
  EXPECT_NEAR(*failover.survivorRequestSeconds, 9.5, 1e-9);
  ASSERT_TRUE(failover.failoverSeconds);
  EXPECT_NEAR(*failover.failoverSeconds, 9.5 + 0.05 + 1 + 2, 1e-9);  // next tick, run, Ready
  ASSERT_TRUE(failover.revivedAt);
  EXPECT_DOUBLE_EQ(*failover.revivedAt, 50);
  ASSERT_TRUE(failover.failbackSeconds);
  EXPECT_LT(*failover.failbackSeconds, 25);

  bool wroteToTheDeadCluster = false;
  for (const auto& write : engine->writes()) {
    if (write.cluster == "gcp-europe-west1" && write.seconds >= 20 && write.seconds < 50) {
      wroteToTheDeadCluster = true;
    }
  }
  EXPECT_FALSE(wroteToTheDeadCluster) << "a failed cluster is not written to";
  const auto actions = actionsOf(*engine, "shop/checkout");
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions[0].cluster, "aws-us-east-1");
  EXPECT_EQ(actions[0].to, 6) << "gcp's 3 replicas move to aws";
}

TEST(VirtualEngineTest, TimingComesFromTheScenarioAndTheProcessesFlags) {
  auto scenario = parseScenario(std::string(kKillScenario) + R"(
agents: {interval: 2s, args: ["--metadata-interval", "3s"]}
)");
  ASSERT_TRUE(scenario) << scenario.error().message;
  scenario->aggregator.extraArgs = {"--tick=500ms", "--failed-after", "4s"};
  const auto timing = virtualTiming(*scenario);
  ASSERT_TRUE(timing) << timing.error().message;
  EXPECT_DOUBLE_EQ(timing->agentIntervalSeconds, 2);
  EXPECT_DOUBLE_EQ(timing->metadataSeconds, 3);
  EXPECT_DOUBLE_EQ(timing->rediscoverSeconds, 2);  // the scenario's default
  EXPECT_DOUBLE_EQ(timing->decisionSeconds, 0.5);
  EXPECT_EQ(timing->health.failedAfter, std::chrono::seconds(4)) << "args come after the keys";
  EXPECT_EQ(timing->health.healthyAfter, std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(timing->agentPhaseSeconds, 0.5) << "the middle of the agents' second";
  EXPECT_NEAR(timing->decisionPhaseSeconds, 0.01, 1e-12)
      << "decided on arrival (the default): the round is in as the agents' batches arrive";
  scenario->aggregator.extraArgs = {"--tick=500ms", "--decision-debounce", "0s"};
  const auto ticksOnly = virtualTiming(*scenario);
  ASSERT_TRUE(ticksOnly) << ticksOnly.error().message;
  EXPECT_DOUBLE_EQ(ticksOnly->decisionPhaseSeconds, 0.0)
      << "on the tick alone: half an agent interval later, in 500 ms";
  EXPECT_DOUBLE_EQ(timing->baselineScrapePhaseSeconds, 7.5);

  scenario->aggregator.extraArgs = {"--tick", "soon"};
  const auto bad = virtualTiming(*scenario);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--tick"), std::string::npos) << bad.error().message;
}

TEST(VirtualEngineTest, FaultsOnSingleRequestsAreRefusedWithTheirName) {
  auto scenario = parseScenario(stepScenario("2", R"(
faults:
  - {at: 5s, fault: partition-api, cluster: aws-us-east-1, for: 2s}
  - {at: 9s, fault: failing-api, cluster: aws-us-east-1, rate: 0.5}
)"));
  ASSERT_TRUE(scenario) << scenario.error().message;
  const auto engine = VirtualEngine::create(*scenario, {});
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find("failing-api"), std::string::npos)
      << engine.error().message;
}

TEST(VirtualEngineTest, AnApiPartitionHoldsTheWritesAndTheyLandOnceItEnds) {
  // The API is unreachable from 11 s to 20 s: the decision to scale is taken at 13.5 s, but the
  // write cannot land until the partition ends; the agents keep reporting, so nothing fails.
  VirtualOptions options;
  options.durationSeconds = 25;
  auto engine = engineFor(stepScenario("2", R"(
faults:
  - {at: 11s, fault: partition-api, cluster: aws-us-east-1, for: 9s}
)"),
                          options);
  ASSERT_TRUE(engine);
  engine->run();
  EXPECT_NE(engine->clusterHealth("aws-us-east-1"), HealthState::kFailed);
  const auto actions = actionsOf(*engine, "web/api");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_DOUBLE_EQ(actions[0].seconds, 20.5) << "the first decision after the partition";
  EXPECT_EQ(actions[0].to, 6);
}

TEST(VirtualEngineTest, TheReportIsTheRealTimeReportPlusTheEnginesCounts) {
  VirtualOptions options;
  options.durationSeconds = 20;
  auto engine = engineFor(stepScenario(), options);
  ASSERT_TRUE(engine);
  engine->run();
  const nlohmann::json report = engine->reportJson();
  for (const char* key : {"scenario", "duration_seconds", "samples", "workloads", "scale_actions",
                          "faults", "virtual_time"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["virtual_time"]["ticks"], 401) << "0 to 20 s at 50 ms";
  EXPECT_EQ(report["virtual_time"]["decisions"], 20) << "0.5 s to 19.5 s";
  EXPECT_EQ(report["workloads"][0]["series"]["t"].size(), report["samples"]);
}

}  // namespace
}  // namespace fleetscale::sim
