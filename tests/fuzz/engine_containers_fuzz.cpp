// The Docker/Podman engine's GET /containers/json answer, read from a unix socket.
#include <cstdint>
#include <string_view>

#include "fleetscale/agent/engine_containers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto snapshot = fleetscale::agent::parseEngineContainerList(text, "docker");
  if (!snapshot) return 0;
  for (const auto& [id, known] : snapshot->containers) {
    if (id.empty() || known.runtime != "docker") __builtin_trap();
  }
  return 0;
}
