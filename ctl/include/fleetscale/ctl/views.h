// fleetscalectl's human views of the scaling API: `status` (GET /api/v1/status) and `explain`
// (the latest stored decision of one workload). Pure: JSON in, text out.
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

}  // namespace fleetscale::ctl
