#include "fleetscale/aggregator/scaling/replica_calculator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace fleetscale::aggregator::scaling {
namespace {

// Values come from agents and from snapshots people write: a sum that would overflow is an
// error, not undefined behaviour.
Error tooLarge() { return Error{"metric values too large to add up"}; }

// metrics/utilization.go GetResourceUtilizationRatio: integer percent, then the ratio.
struct UtilizationRatio {
  double ratio = 0;
  std::int32_t utilization = 0;
  std::int64_t rawAverage = 0;
};

Result<UtilizationRatio> resourceUtilizationRatio(
    const PodMetrics& metrics, const std::map<std::string, std::int64_t>& requests,
    std::int32_t targetUtilization) {
  std::int64_t metricsTotal = 0;
  std::int64_t requestsTotal = 0;
  std::int64_t entities = 0;
  for (const auto& [pod, metric] : metrics) {
    const auto request = requests.find(pod);
    if (request == requests.end()) continue;  // a metric for a pod we do not know: extraneous
    if (__builtin_add_overflow(metricsTotal, metric.valueMilli, &metricsTotal) ||
        __builtin_add_overflow(requestsTotal, request->second, &requestsTotal)) {
      return tooLarge();
    }
    ++entities;
  }
  if (requestsTotal == 0) return Error{"no metrics returned matched known pods"};
  std::int64_t percentTotal = 0;
  if (__builtin_mul_overflow(metricsTotal, 100, &percentTotal)) return tooLarge();
  UtilizationRatio result;
  result.utilization = static_cast<std::int32_t>(percentTotal / requestsTotal);
  result.ratio = static_cast<double>(result.utilization) / static_cast<double>(targetUtilization);
  result.rawAverage = metricsTotal / entities;
  return result;
}

// metrics/utilization.go GetMetricUsageRatio: the ratio and the average.
Result<std::pair<double, std::int64_t>> metricUsageRatio(const PodMetrics& metrics,
                                                         std::int64_t target) {
  std::int64_t total = 0;
  for (const auto& [pod, metric] : metrics) {
    if (__builtin_add_overflow(total, metric.valueMilli, &total)) return tooLarge();
  }
  const std::int64_t average = total / static_cast<std::int64_t>(metrics.size());
  return std::pair{static_cast<double>(average) / static_cast<double>(target), average};
}

// calculatePodRequests: each pod's request, summed over its containers or (`container` named)
// that container's, which every pod must have.
Result<std::map<std::string, std::int64_t>> podRequests(const std::vector<PodInfo>& pods,
                                                        Resource resource,
                                                        std::string_view container) {
  std::map<std::string, std::int64_t> requests;
  const std::string name(resourceName(resource));
  for (const auto& pod : pods) {
    if (container.empty()) {
      const auto request = pod.requestMilli(resource);
      if (!request) return Error{"missing request for " + name + " in pod " + pod.name};
      requests[pod.name] = *request;
      continue;
    }
    const auto named = std::find_if(pod.containers.begin(), pod.containers.end(),
                                    [&](const ContainerInfo& c) { return c.name == container; });
    if (named == pod.containers.end()) {
      return Error{"container " + std::string(container) + " not found in Pod " + pod.name};
    }
    const auto request = named->requestMilli(resource);
    if (!request) {
      return Error{"missing request for " + name + " in container " + named->name + " of Pod " +
                   pod.name};
    }
    requests[pod.name] = *request;
  }
  return requests;
}

void removeMetrics(PodMetrics& metrics, const std::set<std::string>& pods) {
  for (const auto& pod : pods) metrics.erase(pod);
}

std::int32_t ceilReplicas(double value) {
  const double rounded = std::ceil(value);
  if (std::isnan(rounded)) return 0;
  return static_cast<std::int32_t>(std::clamp<double>(
      rounded, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()));
}

Status checkPodsAndMetrics(const std::vector<PodInfo>& pods, const PodMetrics& metrics) {
  if (metrics.empty()) return Error{"no metrics returned for any pod"};
  if (pods.empty()) return Error{"no pods returned by selector while calculating replica count"};
  return {};
}

}  // namespace

