#include "fleetscale/aggregator/control/scaling_loop.h"

#include <nlohmann/json.hpp>
#include <set>

#include "fleetscale/aggregator/pipeline/decision_json.h"
#include "fleetscale/aggregator/pipeline/workload_observation.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

json allocationJson(const scaling::Allocation& allocation) {
  json out = json::object();
  for (const auto& [cluster, replicas] : allocation) out[cluster] = replicas;
  return out;
}

// The health machines' agent signals per cluster: the share of its nodes reporting, and how
// long ago its newest batch came.
struct AgentSignals {
  std::map<std::string, double> coverage;
  std::map<std::string, std::chrono::milliseconds> silentFor;
};

AgentSignals agentSignals(const FleetSnapshot& snapshot) {
  AgentSignals signals;
  for (const auto& cluster : snapshot.clusters) {
    signals.coverage[cluster.name] =
        cluster.nodes > 0 ? static_cast<double>(cluster.nodes - cluster.staleNodes) / cluster.nodes
                          : 0.0;
    if (cluster.lastSeen != WallTime{}) {
      signals.silentFor[cluster.name] = std::chrono::duration_cast<std::chrono::milliseconds>(
          snapshot.takenAt - cluster.lastSeen);
    }
  }
  return signals;
}

// Allocatable resources per cluster, and what the pods the agents see there request (pending and
// terminating ones included: they hold their room).
std::map<std::string, scaling::ClusterResources> clusterResources(const FleetSnapshot& snapshot) {
  std::map<std::string, scaling::ClusterResources> out;
  for (const auto& cluster : snapshot.clusters) {
    auto& resources = out[cluster.name];
    resources.cpuAllocatableCores = cluster.cpuAllocatableCores;
    resources.memoryAllocatableBytes = cluster.memoryAllocatableBytes;
  }
  for (const auto& workload : snapshot.workloads) {
    for (const auto& rollup : workload.clusters) {
      auto& resources = out[rollup.cluster];
      resources.cpuRequestedCores += rollup.cpuRequestCores + rollup.heldCpuRequestCores;
      resources.memoryRequestedBytes += rollup.memoryRequestBytes + rollup.heldMemoryRequestBytes;
    }
  }
  return out;
}

// Every cluster a decision of this tick may ask about: the policy's, the placements', and those
// the agents report from (the registry calls a cluster it does not know failed).
std::set<std::string> clustersNamed(const PolicyConfig& policy, const FleetSnapshot& snapshot) {
  std::set<std::string> names;
  for (const auto& cluster : policy.clusters) names.insert(cluster.name);
  for (const auto& workload : policy.workloads) {
    for (const auto& placement : workload.clusters) names.insert(placement.name);
  }
  for (const auto& cluster : snapshot.clusters) names.insert(cluster.name);
  for (const auto& workload : snapshot.workloads) {
    for (const auto& rollup : workload.clusters) names.insert(rollup.cluster);
    for (const auto& pod : workload.pods) names.insert(pod.cluster);
  }
  return names;
}

// The agents report pods under the workload's kind when they know it, else under no kind.
const WorkloadSnapshot* findWorkload(const FleetSnapshot& snapshot,
                                     const WorkloadConfig& workload) {
  const WorkloadSnapshot* seen = snapshot.find(workload.key());
  if (seen != nullptr) return seen;
  return snapshot.find(WorkloadKey{workload.namespaceName, "", workload.name});
}

// One replica's requests: the workload's summed requests over the replicas the agents see.
scaling::PodRequests perPodRequests(const WorkloadSnapshot& seen) {
  scaling::PodRequests perPod;
  if (seen.total.replicasSeen > 0) {
    perPod.cpuCores = seen.total.cpuRequestCores / seen.total.replicasSeen;
    perPod.memoryBytes = seen.total.memoryRequestBytes / seen.total.replicasSeen;
  }
  return perPod;
}

