// Kubernetes resource quantities ("500m", "2", "1.5", "128Mi", "1G", "1e3"), as they appear in
// pod specs, scenario files and PATCH bodies.
#pragma once

#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale::sim {

// Parses a quantity into base units (cores for CPU, bytes for memory). Accepts the suffixes
// Kubernetes does: n u m k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary), and e/E exponents.
// Negative values and anything else are errors.
Result<double> parseQuantity(std::string_view text);

// Canonical CPU form: whole cores as "2", otherwise millicores "500m" (rounded up to 1m, as
// the API server does for CPU).
std::string formatCpu(double cores);

// Canonical memory form: the largest binary suffix that divides the value exactly ("128Mi",
// "1Gi"), otherwise plain bytes.
std::string formatMemory(double bytes);

// Millicores, rounded up (a 0.1m request is 1m, like the kubelet computes shares).
long long toMilliCores(double cores);

}  // namespace fleetscale::sim
