// The container list of the Docker Engine API (GET /containers/json), which Podman's
// compatible API answers the same way: the metadata source for VM fleets. Pure function over
// text; fuzzed with the /pods parser.
#pragma once

#include <string_view>

#include "fleetscale/agent/metadata_snapshot.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// The label that names a container's workload on a VM (docker run --label
// fleetscale.io/workload=web).
inline constexpr std::string_view kWorkloadLabel = "fleetscale.io/workload";

// Indexes every listed container by its id: container name (without the leading '/'), image,
// creation time, and the workload from kWorkloadLabel (workload_kind stays empty: a VM container
// has no Kubernetes owner). `runtime` ("docker" or "podman") is recorded as the runtime.
Result<MetadataSnapshot> parseEngineContainerList(std::string_view json, std::string_view runtime);

}  // namespace fleetscale::agent
