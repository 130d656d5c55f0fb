#include "fleetscale/sim/policy_writer.h"

#include <yaml-cpp/yaml.h>

namespace fleetscale::sim {
namespace {

YAML::Node utilizationMetric(const char* resource, int percent) {
  YAML::Node metric;
  metric["type"] = "Resource";
  metric["resource"]["name"] = resource;
  metric["resource"]["target"]["type"] = "Utilization";
  metric["resource"]["target"]["averageUtilization"] = percent;
  return metric;
}

}  // namespace

std::string aggregatorPolicyYaml(const Scenario& scenario,
                                 const std::vector<PolicyCluster>& clusters) {
  YAML::Node root;
  if (!scenario.aggregator.prometheusYaml.empty()) {
    root["prometheus"] = YAML::Load(scenario.aggregator.prometheusYaml);
  }
  root["clusters"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& cluster : clusters) {
    const ClusterSpec* spec = scenario.findCluster(cluster.name);
    YAML::Node node;
    node["name"] = cluster.name;
    if (spec != nullptr) {
      node["cloud"] = spec->cloud;
      node["region"] = spec->region;
    }
    node["kubeconfig"] = cluster.kubeconfig;
    if (!cluster.context.empty()) node["context"] = cluster.context;
    root["clusters"].push_back(node);
  }
  root["workloads"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& workload : scenario.workloads) {
    if (!workload.autoscale) continue;
    const AutoscaleSpec& autoscale = *workload.autoscale;
    YAML::Node node;
    node["namespace"] = workload.namespaceName;
    node["name"] = workload.name;
    node["kind"] = std::string(toString(workload.kind));
    node["minReplicas"] = autoscale.minReplicas;
    node["maxReplicas"] = autoscale.maxReplicas;
    // The configured placement: the explicit weights, else the replicas the fleet starts with.
    // A cluster that starts with none is a standby (weight 0) unless a weight says otherwise.
    node["clusters"] = YAML::Node(YAML::NodeType::Sequence);
    for (const auto& [cluster, replicas] : workload.replicas) {
      const auto weight = autoscale.weights.find(cluster);
      YAML::Node entry;
      entry["name"] = cluster;
      entry["weight"] =
          weight != autoscale.weights.end() ? weight->second : static_cast<double>(replicas);
      node["clusters"].push_back(entry);
    }
    node["metrics"] = YAML::Node(YAML::NodeType::Sequence);
    if (autoscale.cpuUtilization) {
      node["metrics"].push_back(utilizationMetric("cpu", *autoscale.cpuUtilization));
    }
    if (autoscale.memoryUtilization) {
      node["metrics"].push_back(utilizationMetric("memory", *autoscale.memoryUtilization));
    }
    if (!autoscale.metricsYaml.empty()) {
      for (const auto& metric : YAML::Load(autoscale.metricsYaml))
        node["metrics"].push_back(metric);
    }
    if (!autoscale.behaviorYaml.empty()) node["behavior"] = YAML::Load(autoscale.behaviorYaml);
    if (!autoscale.cooldown.empty()) node["cooldown"] = autoscale.cooldown;
    if (!autoscale.demand.empty()) node["demand"] = autoscale.demand;
    if (!autoscale.predictive.empty() && autoscale.predictiveDownscaleStabilization.empty()) {
      node["predictive"] = autoscale.predictive;
    } else if (!autoscale.predictive.empty()) {
      node["predictive"]["mode"] = autoscale.predictive;
      node["predictive"]["downscaleStabilization"] = autoscale.predictiveDownscaleStabilization;
    }
    if (!autoscale.rightsizingYaml.empty()) {
      node["rightsizing"] = YAML::Load(autoscale.rightsizingYaml);
    }
    root["workloads"].push_back(node);
  }
  YAML::Emitter out;
  out << root;
  return std::string("# Written by fleetscale-sim for scenario ") + scenario.name + "\n" +
         out.c_str() + "\n";
}

}  // namespace fleetscale::sim
