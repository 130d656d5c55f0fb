// The scaling engine's cost: one pass of the live scaling loop over a fleet snapshot (every
// workload decided, placed and compared with the clusters' scales; steady state, so nothing is
// written), and one run of the pure decision pipeline for one workload. No store, no network:
// fake actuators answer the scale reads. Figures and how to read them: docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "fleetscale/aggregator/control/cluster_registry.h"
#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/aggregator/pipeline/decision_pipeline.h"
#include "fleetscale/aggregator/pipeline/workload_observation.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"

namespace {

using namespace fleetscale;
using namespace fleetscale::aggregator;

constexpr int kPodsPerCluster = 3;
const char* const kClusters[] = {"aws", "gcp"};

// Answers every scale read with the steady-state count, so a pass writes nothing.
class SteadyActuator final : public Actuator {
 public:
  ActuationOutcome getScale(const WorkloadKey&) override {
    ActuationOutcome outcome;
    outcome.status.specReplicas = kPodsPerCluster;
    return outcome;
  }
  ActuationOutcome setScale(const ScaleRequest& request) override {
    ActuationOutcome outcome;
    outcome.status.specReplicas = request.replicas;
    return outcome;
  }
};

std::string workloadName(int i) { return "app-" + std::to_string(i); }

PolicyConfig policyOf(int workloads) {
  PolicyConfig config;
  for (const char* name : kClusters) {
    ClusterConfig cluster;
    cluster.name = name;
    cluster.access.kind = ClusterAccess::Kind::kServer;
    config.clusters.push_back(cluster);
  }
  for (int i = 0; i < workloads; ++i) {
    WorkloadConfig workload;
    workload.namespaceName = "shop";
    workload.name = workloadName(i);
    workload.policy.minReplicas = 1;
    workload.policy.maxReplicas = 100;
    workload.policy.metrics.push_back(
        scaling::MetricTarget::utilization(scaling::Resource::kCpu, 50));
    config.workloads.push_back(workload);
  }
  return config;
}

// Every workload at its target (half of its 0.5-core request), three ready pods per cluster.
FleetSnapshot snapshotOf(int workloads, WallTime now) {
  FleetSnapshot snapshot;
  snapshot.takenAt = now;
  for (const char* name : kClusters) {
    ClusterSnapshot cluster;
    cluster.name = name;
    cluster.nodes = 10;
    snapshot.clusters.push_back(cluster);
  }
  for (int i = 0; i < workloads; ++i) {
    std::vector<PodSample> pods;
    for (const char* cluster : kClusters) {
      for (int p = 0; p < kPodsPerCluster; ++p) {
        PodSample pod;
        pod.cluster = cluster;
        pod.node = "node-" + std::to_string(p);
        pod.pod = workloadName(i) + "-" + std::to_string(p);
        pod.containers = 1;
        pod.cpuUsageCores = 0.25;
        pod.cpuRequestCores = 0.5;
        pod.memoryUsageBytes = 1e8;
        pod.memoryRequestBytes = 2e8;
        pod.startTimeUnixMs = toUnixMillis(now) - 3'600'000;
        pod.podReadyTimeUnixMs = pod.startTimeUnixMs;
        pods.push_back(pod);
      }
    }
    snapshot.workloads.push_back(
        rollupWorkload(WorkloadKey{"shop", "Deployment", workloadName(i)}, std::move(pods)));
  }
  return snapshot;
}

// One pass of the live loop (health, then every workload), as it runs once per snapshot.
void BM_ScalingLoopTick(benchmark::State& state) {
  const int workloads = static_cast<int>(state.range(0));
  SystemClock clock;
  PolicyHolder policy;
  policy.set(policyOf(workloads));
  ClusterRegistry registry(
      ClusterConnector{[](const ClusterConfig&) -> Result<std::unique_ptr<Actuator>> {
                         return std::unique_ptr<Actuator>(std::make_unique<SteadyActuator>());
                       },
                       [](const ClusterConfig&) -> Result<std::function<bool()>> {
                         return std::function<bool()>([] { return true; });
                       }},
      scaling::HealthThresholds{}, clock);
  registry.configure(policy.get()->clusters);
  SnapshotHolder snapshots;
  ScalingLoop loop(policy, registry, snapshots, nullptr, clock, ScalingLoopOptions{});
  const FleetSnapshot snapshot = snapshotOf(workloads, clock.wallNow());
  loop.tick(snapshot);                                  // registers the scales to watch
  registry.refresh(std::chrono::milliseconds::zero());  // and reads them once
  for (auto _ : state) loop.tick(snapshot);
  state.SetItemsProcessed(state.iterations() * workloads);
}
BENCHMARK(BM_ScalingLoopTick)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// The pure pipeline alone, for one workload of six pods over two clusters.
void BM_RunPipeline(benchmark::State& state) {
  const WallTime now = std::chrono::system_clock::now();
  const PolicyConfig config = policyOf(1);
  const FleetSnapshot snapshot = snapshotOf(1, now);
  PipelineContext context;
  context.now = now;
  WorkloadInput input;
  input.policy = config.workloads[0].policy;
  input.placements = placementsOf(config.workloads[0], config);
  input.observation = buildObservation(snapshot.workloads[0], 0, now,
                                       std::chrono::milliseconds(1000), input.policy.cpuDemand);
  for (const char* cluster : kClusters) input.specReplicas[cluster] = kPodsPerCluster;
  WorkloadMemory memory;
  for (auto _ : state) {
    context.now += std::chrono::seconds(1);
    benchmark::DoNotOptimize(runPipeline(context, input, memory).desiredReplicas);
  }
}
BENCHMARK(BM_RunPipeline);

}  // namespace

BENCHMARK_MAIN();
