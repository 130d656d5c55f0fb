#include "fleetscale/aggregator/scaling/replica_calculator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace fleetscale::aggregator::scaling {
namespace {

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
    metricsTotal += metric.valueMilli;
    requestsTotal += request->second;
    ++entities;
  }
  if (requestsTotal == 0) return Error{"no metrics returned matched known pods"};
  UtilizationRatio result;
  result.utilization = static_cast<std::int32_t>((metricsTotal * 100) / requestsTotal);
  result.ratio = static_cast<double>(result.utilization) / static_cast<double>(targetUtilization);
  result.rawAverage = metricsTotal / entities;
  return result;
}

// metrics/utilization.go GetMetricUsageRatio.
std::pair<double, std::int64_t> metricUsageRatio(const PodMetrics& metrics, std::int64_t target) {
  std::int64_t total = 0;
  for (const auto& [pod, metric] : metrics) total += metric.valueMilli;
  const std::int64_t average = total / static_cast<std::int64_t>(metrics.size());
  return {static_cast<double>(average) / static_cast<double>(target), average};
}

Result<std::map<std::string, std::int64_t>> podRequests(const std::vector<PodInfo>& pods,
                                                        Resource resource) {
  std::map<std::string, std::int64_t> requests;
  for (const auto& pod : pods) {
    const auto request = pod.requestMilli(resource);
    if (!request) {
      return Error{"missing request for " + std::string(resourceName(resource)) + " in pod " +
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
  if (rounded > std::numeric_limits<std::int32_t>::max()) {
    return std::numeric_limits<std::int32_t>::max();
  }
  return static_cast<std::int32_t>(rounded);
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

PodGroups groupPods(const std::vector<PodInfo>& pods, const PodMetrics& metrics, Resource resource,
                    const CalculatorSettings& settings, WallTime now) {
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
// conservatively and check the direction again.
Result<ReplicaProposal> calculate(std::int32_t currentReplicas, Resource resource,
                                  const std::vector<PodInfo>& pods, PodMetrics metrics,
                                  const CalculatorSettings& settings, WallTime now,
                                  const UsageOf& usageOf, const ScaleDownFill& scaleDownFill) {
  if (Status status = checkPodsAndMetrics(pods, metrics); !status) return Error{status.message()};
  ReplicaProposal proposal;
  proposal.groups = groupPods(pods, metrics, resource, settings, now);
  const PodGroups& groups = proposal.groups;
  removeMetrics(metrics, groups.ignored);
  removeMetrics(metrics, groups.unready);
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
    WallTime now) {
  if (targetUtilizationPercent <= 0) return Error{"target utilization must be positive"};
  const auto requests = podRequests(pods, resource);
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
    return requests->at(pod) * fallbackPercent / 100;
  };
  return calculate(currentReplicas, resource, pods, std::move(metrics), settings, now, usageOf,
                   fill);
}

Result<ReplicaProposal> resourceAverageValueReplicas(
    std::int32_t currentReplicas, std::int64_t targetAverageMilli, Resource resource,
    const std::vector<PodInfo>& pods, PodMetrics metrics, const CalculatorSettings& settings,
    WallTime now) {
  if (targetAverageMilli <= 0) return Error{"target average value must be positive"};
  const UsageOf usageOf = [&](const PodMetrics& current) -> Result<Usage> {
    const auto [ratio, average] = metricUsageRatio(current, targetAverageMilli);
    return Usage{ratio, 0, average};
  };
  // Scale-down: a missing pod counts as using exactly the target.
  const ScaleDownFill fill = [&](const std::string&) { return targetAverageMilli; };
  return calculate(currentReplicas, resource, pods, std::move(metrics), settings, now, usageOf,
                   fill);
}

}  // namespace fleetscale::aggregator::scaling
