// The aggregator's one HTTP port: /healthz, /readyz, /metrics and the JSON API (docs/api.md),
// one file per route group (health_routes, metrics_routes, fleet_routes, history_routes; the
// scaling engine's in scaling_routes). Who may call them is api_auth's: the server puts
// ApiAuth::wrap in front of the router.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "fleetscale/aggregator/api/metrics.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/history.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_server.h"

namespace fleetscale::aggregator {

struct ApiContext {
  const FleetState& fleet;
  const SnapshotHolder& snapshots;
  const AggregatorMetrics& metrics;
  Store* store;  // null: decisions and events answer 503
  const WorkloadHistory& history;
  const Clock& clock;
  const std::atomic<bool>& ready;  // true once every listener is up and until shutdown starts
  // The leader election's state (leadership.h) for /readyz; may be empty.
  std::function<nlohmann::json()> leadership = {};
};

// Registers every route but the scaling engine's on `router`; `context` must outlive it.
// Handlers are thread-safe.
void addApiRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
