#include "fleetscale/aggregator/scaling/decision.h"

#include <cstdio>

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

MetricEvaluation evaluate(const MetricTarget& target, const WorkloadObservation& observation,
                          const CalculatorSettings& settings, WallTime now) {
  MetricEvaluation evaluation{target, std::nullopt, ""};
  const auto metrics = observation.metrics.find(target.resource);
  const PodMetrics empty;
  const PodMetrics& podMetrics = metrics == observation.metrics.end() ? empty : metrics->second;
  auto proposal = target.type == TargetType::kUtilization
                      ? resourceUtilizationReplicas(observation.currentReplicas,
                                                    target.averageUtilization, target.resource,
                                                    observation.pods, podMetrics, settings, now)
                      : resourceAverageValueReplicas(observation.currentReplicas,
                                                     target.averageValueMilli, target.resource,
                                                     observation.pods, podMetrics, settings, now);
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

std::string MetricTarget::describe() const {
  const std::string name(resourceName(resource));
  if (type == TargetType::kUtilization) {
    return name + " utilization " + std::to_string(averageUtilization) + "%";
  }
  return name + " average value " + std::to_string(averageValueMilli) + "m";
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
    const Limited limited = convertDesiredReplicasWithRules(current, stabilized, policy.minReplicas,
                                                            policy.maxReplicas);
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
    const Limited limited =
        convertDesiredReplicasWithBehaviorRate(current, stabilized.replicas, policy.minReplicas,
                                               policy.maxReplicas, up, down, history, now);
    if (limited.replicas != stabilized.replicas) {
      step(decision, "limits", stabilized.replicas, limited.replicas,
           limited.reason + ": " + limited.message);
    }
    desired = limited.replicas;
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