std::string_view resourceName(Resource resource) {
  return resource == Resource::kCpu ? "cpu" : "memory";
}

PodGroups groupPods(const std::vector<PodInfo>& pods, const PodMetrics& metrics,
                    std::optional<Resource> resource, const CalculatorSettings& settings,
                    WallTime now) {
  PodGroups groups;
  for (const auto& pod : pods) {
    if (pod.deleting || pod.phase == PodPhase::kFailed) {
      groups.ignored.insert(pod.name);
      continue;
    }
    if (pod.phase == PodPhase::kPending) {
      groups.unready.insert(pod.name);
      continue;
    }
    const auto metric = metrics.find(pod.name);
    if (metric == metrics.end()) {
      groups.missing.insert(pod.name);
      continue;
    }
    // Readiness matters only for CPU: a starting container's CPU burst is not load.
    if (resource == Resource::kCpu) {
      bool unready = false;
      const auto& condition = pod.readyCondition;
      if (!condition || !pod.startTime) {
        unready = true;
      } else if (*pod.startTime + settings.cpuInitializationPeriod > now) {
        // Within the initialisation period: ignore the sample if the pod is unready or if a
        // whole metric window has not passed since it became ready.
        unready = !condition->ready ||
                  metric->second.timestamp < condition->lastTransition + metric->second.window;
      } else {
        // Ignore the metric if the pod is unready and has never been ready.
        unready = !condition->ready && *pod.startTime + settings.delayOfInitialReadinessStatus >
                                           condition->lastTransition;
      }
      if (unready) {
        groups.unready.insert(pod.name);
        continue;
      }
    }
    ++groups.readyPodCount;
  }
  return groups;
}

namespace {

// A usage ratio against the target, with what the explanation reports alongside it.
struct Usage {
  double ratio = 0;
  std::int32_t utilization = 0;
  std::int64_t average = 0;
};
using UsageOf = std::function<Result<Usage>(const PodMetrics&)>;
// The value a missing pod is assumed to use when the workload would scale down.
using ScaleDownFill = std::function<std::int64_t(const std::string& pod)>;

// The body shared by GetResourceReplicas and calcPlainMetricReplicas: group the pods, compute
// the ratio on ready pods with metrics, and if pods were unready or missing, fill them in
// conservatively and check the direction again. `resource` is absent for a Pods metric.
Result<ReplicaProposal> calculate(std::int32_t currentReplicas, std::optional<Resource> resource,
                                  const std::vector<PodInfo>& pods, PodMetrics metrics,
                                  const CalculatorSettings& settings, WallTime now,
                                  const UsageOf& usageOf, const ScaleDownFill& scaleDownFill,
                                  const Status& requestsKnown = {}) {
  if (Status status = checkPodsAndMetrics(pods, metrics); !status) return Error{status.message()};
  ReplicaProposal proposal;
  proposal.groups = groupPods(pods, metrics, resource, settings, now);
  const PodGroups& groups = proposal.groups;
  removeMetrics(metrics, groups.ignored);
  removeMetrics(metrics, groups.unready);
  // GetResourceReplicas reads the requests here: their error comes before "no metrics".
  if (!requestsKnown) return Error{requestsKnown.message()};
  if (metrics.empty()) {
    return Error{"did not receive metrics for targeted pods (pods might be unready)"};
  }
  auto usage = usageOf(metrics);
  if (!usage) return usage.error();
  proposal.usageRatio = usage->ratio;
  proposal.utilizationPercent = usage->utilization;
  proposal.averageValueMilli = usage->average;

  const bool scaleUpWithUnready = !groups.unready.empty() && usage->ratio > 1.0;
  if (!scaleUpWithUnready && groups.missing.empty()) {
    if (settings.tolerances.isWithin(usage->ratio)) {
      proposal.replicas = currentReplicas;
      proposal.rule = "usage ratio within tolerance: keep current replicas";
    } else {
      proposal.replicas = ceilReplicas(usage->ratio * groups.readyPodCount);
      proposal.rule = "ceil(usage ratio x ready pods)";
    }
    return proposal;
  }

  if (!groups.missing.empty()) {
    if (usage->ratio < 1.0) {
      for (const auto& pod : groups.missing) metrics[pod] = PodMetric{scaleDownFill(pod), {}, {}};
    } else if (usage->ratio > 1.0) {
      for (const auto& pod : groups.missing) metrics[pod] = PodMetric{0, {}, {}};
    }
  }
  if (scaleUpWithUnready) {
    // On a scale-up, unready pods count as using nothing: they will take load once ready.
    for (const auto& pod : groups.unready) metrics[pod] = PodMetric{0, {}, {}};
  }

  auto adjusted = usageOf(metrics);
  if (!adjusted) return adjusted.error();
  const double newRatio = adjusted->ratio;
  proposal.adjustedUsageRatio = newRatio;
  if (settings.tolerances.isWithin(newRatio) || (usage->ratio < 1.0 && newRatio > 1.0) ||
      (usage->ratio > 1.0 && newRatio < 1.0)) {
    proposal.replicas = currentReplicas;
    proposal.rule =
        "after filling in unready/missing pods the change is within tolerance or "
        "reverses direction: keep current replicas";
    return proposal;
  }
  const std::int32_t newReplicas = ceilReplicas(newRatio * static_cast<double>(metrics.size()));
  if ((newRatio < 1.0 && newReplicas > currentReplicas) ||
      (newRatio > 1.0 && newReplicas < currentReplicas)) {
    proposal.replicas = currentReplicas;
    proposal.rule = "counting filled-in pods would reverse the direction: keep current replicas";
    return proposal;
  }
  proposal.replicas = newReplicas;
  proposal.rule = "ceil(adjusted usage ratio x pods counted)";
  return proposal;
}

}  // namespace

