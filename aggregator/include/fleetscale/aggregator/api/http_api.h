// The aggregator's one HTTP port: /healthz, /readyz, /metrics and the JSON API (docs/api.md).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "fleetscale/aggregator/api/metrics.h"
#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/history.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_server.h"
#include "fleetscale/shared/result.h"

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

// Wraps a handler so it runs only for requests carrying "Authorization: Bearer <admin token>"
// (compared in constant time): 401 without credentials, 403 with wrong ones or when no admin
// token is configured.
HttpHandler requireAdmin(const AdminToken& token, HttpHandler handler);

// `since` as a duration back from `now` ("15m"), an RFC 3339 time ("2026-01-02T03:04:05Z") or
// Unix milliseconds. Returns Unix milliseconds.
Result<std::int64_t> parseSince(std::string_view text, WallTime now);

struct ApiContext {
  const FleetState& fleet;
  const SnapshotHolder& snapshots;
  const AggregatorMetrics& metrics;
  Store* store;  // null: decisions and events answer 503
  const WorkloadHistory& history;
  const Clock& clock;
  const std::atomic<bool>& ready;  // true once every listener is up and until shutdown starts
  // More series for /metrics (the scaling engine's); may be empty.
  std::function<std::vector<prometheus::MetricFamily>()> extraMetrics = {};
  // The leader election's state (leadership.h) for /readyz; may be empty.
  std::function<nlohmann::json()> leadership = {};
};

// Registers every route on `router`. Handlers are thread-safe.
void addApiRoutes(HttpRouter& router, const ApiContext& context);

}  // namespace fleetscale::aggregator
