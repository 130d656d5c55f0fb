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

// A scenario running shop/web with right-sizing applied: 16-core nodes, 1 s scheduling and
// readiness delays, 300 ms resizes, agents reading the pod specs every second, a fixed replica
// count on a CPU AverageValue target, only CPU controlled (the memory model's working set is not
// the point). Strings are YAML as the scenario takes it.
struct RightsizingScenario {
  std::string name;
  int seed = 41;
  int nodes = 1;                      // per cluster
  std::vector<std::string> clusters;  // flow maps: "{name: aws-us-east-1, cloud: aws, ...}"
  std::string replicas;               // "3", or per cluster "{aws-us-east-1: 2, ...}"
  std::string cpuRequest = "1";       // and the memory request is 256Mi
  std::string cpuLimit = "2";         // and the memory limit 512Mi
  std::string capacityPerReplica = "400m";
  std::string cpuLoad;  // the workload's demand (cores)
  int fixedReplicas = 0;
  std::string averageValue = "800m";  // the CPU target per replica
  std::string rightsizing;            // the policy's fields: "mode: in-place, fallback: none"
};
inline constexpr const char* kAwsCluster = "{name: aws-us-east-1, cloud: aws, region: us-east-1}";
std::string rightsizingScenario(const RightsizingScenario& scenario);

// shop/web throttled at its 1-core limit under 3 cores of demand per replica, 2 + 2 replicas in
// aws-us-east-1 and gcp-europe-west1 on 2 nodes each: the recommendation comes to about 3.5 cores
// (P90 + 15% of 3). The caller names and seeds it and gives the clusters and the policy.
RightsizingScenario throttledWebScenario();

// The workload's `apply` entry for a cluster in GET /api/v1/recommendations (null before the
// applier's first pass there), and its `result` ("" before one).
nlohmann::json applyIn(const E2eFleet& fleet, const std::string& workload,
                       const std::string& cluster);
std::string resultIn(const E2eFleet& fleet, const std::string& workload,
                     const std::string& cluster);

// The recommended CPU request of the workload's (first) container, in cores; 0 before the first
// recommendation.
double recommendedCpu(const E2eFleet& fleet, const std::string& workload);

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

// The Deployment's status condition of `type` in a cluster, as its API server shows it (null when
// it has none).
nlohmann::json deploymentCondition(E2eFleet& fleet, const std::string& workload,
                                   const std::string& cluster, const std::string& type);

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
