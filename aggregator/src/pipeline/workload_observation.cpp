#include "fleetscale/aggregator/pipeline/workload_observation.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace fleetscale::aggregator {

using namespace scaling;

namespace {

// The median of the known per-pod requests (milli-units); nullopt when no pod has one.
std::optional<std::int64_t> typicalRequestMilli(std::vector<std::int64_t> known) {
  if (known.empty()) return std::nullopt;
  const auto middle = known.begin() + static_cast<std::ptrdiff_t>(known.size() / 2);
  std::nth_element(known.begin(), middle, known.end());
  return *middle;
}

// Each named container's requests into the pod and, when the pod is measured (`observation`
// set), its usage into the ContainerResource metrics. A container's request is its own: a
// missing one is the HPA's "missing request" error for that metric, not a sibling's figure.
void addContainers(const PodSample& sample, PodInfo& pod, WorkloadObservation* observation,
                   WallTime sampledAt, std::chrono::milliseconds window, CpuDemand cpuDemand) {
  const auto milli = [](double value) -> std::optional<std::int64_t> {
    if (!isPresent(value)) return std::nullopt;
    return std::llround(value * 1000.0);
  };
  for (const auto& c : sample.byContainer) {
    if (c.name.empty()) continue;
    pod.containers.push_back(
        ContainerInfo{c.name, milli(c.cpuRequestCores), milli(c.memoryRequestBytes)});
    if (observation == nullptr) continue;
    auto& metrics = observation->containerMetrics[c.name];
    if (const auto cpu = milli(cpuFigure(cpuDemand, c.cpuUsageCores, c.cpuUnmetDemandCores)))
      metrics[Resource::kCpu][pod.name] = PodMetric{*cpu, sampledAt, window};
    if (const auto memory = milli(c.memoryUsageBytes))
      metrics[Resource::kMemory][pod.name] = PodMetric{*memory, sampledAt, window};
  }
}

}  // namespace

WorkloadObservation buildObservation(const WorkloadSnapshot& workload, std::int32_t currentReplicas,
                                     WallTime sampledAt, std::chrono::milliseconds window,
                                     CpuDemand cpuDemand) {
  WorkloadObservation observation;
  observation.currentReplicas = currentReplicas;
  // The pods there are, as a ReplicaSet's status.replicas counts them: not those terminating.
  std::int32_t statusReplicas = 0;
  std::vector<std::int64_t> knownCpu, knownMemory;
  for (const auto& sample : workload.pods) {
    if (isPresent(sample.cpuRequestCores))
      knownCpu.push_back(std::llround(sample.cpuRequestCores * 1000.0));
    if (isPresent(sample.memoryRequestBytes))
      knownMemory.push_back(std::llround(sample.memoryRequestBytes) * 1000);
  }
  // A pod whose requests are not known while its siblings' are is new: the agent learns requests
  // from the kubelet every few seconds. The HPA would refuse the whole metric ("missing request
  // for cpu") and stop scaling while the fleet scales out. Instead it is a pod without metrics,
  // which the calculation fills in as the HPA fills in any pod without metrics, at the request
  // its siblings (the same pod template) have: their median, so a rollout that changes requests
  // takes the majority's. When no pod has a request the error stands.
  const auto siblingCpu = typicalRequestMilli(std::move(knownCpu));
  const auto siblingMemory = typicalRequestMilli(std::move(knownMemory));
  for (const auto& sample : workload.pods) {
    PodInfo pod;
    pod.name = sample.cluster + "/" + sample.pod;
    pod.cluster = sample.cluster;
    // The agents see pods whose containers run and, from the kubelet's list, Pending ones; a
    // Failed pod's containers have exited, so it is not seen, as the HPA would ignore it.
    pod.phase = sample.pending ? PodPhase::kPending : PodPhase::kRunning;
    pod.deleting = sample.deleting;
    if (sample.startTimeUnixMs > 0) pod.startTime = fromUnixMillis(sample.startTimeUnixMs);
    pod.readyCondition = ReadyCondition{sample.ready, fromUnixMillis(sample.podReadyTimeUnixMs)};
    // Sums are NaN when any container lacks the figure: the pod then has none, as in the HPA.
    const bool cpuRequestKnown = isPresent(sample.cpuRequestCores);
    const bool memoryRequestKnown = isPresent(sample.memoryRequestBytes);
    pod.cpuRequestMilli =
        cpuRequestKnown ? std::llround(sample.cpuRequestCores * 1000.0) : siblingCpu;
    pod.memoryRequestMilli =
        memoryRequestKnown ? std::llround(sample.memoryRequestBytes) * 1000 : siblingMemory;
    const bool measured = !sample.stale && !sample.late && sample.containers > 0;
    addContainers(sample, pod, measured ? &observation : nullptr, sampledAt, window, cpuDemand);
    if (measured) {
      const double cpu = cpuFigure(cpuDemand, sample.cpuUsageCores, sample.cpuUnmetDemandCores);
      if (isPresent(cpu) && (cpuRequestKnown || !siblingCpu)) {
        observation.metrics[Resource::kCpu][pod.name] =
            PodMetric{std::llround(cpu * 1000.0), sampledAt, window};
      }
      if (memoryRequestKnown || !siblingMemory) {
        observation.metrics[Resource::kMemory][pod.name] =
            PodMetric{std::llround(sample.memoryUsageBytes) * 1000, sampledAt, window};
      }
    }
    if (!pod.deleting) ++statusReplicas;
    observation.pods.push_back(std::move(pod));
  }
  observation.statusReplicas = statusReplicas;
  return observation;
}

void addPodSeriesMetrics(const WorkloadSnapshot& workload, const std::vector<MetricTarget>& metrics,
                         WallTime sampledAt, std::chrono::milliseconds window,
                         std::chrono::milliseconds maxAge, WorkloadObservation& observation) {
  for (const auto& metric : metrics) {
    if (metric.source != MetricSource::kPods) continue;
    PodMetrics& values = observation.podMetrics[metric.metricName];
    for (const auto& sample : workload.pods) {
      if (sample.stale || sample.late || sample.podSeries == nullptr) continue;
      const PodSeriesSet& scraped = *sample.podSeries;
      if (sampledAt - scraped.scrapedAt > maxAge) continue;
      double sum = 0;
      bool found = false;
      for (const auto& series : scraped.series) {
        if (series.name != metric.metricName || !metric.selector.matches(series.labels)) continue;
        sum += series.value;
        found = true;
      }
      // Beyond what milli-units hold, the value is unusable; the pod counts as without one.
      if (!found || !std::isfinite(sum) || std::abs(sum) > 9e15) continue;
      values[sample.cluster + "/" + sample.pod] =
          PodMetric{std::llround(sum * 1000.0), scraped.scrapedAt, window};
    }
  }
}

std::map<std::string, std::int32_t> readyPodsByCluster(const WorkloadObservation& observation) {
  std::map<std::string, std::int32_t> ready;
  for (const auto& pod : observation.pods) {
    // A terminating pod is out of its Service's endpoints: it serves nothing.
    if (pod.phase == PodPhase::kRunning && !pod.deleting && pod.readyCondition &&
        pod.readyCondition->ready)
      ++ready[pod.cluster];
  }
  return ready;
}

}  // namespace fleetscale::aggregator