void setIdentity(WorkloadStatus& status, const WorkloadConfig& workload) {
  status.namespaceName = workload.namespaceName;
  status.name = workload.name;
  status.kind = workload.kind;
  status.minReplicas = workload.policy.minReplicas;
  status.maxReplicas = workload.policy.maxReplicas;
}

// fleetscale_scaling_decisions_total's result label.
std::string outcomeName(const PipelineResult& result) {
  if (result.skipped) return "skipped";
  if (!result.decision.error.empty()) return "error";
  return result.decision.scale ? "scale" : "hold";
}

MetricStatus metricStatus(const scaling::MetricEvaluation& evaluation) {
  using scaling::TargetType;
  const auto& target = evaluation.target;
  MetricStatus out{target.label(),
                   std::string(scaling::metricSourceName(target.source)),
                   std::string(scaling::targetTypeName(target.type)),
                   0,
                   std::nullopt,
                   std::nullopt};
  const auto natural = [](std::int64_t milli) { return static_cast<double>(milli) / 1000.0; };
  switch (target.type) {
    case TargetType::kUtilization:
      out.target = target.averageUtilization / 100.0;
      break;
    case TargetType::kAverageValue:
      out.target = natural(target.averageValueMilli);
      break;
    case TargetType::kValue:
      out.target = natural(target.valueMilli);
      break;
  }
  if (const auto& p = evaluation.proposal) {
    out.proposal = p->replicas;
    out.current = target.type == TargetType::kUtilization ? p->utilizationPercent / 100.0
                  : target.type == TargetType::kValue     ? natural(p->valueMilli)
                                                          : natural(p->averageValueMilli);
  }
  return out;
}

void updateStatus(WorkloadStatus& status, const PipelineResult& result,
                  const std::string& decisionId, WallTime now) {
  status.currentReplicas = result.currentReplicas;
  status.desiredReplicas = result.desiredReplicas;
  status.unplaced = result.plan.unplaced;
  status.unplacedReason = result.plan.unplacedReason;
  status.reason = result.decision.reason;
  status.error = result.decision.error;
  status.notes = result.plan.notes;
  status.forecast = result.forecast;
  status.metrics.clear();
  for (const auto& evaluation : result.decision.metrics) {
    status.metrics.push_back(metricStatus(evaluation));
  }
  status.decisionId = decisionId;
  status.decidedAt = now;
  for (const auto& view : result.clusters) {
    ClusterReplicas& replicas = status.clusters[view.cluster];
    const auto target = result.plan.targets.find(view.cluster);
    replicas.target = target == result.plan.targets.end() ? 0 : target->second;
    const auto write = result.writes.find(view.cluster);
    replicas.current = write == result.writes.end() ? view.specReplicas : write->second;
    replicas.ready = view.readyReplicas;
    const auto kept = result.plan.lastResort.find(view.cluster);
    replicas.lastResort = kept == result.plan.lastResort.end() ? 0 : kept->second;
    const auto startup = result.startupTimes.find(view.cluster);
    if (startup != result.startupTimes.end()) replicas.startupTime = startup->second;
  }
}

json startupSecondsJson(const PipelineResult& result, const std::string& cluster) {
  const auto it = result.startupTimes.find(cluster);
  if (it == result.startupTimes.end()) return nullptr;
  return std::chrono::duration<double>(it->second).count();
}

