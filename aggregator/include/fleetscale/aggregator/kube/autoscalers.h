// Other autoscalers in a member cluster: HorizontalPodAutoscalers (autoscaling/v2) and KEDA
// ScaledObjects (keda.sh/v1alpha1). A workload one of them targets is theirs: two controllers
// writing one spec.replicas flap, so fleetscale leaves it alone, unless told to take it over
// (--take-over-hpa): then it pins the other autoscaler to its own decision first. Pure parsing
// and object edits; fuzzed (tests/fuzz/autoscaler_list_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
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
  // The kind of the object that owns this one (metadata.ownerReferences with controller: true):
  // "ScaledObject" for the HPA KEDA makes for each ScaledObject; "" for one people made.
  std::string controlledBy;
  // "HorizontalPodAutoscaler shop/web".
  std::string describe() const { return kind + " " + namespaceName + "/" + name; }
};

// A HorizontalPodAutoscalerList or ScaledObjectList as the API returns it; `kind` names the
// items' kind. Items without a scaleTargetRef name are skipped.
Result<std::vector<ForeignAutoscaler>> parseAutoscalerList(std::string_view json,
                                                           std::string_view kind);

// --take-over-hpa. The annotations that keep an HPA's own bounds while fleetscale pins them, so
// that they can be put back (docs/configuration.md shows how); written once, never overwritten.
inline constexpr std::string_view kOriginalMinReplicasAnnotation =
    "fleetscale.io/original-min-replicas";
inline constexpr std::string_view kOriginalMaxReplicasAnnotation =
    "fleetscale.io/original-max-replicas";
// KEDA's own way to hand a ScaledObject's target to someone else: it scales the target to this
// many replicas and stops autoscaling it until the annotation goes.
inline constexpr std::string_view kKedaPausedReplicasAnnotation =
    "autoscaling.keda.sh/paused-replicas";

// The object to PUT back so that the autoscaler `body` (a HorizontalPodAutoscaler or a
// ScaledObject, as the API answered a GET of it) holds the workload at `replicas`:
//  - an HPA gets minReplicas = maxReplicas = replicas (it then agrees with every write
//    fleetscale makes and scales to them itself), its own bounds kept in the annotations above;
//  - a ScaledObject gets KEDA's paused-replicas annotation.
// std::nullopt when it already holds `replicas`. An error for a body that is not such an object,
// or for an HPA asked to hold 0 replicas (its minReplicas cannot be 0: the caller writes 0 to
// the scale, which an HPA leaves alone).
Result<std::optional<std::string>> pinAutoscaler(std::string_view body, std::string_view kind,
                                                 std::int32_t replicas);

}  // namespace fleetscale::aggregator
