// The aggregator's one HTTP port: /healthz, /readyz, /metrics and the JSON API (docs/api.md).
#pragma once

#include <atomic>

#include "fleetscale/aggregator/aggregator_metrics.h"
#include "fleetscale/aggregator/fleet_state.h"
#include "fleetscale/shared/http_server.h"

namespace fleetscale::aggregator {

struct ApiContext {
  const FleetState& fleet;
  const AggregatorMetrics& metrics;
  const std::atomic<bool>& ready;  // true once every listener is up and until shutdown starts
};

// Registers every route on `router`. Handlers are thread-safe.
void addApiRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
