#include "fleetscale/aggregator/control/scaling_loop.h"

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/pipeline/decision_json.h"
#include "fleetscale/aggregator/pipeline/workload_observation.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

json allocationJson(const scaling::Allocation& allocation) {
  json out = json::object();
  for (const auto& [cluster, replicas] : allocation) out[cluster] = replicas;
  return out;
}

// Allocatable resources per cluster, and what the pods the agents see there request.
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
      resources.cpuRequestedCores += rollup.cpuRequestCores;
      resources.memoryRequestedBytes += rollup.memoryRequestBytes;
    }
  }
  return out;
}

// The workload's placement entries: as configured, or every cluster of the policy at weight 1.
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
    auto history = historyFromJson(details.value("history", json()));
    std::lock_guard lock(mutex_);
    WorkloadState& state = workloads_[workload.key()];
    if (history) state.history = std::move(*history);
    // A recent stored decision (within two heartbeats) continues the restored window; after a
    // longer gap the recommendations in it are not evidence of what happened since.
    const WallTime storedAt = fromUnixMillis(decisions->front().timeUnixMs);
    if (clock_.wallNow() - storedAt <= 2 * options_.heartbeat) {
      state.observingSince = storedAt;
      for (const auto& recommendation : state.history.recommendations) {
        state.observingSince = std::min(*state.observingSince, recommendation.at);
      }
    }
    state.fleetReplicas = decisions->front().desiredReplicas;
    if (details.contains("placement") && details["placement"].contains("targets")) {
      for (const auto& [cluster, replicas] : details["placement"]["targets"].items()) {
        state.placement.targets[cluster] = replicas.get<std::int32_t>();
      }
    }
    state.restored = true;
  }
}

void ScalingLoop::tick(const FleetSnapshot& snapshot) {
  const auto policy = policy_.get();
  std::map<std::string, double> coverage;
  std::map<std::string, std::chrono::milliseconds> silentFor;
  for (const auto& cluster : snapshot.clusters) {
    coverage[cluster.name] =
        cluster.nodes > 0 ? static_cast<double>(cluster.nodes - cluster.staleNodes) / cluster.nodes
                          : 0.0;
    if (cluster.lastSeen != WallTime{}) {
      silentFor[cluster.name] = std::chrono::duration_cast<std::chrono::milliseconds>(
          snapshot.takenAt - cluster.lastSeen);
    }
  }
  auto log = componentLogger("aggregator.scaling");
  for (const auto& transition : clusters_.updateHealth(coverage, silentFor)) {
    const std::string from(scaling::healthStateName(transition.change.from));
    const std::string to(scaling::healthStateName(transition.change.to));
    log->warn("cluster {} is now {} (was {}): {}", transition.cluster, to, from,
              transition.change.reason);
    {
      std::lock_guard lock(mutex_);
      ++transitions_[{transition.cluster, to}];
    }
    if (store_ != nullptr) {
      EventRecord event;
      event.timeUnixMs = toUnixMillis(clock_.wallNow());
      event.kind = std::string(kEventClusterHealth);
      event.cluster = transition.cluster;
      event.message = "cluster " + transition.cluster + " " + from + " -> " + to + ": " +
                      transition.change.reason;
      event.details = json{{"from", from}, {"to", to}, {"reason", transition.change.reason}}.dump();
      store_->recordEvent(std::move(event));
    }
  }
  LeadershipGate gate;
  {
    std::lock_guard lock(mutex_);
    gate = leadership_;
  }
  const std::optional<std::uint64_t> term =
      gate ? gate(std::chrono::milliseconds(0)) : std::optional<std::uint64_t>(0);
  const auto resources = clusterResources(snapshot);
  for (const auto& workload : policy->workloads) {
    decideWorkload(workload, *policy, snapshot, resources, term);
  }
}

