// Pure rollup logic: containers fold into pods, pods into per-workload per-cluster figures, and
// a whole fleet into an immutable snapshot that the API, /metrics, the store and (later) the
// scaling engine read without touching the live state. No I/O, no locks, no clock: tested as
// tables.
#pragma once
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/state/model.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// A node (and so each of its containers) not heard from for this many ticks is stale. The tick
// is the interval its agent reports in each batch.
inline constexpr int kStaleTicks = 3;
// The tick assumed when a batch does not say (interval_seconds 0).
inline constexpr double kDefaultIntervalSeconds = 1.0;

// True when `lastSeen` is more than kStaleTicks intervals before `now`.
bool isStale(WallTime lastSeen, double intervalSeconds, WallTime now);

// A node that missed its last batch (nothing for this many ticks) is late: its figures stay in
// the rollups until it is stale, but a scaling decision treats its pods as having no metrics.
// Otherwise the usage a node that just went dark last reported would be counted next to the
// load that has since moved to the others, and the total overshoot.
inline constexpr double kLateTicks = 1.5;
bool isLate(WallTime lastSeen, double intervalSeconds, WallTime now);

// Agents that sample on the clock (Hello.clock_aligned_sampling) report in rounds: every one of
// them samples at the same whole multiples of its interval and stamps the batch with that time
// (on its own clock, so the stamps of one round agree even where the clocks do not quite). A
// stamp this far from a whole interval, or from the batch's arrival, is no round's: a first
// sample taken at start-up, a batch replayed from the spool, a clock far off.
inline constexpr std::chrono::milliseconds kMaxRoundSpread{250};
// The round a batch sampled at `sampledAt` and received at `receivedAt` belongs to: its stamp,
// when it is at most kMaxRoundSpread (at most a quarter interval) after a whole multiple of the
// interval, and neither ahead of the arrival by more than that nor older than an interval.
std::optional<WallTime> samplingRoundOf(WallTime sampledAt, WallTime receivedAt,
                                        double intervalSeconds);
// True when a node whose latest batch is of the round `round` owes one of the newer round
// `newestRound`. A decision treats its pods as late: when a cluster goes dark between two
// rounds, the load its pods carried moves to the others and shows in their next round, and
// counting the dark pods' last figures next to it would double it.
bool isBehindRound(WallTime round, double intervalSeconds, WallTime newestRound);

// A capped container: one whose usage over the tick reached this share of its CPU limit.
inline constexpr double kCappedShareOfLimit = 0.9;

// The CPU a container wanted over a tick (docs/configuration.md, "CPU demand"). With CFS bandwidth
// control a cgroup that has spent its quota is throttled until the period ends, and cpu.stat's
// throttled time grows by that wait on every CPU whose runqueue held one of its runnable
// threads. For a capped container, usage + throttled seconds per second is therefore what its
// threads would have used without the limit: exact while they stay runnable and fit on the
// node's CPUs, an upper bound otherwise. A container throttled while well below its limit over
// the tick (bursts inside one 100 ms period) got its work done within the tick: throttling
// cost it latency, not capacity, and its demand is its usage. Absent usage stays absent; absent
// throttling (no limit, first tick) adds nothing; an absent limit counts as capped, since only
// a quota throttles.
double estimateCpuDemandCores(double usageCores, double throttledCores, double limitCores);
// What the estimate adds to the usage: the throttled seconds per second of a capped container,
// else 0 (also when a figure is absent).
double unmetCpuDemandCores(double usageCores, double throttledCores, double limitCores);

