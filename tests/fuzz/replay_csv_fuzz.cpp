// Replay history CSV is operator input read from disk: any bytes must give samples or an error
// naming a line, never a crash, and every sample must be usable by the replay.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fleetscale/aggregator/replay/replay_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto samples = fleetscale::aggregator::parseReplayCsv(text);
  if (!samples) {
    if (samples.error().message.empty()) __builtin_trap();
    return 0;
  }
  for (const auto& sample : *samples) {
    if (sample.namespaceName.empty() || sample.name.empty() || sample.line <= 0) __builtin_trap();
    for (double value :
         {sample.replicas, sample.readyReplicas, sample.cpuUsageCores, sample.cpuRequestCores,
          sample.memoryUsageBytes, sample.memoryRequestBytes}) {
      if (!std::isfinite(value) || value < 0) __builtin_trap();
    }
    if (sample.readyReplicas > sample.replicas) __builtin_trap();
  }
  return 0;
}
