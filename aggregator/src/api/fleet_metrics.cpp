#include "fleetscale/aggregator/api/fleet_metrics.h"

#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {
namespace {

using prometheus::MetricFamily;
using Labels = MetricLabels;
using Families = std::vector<MetricFamily>;

void addGauge(MetricFamily& family, Labels labels, double value) {
  addPresentSample(family, std::move(labels), value);
}

void append(Families& out, std::initializer_list<MetricFamily*> families) {
  for (auto* family : families) out.push_back(std::move(*family));
}

void addClusterFamilies(const FleetSnapshot& snapshot, Families& out) {
  MetricFamily agents =
      gaugeFamily("fleetscale_agents_connected", "Agents currently connected, per cluster");
  MetricFamily nodes = gaugeFamily("fleetscale_cluster_nodes", "Nodes known per cluster");
  MetricFamily staleNodes = gaugeFamily("fleetscale_cluster_stale_nodes",
                                        "Nodes not heard from for 3 ticks, per cluster");
  MetricFamily clusterContainers =
      gaugeFamily("fleetscale_cluster_containers", "Containers on fresh nodes, per cluster");
  MetricFamily health = gaugeFamily(
      "fleetscale_cluster_health",
      "1 for the cluster's current reporting state (healthy, degraded, silent), else 0");
  for (const auto& cluster : snapshot.clusters) {
    Labels labels{{"cluster", cluster.name}};
    addGauge(agents, labels, cluster.connectedAgents);
    addGauge(nodes, labels, cluster.nodes);
    addGauge(staleNodes, labels, cluster.staleNodes);
    addGauge(clusterContainers, labels, cluster.containers);
    for (auto state :
         {ReportingState::kHealthy, ReportingState::kDegraded, ReportingState::kSilent}) {
      addGauge(health, {{"cluster", cluster.name}, {"state", std::string(toString(state))}},
               cluster.reporting == state ? 1 : 0);
    }
  }
  append(out, {&agents, &nodes, &staleNodes, &clusterContainers, &health});
}

// The workload gauges that come straight from one WorkloadRollup field.
struct WorkloadGauge {
  MetricFamily family;
  double WorkloadRollup::*field;
};

std::vector<WorkloadGauge> workloadGauges() {
  return {
      {gaugeFamily("fleetscale_workload_cpu_usage_cores",
                   "CPU used by the workload's fresh replicas in the cluster, in cores"),
       &WorkloadRollup::cpuUsageCores},
      {gaugeFamily("fleetscale_workload_cpu_request_cores",
                   "CPU requested by the workload's fresh replicas in the cluster, in cores"),
       &WorkloadRollup::cpuRequestCores},
      {gaugeFamily("fleetscale_workload_memory_usage_bytes",
                   "Memory working set of the workload's fresh replicas in the cluster"),
       &WorkloadRollup::memoryUsageBytes},
      {gaugeFamily("fleetscale_workload_memory_request_bytes",
                   "Memory requested by the workload's fresh replicas in the cluster"),
       &WorkloadRollup::memoryRequestBytes},
      {gaugeFamily("fleetscale_workload_cpu_utilization_ratio",
                   "CPU usage over CPU request of the replicas that have a request"),
       &WorkloadRollup::cpuUtilization},
      {gaugeFamily("fleetscale_workload_memory_utilization_ratio",
                   "Memory usage over memory request of the replicas that have a request"),
       &WorkloadRollup::memoryUtilization},
      {gaugeFamily("fleetscale_workload_load_share_ratio",
                   "The cluster's share of the workload's CPU usage across clusters"),
       &WorkloadRollup::loadShare},
  };
}

void addWorkloadFamilies(const FleetSnapshot& snapshot, Families& out) {
  std::vector<WorkloadGauge> gauges = workloadGauges();
  MetricFamily seen = gaugeFamily("fleetscale_workload_replicas",
                                  "Fresh replicas (pods) of the workload seen in the cluster");
  MetricFamily ready = gaugeFamily("fleetscale_workload_replicas_ready",
                                   "Fresh ready replicas of the workload seen in the cluster");
  MetricFamily pending = gaugeFamily(
      "fleetscale_workload_replicas_pending",
      "Pods of the workload in phase Pending (not counted in fleetscale_workload_replicas)");
  MetricFamily terminating = gaugeFamily(
      "fleetscale_workload_replicas_terminating",
      "Pods of the workload being deleted (not counted in fleetscale_workload_replicas)");
  for (const auto& workload : snapshot.workloads) {
    for (const auto& rollup : workload.clusters) {
      Labels labels{{"cluster", rollup.cluster},
                    {"namespace", workload.key.namespaceName},
                    {"kind", workload.key.kind},
                    {"workload", workload.key.name}};
      for (auto& gauge : gauges) addGauge(gauge.family, labels, rollup.*gauge.field);
      addGauge(seen, labels, rollup.replicasSeen);
      addGauge(ready, labels, rollup.replicasReady);
      addGauge(pending, labels, rollup.replicasPending);
      addGauge(terminating, labels, rollup.replicasTerminating);
    }
  }
  for (auto& gauge : gauges) out.push_back(std::move(gauge.family));
  append(out, {&seen, &ready, &pending, &terminating});
}

void addNodeFamilies(const std::vector<NodeInfo>& nodes, Families& out) {
  MetricFamily nodeCpu = gaugeFamily("fleetscale_node_cpu_usage_cores", "Node CPU usage in cores");
  MetricFamily nodeMemory =
      gaugeFamily("fleetscale_node_memory_usage_bytes", "Node memory in use (total - available)");
  MetricFamily nodeContainers =
      gaugeFamily("fleetscale_node_containers", "Containers reported by the node's agent");
  MetricFamily nodeStale =
      gaugeFamily("fleetscale_node_stale", "1 when the node has not reported for 3 ticks");
  for (const auto& node : nodes) {
    Labels labels{{"cluster", node.identity.cluster}, {"node", node.identity.node}};
    addGauge(nodeCpu, labels, node.totals.cpuUsageCores);
    addGauge(nodeMemory, labels, static_cast<double>(node.totals.memoryUsageBytes));
    addGauge(nodeContainers, labels, static_cast<double>(node.containers));
    addGauge(nodeStale, labels, node.stale ? 1 : 0);
  }
  append(out, {&nodeCpu, &nodeMemory, &nodeContainers, &nodeStale});
}

void addContainerFamilies(const std::vector<ContainerInfo>& containers, Families& out) {
  MetricFamily cpu =
      gaugeFamily("fleetscale_container_cpu_usage_cores", "Container CPU usage in cores");
  MetricFamily workingSet =
      gaugeFamily("fleetscale_container_memory_working_set_bytes", "Container memory working set");
  for (const auto& container : containers) {
    Labels labels{{"cluster", container.cluster},
                  {"node", container.node},
                  {"container_id", container.id},
                  {"namespace", container.namespaceName},
                  {"pod", container.pod}};
    addGauge(cpu, labels, container.metrics.cpuCores);
    addGauge(workingSet, labels, static_cast<double>(container.metrics.memoryWorkingSetBytes));
  }
  append(out, {&cpu, &workingSet});
}

}  // namespace

FleetMetrics::FleetMetrics(const FleetState& fleet, const SnapshotHolder& snapshots,
                           const Clock& clock, bool perContainerSeries)
    : fleet_(fleet),
      snapshots_(snapshots),
      clock_(clock),
      perContainerSeries_(perContainerSeries) {}

std::vector<MetricFamily> FleetMetrics::Collect() const {
  const auto snapshot = snapshots_.get();
  Families out;
  addClusterFamilies(*snapshot, out);
  addWorkloadFamilies(*snapshot, out);
  addNodeFamilies(fleet_.nodes(clock_.wallNow()), out);
  MetricFamily names = gaugeFamily(
      "fleetscale_workload_names",
      "Workload names held in memory: those of live containers and those unused for less than "
      "--forget-after");
  addGauge(names, {}, static_cast<double>(fleet_.workloadNameCount()));
  out.push_back(std::move(names));
  if (perContainerSeries_) addContainerFamilies(fleet_.containers({}, clock_.wallNow()), out);
  return out;
}

}  // namespace fleetscale::aggregator