// The stored decision's "details" (docs/api.md, /api/v1/decisions).
json decisionDetails(const PipelineResult& result, const std::string& decisionId,
                     std::optional<std::uint64_t> term, bool dryRun,
                     const scaling::ScalingHistory& history) {
  const auto& plan = result.plan;
  json placement{{"targets", allocationJson(plan.targets)},
                 {"writes", allocationJson(plan.writes)},
                 {"unplaced", plan.unplaced},
                 {"unplacedReason", plan.unplacedReason},
                 {"lastResort", allocationJson(plan.lastResort)},
                 {"readyTotal", plan.readyTotal},
                 {"notes", plan.notes}};
  json clusters = json::array();
  for (const auto& view : result.clusters) {
    clusters.push_back({{"cluster", view.cluster},
                        {"health", std::string(scaling::healthStateName(view.health))},
                        {"draining", view.draining},
                        {"specReplicas", view.specReplicas},
                        {"readyReplicas", view.readyReplicas},
                        {"startupSeconds", startupSecondsJson(result, view.cluster)}});
  }
  return json{{"decisionId", decisionId},
              {"acted", result.act},
              {"dryRun", dryRun},
              {"leader", term.has_value()},
              {"term", term ? json(*term) : json(nullptr)},
              {"decision", decisionToJson(result.decision)},
              {"forecast", result.forecast ? forecastToJson(*result.forecast) : json(nullptr)},
              {"clusters", std::move(clusters)},
              {"placement", std::move(placement)},
              {"history", historyToJson(history)}};
}

// The pipeline's memory of a workload from its newest stored decision.
void restoreMemory(const DecisionRecord& stored, const json& details, WallTime now,
                   std::chrono::milliseconds heartbeat, WorkloadMemory& memory) {
  if (auto history = historyFromJson(details.value("history", json()))) {
    memory.history = std::move(*history);
  }
  // A recent stored decision (within two heartbeats) continues the restored window; after a
  // longer gap the recommendations in it are not evidence of what happened since.
  const WallTime storedAt = fromUnixMillis(stored.timeUnixMs);
  if (now - storedAt <= 2 * heartbeat) {
    memory.observingSince = storedAt;
    for (const auto& recommendation : memory.history.recommendations) {
      memory.observingSince = std::min(*memory.observingSince, recommendation.at);
    }
  }
  memory.fleetReplicas = stored.desiredReplicas;
  if (details.contains("placement") && details.at("placement").contains("targets")) {
    for (const auto& [cluster, replicas] : details.at("placement").at("targets").items()) {
      memory.placement.targets[cluster] = replicas.get<std::int32_t>();
    }
  }
}

}  // namespace

ScalingLoop::ScalingLoop(PolicyHolder& policy, ClusterRegistry& clusters, SnapshotHolder& snapshots,
                         Store* store, const Clock& clock, ScalingLoopOptions options)
    : policy_(policy),
      clusters_(clusters),
      snapshots_(snapshots),
      store_(store),
      clock_(clock),
      options_(options),
      actuation_([this](const std::string& cluster) { return clusters_.actuator(cluster); },
                 options.actuation, clock,
                 [this](const CompletedAction& action) { onActionDone(action); }) {}

ScalingLoop::~ScalingLoop() {
  stop();
  actuation_.stop();
}

void ScalingLoop::setLeadership(LeadershipGate gate) {
  std::lock_guard lock(mutex_);
  leadership_ = std::move(gate);
}

std::string ScalingLoop::nextDecisionId(WallTime now) {
  return std::to_string(toUnixMillis(now)) + "-" + std::to_string(++sequence_);
}

void ScalingLoop::restoreHistory() {
  if (store_ == nullptr) return;
  const auto policy = policy_.get();
  for (const auto& workload : policy->workloads) {
    DecisionQuery query;
    query.namespaceName = workload.namespaceName;
    query.workload = workload.name;
    query.limit = 1;
    auto decisions = store_->decisions(query);
    if (!decisions || decisions->empty()) continue;
    const auto details = json::parse(decisions->front().details, nullptr, false);
    if (!details.is_object()) continue;
    std::lock_guard lock(mutex_);
    restoreMemory(decisions->front(), details, clock_.wallNow(), options_.heartbeat,
                  workloads_[workload.key()].memory);
  }
  restoreDemandHistory(*policy);
}

