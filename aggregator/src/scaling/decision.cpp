#include "fleetscale/aggregator/scaling/decision.h"

#include <cstdio>
#include <limits>

#include "fleetscale/shared/quantity.h"

namespace fleetscale::aggregator::scaling {
namespace {

std::string formatRatio(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", value);
  return text;
}

CalculatorSettings settingsFor(const WorkloadPolicy& policy) {
  CalculatorSettings settings = policy.calculator;
  // Per-direction tolerances from behavior override the global one.
  if (policy.behavior) {
    if (policy.behavior->scaleUp && policy.behavior->scaleUp->tolerance) {
      settings.tolerances.scaleUp = *policy.behavior->scaleUp->tolerance;
    }
    if (policy.behavior->scaleDown && policy.behavior->scaleDown->tolerance) {
      settings.tolerances.scaleDown = *policy.behavior->scaleDown->tolerance;
    }
  }
  return settings;
}

// The metric's pod values: a resource's usage, one container's, or a Pods metric's.
const PodMetrics& podValuesFor(const MetricTarget& target, const WorkloadObservation& observation) {
  static const PodMetrics kNone;
  const auto find = [](const auto& map, const auto& key) -> const PodMetrics& {
    const auto found = map.find(key);
    return found == map.end() ? kNone : found->second;
  };
  switch (target.source) {
    case MetricSource::kResource:
      return find(observation.metrics, target.resource);
    case MetricSource::kContainerResource: {
      const auto container = observation.containerMetrics.find(target.container);
      return container == observation.containerMetrics.end()
                 ? kNone
                 : find(container->second, target.resource);
    }
    case MetricSource::kPods:
      return find(observation.podMetrics, target.metricName);
    case MetricSource::kObject:
    case MetricSource::kExternal:
      break;
  }
  return kNone;
}

// Why the source gave no value, when it said; else "no value".
std::string sourceProblem(const MetricTarget& target, const WorkloadObservation& observation) {
  const auto problem = observation.sourceErrors.find(target.label());
  return problem == observation.sourceErrors.end() ? "no value" : problem->second;
}

Result<std::int64_t> objectValue(const MetricTarget& target,
                                 const WorkloadObservation& observation) {
  const ObjectMetricValue* found = nullptr;
  for (const auto& value : observation.objectMetrics) {
    if (value.metricName != target.metricName || !target.describedObject.matches(value.object) ||
        !target.selector.matches(value.labels))
      continue;
    if (found != nullptr) {
      return Error{"unable to get metric " + target.metricName + " on " +
                   target.describedObject.describe() + ": more than one value matches"};
    }
    found = &value;
  }
  if (found == nullptr) {
    return Error{"unable to get metric " + target.metricName + " on " +
                 target.describedObject.describe() + ": " + sourceProblem(target, observation)};
  }
  return found->valueMilli;
}

// The HPA sums every series of the external metric that the selector matches, capping the sum
// at int64's largest value.
Result<std::int64_t> externalValue(const MetricTarget& target,
                                   const WorkloadObservation& observation) {
  std::int64_t sum = 0;
  bool any = false;
  for (const auto& series : observation.externalMetrics) {
    if (series.metricName != target.metricName || !target.selector.matches(series.labels)) continue;
    any = true;
    if (__builtin_add_overflow(sum, series.valueMilli, &sum)) {
      sum = series.valueMilli > 0 ? std::numeric_limits<std::int64_t>::max()
                                  : std::numeric_limits<std::int64_t>::min();
      break;
    }
  }
  if (!any) {
    const auto problem = observation.sourceErrors.find(target.label());
    return Error{"unable to get external metric " + target.metricName + ": " +
                 (problem != observation.sourceErrors.end()
                      ? problem->second
                      : "no series matches" + (target.selector.empty()
                                                   ? std::string()
                                                   : " {" + target.selector.describe() + "}"))};
  }
  return sum;
}

Result<ReplicaProposal> propose(const MetricTarget& target, const WorkloadObservation& observation,
                                const CalculatorSettings& settings, WallTime now) {
  const std::int32_t current = observation.currentReplicas;
  const std::int32_t status = observation.statusReplicas.value_or(current);
  switch (target.source) {
    case MetricSource::kResource:
    case MetricSource::kContainerResource: {
      // A pod without figures for the named container counts as missing (metrics/client.go
      // getContainerMetrics leaves it out).
      const PodMetrics& values = podValuesFor(target, observation);
      return target.type == TargetType::kUtilization
                 ? resourceUtilizationReplicas(current, target.averageUtilization, target.resource,
                                               observation.pods, values, settings, now,
                                               target.container)
                 : resourceAverageValueReplicas(current, target.averageValueMilli, target.resource,
                                                observation.pods, values, settings, now);
    }
    case MetricSource::kPods:
      return podsAverageValueReplicas(current, target.averageValueMilli, observation.pods,
                                      podValuesFor(target, observation), settings, now);
    case MetricSource::kObject:
    case MetricSource::kExternal: {
      const auto value = target.source == MetricSource::kObject
                             ? objectValue(target, observation)
                             : externalValue(target, observation);
      if (!value) return value.error();
      return target.type == TargetType::kValue
                 ? valueReplicas(current, *value, target.valueMilli, observation.pods,
                                 settings.tolerances)
                 : perPodValueReplicas(status, *value, target.averageValueMilli,
                                       settings.tolerances);
    }
  }
  return Error{"unknown metric source"};
}

MetricEvaluation evaluate(const MetricTarget& target, const WorkloadObservation& observation,
                          const CalculatorSettings& settings, WallTime now) {
  MetricEvaluation evaluation{target, std::nullopt, ""};
  auto proposal = propose(target, observation, settings, now);
  if (proposal) {
    evaluation.proposal = std::move(*proposal);
  } else {
    evaluation.error = proposal.error().message;
  }
  return evaluation;
}

void step(Decision& decision, std::string rule, std::int32_t before, std::int32_t after,
          std::string detail) {
  decision.steps.push_back(DecisionStep{std::move(rule), before, after, std::move(detail)});
}

// Scale to zero (KEDA's rules): a workload is active while some Object or External metric is
// above its activation; idle when every one has a value at or below it; unknown when one has no
// value, which never counts as idle.
enum class Activity { kActive, kIdle, kUnknown };

Activity activityOf(const std::vector<MetricEvaluation>& metrics) {
  bool unknown = false;
  bool any = false;
  for (const auto& evaluation : metrics) {
    const auto& target = evaluation.target;
    if (target.source != MetricSource::kObject && target.source != MetricSource::kExternal) {
      continue;
    }
    any = true;
    if (!evaluation.proposal) {
      unknown = true;
    } else if (evaluation.proposal->valueMilli > target.activationMilli) {
      return Activity::kActive;
    }
  }
  if (!any) return Activity::kActive;  // nothing from outside the pods: the HPA's rules alone
  return unknown ? Activity::kUnknown : Activity::kIdle;
}

std::string cooldownText(std::chrono::seconds cooldown) {
  return std::to_string(cooldown.count()) + " s";
}

}  // namespace

std::string_view predictiveModeName(PredictiveMode mode) {
  switch (mode) {
    case PredictiveMode::kOff:
      return "off";
    case PredictiveMode::kObserve:
      return "observe";
    case PredictiveMode::kOn:
      return "on";
  }
  return "off";
}

std::optional<PredictiveMode> parsePredictiveMode(std::string_view name) {
  for (const auto mode : {PredictiveMode::kOff, PredictiveMode::kObserve, PredictiveMode::kOn}) {
    if (name == predictiveModeName(mode)) return mode;
  }
  return std::nullopt;
}

std::string_view cpuDemandName(CpuDemand demand) {
  return demand == CpuDemand::kUsage ? "usage" : "throttling-aware";
}

std::optional<CpuDemand> parseCpuDemand(std::string_view name) {
  for (const auto demand : {CpuDemand::kUsage, CpuDemand::kThrottlingAware}) {
    if (name == cpuDemandName(demand)) return demand;
  }
  return std::nullopt;
}

std::vector<ClusterDemand> demandByCluster(const WorkloadObservation& observation) {
  std::map<std::string, ClusterDemand> byCluster;
  auto usageOf = [&](Resource resource, const std::string& pod) -> double {
    const auto metrics = observation.metrics.find(resource);
    if (metrics == observation.metrics.end()) return 0;
    const auto metric = metrics->second.find(pod);
    return metric == metrics->second.end()
               ? 0
               : static_cast<double>(metric->second.valueMilli) / 1000.0;
  };
  double totalCpu = 0;
  double totalMemory = 0;
  for (const auto& pod : observation.pods) {
    ClusterDemand& demand = byCluster[pod.cluster];
    demand.cluster = pod.cluster;
    ++demand.pods;
    if (pod.readyCondition && pod.readyCondition->ready && pod.phase == PodPhase::kRunning &&
        !pod.deleting)
      ++demand.readyPods;
    const double cpu = usageOf(Resource::kCpu, pod.name);
    const double memory = usageOf(Resource::kMemory, pod.name);
    demand.cpuUsageCores += cpu;
    demand.memoryUsageBytes += memory;
    demand.cpuRequestCores += static_cast<double>(pod.cpuRequestMilli.value_or(0)) / 1000.0;
    demand.memoryRequestBytes += static_cast<double>(pod.memoryRequestMilli.value_or(0)) / 1000.0;
    totalCpu += cpu;
    totalMemory += memory;
  }
  std::vector<ClusterDemand> out;
  for (auto& [name, demand] : byCluster) {
    demand.cpuShare = totalCpu > 0 ? demand.cpuUsageCores / totalCpu : 0;
    demand.memoryShare = totalMemory > 0 ? demand.memoryUsageBytes / totalMemory : 0;
    out.push_back(demand);
  }
  return out;
}

std::string_view metricSourceName(MetricSource source) {
  switch (source) {
    case MetricSource::kResource:
      return "Resource";
    case MetricSource::kContainerResource:
      return "ContainerResource";
    case MetricSource::kPods:
      return "Pods";
    case MetricSource::kObject:
      return "Object";
    case MetricSource::kExternal:
      return "External";
  }
  return "Resource";
}

std::string_view targetTypeName(TargetType type) {
  switch (type) {
    case TargetType::kUtilization:
      return "Utilization";
    case TargetType::kAverageValue:
      return "AverageValue";
    case TargetType::kValue:
      return "Value";
  }
  return "Utilization";
}

bool ObjectReference::matches(const ObjectReference& other) const {
  return kind == other.kind && name == other.name &&
         (apiVersion.empty() || other.apiVersion.empty() || apiVersion == other.apiVersion);
}

std::string ObjectReference::describe() const { return kind + "/" + name; }

std::string MetricTarget::label() const {
  switch (source) {
    case MetricSource::kResource:
      return std::string(resourceName(resource));
    case MetricSource::kContainerResource:
      return container + "/" + std::string(resourceName(resource));
    case MetricSource::kObject:
      return describedObject.describe() + "/" + metricName;
    case MetricSource::kPods:
    case MetricSource::kExternal:
      break;
  }
  return metricName;
}

std::string MetricTarget::describe() const {
  std::string subject;
  switch (source) {
    case MetricSource::kResource:
      subject = resourceName(resource);
      break;
    case MetricSource::kContainerResource:
      subject = "container " + container + " " + std::string(resourceName(resource));
      break;
    case MetricSource::kPods:
      subject = "pods " + metricName;
      break;
    case MetricSource::kObject:
      subject = "object " + describedObject.describe() + " " + metricName;
      break;
    case MetricSource::kExternal:
      subject = "external " + metricName;
      break;
  }
  if (!selector.empty()) subject += " {" + selector.describe() + "}";
  switch (type) {
    case TargetType::kUtilization:
      return subject + " utilization " + std::to_string(averageUtilization) + "%";
    case TargetType::kAverageValue:
      return subject + " average value " + formatQuantityMilli(averageValueMilli);
    case TargetType::kValue:
      return subject + " value " + formatQuantityMilli(valueMilli);
  }
  return subject;
}

Decision decide(const WorkloadPolicy& policy, const WorkloadObservation& observation,
                ScalingHistory& history, WallTime now) {
  Decision decision;
  const std::int32_t current = observation.currentReplicas;
  decision.currentReplicas = current;
  decision.desiredReplicas = current;
  decision.demand = demandByCluster(observation);
  // The HPA seeds its recommendation history with the current size the first time it sees a
  // workload, so a fresh controller never scales down before a full window has passed.
  if (history.recommendations.empty()) history.recommendations.push_back({current, now});

  if (current == 0 && policy.minReplicas != 0) {
    decision.reason = "scaling is disabled: the workload has 0 replicas";
    step(decision, "scaling disabled", 0, 0, "ScalingDisabled");
    return decision;
  }
  if (current > policy.maxReplicas) {
    decision.desiredReplicas = policy.maxReplicas;
    decision.scale = true;
    decision.reason = "current number of replicas above maxReplicas";
    step(decision, "min/max", current, policy.maxReplicas, "TooManyReplicas");
    return decision;
  }
  if (current < policy.minReplicas) {
    decision.desiredReplicas = policy.minReplicas;
    decision.scale = true;
    decision.reason = "current number of replicas below minReplicas";
    step(decision, "min/max", current, policy.minReplicas, "TooFewReplicas");
    return decision;
  }

  // computeReplicasForMetrics: the largest proposal of the metrics that could be evaluated.
  const CalculatorSettings settings = settingsFor(policy);
  std::int32_t proposed = 0;
  int invalid = 0;
  std::string firstError;
  for (const auto& target : policy.metrics) {
    auto evaluation = evaluate(target, observation, settings, now);
    if (evaluation.proposal) {
      if (proposed == 0 || evaluation.proposal->replicas > proposed) {
        proposed = evaluation.proposal->replicas;
      }
    } else {
      if (invalid == 0) firstError = target.describe() + ": " + evaluation.error;
      ++invalid;
    }
    decision.metrics.push_back(std::move(evaluation));
  }
  const int total = static_cast<int>(policy.metrics.size());
  // With some metrics unusable, scaling up on the others is safe; scaling down is not.
  if (total == 0 || invalid >= total || (invalid > 0 && proposed < current)) {
    decision.error = total == 0
                         ? "no metrics configured"
                         : "invalid metrics (" + std::to_string(invalid) + " invalid out of " +
                               std::to_string(total) + "), first error is: " + firstError;
    decision.reason = "no decision: " + decision.error;
    return decision;
  }
  decision.metricDesiredReplicas = proposed;
  // The fewest replicas the HPA rules may go to: minReplicas, or with scale to zero one while
  // the workload is awake; zero itself is the activation rule's alone.
  std::int32_t floor = policy.minReplicas;
  if (policy.minReplicas == 0) {
    const Activity activity = activityOf(decision.metrics);
    // The cooldown of a workload never seen active starts when it is first seen with replicas.
    if (activity == Activity::kActive || (!history.lastActive && current > 0)) {
      history.lastActive = now;
    }
    const bool cooledDown = activity == Activity::kIdle && history.lastActive &&
                            now - *history.lastActive >= policy.cooldown;
    if (current == 0 && activity != Activity::kActive) {
      decision.reason = "idle: no Object or External metric above its activation";
      step(decision, "scale to zero", 0, 0, decision.reason);
      return decision;
    }
    if (current > 0 && cooledDown) {
      decision.desiredReplicas = 0;
      decision.scale = true;
      decision.reason = "scale down from " + std::to_string(current) + " to 0: idle for the " +
                        cooldownText(policy.cooldown) + " cooldown";
      step(decision, "scale to zero", current, 0,
           "every Object and External metric at or below its activation for the cooldown");
      return decision;
    }
    floor = 1;
  }
  for (const auto& evaluation : decision.metrics) {
    if (!evaluation.proposal) continue;
    const auto& p = *evaluation.proposal;
    std::string detail =
        evaluation.target.describe() + ": usage ratio " + formatRatio(p.usageRatio);
    if (p.adjustedUsageRatio) detail += ", adjusted " + formatRatio(*p.adjustedUsageRatio);
    detail += " -> " + std::to_string(p.replicas) + " (" + p.rule + ")";
    step(decision, "metric proposal", current, p.replicas, std::move(detail));
  }

  std::int32_t desired = proposed;
  if (!policy.behavior) {
    const std::int32_t stabilized = stabilizeRecommendation(history.recommendations, proposed, now,
                                                            policy.downscaleStabilizationSeconds);
    if (stabilized != proposed) {
      step(decision, "stabilization", proposed, stabilized,
           "ScaleDownStabilized: recent recommendations were higher than current one, applying "
           "the highest recent recommendation");
    }
    const Limited limited =
        convertDesiredReplicasWithRules(current, stabilized, floor, policy.maxReplicas);
    if (limited.replicas != stabilized) {
      step(decision, "limits", stabilized, limited.replicas,
           limited.reason + ": " + limited.message);
    }
    desired = limited.replicas;
  } else {
    const ResolvedRules up =
        resolveScaleUpRules(policy.behavior->scaleUp, settings.tolerances.scaleUp);
    const ResolvedRules down =
        resolveScaleDownRules(policy.behavior->scaleDown, policy.downscaleStabilizationSeconds,
                              settings.tolerances.scaleDown);
    const Stabilized stabilized = stabilizeRecommendationWithBehaviors(
        history.recommendations, current, proposed, up.stabilizationWindowSeconds,
        down.stabilizationWindowSeconds, now);
    if (stabilized.replicas != proposed) {
      step(decision, "stabilization", proposed, stabilized.replicas,
           stabilized.reason + " (windows: up " + std::to_string(up.stabilizationWindowSeconds) +
               " s, down " + std::to_string(down.stabilizationWindowSeconds) + " s)");
    }
    const Limited limited = convertDesiredReplicasWithBehaviorRate(
        current, stabilized.replicas, floor, policy.maxReplicas, up, down, history, now);
    if (limited.replicas != stabilized.replicas) {
      step(decision, "limits", stabilized.replicas, limited.replicas,
           limited.reason + ": " + limited.message);
    }
    desired = limited.replicas;
  }
  // Waking from zero is the activation rule's, as KEDA does it outside the HPA: a Percent-only
  // scale-up policy allows 0% of 0 more, which would leave an active workload asleep.
  if (current == 0 && floor > 0 && desired < floor) {
    step(decision, "scale from zero", desired, floor,
         "an Object or External metric is above its activation");
    desired = floor;
  }
  decision.desiredReplicas = desired;
  decision.scale = desired != current;
  if (!decision.scale) {
    decision.reason = "no change: " + std::to_string(current) + " replicas";
  } else {
    decision.reason = (desired > current ? "scale up from " : "scale down from ") +
                      std::to_string(current) + " to " + std::to_string(desired);
  }
  return decision;
}

std::chrono::seconds scaleDownWindow(const WorkloadPolicy& policy) {
  if (!policy.behavior) return std::chrono::seconds(policy.downscaleStabilizationSeconds);
  return std::chrono::seconds(resolveScaleDownRules(policy.behavior->scaleDown,
                                                    policy.downscaleStabilizationSeconds,
                                                    policy.calculator.tolerances.scaleDown)
                                  .stabilizationWindowSeconds);
}

std::int32_t holdScaleDownUntilObserved(const WorkloadPolicy& policy, std::int32_t current,
                                        std::int32_t desired, WallTime observingSince,
                                        WallTime now) {
  if (desired >= current) return desired;
  return now - observingSince < scaleDownWindow(policy) ? current : desired;
}

void recordScale(const WorkloadPolicy& policy, ScalingHistory& history, std::int32_t previous,
                 std::int32_t next, WallTime now) {
  if (!policy.behavior || previous == next) return;
  const CalculatorSettings settings = settingsFor(policy);
  storeScaleEvent(
      policy.behavior, resolveScaleUpRules(policy.behavior->scaleUp, settings.tolerances.scaleUp),
      resolveScaleDownRules(policy.behavior->scaleDown, policy.downscaleStabilizationSeconds,
                            settings.tolerances.scaleDown),
      history, previous, next, now);
}

}  // namespace fleetscale::aggregator::scaling
