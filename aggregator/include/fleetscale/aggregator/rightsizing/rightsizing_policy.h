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
  kInPlace,    // resize running pods through their `resize` subresource (Kubernetes 1.33+)
  kRecreate,   // patch the workload's pod template: a rolling update
};
std::string_view toString(Mode mode);
std::optional<Mode> parseMode(std::string_view text);
// Whether the aggregator changes the workload's requests (in-place, recreate).
inline bool applies(Mode mode) { return mode == Mode::kInPlace || mode == Mode::kRecreate; }

// What in-place does when a pod's node can never fit its resize (PodResizePending Infeasible).
enum class Fallback {
  kNone,      // report it and leave the workload as it is
  kRecreate,  // patch the pod template instead (a rolling update)
};
std::string_view toString(Fallback fallback);

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
  // Applying (docs/rightsizing.md, "Applying"): a request is changed only when the target differs
  // from it by more than minChangeRatio of it and by at least minChange (absolute).
  double minChangeRatio = 0.10;
  ResourceAmounts minChange{0.01, 16.0 * 1024 * 1024};
  // in-place: at most max(1, floor(resizeBudget x ready replicas)) pods resizing at once.
  double resizeBudget = 0.10;
  Fallback fallback = Fallback::kNone;
};

}  // namespace fleetscale::aggregator::rightsizing
