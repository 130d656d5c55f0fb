// Policies the aggregator's tests share, so a test says which one it uses instead of building
// its own copy. Library fleetscale_test_policy (it links the aggregator's policy component).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fleetscale/aggregator/policy/policy_config.h"

namespace fleetscale::testing {

// The Deployment shop/web, 1 to `maxReplicas` replicas, scaled on CPU at 50% of its request
// (the HPA's averageUtilization: 50), no behavior (the HPA's legacy limits), every cluster.
aggregator::WorkloadConfig shopWebAtHalfCpu(std::int32_t maxReplicas = 20);

// A policy of `clusters` (names only) and the Deployment shop/web in all of them, right-sized
// under `rightsizing` and not scaled.
aggregator::PolicyConfig shopWebRightsized(aggregator::rightsizing::RightsizingPolicy rightsizing,
                                           const std::vector<std::string>& clusters);

}  // namespace fleetscale::testing
