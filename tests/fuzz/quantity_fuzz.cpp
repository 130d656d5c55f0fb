// Kubernetes quantities come from kubelet pod specs and policy files.
#include <cstdint>
#include <string_view>

#include "fleetscale/shared/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto milli = fleetscale::parseQuantityMilli(text);
  const auto value = fleetscale::parseQuantityValue(text);
  // Whole units never exceed milli-units in magnitude.
  if (milli && value && *milli >= 0 && *value > 0 && *value > *milli) __builtin_trap();
  return 0;
}
