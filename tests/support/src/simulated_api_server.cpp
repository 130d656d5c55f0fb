#include "fleetscale/testing/simulated_api_server.h"

#include <stdexcept>

#include "fleetscale/testing/process.h"

namespace fleetscale::testing {

SimulatedApiServer::SimulatedApiServer(sim::Scenario scenario, const Clock& clock) {
  sim::SimulatorOptions options;
  options.stateDir = state_.path();
  options.binDir = binaryPath("");
  options.agents = false;
  options.aggregator = false;
  options.controlApi = false;
  options.durationSeconds = 0;
  simulator_ = std::make_unique<sim::FleetSimulator>(std::move(scenario), options, clock);
}

SimulatedApiServer::~SimulatedApiServer() { stop(); }

Status SimulatedApiServer::start() { return simulator_->start(); }

void SimulatedApiServer::stop() { simulator_->stop(); }

const sim::ClusterEndpoints& SimulatedApiServer::endpoints(const std::string& cluster) const {
  const auto* found = simulator_->findEndpoints(cluster);
  if (found == nullptr) throw std::out_of_range("no simulated cluster " + cluster);
  return *found;
}

}  // namespace fleetscale::testing