void ScalingLoop::restoreDemandHistory(const PolicyConfig& policy) {
  const WallTime now = clock_.wallNow();
  for (const auto& workload : policy.workloads) {
    if (workload.policy.predictive.mode == scaling::PredictiveMode::kOff) continue;
    RollupQuery query;
    query.sinceUnixMs = toUnixMillis(now - kDemandHistoryRestored);
    query.namespaceName = workload.namespaceName;
    query.name = workload.name;
    auto rows = store_->rollups(query);
    if (!rows) {
      componentLogger("aggregator.scaling")
          ->warn("{}: stored demand history not read: {}", workload.key().describe(),
                 rows.error().message);
      continue;
    }
    std::erase_if(*rows, [&](const RollupRow& row) { return row.workload != workload.key(); });
    std::lock_guard lock(mutex_);
    auto& memory = workloads_[workload.key()].memory.predictive;
    const std::size_t minutes = seedDemandHistory(memory, *rows, now, workload.policy.cpuDemand);
    componentLogger("aggregator.scaling")
        ->info("{}: predictive scaling seeded with {} minutes of stored demand{}",
               workload.key().describe(), minutes,
               memory.forecaster.ready() ? "" : " (less than a day: learning on)");
  }
}

void ScalingLoop::tick(const FleetSnapshot& snapshot) {
  const auto policy = policy_.get();
  const AgentSignals signals = agentSignals(snapshot);
  for (const auto& transition : clusters_.updateHealth(signals.coverage, signals.silentFor)) {
    recordTransition(transition);
  }
  recordReachability(snapshot.takenAt);
  const Pass pass = beginPass(*policy, snapshot);
  for (const auto& workload : policy->workloads) decideWorkload(workload, *policy, snapshot, pass);
  recordDrainPauses(pass.context.now);
}

void ScalingLoop::recordReachability(WallTime now) {
  const bool cutOff = clusters_.noClusterReachable();
  {
    std::lock_guard lock(mutex_);
    if (cutOff == noClusterReachable_) return;
    noClusterReachable_ = cutOff;
  }
  recordEvent(kEventReachability, "",
              cutOff ? "no cluster is reachable: holding every placement (nothing fails over, "
                       "nothing shrinks) until one answers again"
                     : "a cluster is reachable again",
              json{{"noClusterReachable", cutOff}}, now);
}

void ScalingLoop::recordDrainPauses(WallTime now) {
  std::vector<std::pair<std::string, DrainProgress>> changed;
  {
    std::lock_guard lock(mutex_);
    std::vector<WorkloadStatus> statuses;
    for (const auto& [key, state] : workloads_) statuses.push_back(state.status);
    std::map<std::string, bool> paused;
    for (const auto& cluster : clusters_.status()) {
      if (!cluster.draining) continue;
      const DrainProgress progress = drainProgress(statuses, cluster.name);
      paused[cluster.name] = progress.paused();
      const auto before = drainPaused_.find(cluster.name);
      const bool wasPaused = before != drainPaused_.end() && before->second;
      if (progress.paused() != wasPaused) changed.emplace_back(cluster.name, progress);
    }
    drainPaused_ = std::move(paused);
  }
  for (const auto& [cluster, progress] : changed) {
    componentLogger("aggregator.scaling")
        ->warn("drain of {} {}", cluster,
               progress.paused() ? "paused: no healthy destination can take every replica"
                                 : "resumed");
    recordEvent(
        kEventDrainPaused, cluster,
        progress.paused()
            ? "drain of " + cluster + " paused: " + std::to_string(progress.pausedWorkloads) +
                  " workload(s) have no healthy destination, so " + cluster +
                  " keeps their replicas as the last resort"
            : "drain of " + cluster + " resumed: a destination is healthy again",
        json{{"paused", progress.paused()}, {"pausedWorkloads", progress.pausedWorkloads}}, now);
  }
}

void ScalingLoop::recordEvent(std::string_view kind, const std::string& cluster,
                              std::string message, const json& details, WallTime now) {
  if (store_ == nullptr) return;
  EventRecord event;
  event.timeUnixMs = toUnixMillis(now);
  event.kind = std::string(kind);
  event.cluster = cluster;
  event.message = std::move(message);
  event.details = details.dump();
  store_->recordEvent(std::move(event));
}

