#include "fleetscale/aggregator/pipeline/decision_pipeline.h"

#include "fleetscale/aggregator/pipeline/workload_observation.h"

namespace fleetscale::aggregator {
namespace {

using Counts = std::map<std::string, std::int32_t>;

const ClusterConditions& conditionsOf(const PipelineContext& context, const std::string& cluster) {
  static const ClusterConditions kUnlisted;
  const auto it = context.clusters.find(cluster);
  return it == context.clusters.end() ? kUnlisted : it->second;
}

std::int32_t countIn(const Counts& counts, const std::string& cluster) {
  const auto it = counts.find(cluster);
  return it == counts.end() ? 0 : it->second;
}

// Pods in failed clusters are gone: they neither serve nor count as missing.
void dropFailedClusters(const PipelineContext& context, scaling::WorkloadObservation& observation) {
  std::vector<scaling::PodInfo> live;
  for (auto& pod : observation.pods) {
    if (conditionsOf(context, pod.cluster).health != scaling::HealthState::kFailed) {
      live.push_back(std::move(pod));
      continue;
    }
    for (auto& [resource, metrics] : observation.metrics) metrics.erase(pod.name);
    for (auto& [container, byResource] : observation.containerMetrics) {
      for (auto& [resource, metrics] : byResource) metrics.erase(pod.name);
    }
    for (auto& [name, metrics] : observation.podMetrics) metrics.erase(pod.name);
    if (observation.statusReplicas && !pod.deleting) --*observation.statusReplicas;
  }
  observation.pods = std::move(live);
}

// The API's spec replicas; before the first read, what was last read or written, else the pods
// the agents see there. Sets `known` when the count is evidence of the workload.
std::int32_t specOf(const std::string& cluster, const WorkloadInput& input,
                    const WorkloadMemory& memory, const Counts& pods, bool& known) {
  if (const auto read = input.specReplicas.find(cluster); read != input.specReplicas.end()) {
    known = true;
    return read->second;
  }
  if (const auto last = memory.lastSpec.find(cluster); last != memory.lastSpec.end()) {
    return last->second;
  }
  known |= countIn(pods, cluster) > 0;
  return countIn(pods, cluster);
}

scaling::ClusterSlot slotOf(const WorkloadCluster& placement, const ClusterConditions& conditions,
                            const scaling::PodRequests& perPod, std::int32_t running) {
  scaling::ClusterSlot slot{placement.name,        placement.weight, placement.minReplicas,
                            placement.maxReplicas, std::nullopt,     placement.preference};
  if (placement.fitToAllocatable) {
    slot.capacity = scaling::replicasThatFit(conditions.resources, perPod, running);
  }
  return slot;
}

// The placement clusters as placement sees them, and what is known of the workload's size.
struct Layout {
  std::vector<scaling::ClusterView> views;
  std::vector<scaling::ClusterSlot> slots;
  std::int32_t liveSpec = 0;  // spec replicas in clusters that have not failed
  bool known = false;         // a spec read, a pod seen, or an earlier decision
};

Layout layOut(const PipelineContext& context, const WorkloadInput& input,
              const scaling::WorkloadObservation& observation, const WorkloadMemory& memory) {
  Layout layout;
  layout.known = memory.fleetReplicas.has_value();
  const Counts ready = readyPodsByCluster(observation);
  Counts pods;  // the pods holding room in each cluster; being deleted, they are not spec
  Counts staying;
  for (const auto& pod : observation.pods) {
    ++pods[pod.cluster];
    if (!pod.deleting) ++staying[pod.cluster];
  }
  for (const auto& placement : input.placements) {
    const ClusterConditions& conditions = conditionsOf(context, placement.name);
    scaling::ClusterView view;
    view.cluster = placement.name;
    view.health = conditions.health;
    view.draining = conditions.draining;
    view.readyReplicas = countIn(ready, placement.name);
    view.specReplicas = specOf(placement.name, input, memory, staying, layout.known);
    if (view.health != scaling::HealthState::kFailed) layout.liveSpec += view.specReplicas;
    layout.views.push_back(view);
    layout.slots.push_back(
        slotOf(placement, conditions, input.perPod, countIn(pods, placement.name)));
  }
  return layout;
}

// An aggregator that became leader recently has not seen the recommendations the scale-down
// window would hold: it keeps the current count (scaling::holdScaleDownUntilObserved).
void holdAfterTakeover(const scaling::WorkloadPolicy& policy, std::int32_t current,
                       WallTime observingSince, WallTime now, scaling::Decision& decision) {
  const std::int32_t kept = scaling::holdScaleDownUntilObserved(
      policy, current, decision.desiredReplicas, observingSince, now);
  if (kept == decision.desiredReplicas) return;
  const auto watched = std::chrono::duration_cast<std::chrono::seconds>(now - observingSince);
  decision.steps.push_back(scaling::DecisionStep{
      "takeover", decision.desiredReplicas, kept,
      "scale-down held: this aggregator has watched the workload for " +
          std::to_string(watched.count()) + " s of its " +
          std::to_string(scaling::scaleDownWindow(policy).count()) + " s scale-down window"});
  decision.reason = "holding " + std::to_string(kept) +
                    " replicas after becoming leader: " + decision.steps.back().detail;
  decision.desiredReplicas = kept;
  decision.scale = kept != current;
}

}  // namespace

std::vector<WorkloadCluster> placementsOf(const WorkloadConfig& workload,
                                          const PolicyConfig& policy) {
  if (!workload.clusters.empty()) return workload.clusters;
  std::vector<WorkloadCluster> all;
  for (const auto& cluster : policy.clusters) {
    WorkloadCluster entry;
    entry.name = cluster.name;
    entry.preference = static_cast<int>(all.size());
    all.push_back(entry);
  }
  return all;
}

PipelineResult runPipeline(const PipelineContext& context, const WorkloadInput& input,
                           WorkloadMemory& memory) {
  PipelineResult result;
  scaling::WorkloadObservation observation = input.observation;
  dropFailedClusters(context, observation);
  Layout layout = layOut(context, input, observation, memory);
  if (!layout.known) {
    result.skipped = true;
    result.skipReason = "waiting for the first scale read or agent report";
    return result;
  }
  const std::int32_t current = memory.fleetReplicas.value_or(layout.liveSpec);
  observation.currentReplicas = current;
  if (!memory.observingSince) memory.observingSince = context.now;
  scaling::Decision& decision = result.decision;
  if (forecastHoldsScaleIn(input.policy, memory.predictive)) {
    scaling::WorkloadPolicy held = input.policy;
    held.downscaleStabilizationSeconds =
        static_cast<std::int32_t>(held.predictive.downscaleStabilization->count());
    decision = scaling::decide(held, observation, memory.history, context.now);
  } else {
    decision = scaling::decide(input.policy, observation, memory.history, context.now);
  }
  result.forecast = forecastDemand(input.policy, observation, input.perPod, context.now,
                                   memory.predictive, decision);
  if (context.elected && context.leader && decision.error.empty()) {
    holdAfterTakeover(input.policy, current, *memory.observingSince, context.now, decision);
  }
  result.currentReplicas = current;
  result.desiredReplicas = decision.error.empty() ? decision.desiredReplicas : current;
  result.plan =
      scaling::planPlacement(result.desiredReplicas, layout.slots, layout.views, memory.placement);
  memory.fleetReplicas = result.desiredReplicas;
  result.act = context.leader && !context.dryRun;
  if (result.act) result.writes = result.plan.writes;
  // A standby records the scale the leader makes of the same decision, so its rate limits match
  // the leader's when it takes over.
  if (decision.scale && !context.dryRun) {
    scaling::recordScale(input.policy, memory.history, current, decision.desiredReplicas,
                         context.now);
  }
  for (const auto& view : layout.views) {
    const auto write = result.writes.find(view.cluster);
    memory.lastSpec[view.cluster] =
        write == result.writes.end() ? view.specReplicas : write->second;
    auto& startup = memory.predictive.startup;
    startup.readySeen(view.cluster, view.readyReplicas, context.now);
    if (write != result.writes.end()) {
      startup.scaleWritten(view.cluster, view.specReplicas, write->second, context.now);
    }
    if (const auto time = startup.startupTime(view.cluster)) {
      result.startupTimes[view.cluster] = *time;
    }
  }
  result.clusters = std::move(layout.views);
  return result;
}

}  // namespace fleetscale::aggregator
