// Single values out of kubelet answers: resource quantities, RFC 3339 times, container ids.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fleetscale/agent/kube_quantity.h"
#include "fleetscale/agent/pod_list.h"

using namespace fleetscale::agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto value = parseQuantity(text);
  const auto ceiling = parseQuantityCeil(text);
  if (ceiling && !value) __builtin_trap();  // the same grammar
  if (value && !std::isfinite(*value)) __builtin_trap();
  if (ceiling && value) {
    // Rounding up never goes down, and never by a whole unit more (beyond double precision).
    const double up = static_cast<double>(*ceiling);
    if (up < *value * (1 - 1e-12) || up > std::ceil(*value) * (1 + 1e-12) + 1) __builtin_trap();
  }
  (void)parseRfc3339Millis(text);
  if (auto id = parseContainerId(text); id && (id->id.empty() || id->runtime.empty())) {
    __builtin_trap();
  }
  return 0;
}
