#include "fleetscale/agent/rates.h"

namespace fleetscale::agent {

std::optional<double> ratePerSecond(std::uint64_t previous, std::uint64_t current,
                                    std::chrono::nanoseconds elapsed) {
  if (elapsed.count() <= 0 || current < previous) return std::nullopt;
  return static_cast<double>(current - previous) * 1e9 / static_cast<double>(elapsed.count());
}

std::optional<double> ratePerSecond(std::optional<std::uint64_t> previous,
                                    std::optional<std::uint64_t> current,
                                    std::chrono::nanoseconds elapsed) {
  if (!previous || !current) return std::nullopt;
  return ratePerSecond(*previous, *current, elapsed);
}

}  // namespace fleetscale::agent
