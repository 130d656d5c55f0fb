#include "fleetscale/testing/policy_fixtures.h"

namespace fleetscale::testing {

aggregator::WorkloadConfig shopWebAtHalfCpu(std::int32_t maxReplicas) {
  aggregator::WorkloadConfig web;
  web.namespaceName = "shop";
  web.name = "web";
  web.policy.minReplicas = 1;
  web.policy.maxReplicas = maxReplicas;
  web.policy.metrics.push_back(
      aggregator::scaling::MetricTarget::utilization(aggregator::scaling::Resource::kCpu, 50));
  return web;
}

aggregator::PolicyConfig shopWebRightsized(aggregator::rightsizing::RightsizingPolicy rightsizing,
                                           const std::vector<std::string>& clusters) {
  aggregator::PolicyConfig config;
  for (const auto& name : clusters) {
    aggregator::ClusterConfig cluster;
    cluster.name = name;
    config.clusters.push_back(cluster);
  }
  aggregator::WorkloadConfig workload;
  workload.namespaceName = "shop";
  workload.name = "web";
  workload.rightsizing = rightsizing;
  config.workloads.push_back(workload);
  return config;
}

}  // namespace fleetscale::testing