// What one container contributes to its pod.
struct ContainerContribution {
  std::string_view name;           // the pod spec's container name; "" when the metadata has none
  double cpuUsageCores = kAbsent;  // absent on a container's first tick
  // CFS throttled seconds per second (cgroup cpu.stat throttled time over the tick): CPU the
  // container wanted beyond its limit. Absent (no limit, first tick, VMs) counts as 0.
  double cpuThrottledCores = kAbsent;
  double cpuLimitCores = kAbsent;    // the cgroup's CFS quota in cores; absent = none
  double cpuRequestCores = kAbsent;  // absent when the container has no request
  double memoryUsageBytes = 0;       // working set, as the kubelet's metrics report it
  double memoryRequestBytes = kAbsent;
  double memoryLimitBytes = kAbsent;  // the pod spec's limit, else the cgroup's; absent = none
  std::uint64_t oomKillsTotal = 0;    // the cgroup's OOM kill counter
  std::optional<bool> ready;          // absent = unknown, counted as ready (VMs have no readiness)
  std::int64_t startTimeUnixMs = 0;
  std::int64_t podReadyTimeUnixMs = 0;
  std::uint32_t restartCount = 0;
  // False for a container of a known pod that the metadata does not name: the pod's sandbox
  // (pause) container, or one newer than the agent's last metadata refresh. Not one of the pod
  // spec's containers as far as anyone knows, so it does not count towards the pod's figures.
  bool listed = true;
  bool podPending = false;   // its pod's phase is Pending (some container not started yet)
  bool podDeleting = false;  // its pod has a deletion timestamp: terminating
};

// One listed container's own figures, for ContainerResource metrics.
struct ContainerFigures {
  std::string name;
  double cpuUsageCores = kAbsent;
  double cpuUnmetDemandCores = 0;
  double cpuRequestCores = kAbsent;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = kAbsent;
  double cpuLimitCores = kAbsent;  // the cgroup's CFS quota in cores; absent = none
  double memoryLimitBytes = kAbsent;
  std::uint64_t oomKillsTotal = 0;
  std::uint32_t restartCount = 0;
};

// The series a pod serves on its own metrics endpoint (SampleBatch.pod_metrics), as its agent
// last scraped them: what `Pods` metrics average. Shared, immutable: a snapshot copies the pointer.
struct PodSeriesSet {
  struct Series {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  WallTime scrapedAt{};
  std::vector<Series> series;
};

// One replica of a workload as seen in one tick. Sums are over the pod's containers; a sum is
// absent when any container lacks the figure, as Kubernetes' HPA treats pods.
struct PodSample {
  std::string cluster;
  std::string node;
  std::string pod;
  bool stale = false;  // its node has gone silent: shown, but in no rollup
  bool late = false;   // its node missed its last batch: no metrics for scaling decisions
  bool ready = true;   // every container ready (or readiness unknown)
  // Phase Pending: scheduled, not every container started. With no container at all, the pod
  // comes from the kubelet's list alone (SampleBatch.pending_pods) and has no figures. The HPA
  // counts such a pod as unready; rollups count it apart from the replicas seen.
  bool pending = false;
  // Being deleted (terminating): the HPA leaves it out, and rollups count it apart.
  bool deleting = false;
  int containers = 0;
  double cpuUsageCores = 0;
  // Summed over the containers like cpuUsageCores, but a container without the figure adds 0:
  // throttling is evidence of demand above the limit, and no figure means none was seen.
  double cpuThrottledCores = 0;
  // Summed unmetCpuDemandCores of the containers: throttling-aware decisions read usage plus this.
  // Kept apart from the usage so a pod made without it (0) is decided on its usage alone.
  double cpuUnmetDemandCores = 0;
  double cpuRequestCores = 0;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = 0;
  std::int64_t startTimeUnixMs = 0;     // earliest container start
  std::int64_t podReadyTimeUnixMs = 0;  // latest transition to Ready
  std::uint32_t restarts = 0;
  std::vector<ContainerFigures> byContainer;      // the containers summed above, one by one
  std::shared_ptr<const PodSeriesSet> podSeries;  // null when its agent did not scrape it

  // Adds a container to this pod; unlisted ones are set aside until finish().
  void add(const ContainerContribution& container);
  // After the last add(): a pod whose containers are all unlisted has only them to go by (its
  // figures then as unknown as theirs); a pod with listed containers leaves its sandbox out, as
  // Kubernetes' HPA sums the spec's containers only.
  void finish();

