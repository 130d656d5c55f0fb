// The scaling engine's HTTP endpoints on the aggregator's port (docs/api.md):
//   GET  /api/v1/status                     workloads (per cluster desired/current/ready), clusters
//   POST /api/v1/reload                     re-read the policy file
//   POST /api/v1/clusters/{name}/drain      move every workload off a cluster
//   POST /api/v1/clusters/{name}/undrain    let workloads back
// The POSTs need an admin token: ApiAuth (api_auth.h) checks it in front of the router.
#pragma once

#include <functional>
#include <string>

#include "fleetscale/aggregator/api/http_api.h"
#include "fleetscale/aggregator/control/cluster_registry.h"
#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/aggregator/store/store.h"

namespace fleetscale::aggregator {

// Event kind for drain/undrain, so a restarted aggregator resumes a drain from the store.
inline constexpr std::string_view kEventClusterDrain = "cluster_drain";

struct ScalingApiContext {
  ScalingLoop& scaling;
  ClusterRegistry& clusters;
  Store* store;
  const Clock& clock;
  std::function<Status()> reloadPolicy;  // re-reads the policy file and applies it
  // The leader election's state (leadership.h); empty = no election, this aggregator leads.
  std::function<nlohmann::json()> leadership = {};
};

void addScalingRoutes(HttpRouter& router, const ScalingApiContext& context);

// Every route of the aggregator's HTTP port: addApiRoutes' and the scaling engine's. What the
// daemon serves, and what a test walks to see that no route escapes authorization.
void addAggregatorRoutes(HttpRouter& router, const ApiContext& api,
                         const ScalingApiContext& scaling);

// Marks a cluster draining (or not) and records it; false when the cluster is unknown.
bool setDraining(const ScalingApiContext& context, const std::string& cluster, bool draining);

// Re-applies the newest drain/undrain event per cluster from the store (after a restart).
void restoreDrains(ClusterRegistry& clusters, Store& store);

}  // namespace fleetscale::aggregator