void ScalingLoop::recordTransition(const ClusterRegistry::Transition& transition) {
  const std::string from(scaling::healthStateName(transition.change.from));
  const std::string to(scaling::healthStateName(transition.change.to));
  componentLogger("aggregator.scaling")
      ->warn("cluster {} is now {} (was {}): {}", transition.cluster, to, from,
             transition.change.reason);
  {
    std::lock_guard lock(mutex_);
    ++transitions_[{transition.cluster, to}];
  }
  if (store_ == nullptr) return;
  EventRecord event;
  event.timeUnixMs = toUnixMillis(clock_.wallNow());
  event.kind = std::string(kEventClusterHealth);
  event.cluster = transition.cluster;
  event.message =
      "cluster " + transition.cluster + " " + from + " -> " + to + ": " + transition.change.reason;
  event.details = json{{"from", from}, {"to", to}, {"reason", transition.change.reason}}.dump();
  store_->recordEvent(std::move(event));
}

ScalingLoop::Pass ScalingLoop::beginPass(const PolicyConfig& policy,
                                         const FleetSnapshot& snapshot) {
  Pass pass;
  {
    std::lock_guard lock(mutex_);
    pass.gate = leadership_;
  }
  pass.term = pass.gate ? pass.gate(std::chrono::milliseconds(0)) : std::optional<std::uint64_t>(0);
  pass.context.now = clock_.wallNow();
  pass.context.leader = pass.term.has_value();
  pass.context.elected = static_cast<bool>(pass.gate);
  pass.context.dryRun = options_.dryRun;
  const auto resources = clusterResources(snapshot);
  for (const auto& name : clustersNamed(policy, snapshot)) {
    ClusterConditions& conditions = pass.context.clusters[name];
    conditions.health = clusters_.health(name);
    conditions.draining = clusters_.draining(name);
    if (const auto here = resources.find(name); here != resources.end()) {
      conditions.resources = here->second;
    }
  }
  return pass;
}

WorkloadInput ScalingLoop::gatherInput(const WorkloadConfig& workload, const PolicyConfig& policy,
                                       const FleetSnapshot& snapshot) {
  const WorkloadKey ref = workload.key();
  WorkloadInput input;
  input.policy = workload.policy;
  input.placements = placementsOf(workload, policy);
  if (const WorkloadSnapshot* seen = findWorkload(snapshot, workload)) {
    input.observation =
        buildObservation(*seen, 0, snapshot.takenAt, options_.window, workload.policy.cpuDemand);
    addPodSeriesMetrics(*seen, workload.policy.metrics, snapshot.takenAt, options_.window,
                        3 * options_.window, input.observation);
    input.perPod = perPodRequests(*seen);
  }
  if (options_.metricValues != nullptr) {
    options_.metricValues->fill(workload, clock_.wallNow(), input.observation);
  }
  for (const auto& placement : input.placements) {
    clusters_.watch(placement.name, ref);
    if (const auto cached = clusters_.scale(placement.name, ref)) {
      input.specReplicas[placement.name] = cached->status.specReplicas;
    }
  }
  return input;
}

