#include "fleetscale/aggregator/state/rollup.h"

#include <algorithm>
#include <map>

namespace fleetscale::aggregator {

namespace {

bool silentFor(double ticks, WallTime lastSeen, double intervalSeconds, WallTime now) {
  const double tick = intervalSeconds > 0 ? intervalSeconds : kDefaultIntervalSeconds;
  const auto limit = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(tick * ticks));
  return now - lastSeen > limit;
}

}  // namespace

bool isStale(WallTime lastSeen, double intervalSeconds, WallTime now) {
  return silentFor(kStaleTicks, lastSeen, intervalSeconds, now);
}

bool isLate(WallTime lastSeen, double intervalSeconds, WallTime now) {
  return silentFor(kLateTicks, lastSeen, intervalSeconds, now);
}

namespace {
std::chrono::system_clock::duration tickOf(double intervalSeconds) {
  const double tick = intervalSeconds > 0 ? intervalSeconds : kDefaultIntervalSeconds;
  return std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(tick));
}
}  // namespace

std::chrono::system_clock::duration roundSpreadOf(std::chrono::system_clock::duration tick) {
  return std::min<std::chrono::system_clock::duration>(kMaxRoundSpread, tick / 4);
}

std::optional<WallTime> samplingRoundOf(WallTime sampledAt, WallTime receivedAt,
                                        double intervalSeconds) {
  const auto tick = tickOf(intervalSeconds);
  const auto spread = roundSpreadOf(tick);
  if (sampledAt > receivedAt + spread || sampledAt < receivedAt - tick - spread) return {};
  // Agents sample at the boundary or a little after it (the timer's latency), never before.
  if (sampledAt.time_since_epoch() % tick > spread) return {};
  return sampledAt;
}

bool isBehindRound(WallTime round, double intervalSeconds, WallTime newestRound) {
  const auto tick = tickOf(intervalSeconds);
  return newestRound - round >= tick - roundSpreadOf(tick);
}

double unmetCpuDemandCores(double usageCores, double throttledCores, double limitCores) {
  if (!isPresent(usageCores) || !isPresent(throttledCores) || throttledCores <= 0) return 0;
  const bool capped = !isPresent(limitCores) || usageCores >= kCappedShareOfLimit * limitCores;
  return capped ? throttledCores : 0;
}

double estimateCpuDemandCores(double usageCores, double throttledCores, double limitCores) {
  return usageCores + unmetCpuDemandCores(usageCores, throttledCores, limitCores);
}

void PodSample::add(const ContainerContribution& c) {
  pending |= c.podPending;
  deleting |= c.podDeleting;
  if (!c.listed) {
    unlisted_.push_back(c);
    return;
  }
  // A figure missing from any container makes the pod's sum missing (NaN propagates).
  cpuUsageCores += c.cpuUsageCores;
  if (isPresent(c.cpuThrottledCores)) cpuThrottledCores += c.cpuThrottledCores;
  const double unmet = unmetCpuDemandCores(c.cpuUsageCores, c.cpuThrottledCores, c.cpuLimitCores);
  cpuUnmetDemandCores += unmet;
  byContainer.push_back(ContainerFigures{
      std::string(c.name), c.cpuUsageCores, unmet, c.cpuRequestCores, c.memoryUsageBytes,
      c.memoryRequestBytes, c.cpuLimitCores, c.memoryLimitBytes, c.oomKillsTotal, c.restartCount});
  cpuRequestCores += c.cpuRequestCores;
  memoryUsageBytes += c.memoryUsageBytes;
  memoryRequestBytes += c.memoryRequestBytes;
  if (c.ready.has_value() && !*c.ready) ready = false;
  if (c.startTimeUnixMs > 0 && (startTimeUnixMs == 0 || c.startTimeUnixMs < startTimeUnixMs)) {
    startTimeUnixMs = c.startTimeUnixMs;
  }
  podReadyTimeUnixMs = std::max(podReadyTimeUnixMs, c.podReadyTimeUnixMs);
  restarts += c.restartCount;
  ++containers;
}

void PodSample::finish() {
  std::vector<ContainerContribution> unlisted;
  unlisted.swap(unlisted_);
  if (containers > 0) return;
  for (auto c : unlisted) {
    c.listed = true;
    add(c);
  }
}

namespace {

// Accumulates fresh pods into a rollup; utilization only over pods reporting usage and request.
struct Accumulator {
  WorkloadRollup rollup;
  double cpuUsedWithRequest = 0, cpuRequested = 0;
  double memoryUsedWithRequest = 0, memoryRequested = 0;

