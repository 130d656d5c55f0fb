#include "fleetscale/sim/hpa_baseline.h"

#include <cmath>
#include <stdexcept>

#include "fleetscale/sim/policy_writer.h"

namespace fleetscale::sim {

using aggregator::scaling::PodInfo;
using aggregator::scaling::PodMetric;
using aggregator::scaling::PodPhase;
using aggregator::scaling::ReadyCondition;
using aggregator::scaling::Resource;

HpaBaseline::HpaBaseline(const Scenario& scenario, BaselineOptions options)
    : options_(options),
      nextScrape_(fromSeconds(options.scrapePhaseSeconds)),
      nextSync_(fromSeconds(options.scrapePhaseSeconds + options.syncOffsetSeconds)) {
  // The very policy the aggregator would get (kubeconfig paths are not read when parsing).
  std::vector<PolicyCluster> clusters;
  for (const auto& cluster : scenario.clusters) clusters.push_back({cluster.name, "unused", ""});
  auto policy =
      aggregator::parsePolicyConfig(aggregatorPolicyYaml(scenario, clusters), "baseline policy");
  if (!policy) throw std::invalid_argument(policy.error().message);
  policy_ = std::move(*policy);
}

std::vector<BaselineWrite> HpaBaseline::step(const FleetModel& model, SimTime now) {
  if (now >= nextScrape_) {
    scrape(model, now);
    nextScrape_ = now + fromSeconds(options_.resolutionSeconds);
  }
  if (now < nextSync_) return {};
  nextSync_ = now + fromSeconds(options_.syncPeriodSeconds);
  return sync(model, now);
}

void HpaBaseline::scrape(const FleetModel& model, SimTime now) {
  std::map<std::string, PodScrape> next;
  for (const auto& cluster : model.clusters()) {
    if (!cluster.alive()) continue;  // a dead cluster's kubelets answer nobody
    for (const auto& pod : cluster.pods()) {
      if (pod.isSystem() || !pod.running(now)) continue;
      const std::string key = cluster.name() + "/" + pod.name;
      PodScrape scraped{pod.counters.cpuNs, -1, pod.counters.memoryBytes, now};
      const auto previous = scrapes_.find(key);
      if (previous != scrapes_.end() && now > previous->second.at) {
        scraped.cpuCores = (pod.counters.cpuNs - previous->second.cpuNs) / 1e9 /
                           toSeconds(now - previous->second.at);
      }
      next[key] = scraped;
    }
  }
  scrapes_ = std::move(next);
}

std::vector<BaselineWrite> HpaBaseline::sync(const FleetModel& model, SimTime now) {
  std::vector<BaselineWrite> writes;
  for (const auto& cluster : model.clusters()) {
    if (!cluster.alive()) continue;  // its controller manager is down with it
    for (const auto& workload : policy_.workloads) {
      if (auto write = syncWorkload(cluster, workload, now)) writes.push_back(std::move(*write));
    }
  }
  return writes;
}

std::optional<BaselineWrite> HpaBaseline::syncWorkload(const ClusterModel& cluster,
                                                       const aggregator::WorkloadConfig& workload,
                                                       SimTime now) {
  const WorkloadKind kind =
      workload.kind == "StatefulSet" ? WorkloadKind::kStatefulSet : WorkloadKind::kDeployment;
  const WorkloadObject* object = cluster.find(kind, workload.namespaceName, workload.name);
  if (object == nullptr) return std::nullopt;
  // The aggregator's pipeline with this one cluster, always healthy: one HPA per cluster.
  aggregator::PipelineContext context;
  context.now = wallAt(cluster, now);
  aggregator::WorkloadInput input;
  input.policy = workload.policy;
  input.placements.emplace_back().name = cluster.name();
  input.observation = observe(cluster, workload, now);
  input.specReplicas[cluster.name()] = object->replicas;
  auto& memory = memories_[cluster.name() + "/" + workload.key().toString()];
  // An HPA reads its target's spec.replicas at every sync: it remembers no fleet size.
  memory.fleetReplicas = object->replicas;
  const auto result = aggregator::runPipeline(context, input, memory);
  if (!result.decision.error.empty() || !result.decision.scale) return std::nullopt;
  // It writes the new count at once, not in placement's make-before-break steps.
  return BaselineWrite{cluster.name(), workload.namespaceName, workload.name,
                       kind,           result.desiredReplicas, result.decision.reason};
}

WallTime HpaBaseline::wallAt(const ClusterModel& cluster, SimTime at) {
  return cluster.origin() + std::chrono::duration_cast<std::chrono::nanoseconds>(at);
}

aggregator::scaling::WorkloadObservation HpaBaseline::observe(
    const ClusterModel& cluster, const aggregator::WorkloadConfig& workload, SimTime now) const {
  aggregator::scaling::WorkloadObservation observation;
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(
      fromSeconds(options_.resolutionSeconds));
  for (const auto& pod : cluster.pods()) {
    if (pod.workload != workload.name || pod.namespaceName != workload.namespaceName) continue;
    PodInfo info;
    info.name = pod.name;
    info.cluster = cluster.name();
    info.phase = pod.running(now) ? PodPhase::kRunning : PodPhase::kPending;
    if (pod.scheduledAt) info.startTime = wallAt(cluster, *pod.scheduledAt);
    const bool ready = pod.ready(now);
    info.readyCondition =
        ReadyCondition{ready, wallAt(cluster, ready ? *pod.readyAt : pod.createdAt)};
    const auto& requests = pod.container.resources;
    if (requests.cpuRequest) info.cpuRequestMilli = std::llround(*requests.cpuRequest * 1000);
    if (requests.memoryRequest)
      info.memoryRequestMilli = std::llround(*requests.memoryRequest) * 1000;
    const auto scraped = scrapes_.find(cluster.name() + "/" + pod.name);
    if (scraped != scrapes_.end()) {
      const WallTime at = wallAt(cluster, scraped->second.at);
      if (scraped->second.cpuCores >= 0) {
        observation.metrics[Resource::kCpu][pod.name] =
            PodMetric{std::llround(scraped->second.cpuCores * 1000), at, window};
      }
      observation.metrics[Resource::kMemory][pod.name] =
          PodMetric{std::llround(scraped->second.memoryBytes) * 1000, at, window};
    }
    observation.pods.push_back(std::move(info));
  }
  return observation;
}

}  // namespace fleetscale::sim
