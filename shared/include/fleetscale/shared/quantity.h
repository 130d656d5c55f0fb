// Kubernetes resource quantities ("500m", "1.5Gi", "2e3", "128974848"), read the way
// k8s.io/apimachinery resource.Quantity reads them: a signed decimal number followed by a binary
// suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k M G T P E) or a decimal exponent
// (e3, E-2). Shared by the agent (kubelet pod specs), the aggregator (policy targets) and the
// simulator; pure functions over text, fuzzed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale {

// The quantity as a number: "500m" -> 0.5, "1Ki" -> 1024, "-1" -> -1. For CPU in cores.
Result<double> parseQuantity(std::string_view text);

// The quantity rounded up to a whole number, as Quantity.Value() does: "1.5Ki" -> 1536,
// "100m" -> 1. For memory in bytes. Negative values and values beyond 2^64 - 1 are errors.
Result<std::uint64_t> parseQuantityCeil(std::string_view text);

// The quantity in thousandths of its unit, rounded up as Quantity.MilliValue() does:
// "500m" -> 500, "2" -> 2000, "1Ki" -> 1024000, "100n" -> 1. Errors beyond int64 milli-units.
Result<std::int64_t> parseQuantityMilli(std::string_view text);

// Milli-units written back as a quantity parseQuantityMilli reads: 2000 -> "2", 1500 -> "1500m".
std::string formatQuantityMilli(std::int64_t milli);

}  // namespace fleetscale
