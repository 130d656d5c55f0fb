// The right-sizing feed's cost on the state loop (docs/rightsizing.md, "In the aggregator"): one
// full tick's snapshot of N containers fed to the recommender (workloads of 10 replicas with one
// container each), computing every workload's recommendation (every 10 s), and serializing the
// state for the store (every 5 minutes). Steady state: every workload and replica seen before.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "fleetscale/aggregator/control/rightsizing_feed.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/rightsizing/recommender.h"

namespace {

using namespace fleetscale;
using namespace fleetscale::aggregator;

constexpr int kReplicas = 10;

FleetSnapshot fleetOf(int containers, int tick) {
  FleetSnapshot snapshot;
  snapshot.takenAt = WallTime{std::chrono::seconds(1'700'000'000 + tick)};
  for (int w = 0; w < containers / kReplicas; ++w) {
    WorkloadSnapshot workload;
    workload.key = {"ns-" + std::to_string(w % 50), "Deployment", "app-" + std::to_string(w)};
    workload.total.replicasSeen = kReplicas;
    for (int r = 0; r < kReplicas; ++r) {
      PodSample pod;
      pod.cluster = "aws";
      pod.pod = workload.key.name + "-6d4cf56db6-" + std::to_string(10000 + r);
      ContainerFigures figures;
      figures.name = "app";
      figures.cpuUsageCores = 0.1 + 0.01 * ((tick * 7 + r) % 30);
      figures.cpuRequestCores = 0.5;
      figures.memoryUsageBytes = 1e8 + tick;
      figures.memoryRequestBytes = 2e8;
      pod.byContainer.push_back(figures);
      workload.pods.push_back(std::move(pod));
    }
    snapshot.workloads.push_back(std::move(workload));
  }
  return snapshot;
}

// Recommendations and saves far apart: the tick's feeding alone.
RightsizingFeedOptions feedOnly() {
  return {.publishInterval = std::chrono::hours(24), .saveInterval = std::chrono::hours(24)};
}

void BM_FeedTick(benchmark::State& state) {
  const int containers = static_cast<int>(state.range(0));
  PolicyHolder policy;
  RightsizingFeed feed(nullptr, policy, feedOnly());
  // A minute of ticks first: every workload, container and replica known, histograms spread.
  std::vector<FleetSnapshot> snapshots;
  for (int tick = 0; tick < 60; ++tick) snapshots.push_back(fleetOf(containers, tick));
  for (const auto& snapshot : snapshots) feed.observe(snapshot);
  int tick = 0;
  for (auto _ : state) feed.observe(snapshots[tick++ % snapshots.size()]);
  state.counters["containers"] = containers;
  state.counters["bytes_per_container_state"] =
      static_cast<double>(feed.size().bytes) / static_cast<double>(feed.size().containers);
}
BENCHMARK(BM_FeedTick)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_Publish(benchmark::State& state) {
  const int containers = static_cast<int>(state.range(0));
  PolicyHolder policy;
  RightsizingFeed feed(nullptr, policy, feedOnly());
  for (int tick = 0; tick < 60; ++tick) feed.observe(fleetOf(containers, tick));
  for (auto _ : state) feed.publish(WallTime{std::chrono::seconds(1'700'000'060)});
  state.counters["recommendations"] = static_cast<double>(feed.current()->containers.size());
}
BENCHMARK(BM_Publish)->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_SaveState(benchmark::State& state) {
  rightsizing::Recommender recommender;
  const auto snapshot = fleetOf(static_cast<int>(state.range(0)), 0);
  for (int tick = 0; tick < 60; ++tick) {
    for (const auto& workload : fleetOf(static_cast<int>(state.range(0)), tick).workloads) {
      for (const auto& pod : workload.pods) {
        recommender.observe(workload.key, usageOf(pod, pod.byContainer[0]),
                            WallTime{std::chrono::seconds(1'700'000'000 + tick)});
      }
    }
  }
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto saved = recommender.save();
    bytes = 0;
    for (const auto& stored : saved) bytes += stored.state.size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["stored_bytes_per_container_state"] =
      static_cast<double>(bytes) / static_cast<double>(recommender.aggregateCount());
}
BENCHMARK(BM_SaveState)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