Result<ReplicaProposal> resourceUtilizationReplicas(
    std::int32_t currentReplicas, std::int32_t targetUtilizationPercent, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now, std::string_view container) {
  if (targetUtilizationPercent <= 0) return Error{"target utilization must be positive"};
  const auto requests = podRequests(pods, resource, container);
  const UsageOf usageOf = [&](const PodMetrics& current) -> Result<Usage> {
    if (!requests) return requests.error();
    auto ratio = resourceUtilizationRatio(current, *requests, targetUtilizationPercent);
    if (!ratio) return ratio.error();
    return Usage{ratio->ratio, ratio->utilization, ratio->rawAverage};
  };
  // Scale-down: a missing pod counts as using its whole request, or the target when the
  // target is above 100%.
  const std::int64_t fallbackPercent = std::max<std::int64_t>(100, targetUtilizationPercent);
  const ScaleDownFill fill = [&](const std::string& pod) {
    std::int64_t filled = 0;
    if (__builtin_mul_overflow(requests->at(pod), fallbackPercent, &filled)) {
      return std::numeric_limits<std::int64_t>::max();  // the sum then overflows: an error
    }
    return filled / 100;
  };
  return calculate(currentReplicas, resource, pods, std::move(metrics), settings, now, usageOf,
                   fill, requests ? Status{} : Status{requests.error()});
}

namespace {

// calcPlainMetricReplicas: an average value per pod; a missing pod counts as using exactly the
// target when the workload would scale down.
Result<ReplicaProposal> averageValueReplicas(std::int32_t currentReplicas,
                                             std::int64_t targetAverageMilli,
                                             std::optional<Resource> resource,
                                             const std::vector<PodInfo>& pods, PodMetrics metrics,
                                             const CalculatorSettings& settings, WallTime now) {
  if (targetAverageMilli <= 0) return Error{"target average value must be positive"};
  const UsageOf usageOf = [&](const PodMetrics& current) -> Result<Usage> {
    auto usage = metricUsageRatio(current, targetAverageMilli);
    if (!usage) return usage.error();
    return Usage{usage->first, 0, usage->second};
  };
  const ScaleDownFill fill = [&](const std::string&) { return targetAverageMilli; };
  return calculate(currentReplicas, resource, pods, std::move(metrics), settings, now, usageOf,
                   fill);
}

}  // namespace