void ScalingLoop::decideWorkload(const WorkloadConfig& workload, const PolicyConfig& policy,
                                 const FleetSnapshot& snapshot,
                                 const std::map<std::string, scaling::ClusterResources>& resources,
                                 std::optional<std::uint64_t> term) {
  const WallTime now = clock_.wallNow();
  const WorkloadKey ref = workload.key();
  const std::vector<WorkloadCluster> placements = placementsOf(workload, policy);
  const WorkloadSnapshot* seen = snapshot.find(ref);
  if (seen == nullptr) seen = snapshot.find(WorkloadKey{workload.namespaceName, "", workload.name});
  // Pods in failed clusters are gone: they neither serve nor count as missing.
  WorkloadSnapshot live;
  if (seen != nullptr) {
    for (const auto& pod : seen->pods) {
      if (clusters_.health(pod.cluster) != scaling::HealthState::kFailed) live.pods.push_back(pod);
    }
  }
  const auto observed = buildObservation(live, 0, snapshot.takenAt, options_.window);
  const auto ready = readyPodsByCluster(observed);
  std::map<std::string, std::int32_t> podsIn;
  for (const auto& pod : observed.pods) ++podsIn[pod.cluster];

  std::lock_guard lock(mutex_);
  WorkloadState& state = workloads_[ref];
  std::vector<scaling::ClusterView> views;
  std::vector<scaling::ClusterSlot> slots;
  std::int32_t liveSpec = 0;  // spec replicas in clusters that have not failed
  bool anyKnown = state.fleetReplicas.has_value();
  scaling::PodRequests perPod;
  if (seen != nullptr && seen->total.replicasSeen > 0) {
    perPod.cpuCores = seen->total.cpuRequestCores / seen->total.replicasSeen;
    perPod.memoryBytes = seen->total.memoryRequestBytes / seen->total.replicasSeen;
  }
  for (const auto& placement : placements) {
    const std::string& name = placement.name;
    clusters_.watch(name, ref);
    scaling::ClusterView view;
    view.cluster = name;
    view.health = clusters_.health(name);
    view.draining = clusters_.draining(name);
    const auto readyHere = ready.find(name);
    view.readyReplicas = readyHere == ready.end() ? 0 : readyHere->second;
    // The API's spec replicas; before the first read, what we last wrote or the pods we see.
    if (const auto cached = clusters_.scale(name, ref)) {
      view.specReplicas = cached->status.specReplicas;
      anyKnown = true;
    } else if (const auto known = state.status.clusters.find(name);
               known != state.status.clusters.end()) {
      view.specReplicas = known->second.current;
    } else {
      view.specReplicas = podsIn.count(name) ? podsIn[name] : 0;
      anyKnown |= podsIn.count(name) > 0;
    }
    if (view.health != scaling::HealthState::kFailed) liveSpec += view.specReplicas;
    views.push_back(view);
    scaling::ClusterSlot slot{
        name,         placement.weight,    placement.minReplicas, placement.maxReplicas,
        std::nullopt, placement.preference};
    if (placement.fitToAllocatable) {
      const auto here = resources.find(name);
      if (here != resources.end()) {
        slot.capacity =
            scaling::replicasThatFit(here->second, perPod, podsIn.count(name) ? podsIn[name] : 0);
      }
    }
    slots.push_back(slot);
  }
  WorkloadStatus& status = state.status;
  status.namespaceName = workload.namespaceName;
  status.name = workload.name;
  status.kind = workload.kind;
  status.minReplicas = workload.policy.minReplicas;
  status.maxReplicas = workload.policy.maxReplicas;
  if (!anyKnown) {
    status.reason = "waiting for the first scale read or agent report";
    ++decisions_["skipped"];
    return;
  }

  const std::int32_t currentTotal = state.fleetReplicas.value_or(liveSpec);
  auto observation = observed;
  observation.currentReplicas = currentTotal;
  if (!state.observingSince) state.observingSince = now;
  scaling::Decision decision = scaling::decide(workload.policy, observation, state.history, now);
  const bool leader = term.has_value();
  if (leadership_ && leader && decision.error.empty()) {
    const std::int32_t kept = scaling::holdScaleDownUntilObserved(
        workload.policy, currentTotal, decision.desiredReplicas, *state.observingSince, now);
    if (kept != decision.desiredReplicas) {
      decision.steps.push_back(scaling::DecisionStep{
          "takeover", decision.desiredReplicas, kept,
          "scale-down held: this aggregator has watched the workload for " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::seconds>(now - *state.observingSince)
                      .count()) +
              " s of its " + std::to_string(scaling::scaleDownWindow(workload.policy).count()) +
              " s scale-down window"});
      decision.reason = "holding " + std::to_string(kept) +
                        " replicas after becoming leader: " + decision.steps.back().detail;
      decision.desiredReplicas = kept;
      decision.scale = kept != currentTotal;
    }
  }
  // Failover and drains must go on even when metrics give no decision: keep the total then.
  const std::int32_t total = decision.error.empty() ? decision.desiredReplicas : currentTotal;
  const auto plan = scaling::planPlacement(total, slots, views, state.placement);
  state.fleetReplicas = total;
  const bool act = leader && !options_.dryRun;
  const std::string decisionId = nextDecisionId(now);

  if (act) {
    for (const auto& [cluster, replicas] : plan.writes) {
      ScaleRequest request{ref, replicas, decisionId, decision.reason, *term, {}};
      if (leadership_) {
        request.stillLeader = [gate = leadership_, term = *term](std::chrono::milliseconds within) {
          return gate(within) == term;
        };
      }
      actuation_.submit(cluster, std::move(request));
    }
  }
  // A standby records the scale the leader makes of the same decision, so its rate limits match
  // the leader's when it takes over.
  if (decision.scale && !options_.dryRun) {
    scaling::recordScale(workload.policy, state.history, currentTotal, decision.desiredReplicas,
                         now);
  }
  ++decisions_[!decision.error.empty() ? "error" : decision.scale ? "scale" : "hold"];

  if (store_ != nullptr && plan.unplaced != status.unplaced) {
    // Only on change: a shortfall that lasts is one event, not one per tick.
    EventRecord event;
    event.timeUnixMs = toUnixMillis(now);
    event.kind = std::string(kEventCapacity);
    event.workload = ref.toString();
    event.message = plan.unplaced > 0
                        ? std::to_string(plan.unplaced) + " of " + std::to_string(total) +
                              " replicas of " + ref.describe() + " fit in no available cluster"
                        : "every replica of " + ref.describe() + " is placed again";
    event.details = json{{"unplaced", plan.unplaced}, {"desiredReplicas", total}}.dump();
    store_->recordEvent(std::move(event));
  }
  status.currentReplicas = currentTotal;
  status.desiredReplicas = total;
  status.unplaced = plan.unplaced;
  status.reason = decision.reason;
  status.error = decision.error;
  status.notes = plan.notes;
  status.decisionId = decisionId;
  status.decidedAt = now;
  for (const auto& view : views) {
    ClusterReplicas& replicas = status.clusters[view.cluster];
    replicas.target = plan.targets.count(view.cluster) ? plan.targets.at(view.cluster) : 0;
    replicas.current =
        plan.writes.count(view.cluster) && act ? plan.writes.at(view.cluster) : view.specReplicas;
    replicas.ready = view.readyReplicas;
  }

  const bool changed = decision.scale || !plan.writes.empty() || total != state.lastStoredDesired ||
                       currentTotal != state.lastStoredCurrent ||
                       decision.error != state.lastStoredError;
  if (store_ != nullptr && (changed || now - state.lastStoredAt >= options_.heartbeat)) {
    json placement{{"targets", allocationJson(plan.targets)},
                   {"writes", allocationJson(plan.writes)},
                   {"unplaced", plan.unplaced},
                   {"readyTotal", plan.readyTotal},
                   {"notes", plan.notes}};
    json clusters = json::array();
    for (const auto& view : views) {
      clusters.push_back({{"cluster", view.cluster},
                          {"health", std::string(scaling::healthStateName(view.health))},
                          {"draining", view.draining},
                          {"specReplicas", view.specReplicas},
                          {"readyReplicas", view.readyReplicas}});
    }
    DecisionRecord record;
    record.timeUnixMs = toUnixMillis(now);
    record.workload = ref;
    record.currentReplicas = currentTotal;
    record.desiredReplicas = total;
    record.reason = decision.error.empty() ? decision.reason : "no decision: " + decision.error;
    record.details = json{{"decisionId", decisionId},
                          {"acted", act},
                          {"dryRun", options_.dryRun},
                          {"leader", leader},
                          {"term", term ? json(*term) : json(nullptr)},
                          {"decision", decisionToJson(decision)},
                          {"clusters", std::move(clusters)},
                          {"placement", std::move(placement)},
                          {"history", historyToJson(state.history)}}
                         .dump();
    store_->recordDecision(std::move(record));
    state.lastStoredDesired = total;
    state.lastStoredCurrent = currentTotal;
    state.lastStoredError = decision.error;
    state.lastStoredAt = now;
  }
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
    std::unique_lock lock(threadMutex_);
    while (!stopping_) {
      lock.unlock();
      const auto snapshot = snapshots_.get();
      if (snapshot && snapshot->takenAt != last) {
        last = snapshot->takenAt;
        tick(*snapshot);
      }
      lock.lock();
      // New snapshots come once a tick; looking ten times a tick keeps the reaction prompt.
      wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
    }
  });
}

void ScalingLoop::stop() {
  {
    std::lock_guard lock(threadMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
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