void ScalingLoop::decideWorkload(const WorkloadConfig& workload, const PolicyConfig& policy,
                                 const FleetSnapshot& snapshot, const Pass& pass) {
  const WorkloadInput input = gatherInput(workload, policy, snapshot);
  const WorkloadKey ref = workload.key();
  const auto foreign = foreignAutoscalersOf(ref, input);
  std::lock_guard lock(mutex_);
  WorkloadState& state = workloads_[ref];
  setIdentity(state.status, workload);
  if (foreign.waiting || (!foreign.owners.empty() && !options_.takeOverAutoscalers)) {
    holdForForeignAutoscalers(state, ref, foreign, pass.context.now);
    return;
  }
  const bool takeOverStarts = noteForeignAutoscalers(state, ref, foreign, pass.context.now);
  const PipelineResult result = runPipeline(pass.context, input, state.memory);
  ++decisions_[outcomeName(result)];
  if (result.skipped) {
    state.status.reason = result.skipReason;
    return;
  }
  const std::string decisionId = nextDecisionId(pass.context.now);
  scaling::Allocation writes = result.writes;
  if (takeOverStarts && result.act) {
    // Pinned at once, also where the count stays: else they would go on scaling until the next
    // change there.
    for (const auto& [cluster, pins] : foreign.pins) {
      const auto current = input.specReplicas.find(cluster);
      if (current != input.specReplicas.end()) writes.try_emplace(cluster, current->second);
    }
  }
  submitWrites(ref, writes, result.decision.reason, decisionId, pass, foreign);
  // Only on change: a shortfall that lasts is one event, not one per tick.
  if (result.plan.unplaced != state.status.unplaced) {
    recordCapacityEvent(ref, result, pass.context.now);
  }
  updateStatus(state.status, result, decisionId, pass.context.now);
  storeDecision(state, ref, result, decisionId, pass);
}

ScalingLoop::ForeignAutoscalers ScalingLoop::foreignAutoscalersOf(
    const WorkloadKey& workload, const WorkloadInput& input) const {
  ForeignAutoscalers found;
  for (const auto& placement : input.placements) {
    const auto there = clusters_.foreignAutoscalers(placement.name, workload);
    if (!there) {
      // Not listed yet: a reachable cluster is about to be; an unreachable one cannot be, and
      // must not hold the workload everywhere else (its failover included).
      found.waiting |= clusters_.health(placement.name) == scaling::HealthState::kHealthy;
      continue;
    }
    for (const auto& autoscaler : *there) {
      found.owners.push_back(autoscaler.describe() + " in " + placement.name);
      if (autoscaler.controlledBy != "ScaledObject") {
        found.pins[placement.name].push_back(autoscaler);
      }
    }
  }
  return found;
}

void ScalingLoop::holdForForeignAutoscalers(WorkloadState& state, const WorkloadKey& workload,
                                            const ForeignAutoscalers& foreign, WallTime now) {
  ++decisions_[foreign.owners.empty() ? "waiting" : "foreign_autoscaler"];
  if (foreign.owners.empty()) {
    state.status.reason = "waiting to list the other autoscalers in its clusters";
    return;
  }
  std::string owners;
  for (const auto& owner : foreign.owners) owners += (owners.empty() ? "" : ", ") + owner;
  state.status.reason = "not scaled: " + owners +
                        " already scales it (two controllers writing spec.replicas flap; delete "
                        "it, take the workload out of the policy, or run with --take-over-hpa)";
  if (state.status.foreignAutoscalers != foreign.owners || state.status.foreignAutoscalersPinned) {
    state.status.foreignAutoscalers = foreign.owners;
    state.status.foreignAutoscalersPinned = false;
    recordForeignAutoscalerEvent(workload, foreign.owners, false, now);
  }
}

bool ScalingLoop::noteForeignAutoscalers(WorkloadState& state, const WorkloadKey& workload,
                                         const ForeignAutoscalers& foreign, WallTime now) {
  const bool pinned = !foreign.owners.empty();
  if (state.status.foreignAutoscalers == foreign.owners &&
      state.status.foreignAutoscalersPinned == pinned) {
    return false;
  }
  state.status.foreignAutoscalers = foreign.owners;
  state.status.foreignAutoscalersPinned = pinned;
  recordForeignAutoscalerEvent(workload, foreign.owners, pinned, now);
  return pinned;
}

