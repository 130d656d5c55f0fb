// What the right-sizing end-to-end tests read of one workload ("namespace/name") on the simulated
// fleet: what the aggregator's applier reports and counts, what the agents see of its containers,
// and its pod template and pods as a cluster's API server holds them.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2e_fleet.h"

namespace fleetscale::e2e {

// The workload's `apply` entry for a cluster in GET /api/v1/recommendations (null before the
// applier's first pass there), and its `result` ("" before one).
nlohmann::json applyIn(const E2eFleet& fleet, const std::string& workload,
                       const std::string& cluster);
std::string resultIn(const E2eFleet& fleet, const std::string& workload,
                     const std::string& cluster);

// The agents' latest figures of the workload's containers in a cluster: no pod sandboxes (they
// are not the spec's containers), nothing stale.
std::vector<nlohmann::json> containersIn(const E2eFleet& fleet, const std::string& workload,
                                         const std::string& cluster);

// True when there are exactly `count` containers and each one's CPU request passes `ok`.
bool allRequest(const std::vector<nlohmann::json>& containers,
                const std::function<bool(double)>& ok, std::size_t count);

// fleetscale_rightsizing_applies_total of the workload in a cluster for one mode and result, as
// the aggregator's /metrics shows it (nullopt when the series is absent).
std::optional<double> appliesTotal(const E2eFleet& fleet, const std::string& workload,
                                   const std::string& cluster, const std::string& mode,
                                   const std::string& result);

// The CPU request (cores) of the Deployment's pod template in a cluster, as its API server holds
// it (nullopt when there is none).
std::optional<double> templateCpuRequest(E2eFleet& fleet, const std::string& workload,
                                         const std::string& cluster);

// The workload's pods in a cluster as the API server holds them: name, node ("" while
// unscheduled), ready, its CPU request and the reason of its PodResizePending condition ("" when
// none).
struct ApiPod {
  std::string name;
  std::string node;
  bool ready = false;
  std::optional<double> cpuRequest;
  std::string resizePending;
};
std::vector<ApiPod> podsIn(E2eFleet& fleet, const std::string& workload,
                           const std::string& cluster);
std::string describe(const std::vector<ApiPod>& pods);  // one per line, for failure messages

// The PATCH requests a cluster's API server received whose path (without the query) ends with
// `suffix`: "/namespaces/shop/deployments/web" for pod template writes, "/resize" for in-place
// resizes.
std::vector<sim::WriteRecord> patchesEndingWith(E2eFleet& fleet, const std::string& cluster,
                                                const std::string& suffix);

}  // namespace fleetscale::e2e
