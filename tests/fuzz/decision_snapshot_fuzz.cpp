// `fleetscale-aggregator decide --input` reads a snapshot people write or export: any bytes must
// give a snapshot or an error, and a snapshot must give a decision or an error, never a crash,
// an overflow or a count outside the policy's bounds.
#include <cstdint>
#include <string_view>

#include "fleetscale/aggregator/pipeline/decision_json.h"
#include "fleetscale/aggregator/scaling/decision.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fleetscale::aggregator;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto snapshot = parseDecisionSnapshot(text);
  if (!snapshot || !snapshot->workload) return 0;
  const auto& policy = snapshot->workload->policy;
  auto history = snapshot->history;
  const auto decision = scaling::decide(policy, snapshot->observation, history, snapshot->now);
  const std::int32_t current = snapshot->observation.currentReplicas;
  const bool inBounds = current >= policy.minReplicas && current <= policy.maxReplicas;
  if (decision.error.empty() && inBounds && current > 0 &&
      (decision.desiredReplicas < policy.minReplicas ||
       decision.desiredReplicas > policy.maxReplicas)) {
    __builtin_trap();
  }
  return 0;
}
