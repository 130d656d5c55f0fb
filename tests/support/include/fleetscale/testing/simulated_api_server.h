// The simulated fleet's HTTPS kube-apiservers in process, for tests of the aggregator's
// Kubernetes clients (the actuator, the Lease backend): fleetscale::sim::FleetSimulator started
// without agents, aggregator or control API, running until stop() or destruction. Each cluster
// comes with its CA, tokens, client certificates and kubeconfigs (sim::ClusterEndpoints).
// Library fleetscale_test_sim_support: only tests that link the simulator use it.
#pragma once

#include <memory>
#include <string>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/sim/fleet_simulator.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::testing {

class SimulatedApiServer {
 public:
  // `clock` is the simulator's and must outlive this object.
  SimulatedApiServer(sim::Scenario scenario, const Clock& clock);
  ~SimulatedApiServer();
  SimulatedApiServer(const SimulatedApiServer&) = delete;
  SimulatedApiServer& operator=(const SimulatedApiServer&) = delete;

  // Starts the API servers (once, from the thread that will stop them).
  Status start();
  void stop();  // idempotent; the destructor calls it

  // The endpoints of a cluster of the scenario; throws std::out_of_range for another name.
  const sim::ClusterEndpoints& endpoints(const std::string& cluster) const;
  // Faults, the write log and the model of the simulated clusters.
  sim::FleetSimulator& simulator() { return *simulator_; }
  // The simulator's state directory (cluster files in <dir>/<cluster>/), removed at destruction;
  // tests may keep their own files there.
  const TempDir& stateDir() const { return state_; }

 private:
  TempDir state_{"simulated-api"};
  std::unique_ptr<sim::FleetSimulator> simulator_;
};

}  // namespace fleetscale::testing