Result<ReplicaProposal> resourceAverageValueReplicas(
    std::int32_t currentReplicas, std::int64_t targetAverageMilli, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now) {
  return averageValueReplicas(currentReplicas, targetAverageMilli, resource, pods,
                              std::move(metrics), settings, now);
}

Result<ReplicaProposal> podsAverageValueReplicas(std::int32_t currentReplicas,
                                                 std::int64_t targetAverageMilli,
                                                 const std::vector<PodInfo>& pods,
                                                 PodMetrics metrics,
                                                 const CalculatorSettings& settings, WallTime now) {
  return averageValueReplicas(currentReplicas, targetAverageMilli, std::nullopt, pods,
                              std::move(metrics), settings, now);
}

Result<ReplicaProposal> valueReplicas(std::int32_t currentReplicas, std::int64_t valueMilli,
                                      std::int64_t targetValueMilli,
                                      const std::vector<PodInfo>& pods,
                                      const Tolerances& tolerances) {
  if (targetValueMilli <= 0) return Error{"target value must be positive"};
  ReplicaProposal proposal;
  proposal.valueMilli = valueMilli;
  proposal.usageRatio = static_cast<double>(valueMilli) / static_cast<double>(targetValueMilli);
  if (currentReplicas == 0) {
    // No pods to count: the ratio alone says how many to start (0 stays at zero).
    proposal.replicas = ceilReplicas(proposal.usageRatio);
    proposal.rule = "from zero replicas: ceil(usage ratio)";
    return proposal;
  }
  if (tolerances.isWithin(proposal.usageRatio)) {
    proposal.replicas = currentReplicas;
    proposal.rule = "usage ratio within tolerance: keep current replicas";
    return proposal;
  }
  if (pods.empty()) return Error{"no pods returned by selector while calculating replica count"};
  proposal.groups.readyPodCount = static_cast<int>(std::count_if(
      pods.begin(), pods.end(), [](const PodInfo& p) { return p.runningAndReady(); }));
  proposal.replicas = ceilReplicas(proposal.usageRatio * proposal.groups.readyPodCount);
  proposal.rule = "ceil(usage ratio x Running and Ready pods)";
  return proposal;
}

Result<ReplicaProposal> perPodValueReplicas(std::int32_t statusReplicas, std::int64_t valueMilli,
                                            std::int64_t targetAverageMilli,
                                            const Tolerances& tolerances) {
  if (targetAverageMilli <= 0) return Error{"target average value must be positive"};
  ReplicaProposal proposal;
  proposal.valueMilli = valueMilli;
  const auto value = static_cast<double>(valueMilli);
  const auto target = static_cast<double>(targetAverageMilli);
  // From zero pods the ratio is infinite (or NaN for a zero value): never within tolerance.
  proposal.usageRatio = value / (target * statusReplicas);
  if (statusReplicas > 0) {
    const double average = std::ceil(value / statusReplicas);
    // As the HPA: an average at or beyond int64's range is its largest value.
    proposal.averageValueMilli =
        average >= static_cast<double>(std::numeric_limits<std::int64_t>::max())
            ? std::numeric_limits<std::int64_t>::max()
            : static_cast<std::int64_t>(average);
  }
  if (tolerances.isWithin(proposal.usageRatio)) {
    proposal.replicas = statusReplicas;
    proposal.rule = "usage ratio within tolerance: keep status replicas";
    return proposal;
  }
  proposal.replicas = ceilReplicas(value / target);
  proposal.rule = "ceil(value / target average value)";
  return proposal;
}

}  // namespace fleetscale::aggregator::scaling
