#include "fleetscale/sim/quantity.h"

#include <cmath>
#include <cstdint>

#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::sim {

Result<double> parseQuantity(std::string_view raw) {
  // Scenario files and PATCH bodies may pad values; the grammar itself is Kubernetes'.
  const std::string_view text = trim(raw);
  auto value = fleetscale::parseQuantity(text);
  if (!value) return value.error();
  if (*value < 0) {
    return Error{"quantity " + fleetscale::singleQuoted(text) + ": expected a non-negative number"};
  }
  return *value;
}

long long toMilliCores(double cores) {
  return static_cast<long long>(std::ceil(cores * 1000.0 - 1e-9));
}

std::string formatCpu(double cores) {
  const long long milli = toMilliCores(cores);
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

std::string formatMemory(double bytes) {
  const auto value = static_cast<std::uint64_t>(std::llround(bytes));
  constexpr std::string_view kBinary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (value == 0) return "0";
  std::uint64_t scaled = value;
  int index = -1;
  while (index + 1 < 6 && scaled % 1024 == 0) {
    scaled /= 1024;
    ++index;
  }
  if (index < 0) return std::to_string(value);
  return std::to_string(scaled) + std::string(kBinary[index]);
}

}  // namespace fleetscale::sim
