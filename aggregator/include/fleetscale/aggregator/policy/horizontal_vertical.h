// Horizontal and vertical scaling on one workload (docs/rightsizing.md, "Horizontal and vertical
// together"): a horizontal metric that is a Utilization of a request (a percentage of it) must
// not read a request the vertical side moves, or each resize shifts the utilization and the
// replica count with it. The rule, as GKE's multidimensional autoscaling: when right-sizing
// applies its recommendations (in-place, recreate) and the horizontal side scales on a
// resource's utilization, right-sizing leaves that resource alone; naming it in
// controlledResources anyway is refused. Pure.
#pragma once

#include "fleetscale/aggregator/rightsizing/rightsizing_policy.h"
#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// Whether `horizontal` scales on `resource` as a Utilization of the request (Resource or
// ContainerResource metrics).
bool scalesOnUtilization(const scaling::WorkloadPolicy& horizontal, scaling::Resource resource);

// The right-sizing policy `vertical` as it runs next to `horizontal`: unchanged when it only
// recommends (a recommendation moves no request) or no metric reads utilization; otherwise
// without the resources the horizontal side reads utilization of. An error (for people) when
// controlledResources names such a resource, or when no resource is left to right-size.
Result<rightsizing::RightsizingPolicy> combineHorizontalVertical(
    const scaling::WorkloadPolicy& horizontal, rightsizing::RightsizingPolicy vertical);

}  // namespace fleetscale::aggregator
