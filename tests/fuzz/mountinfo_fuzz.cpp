// /proc/self/mountinfo text: the parser and the layout built from it.
#include <cstdint>
#include <string_view>

#include "fleetscale/agent/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  int malformed = 0;
  const auto entries = fleetscale::agent::parseMountInfo(text, &malformed);
  for (const auto& entry : entries) {
    if (entry.fsType.empty()) __builtin_trap();  // a parsed entry always has a filesystem type
  }
  return 0;
}
