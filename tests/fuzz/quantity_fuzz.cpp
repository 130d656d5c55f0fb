// Kubernetes quantities come from kubelet pod specs, policy files and PATCH bodies.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fleetscale/shared/quantity.h"

namespace {

// Rounding up never goes down, and never by a whole unit more (beyond double precision).
bool roundedUp(double rounded, double exact) {
  const double slack = 1e-12 * std::fabs(exact);
  return rounded >= exact - slack && rounded <= std::ceil(exact) + slack + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto value = fleetscale::parseQuantity(text);
  const auto ceiling = fleetscale::parseQuantityCeil(text);
  const auto milli = fleetscale::parseQuantityMilli(text);
  // One grammar: whatever the exact readers accept, the double reader accepts too.
  if ((ceiling || milli) && !value) __builtin_trap();
  if (value && !std::isfinite(*value)) __builtin_trap();
  if (ceiling && value && !roundedUp(static_cast<double>(*ceiling), *value)) __builtin_trap();
  if (milli && value && *value >= 0 && !roundedUp(static_cast<double>(*milli), *value * 1000)) {
    __builtin_trap();
  }
  return 0;
}
