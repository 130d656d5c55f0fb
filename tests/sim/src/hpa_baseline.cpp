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
    : options_(options), nextSync_(fromSeconds(options.syncOffsetSeconds)) {
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
    const WallTime wallNow =
        cluster.origin() + std::chrono::duration_cast<std::chrono::nanoseconds>(now);
    auto wallAt = [&](SimTime at) {
      return cluster.origin() + std::chrono::duration_cast<std::chrono::nanoseconds>(at);
    };
    for (const auto& workload : policy_.workloads) {
      const WorkloadKind kind =
          workload.kind == "StatefulSet" ? WorkloadKind::kStatefulSet : WorkloadKind::kDeployment;
      const WorkloadObject* object = cluster.find(kind, workload.namespaceName, workload.name);
      if (object == nullptr) continue;
      aggregator::scaling::WorkloadObservation observation;
      observation.currentReplicas = object->replicas;
      for (const auto& pod : cluster.pods()) {
        if (pod.workload != workload.name || pod.namespaceName != workload.namespaceName) continue;
        PodInfo info;
        info.name = pod.name;
        info.cluster = cluster.name();
        info.phase = pod.running(now) ? PodPhase::kRunning : PodPhase::kPending;
        if (pod.scheduledAt) info.startTime = wallAt(*pod.scheduledAt);
        const bool ready = pod.ready(now);
        info.readyCondition = ReadyCondition{ready, wallAt(ready ? *pod.readyAt : pod.createdAt)};
        const auto& requests = pod.container.resources;
        if (requests.cpuRequest) info.cpuRequestMilli = std::llround(*requests.cpuRequest * 1000);
        if (requests.memoryRequest)
          info.memoryRequestMilli = std::llround(*requests.memoryRequest) * 1000;
        const auto scraped = scrapes_.find(cluster.name() + "/" + pod.name);
        if (scraped != scrapes_.end()) {
          const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(
              fromSeconds(options_.resolutionSeconds));
          const WallTime at = wallAt(scraped->second.at);
          if (scraped->second.cpuCores >= 0) {
            observation.metrics[Resource::kCpu][pod.name] =
                PodMetric{std::llround(scraped->second.cpuCores * 1000), at, window};
          }
          observation.metrics[Resource::kMemory][pod.name] =
              PodMetric{std::llround(scraped->second.memoryBytes) * 1000, at, window};
        }
        observation.pods.push_back(std::move(info));
      }
      auto& history = histories_[cluster.name() + "/" + workload.key().toString()];
      const auto decision =
          aggregator::scaling::decide(workload.policy, observation, history, wallNow);
      if (!decision.error.empty() || !decision.scale) continue;
      aggregator::scaling::recordScale(workload.policy, history, observation.currentReplicas,
                                       decision.desiredReplicas, wallNow);
      writes.push_back({cluster.name(), workload.namespaceName, workload.name, kind,
                        decision.desiredReplicas, decision.reason});
    }
  }
  return writes;
}

}  // namespace fleetscale::sim
