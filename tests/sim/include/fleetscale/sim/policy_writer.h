// The aggregator's policy file for a scenario (docs/configuration.md): every cluster reached
// through the kubeconfig the simulator writes for the aggregator's identity, and every workload
// with `autoscale` as a workload with its replica bounds, utilization targets, placement weights
// and optional HPA behavior. Pure: scenario and paths in, YAML text out.
#pragma once

#include <string>
#include <vector>

#include "fleetscale/sim/scenario.h"

namespace fleetscale::sim {

struct PolicyCluster {
  std::string name;
  std::string kubeconfig;  // a kubeconfig with an identity that may scale (the controller role)
  std::string context;
};

std::string aggregatorPolicyYaml(const Scenario& scenario,
                                 const std::vector<PolicyCluster>& clusters);

}  // namespace fleetscale::sim
