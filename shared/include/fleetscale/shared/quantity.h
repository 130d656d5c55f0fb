// Kubernetes resource quantities ("500m", "1.5", "256Mi", "2G", "1e3"), as
// k8s.io/apimachinery/pkg/api/resource parses them. Shared by the agent (kubelet pod specs) and
// the aggregator (policy targets).
#pragma once

#include <cstdint>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale {

// The quantity in thousandths of its unit, rounded up as Quantity.MilliValue() does:
// "500m" -> 500, "2" -> 2000, "1Ki" -> 1024000, "100n" -> 1. Errors on malformed text, and on
// values beyond int64 milli-units.
Result<std::int64_t> parseQuantityMilli(std::string_view text);

// Whole units rounded up, as Quantity.Value(): "1.5Gi" -> 1610612736, "100m" -> 1.
Result<std::int64_t> parseQuantityValue(std::string_view text);

}  // namespace fleetscale
