#include "fleetscale/aggregator/replay/replay.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "fleetscale/aggregator/pipeline/decision_pipeline.h"

namespace fleetscale::aggregator {
namespace {

// Everything recorded about the workload at one time, summed over its clusters.
struct Moment {
  double replicas = 0;
  double ready = 0;
  double cpuUsage = 0;
  double cpuUnmetDemand = 0;
  double cpuRequest = 0;
  double memoryUsage = 0;
  double memoryRequest = 0;
};

// A replica the replay asked for.
struct ReplayPod {
  int id = 0;
  WallTime created{};
  WallTime readyAt{};
};

// Existing replicas at the start are long past the CPU initialization period, as in a cluster
// that has been running.
constexpr std::chrono::hours kLongAgo{1};

std::int64_t milli(double value) { return std::llround(value * 1000.0); }

// The pods and metrics the HPA calculation reads, as the agents would have reported them: the
// recorded usage (plus, throttling-aware, the unmet demand) shared by the ready replicas, each
// with the recorded request per replica.
scaling::WorkloadObservation observe(const std::vector<ReplayPod>& pods, const Moment& moment,
                                     double cpuPerReplica, double memoryPerReplica, WallTime now,
                                     scaling::CpuDemand cpuDemand) {
  const double cpu = scaling::cpuFigure(cpuDemand, moment.cpuUsage, moment.cpuUnmetDemand);
  scaling::WorkloadObservation observation;
  observation.currentReplicas = static_cast<std::int32_t>(pods.size());
  const auto ready = std::count_if(pods.begin(), pods.end(),
                                   [&](const ReplayPod& pod) { return pod.readyAt <= now; });
  for (const auto& pod : pods) {
    scaling::PodInfo info;
    info.name = "replay-" + std::to_string(pod.id);
    info.cluster = "replay";
    info.startTime = pod.created;
    if (cpuPerReplica > 0) info.cpuRequestMilli = milli(cpuPerReplica);
    if (memoryPerReplica > 0) info.memoryRequestMilli = milli(memoryPerReplica);
    if (pod.readyAt <= now) {
      info.phase = scaling::PodPhase::kRunning;
      info.readyCondition = scaling::ReadyCondition{true, pod.readyAt};
      const double share = 1.0 / static_cast<double>(ready);
      observation.metrics[scaling::Resource::kCpu][info.name] =
          scaling::PodMetric{milli(cpu * share), now, std::chrono::seconds(1)};
      observation.metrics[scaling::Resource::kMemory][info.name] =
          scaling::PodMetric{milli(moment.memoryUsage * share), now, std::chrono::seconds(1)};
    } else {
      info.phase = scaling::PodPhase::kPending;  // asked for, not serving yet
    }
    observation.pods.push_back(std::move(info));
  }
  return observation;
}

// Removes replicas as the ReplicaSet controller does: not yet ready first, then the newest.
void removeReplicas(std::vector<ReplayPod>& pods, std::size_t count, WallTime now) {
  std::stable_sort(pods.begin(), pods.end(), [&](const ReplayPod& a, const ReplayPod& b) {
    const bool aReady = a.readyAt <= now;
    const bool bReady = b.readyAt <= now;
    if (aReady != bReady) return aReady;  // ready ones first, so the unready are at the end
    return a.created < b.created;
  });
  pods.resize(pods.size() - std::min(count, pods.size()));
}

struct Interval {
  double seconds = 0;
  double demand = 0;
  double capacity = 0;
  double replicas = 0;
};

ReplayMeasurements measure(const std::vector<Interval>& intervals, int actions) {
  ReplayMeasurements out;
  out.actions = actions;
  double slackWeighted = 0;
  double secondsWithCapacity = 0;
  for (const auto& interval : intervals) {
    out.seconds += interval.seconds;
    out.meanReplicas += interval.replicas * interval.seconds;
    out.peakReplicas = std::max(out.peakReplicas, interval.replicas);
    if (interval.demand > interval.capacity) {
      out.underProvisionedSeconds += interval.seconds;
      out.shortfallCoreSeconds += (interval.demand - interval.capacity) * interval.seconds;
    }
    if (interval.capacity > 0) {
      const double spare = std::max(0.0, interval.capacity - interval.demand);
      out.slackCoreSeconds += spare * interval.seconds;
      slackWeighted += spare / interval.capacity * interval.seconds;
      secondsWithCapacity += interval.seconds;
    }
  }
  if (out.seconds > 0) out.meanReplicas /= out.seconds;
  if (secondsWithCapacity > 0) out.meanSlack = slackWeighted / secondsWithCapacity;
  return out;
}

std::map<WallTime, Moment> momentsOf(const WorkloadConfig& workload,
                                     const std::vector<ReplaySample>& samples) {
  std::map<WallTime, Moment> moments;
  for (const auto& sample : samples) {
    if (sample.namespaceName != workload.namespaceName || sample.name != workload.name) continue;
    Moment& moment = moments[sample.time];
    moment.replicas += sample.replicas;
    moment.ready += sample.readyReplicas;
    moment.cpuUsage += sample.cpuUsageCores;
    moment.cpuUnmetDemand += sample.cpuUnmetDemandCores;
    moment.cpuRequest += sample.cpuRequestCores;
    moment.memoryUsage += sample.memoryUsageBytes;
    moment.memoryRequest += sample.memoryRequestBytes;
  }
  return moments;
}

// The replayed workload between steps.
struct Replayed {
  std::vector<ReplayPod> pods;
  int nextId = 0;
  WorkloadMemory memory;  // the pipeline's
  double cpuPerReplica = 0;
  double memoryPerReplica = 0;
};

// The one cluster the replay stands for: always healthy, every write done at once.
constexpr const char* kReplayCluster = "replay";

// Runs the decision pipeline at `time` and applies what it decides.
ReplayStep stepAt(WallTime time, const Moment& moment, const WorkloadConfig& workload,
                  const ReplayOptions& options, double capacityPerReplica, Replayed& replayed) {
  auto& pods = replayed.pods;
  if (moment.replicas > 0 && moment.cpuRequest > 0) {
    replayed.cpuPerReplica = moment.cpuRequest / moment.replicas;
    replayed.memoryPerReplica = moment.memoryRequest / moment.replicas;
  }
  ReplayStep step;
  step.time = time;
  step.demandCores = moment.cpuUsage + moment.cpuUnmetDemand;
  step.memoryBytes = moment.memoryUsage;
  step.recordedReplicas = moment.replicas;
  step.recordedReady = moment.ready;
  step.currentReplicas = static_cast<std::int32_t>(pods.size());
  step.readyReplicas = static_cast<std::int32_t>(std::count_if(
      pods.begin(), pods.end(), [&](const ReplayPod& pod) { return pod.readyAt <= time; }));
  step.capacityCores = step.readyReplicas * capacityPerReplica;

  PipelineContext context;
  context.now = time;
  WorkloadInput input;
  input.policy = workload.policy;
  input.placements.emplace_back().name = kReplayCluster;
  input.observation = observe(pods, moment, replayed.cpuPerReplica, replayed.memoryPerReplica, time,
                              input.policy.cpuDemand);
  input.specReplicas[kReplayCluster] = step.currentReplicas;
  // The pipeline records a scale in the history at once: the replay's writes always succeed.
  const PipelineResult result = runPipeline(context, input, replayed.memory);
  const scaling::Decision& decision = result.decision;
  step.desiredReplicas = result.desiredReplicas;
  step.reason = decision.error.empty() ? decision.reason : "no decision: " + decision.error;
  if (decision.error.empty() && decision.scale) {
    // The recording sums the workload's clusters into one spec.replicas: the replay applies the
    // fleet-wide total, not placement's make-before-break steps.
    step.scaled = true;
    if (result.desiredReplicas > step.currentReplicas) {
      for (int i = step.currentReplicas; i < result.desiredReplicas; ++i) {
        pods.push_back({replayed.nextId++, time, time + options.readinessDelay});
      }
    } else {
      removeReplicas(pods, static_cast<std::size_t>(step.currentReplicas - result.desiredReplicas),
                     time);
    }
  }
  return step;
}

// The replay's and the recording's figures over the same steps. Each step holds until the next;
// the last one for as long as the one before it.
void measureReplay(WorkloadReplay& replay) {
  std::vector<Interval> replayed;
  std::vector<Interval> recorded;
  int replayedActions = 0;
  int recordedActions = 0;
  for (std::size_t i = 0; i < replay.steps.size(); ++i) {
    const ReplayStep& step = replay.steps[i];
    double seconds = 0;
    if (i + 1 < replay.steps.size()) {
      seconds = std::chrono::duration<double>(replay.steps[i + 1].time - step.time).count();
    } else if (i > 0) {
      seconds = std::chrono::duration<double>(step.time - replay.steps[i - 1].time).count();
    }
    replayed.push_back(
        {seconds, step.demandCores, step.capacityCores, static_cast<double>(step.readyReplicas)});
    recorded.push_back({seconds, step.demandCores,
                        step.recordedReady * replay.capacityPerReplicaCores, step.recordedReady});
    replayedActions += step.scaled ? 1 : 0;
    if (i > 0 &&
        std::lround(step.recordedReplicas) != std::lround(replay.steps[i - 1].recordedReplicas)) {
      ++recordedActions;
    }
  }
  replay.replayed = measure(replayed, replayedActions);
  replay.recorded = measure(recorded, recordedActions);
}

}  // namespace

Result<WorkloadReplay> replayWorkload(const WorkloadConfig& workload,
                                      const std::vector<ReplaySample>& samples,
                                      const ReplayOptions& options) {
  const std::string label = workload.namespaceName + "/" + workload.name;
  const std::map<WallTime, Moment> moments = momentsOf(workload, samples);
  if (moments.empty()) return Error{"the history has no samples of " + label};
  const auto firstSeen = std::find_if(moments.begin(), moments.end(),
                                      [](const auto& entry) { return entry.second.replicas > 0; });
  if (firstSeen == moments.end()) return Error{"the history never shows a replica of " + label};

  WorkloadReplay replay;
  replay.namespaceName = workload.namespaceName;
  replay.name = workload.name;
  replay.kind = workload.kind;
  Replayed replayed;
  replayed.cpuPerReplica = firstSeen->second.cpuRequest / firstSeen->second.replicas;
  replayed.memoryPerReplica = firstSeen->second.memoryRequest / firstSeen->second.replicas;
  replay.capacityPerReplicaCores = options.capacityPerReplicaCores > 0
                                       ? options.capacityPerReplicaCores
                                       : replayed.cpuPerReplica;
  if (replay.capacityPerReplicaCores <= 0) {
    return Error{label + " has no CPU request in the history: pass the capacity per replica"};
  }

  // The replay starts where the recording starts: the recorded replicas, all of them ready.
  const WallTime start = moments.begin()->first;
  const auto initial = static_cast<int>(std::lround(moments.begin()->second.replicas));
  for (int i = 0; i < initial; ++i) {
    replayed.pods.push_back({replayed.nextId++, start - kLongAgo, start - kLongAgo});
  }
  for (const auto& [time, moment] : moments) {
    replay.steps.push_back(
        stepAt(time, moment, workload, options, replay.capacityPerReplicaCores, replayed));
  }
  measureReplay(replay);
  return replay;
}

}  // namespace fleetscale::aggregator
