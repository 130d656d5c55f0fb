// What a member cluster's API answers when the aggregator lists HorizontalPodAutoscalers and
// KEDA ScaledObjects: any bytes give a list or an error, and every listed one has a target.
#include <cstdint>
#include <string_view>

#include "fleetscale/aggregator/kube/autoscalers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const char* kind : {"HorizontalPodAutoscaler", "ScaledObject"}) {
    auto list = fleetscale::aggregator::parseAutoscalerList(text, kind);
    if (!list) continue;
    for (const auto& autoscaler : *list) {
      if (autoscaler.targetName.empty() || autoscaler.kind != kind) __builtin_trap();
    }
  }
  return 0;
}