  void add(const PodSample& pod) {
    if (pod.stale) {
      ++rollup.replicasStale;
      return;
    }
    if (pod.deleting || pod.pending) {
      ++(pod.deleting ? rollup.replicasTerminating : rollup.replicasPending);
      if (isPresent(pod.cpuRequestCores)) rollup.heldCpuRequestCores += pod.cpuRequestCores;
      if (isPresent(pod.memoryRequestBytes))
        rollup.heldMemoryRequestBytes += pod.memoryRequestBytes;
      return;
    }
    ++rollup.replicasSeen;
    if (pod.ready) ++rollup.replicasReady;
    if (isPresent(pod.cpuUsageCores)) rollup.cpuUsageCores += pod.cpuUsageCores;
    rollup.cpuUnmetDemandCores += pod.cpuUnmetDemandCores;
    if (isPresent(pod.cpuRequestCores)) rollup.cpuRequestCores += pod.cpuRequestCores;
    rollup.memoryUsageBytes += pod.memoryUsageBytes;
    if (isPresent(pod.memoryRequestBytes)) rollup.memoryRequestBytes += pod.memoryRequestBytes;
    if (isPresent(pod.cpuUsageCores) && isPresent(pod.cpuRequestCores) && pod.cpuRequestCores > 0) {
      cpuUsedWithRequest += pod.cpuUsageCores;
      cpuRequested += pod.cpuRequestCores;
    }
    if (isPresent(pod.memoryRequestBytes) && pod.memoryRequestBytes > 0) {
      memoryUsedWithRequest += pod.memoryUsageBytes;
      memoryRequested += pod.memoryRequestBytes;
    }
  }

  WorkloadRollup finish() {
    rollup.cpuUtilization = cpuRequested > 0 ? cpuUsedWithRequest / cpuRequested : kAbsent;
    rollup.memoryUtilization =
        memoryRequested > 0 ? memoryUsedWithRequest / memoryRequested : kAbsent;
    return rollup;
  }
};

}  // namespace

WorkloadSnapshot rollupWorkload(WorkloadKey key, std::vector<PodSample> pods) {
  std::sort(pods.begin(), pods.end(), [](const PodSample& a, const PodSample& b) {
    return std::tie(a.cluster, a.pod) < std::tie(b.cluster, b.pod);
  });
  return rollupSortedWorkload(std::move(key), std::move(pods));
}

WorkloadSnapshot rollupSortedWorkload(WorkloadKey key, std::vector<PodSample> pods) {
  Accumulator total;
  std::map<std::string, Accumulator> perCluster;
  for (const auto& pod : pods) {
    total.add(pod);
    auto& cluster = perCluster[pod.cluster];
    cluster.rollup.cluster = pod.cluster;
    cluster.add(pod);
  }
  WorkloadSnapshot out;
  out.key = std::move(key);
  out.total = total.finish();
  out.total.loadShare = out.total.replicasSeen > 0 ? 1.0 : kAbsent;
  for (auto& [name, accumulator] : perCluster) {
    WorkloadRollup rollup = accumulator.finish();
    if (out.total.cpuUsageCores > 0) {
      rollup.loadShare = rollup.cpuUsageCores / out.total.cpuUsageCores;
    } else if (out.total.replicasSeen > 0) {
      rollup.loadShare =
          static_cast<double>(rollup.replicasSeen) / static_cast<double>(out.total.replicasSeen);
    }
    out.clusters.push_back(std::move(rollup));
  }
  out.pods = std::move(pods);
  return out;
}

std::string_view toString(ReportingState reporting) {
  switch (reporting) {
    case ReportingState::kHealthy:
      return "healthy";
    case ReportingState::kDegraded:
      return "degraded";
    case ReportingState::kSilent:
      return "silent";
  }
  return "unknown";
}

std::vector<ClusterSnapshot> summarizeClusters(const std::vector<NodeContribution>& nodes) {
  std::map<std::string, ClusterSnapshot> clusters;
  for (const auto& node : nodes) {
    auto& cluster = clusters[node.cluster];
    cluster.name = node.cluster;
    ++cluster.nodes;
    if (node.connected) ++cluster.connectedAgents;
    cluster.lastSeen = std::max(cluster.lastSeen, node.lastSeen);
    if (node.stale) {
      ++cluster.staleNodes;
      continue;
    }
    const auto& t = node.totals;
    cluster.containers += node.containers;
    cluster.cpuCapacityCores += t.cpuCapacityCores;
    cluster.cpuAllocatableCores += t.cpuAllocatableCores;
    if (isPresent(t.cpuUsageCores)) cluster.cpuUsageCores += t.cpuUsageCores;
    cluster.memoryCapacityBytes += static_cast<double>(t.memoryCapacityBytes);
    cluster.memoryAllocatableBytes += static_cast<double>(t.memoryAllocatableBytes);
    cluster.memoryUsageBytes += static_cast<double>(t.memoryUsageBytes);
  }
  std::vector<ClusterSnapshot> out;
  for (auto& [name, cluster] : clusters) {
    cluster.reporting = cluster.staleNodes == 0              ? ReportingState::kHealthy
                        : cluster.staleNodes < cluster.nodes ? ReportingState::kDegraded
                                                             : ReportingState::kSilent;
    out.push_back(std::move(cluster));
  }
  return out;
}

const WorkloadSnapshot* FleetSnapshot::find(const WorkloadKey& key) const {
  auto it =
      std::lower_bound(workloads.begin(), workloads.end(), key,
                       [](const WorkloadSnapshot& w, const WorkloadKey& k) { return w.key < k; });
  return it != workloads.end() && it->key == key ? &*it : nullptr;
}

}  // namespace fleetscale::aggregator
