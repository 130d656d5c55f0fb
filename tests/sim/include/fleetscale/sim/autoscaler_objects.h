// Other autoscalers' objects as the simulated API server stores them: autoscaling/v2
// HorizontalPodAutoscalers and KEDA's keda.sh/v1alpha1 ScaledObjects. Nothing acts on them (no
// HPA controller, no KEDA operator scales anything); they are there for the aggregator to find
// that a workload is already someone else's to scale. Each decoder checks and normalises a body
// the way the API server does before storing it, and fills in the status its controller would
// show. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "fleetscale/sim/api_resource.h"
#include "fleetscale/sim/cluster_model.h"
#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

// The built-in kind: unconditional updates allowed, DELETE answers a Status.
inline constexpr ResourceType kHorizontalPodAutoscalerResource{
    .group = "autoscaling",
    .version = "v2",
    .kind = "HorizontalPodAutoscaler",
    .plural = "horizontalpodautoscalers",
    .singular = "horizontalpodautoscaler",
    .allowUnconditionalUpdate = true,
    .tracksGeneration = true,
    .deleteReturnsObject = false,
    .custom = false};

// KEDA's CustomResourceDefinition: updates need a resourceVersion, DELETE answers the object,
// strategic merge patches are refused.
inline constexpr ResourceType kScaledObjectResource{.group = "keda.sh",
                                                    .version = "v1alpha1",
                                                    .kind = "ScaledObject",
                                                    .plural = "scaledobjects",
                                                    .singular = "scaledobject",
                                                    .allowUnconditionalUpdate = false,
                                                    .tracksGeneration = true,
                                                    .deleteReturnsObject = true,
                                                    .custom = true};

// The HorizontalPodAutoscaler to store from a create (`urlName` "") or update body, `current`
// being the stored one on update (nullptr on create). The object is kept as sent, with the
// autoscaling/v2 defaults (minReplicas 1; without metrics, CPU at 80% utilization) and the
// status the API server keeps apart from the body (status is a subresource: a fresh HPA's
// {currentMetrics: null, desiredReplicas: 0}, else current's). Errors: 400 BadRequest when the
// body does not decode (a field of the wrong type, another object's name or namespace), 422
// Invalid when it fails validation: a name, spec.scaleTargetRef.kind and .name,
// spec.maxReplicas >= 1, spec.minReplicas >= 1 and <= maxReplicas. Metric specs are not checked.
ApiResult decodeHorizontalPodAutoscaler(const nlohmann::json& body,
                                        const std::string& namespaceName,
                                        const std::string& urlName, const nlohmann::json* current);

// The ScaledObject to store, as above. The CRD's schema is checked (spec, spec.scaleTargetRef
// with a name, spec.triggers each with a type and metadata; integer and string fields of their
// type: 422 Invalid otherwise) and the object kept as sent: scaleTargetRef.kind and apiVersion
// stay absent when absent, as the API server does not default them. The status is the one KEDA's
// operator records on its first reconcile, from the spec: scaleTargetKind "apps/v1.Deployment"
// (KEDA's default target) and scaleTargetGVKR.
ApiResult decodeScaledObject(const nlohmann::json& body, const std::string& namespaceName,
                             const std::string& urlName, const nlohmann::json* current);

// "<apiVersion>.<kind>" of a ScaledObject's target with KEDA's defaults (apps/v1, Deployment):
// what KEDA shows as status.scaleTargetKind.
std::string scaledObjectTargetKind(const nlohmann::json& scaledObject);

// The object a scenario's `foreign-autoscaler` puts in a cluster at the start: named after the
// workload, in its namespace, targeting it. An HPA: minReplicas 1, maxReplicas max(10, the
// workload's largest initial replicas), CPU at 80%. A ScaledObject: the same bounds and a cpu
// trigger at 80%; its scaleTargetRef names only the workload (and kind StatefulSet for one),
// as KEDA's examples do for Deployments.
nlohmann::json foreignAutoscalerBody(const WorkloadSpec& workload, ForeignAutoscalerKind kind);

}  // namespace fleetscale::sim
