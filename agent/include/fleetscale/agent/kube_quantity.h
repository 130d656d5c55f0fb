// Kubernetes resource quantities ("500m", "1.5Gi", "2e3", "128974848"), parsed the way
// k8s.io/apimachinery resource.Quantity reads them: a signed decimal number followed by a binary
// suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k M G T P E) or a decimal exponent
// (e3, E-2). Pure functions over text, fuzzed with the /pods parser.
#pragma once

#include <cstdint>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// The quantity as a number: "500m" -> 0.5, "1Ki" -> 1024, "-1" -> -1. For CPU (cores).
Result<double> parseQuantity(std::string_view text);

// The quantity rounded up to a whole number, as Quantity.Value() does: "1.5Ki" -> 1536,
// "100m" -> 1. For memory (bytes). Negative values and values beyond 2^64 - 1 are errors.
Result<std::uint64_t> parseQuantityCeil(std::string_view text);

}  // namespace fleetscale::agent
