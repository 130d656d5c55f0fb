// The fleet as the agents report it (docs/api.md):
//   GET /api/v1/clusters                     per-cluster totals from the latest snapshot
//   GET /api/v1/nodes                        nodes and their agents (?cluster=)
//   GET /api/v1/workloads                    per-workload rollups (?cluster= ?namespace= ?kind=)
//   GET /api/v1/workloads/{namespace}/{name} one workload: pods and recent 10 s history (?since=)
//   GET /api/v1/containers                   containers (?cluster= ?node= ?namespace= ?workload=)
#pragma once

#include "fleetscale/aggregator/api/http_api.h"

namespace fleetscale::aggregator {

void addFleetRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
