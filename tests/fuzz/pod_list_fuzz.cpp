// The kubelet's GET /pods answer, read from the network: the PodList parser and everything it
// calls (owner resolution, quantities, timestamps, container ids).
#include <cstdint>
#include <string_view>

#include "fleetscale/agent/pod_list.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto snapshot = fleetscale::agent::parsePodList(text);
  if (!snapshot) return 0;
  for (const auto& [id, known] : snapshot->containers) {
    if (id.empty() || known.runtime.empty()) __builtin_trap();
    if (known.metadata.pod_uid().empty()) __builtin_trap();  // only pods with a uid are indexed
    if (known.metadata.has_cpu_request_cores() && !(known.metadata.cpu_request_cores() >= 0)) {
      __builtin_trap();  // negative or NaN requests are dropped
    }
  }
  for (const auto& [uid, pod] : snapshot->pods) {
    if (uid.empty() || uid != pod.pod_uid()) __builtin_trap();
  }
  return 0;
}
