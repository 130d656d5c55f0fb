// Other autoscalers in a member cluster: HorizontalPodAutoscalers (autoscaling/v2) and KEDA
// ScaledObjects (keda.sh/v1alpha1). A workload one of them targets is theirs: two controllers
// writing one spec.replicas flap, so fleetscale leaves it alone. Pure parsing; fuzzed
// (tests/fuzz/autoscaler_list_fuzz.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct ForeignAutoscaler {
  std::string kind;  // "HorizontalPodAutoscaler" or "ScaledObject"
  std::string namespaceName;
  std::string name;
  std::string targetKind;  // scaleTargetRef.kind ("Deployment" when a ScaledObject omits it)
  std::string targetName;
  // "HorizontalPodAutoscaler shop/web".
  std::string describe() const { return kind + " " + namespaceName + "/" + name; }
};

// A HorizontalPodAutoscalerList or ScaledObjectList as the API returns it; `kind` names the
// items' kind. Items without a scaleTargetRef name are skipped.
Result<std::vector<ForeignAutoscaler>> parseAutoscalerList(std::string_view json,
                                                           std::string_view kind);

}  // namespace fleetscale::aggregator
