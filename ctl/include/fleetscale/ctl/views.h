// fleetscalectl's human views of the scaling API: `status` (GET /api/v1/status), `explain`
// (the latest stored decision of one workload) and `recommend` (GET /api/v1/recommendations).
// Pure: JSON in, text out.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace fleetscale::ctl {

// Clusters with health and drain flag, workloads with fleet-wide and per-cluster desired,
// current and ready replicas, and the progress of every drain.
std::string statusView(const nlohmann::json& status);

// One decision record (an item of GET /api/v1/decisions): the inputs per cluster, each metric's
// proposal, every rule that changed the count, and the placement it produced.
std::string explainView(const nlohmann::json& decision);

// Right-sizing recommendations: per container its current request and limit next to the
// recommended ones, the confidence and the mode; then each container's reason, and what the
// recommendations would give back (or need) across the fleet.
std::string recommendView(const nlohmann::json& recommendations);
// The same, a line per container, for `explain`; "" when there is none.
std::string recommendationSummary(const nlohmann::json& recommendations);

}  // namespace fleetscale::ctl
