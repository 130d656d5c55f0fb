#include "fleetscale/aggregator/aggregator_metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/shared/version.h"

namespace fleetscale::aggregator {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily gaugeFamily(std::string name, std::string help) {
  return MetricFamily{std::move(name), std::move(help), MetricType::Gauge, {}};
}

void addGauge(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

}  // namespace

AggregatorMetrics::AggregatorMetrics(bool perContainerSeries)
    : registry_(std::make_shared<prometheus::Registry>()),
      frames_(prometheus::BuildCounter()
                  .Name("fleetscale_ingest_frames_total")
                  .Help("Frames received from agents, by message kind")
                  .Register(*registry_)),
      decodeErrors_(prometheus::BuildCounter()
                        .Name("fleetscale_ingest_decode_errors_total")
                        .Help("Frames rejected as oversized, undecodable or invalid, by reason")
                        .Register(*registry_)),
      disconnects_(prometheus::BuildCounter()
                       .Name("fleetscale_ingest_disconnects_total")
                       .Help("Agent connections closed, by reason")
                       .Register(*registry_)),
      perContainerSeries_(perContainerSeries) {
  auto counter = [this](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  bytesReceived_ = counter("fleetscale_ingest_bytes_total", "Bytes received from agents");
  samplesReceived_ =
      counter("fleetscale_ingest_samples_total", "Container samples received in accepted batches");
  batchesAccepted_ = counter("fleetscale_ingest_batches_total", "Sample batches accepted");
  duplicateBatches_ = counter("fleetscale_ingest_duplicate_batches_total",
                              "Sample batches dropped because their sequence was already accepted");
  connectionsAccepted_ =
      counter("fleetscale_ingest_connections_total", "Agent TCP connections accepted");
  // Pre-create the common label values so they appear (at 0) before the first event.
  for (const char* reason : {"oversized", "undecodable", "invalid"}) decodeErrors(reason);
  for (const char* kind : {"hello", "batch"}) framesReceived(kind);
}

prometheus::Counter& AggregatorMetrics::framesReceived(const std::string& kind) {
  return frames_.Add({{"kind", kind}});
}

prometheus::Counter& AggregatorMetrics::decodeErrors(const std::string& reason) {
  return decodeErrors_.Add({{"reason", reason}});
}

prometheus::Counter& AggregatorMetrics::disconnects(const std::string& reason) {
  return disconnects_.Add({{"reason", reason}});
}

std::string AggregatorMetrics::render(const FleetState& fleet) const {
  std::vector<MetricFamily> families = registry_->Collect();

  MetricFamily build = gaugeFamily("fleetscale_build_info", "Build information; always 1");
  addGauge(build, {{"version", kVersion}, {"component", "aggregator"}}, 1);
  families.push_back(std::move(build));

  MetricFamily agents =
      gaugeFamily("fleetscale_agents_connected", "Agents currently connected, per cluster");
  for (const auto& [cluster, count] : fleet.connectedAgentsByCluster()) {
    addGauge(agents, {{"cluster", cluster}}, static_cast<double>(count));
  }
  families.push_back(std::move(agents));

  MetricFamily nodeCpu = gaugeFamily("fleetscale_node_cpu_usage_cores", "Node CPU usage in cores");
  MetricFamily nodeMemory = gaugeFamily("fleetscale_node_memory_usage_bytes", "Node memory in use");
  MetricFamily nodeContainers =
      gaugeFamily("fleetscale_node_containers", "Containers reported by the node's agent");
  for (const auto& node : fleet.nodes()) {
    std::vector<ClientMetric::Label> labels{{"cluster", node.identity.cluster},
                                            {"node", node.identity.node}};
    if (node.totals.has_cpu_usage_cores()) addGauge(nodeCpu, labels, node.totals.cpu_usage_cores());
    addGauge(nodeMemory, labels, static_cast<double>(node.totals.memory_usage_bytes()));
    addGauge(nodeContainers, labels, static_cast<double>(node.containers));
  }
  families.push_back(std::move(nodeCpu));
  families.push_back(std::move(nodeMemory));
  families.push_back(std::move(nodeContainers));

  if (perContainerSeries_) {
    MetricFamily cpu =
        gaugeFamily("fleetscale_container_cpu_usage_cores", "Container CPU usage in cores");
    MetricFamily workingSet = gaugeFamily("fleetscale_container_memory_working_set_bytes",
                                          "Container memory working set");
    for (const auto& container : fleet.containers()) {
      const auto& sample = container.sample;
      std::vector<ClientMetric::Label> labels{{"cluster", container.cluster},
                                              {"node", container.node},
                                              {"container_id", sample.id()},
                                              {"namespace", sample.metadata().namespace_()},
                                              {"pod", sample.metadata().pod()}};
      if (sample.has_cpu_cores()) addGauge(cpu, labels, sample.cpu_cores());
      addGauge(workingSet, labels, static_cast<double>(sample.memory_working_set_bytes()));
    }
    families.push_back(std::move(cpu));
    families.push_back(std::move(workingSet));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace fleetscale::aggregator
