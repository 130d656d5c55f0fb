// The simulator's own control API, plain HTTP on 127.0.0.1, for scripts and tests that run
// fleetscale-sim as a process:
//   GET  /healthz
//   GET  /v1/state      clusters (up/down), nodes, pods, workloads (demand, replicas)
//   GET  /v1/endpoints  what ready.json holds (API URLs, kubeconfigs, tokens, kubelets, ...)
//   GET  /v1/report     the measurements so far (JSON)
//   POST /v1/faults     a fault, same keys as a scenario's `faults` entry (JSON or YAML)
//   POST /v1/finish     ends the scenario now (fleetscale-sim run then stops and reports)
#pragma once

#include "fleetscale/shared/http_server.h"

namespace fleetscale::sim {

class FleetSimulator;

HttpHandler makeControlHandler(FleetSimulator& simulator);

}  // namespace fleetscale::sim
