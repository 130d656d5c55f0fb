// What a member cluster's API answers when the aggregator lists HorizontalPodAutoscalers and
// KEDA ScaledObjects, or reads one to take it over: any bytes give a list or an error, every
// listed one has a target, and a pinned object is valid JSON that holds the count.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "fleetscale/aggregator/kube/autoscalers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::int32_t replicas = size > 0 ? data[0] % 8 : 0;
  for (const char* kind : {"HorizontalPodAutoscaler", "ScaledObject"}) {
    auto list = fleetscale::aggregator::parseAutoscalerList(text, kind);
    if (list) {
      for (const auto& autoscaler : *list) {
        if (autoscaler.targetName.empty() || autoscaler.kind != kind) __builtin_trap();
      }
    }
    auto pinned = fleetscale::aggregator::pinAutoscaler(text, kind, replicas);
    if (!pinned || !*pinned) continue;
    const auto object = nlohmann::json::parse(**pinned, nullptr, false);
    if (!object.is_object()) __builtin_trap();
    // Pinning what it answered is idempotent: a second pin has nothing to write.
    auto again = fleetscale::aggregator::pinAutoscaler(**pinned, kind, replicas);
    if (!again || again->has_value()) __builtin_trap();
  }
  return 0;
}
