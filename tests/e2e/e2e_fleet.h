// End to end on the simulated fleet: a FleetSimulator running a scenario given as YAML, with the
// real agents and the real aggregator acting on the policy the simulator writes for it; plus
// what the tests ask of both sides (the clusters' spec and ready replicas, the aggregator's
// status, decisions and events, its admin API).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_client.h"
#include "fleetscale/sim/fleet_simulator.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::e2e {

inline constexpr const char* kAws = "aws-us-east-1";
inline constexpr const char* kGcp = "gcp-europe-west1";

// Two clusters in two clouds running shop/checkout with 3 replicas each (500m CPU request, 1 core
// limit) under a constant 2.2 cores: at an 80% CPU target the HPA formula asks for
// ceil(2.2 / (0.5 x 0.8)) = 6, so the fleet starts steady. A replica counts for the 400m it
// serves at the target, so 6 ready replicas cover the demand and 5 do not (the measurements'
// ready capacity). Empty thresholds keep the aggregator's defaults.
struct TwoCloudOptions {
  std::string name = "two-clouds-e2e";
  std::string failedAfter;
  std::string healthyAfter = "4s";
  std::string probeInterval;
  std::string readinessDelay = "2s";
  int aggregators = 1;                      // aggregator.instances
  std::vector<std::string> aggregatorArgs;  // aggregator.args (leader election flags)
  std::string load = "2200m";               // the checkout's CPU load (a curve in YAML flow form)
  bool secureApi = false;  // aggregator.secure-api: HTTPS and tokens, no anonymous reads
};
inline constexpr const char* kCheckout = "shop/checkout";
inline constexpr int kCheckoutNeed = 6;
std::string twoCloudScenario(const TwoCloudOptions& options);

class E2eFleet {
 public:
  // Parses the scenario and starts the fleet (agents and aggregator on), until stop().
  E2eFleet(const std::string& scenarioYaml, const std::string& name);
  ~E2eFleet();

  sim::FleetSimulator& simulator() { return *simulator_; }
  std::string aggregatorUrl(int instance = 0) const;

  // The latest timeline sample of a workload ("namespace/name"), or nullopt before the first.
  std::optional<sim::WorkloadSample> latest(const std::string& workload) const;
  // spec.replicas and ready replicas of a workload in a cluster, from the latest sample (-1
  // before the first sample).
  int desired(const std::string& workload, const std::string& cluster) const;
  int ready(const std::string& workload, const std::string& cluster) const;

  // GET /api/v1/status; the health state of a cluster ("healthy", "suspect", ...; "" when the
  // aggregator does not answer); the status of one workload (null when absent).
  nlohmann::json status() const;
  std::string clusterState(const std::string& cluster) const;
  nlohmann::json workloadStatus(const std::string& workload) const;
  // GET <path> on the aggregator as JSON (null on failure).
  nlohmann::json get(const std::string& path) const;
  // POST <path> with the admin token (or another bearer); returns the HTTP status.
  long postAdmin(const std::string& path, std::optional<std::string> bearer = std::nullopt) const;
  // One request to aggregator 0, over HTTPS with the simulator's CA under aggregator.secure-api.
  Result<HttpClientResponse> send(const std::string& method, const std::string& path,
                                  const std::string& bearer) const;

  // Waits until the aggregator has decided the workload at least once with both agents' data
  // and every cluster healthy, so a test starts from a steady fleet.
  ::testing::AssertionResult waitUntilSteady(const std::string& workload, int replicas,
                                             std::chrono::seconds timeout);

  // Applies a fault now and returns the simulator time it was recorded at.
  double inject(sim::FaultKind kind, const std::string& cluster);
  double now() const;  // simulator seconds of the latest sample

 private:
  std::unique_ptr<SystemClock> clock_;
  std::unique_ptr<testing::TempDir> state_;
  std::unique_ptr<sim::FleetSimulator> simulator_;
};

// True when `condition` holds at every check for `duration` (checked every 100 ms): for
// properties that must stay true over a period, not for waiting.
bool holdsFor(const std::function<bool()>& condition, std::chrono::milliseconds duration);

// Scale actions (replica changes at an API server) of a workload in a cluster at or after `from`
// (simulator seconds).
std::vector<sim::ScaleAction> actionsSince(const sim::Timeline& timeline,
                                           const std::string& workload, const std::string& cluster,
                                           double from);

// The scale actions of a workload at or after `from`, one per line, for failure messages.
std::string describeActions(const sim::Timeline& timeline, const std::string& workload,
                            double from);

// Samples at or after `from` in which the ready replicas of live clusters sum to less than
// `need`, or the ready capacity is below the demand; described one per line ("" when none).
std::string capacityDips(const sim::Timeline& timeline, const std::string& workload, double from,
                         int need);

}  // namespace fleetscale::e2e
