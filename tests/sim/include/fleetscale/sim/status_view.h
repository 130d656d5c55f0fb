// What `fleetscale-sim status` and `make demo` show: per workload, the demand and replicas the
// simulator drives next to the CPU the real agents measured and the aggregator received; per
// cluster, how many nodes report. Pure rendering of three JSON documents.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleetscale/shared/clock.h"

namespace fleetscale::sim {

// An aggregator node's or container's last_seen_unix_ms; 0 while it has none yet (null).
std::int64_t lastSeenUnixMs(const nlohmann::json& item);

// Left-aligned columns, two spaces apart, each line indented by two spaces.
std::string renderTextTable(const std::vector<std::vector<std::string>>& rows);

// `state`: the control API's /v1/state; `nodes` and `containers`: the aggregator's
// /api/v1/nodes and /api/v1/containers (null when there is no aggregator). A sample counts as
// current when the aggregator saw it within `fresh` of `now`.
std::string renderFleetStatus(const nlohmann::json& state, const nlohmann::json& nodes,
                              const nlohmann::json& containers, WallTime now,
                              std::chrono::milliseconds fresh = std::chrono::seconds(5));

// The aggregator's scaling view from its /api/v1/status: each cluster's health and drain, and
// each workload's fleet-wide decision with its placement (target/spec/ready per cluster) and
// reason. "" when `status` has no clusters (no policy, or no aggregator).
std::string renderScalingStatus(const nlohmann::json& status);

}  // namespace fleetscale::sim