 private:
  std::vector<ContainerContribution> unlisted_;
};

// A workload's figures in one cluster (or, with cluster "", across all clusters). Only fresh
// (non-stale) pods count. Utilization is usage / request over the pods that report both, the way
// the HPA computes it; NaN when no pod does.
struct WorkloadRollup {
  std::string cluster;
  int replicasSeen = 0;
  int replicasReady = 0;
  int replicasStale = 0;
  int replicasPending = 0;      // phase Pending: starting, in no figure below
  int replicasTerminating = 0;  // being deleted: in no figure below
  // What the pending and terminating pods request: room on their nodes they hold all the same.
  double heldCpuRequestCores = 0;
  double heldMemoryRequestBytes = 0;
  double cpuUsageCores = 0;
  // The pods' summed unmet CPU demand (PodSample::cpuUnmetDemandCores): usage plus this is the
  // throttling-aware demand, kept so that history replays can decide either way.
  double cpuUnmetDemandCores = 0;
  double cpuRequestCores = 0;
  double memoryUsageBytes = 0;
  double memoryRequestBytes = 0;
  double cpuUtilization = kAbsent;
  double memoryUtilization = kAbsent;
  // This cluster's share of the workload's CPU usage across all clusters (by replicas when the
  // workload uses no CPU at all). 1 for the all-clusters total.
  double loadShare = kAbsent;
};

struct WorkloadSnapshot {
  WorkloadKey key;
  WorkloadRollup total;                  // cluster ""
  std::vector<WorkloadRollup> clusters;  // sorted by cluster
  std::vector<PodSample> pods;           // sorted by cluster, then pod
};

// Rolls a workload's pods up per cluster and in total, and computes each cluster's load share.
WorkloadSnapshot rollupWorkload(WorkloadKey key, std::vector<PodSample> pods);
// The same for pods already sorted by cluster, then pod name (as WorkloadSnapshot lists them).
WorkloadSnapshot rollupSortedWorkload(WorkloadKey key, std::vector<PodSample> pods);

// How completely a cluster's agents report: the agents' view only. Whether the cluster is usable
// (healthy, suspect, failed, recovering) is scaling::HealthState, which also weighs its API.
enum class ReportingState { kHealthy, kDegraded, kSilent };
std::string_view toString(ReportingState reporting);

// What the agents of one cluster report.
struct ClusterSnapshot {
  std::string name;
  int nodes = 0;
  int staleNodes = 0;
  WallTime lastSeen{};  // the newest batch from any of its nodes
  int connectedAgents = 0;
  int containers = 0;
  int workloads = 0;
  double cpuCapacityCores = 0;  // fresh nodes only, like every sum here
  double cpuAllocatableCores = 0;
  double cpuUsageCores = 0;
  double memoryCapacityBytes = 0;
  double memoryAllocatableBytes = 0;
  double memoryUsageBytes = 0;
  // kHealthy: every node fresh; kDegraded: some stale; kSilent: no fresh node at all.
  ReportingState reporting = ReportingState::kSilent;
};

// A node's contribution to its cluster's summary.
struct NodeContribution {
  std::string cluster;
  bool stale = false;
  WallTime lastSeen{};  // its last batch
  bool connected = false;
  int containers = 0;
  NodeTotalsView totals;
};

// Sums node contributions per cluster and derives each cluster's health.
std::vector<ClusterSnapshot> summarizeClusters(const std::vector<NodeContribution>& nodes);

// The whole fleet at one instant. Immutable once built; shared by readers.
struct FleetSnapshot {
  WallTime takenAt{};
  std::vector<ClusterSnapshot> clusters;    // sorted by name
  std::vector<WorkloadSnapshot> workloads;  // sorted by key

  const WorkloadSnapshot* find(const WorkloadKey& key) const;
};

}  // namespace fleetscale::aggregator
