// Policies the aggregator's tests share, so a test says which one it uses instead of building
// its own copy. Library fleetscale_test_policy (it links the aggregator's policy component).
#pragma once

#include <cstdint>

#include "fleetscale/aggregator/policy/policy_config.h"

namespace fleetscale::testing {

// The Deployment shop/web, 1 to `maxReplicas` replicas, scaled on CPU at 50% of its request
// (the HPA's averageUtilization: 50), no behavior (the HPA's legacy limits), every cluster.
aggregator::WorkloadConfig shopWebAtHalfCpu(std::int32_t maxReplicas = 20);

}  // namespace fleetscale::testing
