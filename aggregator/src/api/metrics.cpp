#include "fleetscale/aggregator/api/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/shared/metric_family.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

using prometheus::MetricFamily;
using Labels = MetricLabels;

void addGauge(MetricFamily& family, Labels labels, double value) {
  addPresentSample(family, std::move(labels), value);
}

}  // namespace

AggregatorMetrics::AggregatorMetrics(bool perContainerSeries)
    : registry_(std::make_shared<prometheus::Registry>()),
      ingest_(*registry_),
      store_(*registry_),
      perContainerSeries_(perContainerSeries) {}

std::string AggregatorMetrics::render(const MetricsView& view) const {
  std::vector<MetricFamily> families = registry_->Collect();

  MetricFamily build = gaugeFamily("fleetscale_build_info", "Build information; always 1");
  addGauge(build, {{"version", kVersion}, {"component", "aggregator"}}, 1);
  families.push_back(std::move(build));

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
  for (const auto& cluster : view.snapshot.clusters) {
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
  for (auto* family : {&agents, &nodes, &staleNodes, &clusterContainers, &health}) {
    families.push_back(std::move(*family));
  }

  struct WorkloadGauge {
    MetricFamily family;
    double WorkloadRollup::*field;
  };
  std::vector<WorkloadGauge> workloadGauges{
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
  MetricFamily seen = gaugeFamily("fleetscale_workload_replicas",
                                  "Fresh replicas (pods) of the workload seen in the cluster");
  MetricFamily ready = gaugeFamily("fleetscale_workload_replicas_ready",
                                   "Fresh ready replicas of the workload seen in the cluster");
  for (const auto& workload : view.snapshot.workloads) {
    for (const auto& rollup : workload.clusters) {
      Labels labels{{"cluster", rollup.cluster},
                    {"namespace", workload.key.namespaceName},
                    {"kind", workload.key.kind},
                    {"workload", workload.key.name}};
      for (auto& gauge : workloadGauges) addGauge(gauge.family, labels, rollup.*gauge.field);
      addGauge(seen, labels, rollup.replicasSeen);
      addGauge(ready, labels, rollup.replicasReady);
    }
  }
  for (auto& gauge : workloadGauges) families.push_back(std::move(gauge.family));
  families.push_back(std::move(seen));
  families.push_back(std::move(ready));

  MetricFamily nodeCpu = gaugeFamily("fleetscale_node_cpu_usage_cores", "Node CPU usage in cores");
  MetricFamily nodeMemory =
      gaugeFamily("fleetscale_node_memory_usage_bytes", "Node memory in use (total - available)");
  MetricFamily nodeContainers =
      gaugeFamily("fleetscale_node_containers", "Containers reported by the node's agent");
  MetricFamily nodeStale =
      gaugeFamily("fleetscale_node_stale", "1 when the node has not reported for 3 ticks");
  for (const auto& node : view.nodes) {
    Labels labels{{"cluster", node.identity.cluster}, {"node", node.identity.node}};
    addGauge(nodeCpu, labels, node.totals.cpuUsageCores);
    addGauge(nodeMemory, labels, static_cast<double>(node.totals.memoryUsageBytes));
    addGauge(nodeContainers, labels, static_cast<double>(node.containers));
    addGauge(nodeStale, labels, node.stale ? 1 : 0);
  }
  for (auto* family : {&nodeCpu, &nodeMemory, &nodeContainers, &nodeStale}) {
    families.push_back(std::move(*family));
  }

  if (perContainerSeries_ && view.containers != nullptr) {
    MetricFamily cpu =
        gaugeFamily("fleetscale_container_cpu_usage_cores", "Container CPU usage in cores");
    MetricFamily workingSet = gaugeFamily("fleetscale_container_memory_working_set_bytes",
                                          "Container memory working set");
    for (const auto& container : *view.containers) {
      Labels labels{{"cluster", container.cluster},
                    {"node", container.node},
                    {"container_id", container.id},
                    {"namespace", container.namespaceName},
                    {"pod", container.pod}};
      addGauge(cpu, labels, container.metrics.cpuCores);
      addGauge(workingSet, labels, static_cast<double>(container.metrics.memoryWorkingSetBytes));
    }
    families.push_back(std::move(cpu));
    families.push_back(std::move(workingSet));
  }
  families.insert(families.end(), view.extra.begin(), view.extra.end());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace fleetscale::aggregator
