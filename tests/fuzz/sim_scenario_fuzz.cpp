// fleetscale-sim scenario files and the fault entries the control API accepts (YAML or JSON).
#include <cstdint>
#include <string_view>

#include "fleetscale/sim/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Recorded loads resolve against a directory that does not exist: no file is ever read.
  auto scenario = fleetscale::sim::parseScenario(text, "/nonexistent-fleetscale-fuzz");
  if (scenario) {
    if (scenario->clusters.empty()) __builtin_trap();  // a valid scenario has a cluster
    for (const auto& workload : scenario->workloads) {
      if (workload.replicaCapacity() <= 0) __builtin_trap();
      (void)workload.cpu.at(1.0);
    }
  }
  (void)fleetscale::sim::parseFault(text);
  return 0;
}
