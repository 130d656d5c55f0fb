// A workload's right-sizing policy (docs/configuration.md, `rightsizing`): whether its requests
// are recommended and applied, the bounds a recommendation is held within, which resources it
// controls, and how limits follow the requests. Plain data; the policy file parses it.
#pragma once

#include <optional>
#include <string_view>

#include "fleetscale/shared/batch_view.h"

namespace fleetscale::aggregator::rightsizing {

enum class Mode {
  kOff,        // no recommendation is made or shown
  kRecommend,  // recommendations are shown (API, metrics, fleetscalectl), nothing is changed
  kInPlace,    // (not applied yet) resize running pods through their `resize` subresource
  kRecreate,   // (not applied yet) patch the workload's pod template: a rolling update
};
std::string_view toString(Mode mode);
std::optional<Mode> parseMode(std::string_view text);
// in-place and recreate parse, but nothing applies them yet: they recommend, and say so.
inline bool appliedYet(Mode mode) { return mode == Mode::kOff || mode == Mode::kRecommend; }

// How a recommended limit follows the recommended request.
enum class LimitsMode {
  kKeepRatio,  // limit = request x the current limit:request ratio (no limit stays none)
  kUnchanged,  // the current limit, raised to the request when the request passes it
  kRatio,      // limit = request x a configured ratio per resource (absent: keep the ratio)
};
std::string_view toString(LimitsMode mode);

// CPU in cores and memory in bytes; absent (NaN) = no bound.
struct ResourceAmounts {
  double cpuCores = kAbsent;
  double memoryBytes = kAbsent;
};

struct RightsizingPolicy {
  // Off unless the policy says so? A recommendation changes nothing, so the default shows them:
  // every workload of the policy gets one (docs/rightsizing.md, "Defaults").
  Mode mode = Mode::kRecommend;
  ResourceAmounts minAllowed;
  ResourceAmounts maxAllowed;
  bool controlsCpu = true;
  bool controlsMemory = true;
  // controlledResources was written out (not the default): the user asked for exactly these.
  bool controlledResourcesListed = false;
  LimitsMode limits = LimitsMode::kKeepRatio;
  ResourceAmounts limitRatio;  // kRatio: limit / request per resource, at least 1
};

}  // namespace fleetscale::aggregator::rightsizing