void ScalingLoop::recordForeignAutoscalerEvent(const WorkloadKey& workload,
                                               const std::vector<std::string>& owners, bool pinned,
                                               WallTime now) {
  componentLogger("aggregator.scaling")
      ->warn("{}: {}", workload.describe(),
             owners.empty() ? "no other autoscaler targets it any more; scaling it again"
             : pinned       ? "another autoscaler targets it; taking it over (--take-over-hpa)"
                            : "another autoscaler targets it; not scaling it");
  if (store_ == nullptr) return;
  EventRecord event;
  event.timeUnixMs = toUnixMillis(now);
  event.kind = std::string(kEventForeignAutoscaler);
  event.workload = workload.toString();
  std::string list;
  for (const auto& owner : owners) list += (list.empty() ? "" : ", ") + owner;
  event.message =
      owners.empty() ? "no other autoscaler targets " + workload.describe() + ": scaling it again"
      : pinned       ? list + " targets " + workload.describe() +
                     ": fleetscale takes it over, pinning it to each decision (--take-over-hpa)"
               : list + " already scales " + workload.describe() + ": fleetscale holds off";
  event.details = json{{"autoscalers", owners}, {"pinned", pinned}}.dump();
  store_->recordEvent(std::move(event));
}

void ScalingLoop::submitWrites(const WorkloadKey& workload, const scaling::Allocation& writes,
                               const std::string& reason, const std::string& decisionId,
                               const Pass& pass, const ForeignAutoscalers& foreign) {
  for (const auto& [cluster, replicas] : writes) {
    ScaleRequest request{workload, replicas, decisionId, reason, *pass.term, {}};
    if (const auto pins = foreign.pins.find(cluster); pins != foreign.pins.end()) {
      request.pin = pins->second;
    }
    if (pass.gate) {
      request.stillLeader = [gate = pass.gate, term = *pass.term](
                                std::chrono::milliseconds within) { return gate(within) == term; };
    }
    actuation_.submit(cluster, std::move(request));
  }
}

void ScalingLoop::recordCapacityEvent(const WorkloadKey& workload, const PipelineResult& result,
                                      WallTime now) {
  if (store_ == nullptr) return;
  const std::int32_t unplaced = result.plan.unplaced;
  const std::int32_t total = result.desiredReplicas;
  EventRecord event;
  event.timeUnixMs = toUnixMillis(now);
  event.kind = std::string(kEventCapacity);
  event.workload = workload.toString();
  event.message = unplaced > 0 ? std::to_string(unplaced) + " of " + std::to_string(total) +
                                     " replicas of " + workload.describe() +
                                     " fit in no available cluster: " + result.plan.unplacedReason
                               : "every replica of " + workload.describe() + " is placed again";
  event.details = json{{"unplaced", unplaced},
                       {"desiredReplicas", total},
                       {"reason", result.plan.unplacedReason}}
                      .dump();
  store_->recordEvent(std::move(event));
}

void ScalingLoop::storeDecision(WorkloadState& state, const WorkloadKey& workload,
                                const PipelineResult& result, const std::string& decisionId,
                                const Pass& pass) {
  const WallTime now = pass.context.now;
  const scaling::Decision& decision = result.decision;
  const bool changed = decision.scale || !result.plan.writes.empty() ||
                       result.desiredReplicas != state.lastStoredDesired ||
                       result.currentReplicas != state.lastStoredCurrent ||
                       decision.error != state.lastStoredError;
  if (store_ == nullptr || (!changed && now - state.lastStoredAt < options_.heartbeat)) return;
  DecisionRecord record;
  record.timeUnixMs = toUnixMillis(now);
  record.workload = workload;
  record.currentReplicas = result.currentReplicas;
  record.desiredReplicas = result.desiredReplicas;
  record.reason = decision.error.empty() ? decision.reason : "no decision: " + decision.error;
  record.details =
      decisionDetails(result, decisionId, pass.term, options_.dryRun, state.memory.history).dump();
  store_->recordDecision(std::move(record));
  state.lastStoredDesired = result.desiredReplicas;
  state.lastStoredCurrent = result.currentReplicas;
  state.lastStoredError = decision.error;
  state.lastStoredAt = now;
}

