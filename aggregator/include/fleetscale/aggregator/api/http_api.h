// The aggregator's one HTTP port: /healthz, /readyz, /metrics and the JSON API (docs/api.md),
// one file per route group (health_routes, metrics_routes, fleet_routes, history_routes; the
// scaling engine's in scaling_routes).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/api/metrics.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/history.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_server.h"

namespace fleetscale::aggregator {

// The bearer token that mutating endpoints require (--admin-token-file); replaceable at run
// time (SIGHUP reload). Empty = mutating endpoints are disabled. Thread-safe.
class AdminToken {
 public:
  void set(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }
  std::string get() const {
    std::lock_guard lock(mutex_);
    return token_;
  }

 private:
  mutable std::mutex mutex_;
  std::string token_;
};

// The token of an "Authorization: Bearer <token>" header; the scheme matches in any case
// ("bearer", "BEARER"). std::nullopt for another scheme or no token.
std::optional<std::string> bearerToken(std::string_view authorization);

// Wraps a handler so it runs only for requests carrying "Authorization: Bearer <admin token>"
// (compared in constant time): 401 without credentials, 403 with wrong ones or when no admin
// token is configured.
HttpHandler requireAdmin(const AdminToken& token, HttpHandler handler);

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
