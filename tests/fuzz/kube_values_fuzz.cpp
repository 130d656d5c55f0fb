// Single values out of kubelet answers: RFC 3339 times and container ids (quantities have
// their own target, quantity_fuzz).
#include <cstdint>
#include <string_view>

#include "fleetscale/agent/pod_list.h"

using namespace fleetscale::agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parseRfc3339Millis(text);
  if (auto id = parseContainerId(text); id && (id->id.empty() || id->runtime.empty())) {
    __builtin_trap();
  }
  return 0;
}