void ScalingLoop::onActionDone(const CompletedAction& action) {
  const std::string result =
      action.outcome.ok() ? "success" : std::string(actuationErrorName(action.outcome.error));
  auto log = componentLogger("aggregator.actuator");
  if (action.outcome.ok()) {
    clusters_.rememberScale(action.cluster, action.request.workload, action.outcome.status);
    log->info("{} in {} scaled to {} (decision {}, {} ms)", action.request.workload.describe(),
              action.cluster, action.request.replicas, action.request.decisionId,
              action.duration.count());
  } else {
    log->warn("{} in {}: scaling to {} failed: {}", action.request.workload.describe(),
              action.cluster, action.request.replicas, action.outcome.message);
  }
  {
    std::lock_guard lock(mutex_);
    ++actions_[{action.cluster, result}];
    DurationHistogram& histogram = actionSeconds_[action.cluster];
    if (histogram.buckets.empty()) histogram.buckets.assign(std::size(kScaleActionBuckets), 0);
    const double seconds = std::chrono::duration<double>(action.duration).count();
    for (std::size_t i = 0; i < std::size(kScaleActionBuckets); ++i) {
      if (seconds <= kScaleActionBuckets[i]) ++histogram.buckets[i];
    }
    ++histogram.count;
    histogram.sum += seconds;
  }
  if (store_ != nullptr) {
    EventRecord event;
    event.timeUnixMs = toUnixMillis(clock_.wallNow());
    event.kind = std::string(kEventAction);
    event.cluster = action.cluster;
    event.workload = action.request.workload.toString();
    event.message = action.outcome.ok() ? "scaled " + action.request.workload.describe() + " to " +
                                              std::to_string(action.request.replicas)
                                        : "scaling " + action.request.workload.describe() +
                                              " failed: " + action.outcome.message;
    event.details = json{{"decisionId", action.request.decisionId},
                         {"replicas", action.request.replicas},
                         {"result", result},
                         {"attempts", action.outcome.attempts},
                         {"durationMs", action.duration.count()},
                         {"fencingToken", action.request.fencingToken}}
                        .dump();
    store_->recordEvent(std::move(event));
  }
}

void ScalingLoop::start() {
  stop();
  {
    std::lock_guard lock(threadMutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    WallTime last{};
    std::uint64_t seen = 0;
    std::unique_lock lock(threadMutex_);
    while (!stopping_) {
      lock.unlock();
      // Woken by each new snapshot; the timeout bounds how long stop() waits for this thread.
      const auto published = snapshots_.waitForNewer(seen, std::chrono::milliseconds(100));
      seen = published.generation;
      if (published.snapshot && published.snapshot->takenAt != last) {
        last = published.snapshot->takenAt;
        tick(*published.snapshot);
      }
      lock.lock();
    }
  });
}

void ScalingLoop::stop() {
  {
    std::lock_guard lock(threadMutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();  // within one waitForNewer timeout
}

void ScalingLoop::drainActions() { actuation_.drain(); }

DrainProgress drainProgress(const std::vector<WorkloadStatus>& workloads,
                            const std::string& cluster) {
  DrainProgress progress;
  progress.cluster = cluster;
  for (const auto& workload : workloads) {
    const auto it = workload.clusters.find(cluster);
    if (it == workload.clusters.end()) continue;
    ++progress.workloads;
    progress.replicasLeft += it->second.current;
    progress.readyLeft += it->second.ready;
    if (it->second.current == 0 && it->second.ready == 0) ++progress.workloadsDone;
    if (it->second.lastResort > 0) ++progress.pausedWorkloads;
  }
  return progress;
}

std::vector<WorkloadStatus> ScalingLoop::status() const {
  std::lock_guard lock(mutex_);
  std::vector<WorkloadStatus> out;
  for (const auto& [key, state] : workloads_) out.push_back(state.status);
  return out;
}

}  // namespace fleetscale::aggregator
