// The policy file is operator input read from disk: any bytes must give a config or an error.
#include <cstdint>
#include <string_view>

#include "fleetscale/aggregator/policy/policy_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = fleetscale::aggregator::parsePolicyConfig(text, "fuzz.yaml");
  if (config) {
    for (const auto& workload : config->workloads) {
      if (workload.policy.maxReplicas < workload.policy.minReplicas) __builtin_trap();
      if (workload.policy.metrics.empty()) __builtin_trap();
    }
  }
  return 0;
}
