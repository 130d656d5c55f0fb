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

}  // namespace fleetscale::testing
