#include "fleetscale/aggregator/policy/horizontal_vertical.h"

#include <algorithm>
#include <string>

namespace fleetscale::aggregator {

bool scalesOnUtilization(const scaling::WorkloadPolicy& horizontal, scaling::Resource resource) {
  return std::any_of(horizontal.metrics.begin(), horizontal.metrics.end(),
                     [resource](const scaling::MetricTarget& metric) {
                       return (metric.source == scaling::MetricSource::kResource ||
                               metric.source == scaling::MetricSource::kContainerResource) &&
                              metric.resource == resource &&
                              metric.type == scaling::TargetType::kUtilization;
                     });
}

Result<rightsizing::RightsizingPolicy> combineHorizontalVertical(
    const scaling::WorkloadPolicy& horizontal, rightsizing::RightsizingPolicy vertical) {
  if (vertical.mode != rightsizing::Mode::kInPlace &&
      vertical.mode != rightsizing::Mode::kRecreate) {
    return vertical;  // off or recommend: no request moves
  }
  const auto release = [&](scaling::Resource resource, bool& controls) -> Status {
    if (!controls || !scalesOnUtilization(horizontal, resource)) return {};
    const std::string name(scaling::resourceName(resource));
    if (vertical.controlledResourcesListed) {
      return Error{"controlledResources names " + name + ", but the workload also scales on " +
                   name +
                   " utilization: each resize would move the request that utilization is a "
                   "percentage of, and the replica count with it. Leave " +
                   name + " out of controlledResources, or give the " + name +
                   " metric an AverageValue target (docs/rightsizing.md, \"Horizontal and "
                   "vertical together\")"};
    }
    controls = false;
    return {};
  };
  if (Status cpu = release(scaling::Resource::kCpu, vertical.controlsCpu); !cpu) {
    return Error{cpu.message()};
  }
  if (Status memory = release(scaling::Resource::kMemory, vertical.controlsMemory); !memory) {
    return Error{memory.message()};
  }
  if (!vertical.controlsCpu && !vertical.controlsMemory) {
    return Error{
        "the workload scales on both cpu and memory utilization, so right-sizing "
        "would have no resource left to apply (docs/rightsizing.md, \"Horizontal and "
        "vertical together\"): use mode recommend, or AverageValue targets"};
  }
  return vertical;
}

}  // namespace fleetscale::aggregator
