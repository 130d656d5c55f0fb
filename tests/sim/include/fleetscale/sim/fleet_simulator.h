// The simulated fleet, running: for each cluster a fake kube-apiserver, a fake kubelet per node
// and a cgroup tree per node; one real fleetscale-agent per node (through per-cluster relays
// that can be cut) and optionally the real fleetscale-aggregator; a clock loop that advances the
// model, rewrites the cgroup counters, applies the fault timeline and records the measurements.
// With aggregator.instances > 1, several aggregators, every agent streaming to all of them.
// Usable in-process from GoogleTest and behind `fleetscale-sim run`. docs/simulator.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"
#include "fleetscale/sim/measurements.h"
#include "fleetscale/sim/scenario.h"
#include "fleetscale/sim/shared_fleet.h"

namespace fleetscale::sim {

struct SimulatorOptions {
  std::string stateDir;  // "" = a new directory under $TMPDIR, removed by stop()
  std::string binDir;    // where fleetscale-agent and -aggregator are; "" = next to this program
  // Where the node trees (the agents' --host-root) go; "" = the state directory when it is on
  // tmpfs, else a temporary directory in /dev/shm (removed by stop()), else the state directory.
  std::string treesDir;
  std::optional<bool> agents;      // overrides the scenario's agents.enabled
  std::optional<bool> aggregator;  // overrides the scenario's aggregator.enabled
  // HOST:PORT[,HOST:PORT...] the agents stream to; then none is started.
  std::string externalAggregator;
  std::optional<double> durationSeconds;  // overrides the scenario; 0 = until stop()
  bool controlApi = true;  // plain HTTP on 127.0.0.1 (GET /v1/state, POST /v1/faults, ...)
  std::string childLogLevel = "info";
  int ioThreads = 2;
  // Scale the autoscaled workloads with the HPA-like baseline (hpa_baseline.h) instead of the
  // aggregator, which then only observes: the comparison docs/benchmarks.md records.
  bool hpaBaseline = false;
};

struct NodeEndpoints {
  std::string name;
  std::string zone;
  std::string kubeletUrl;
  std::string hostRoot;  // what the node's agent gets as --host-root (under the trees directory)
  std::string agentLog;
};

struct ClusterEndpoints {
  std::string name;
  std::string cloud;
  std::string region;
  std::string apiUrl;
  std::string kubeconfig;  // admin credentials
  // The aggregator's credentials (the controller role: read, and scale Deployments and
  // StatefulSets); its policy names this file. A token, or an exec plugin (aggregatorAuth).
  std::string aggregatorKubeconfig;
  AggregatorAuth aggregatorAuth = AggregatorAuth::kToken;
  // With an exec aggregatorAuth: the plugin script the kubeconfig runs (clusters/<c>/exec/
  // credential-plugin.sh) and the ExecCredential JSON it prints (clusters/<c>/exec/
  // credential.json, rewritten on every rotation); "" with a token.
  std::string execPlugin;
  std::string execCredentialFile;
  std::string caFile;  // the cluster CA: API server and kubelet certificates chain to it
  std::map<std::string, std::string> tokenFiles;  // "admin", "controller", "agent", "none"
  // Client certificates (PEM, signed by the cluster CA, CN = the role's user) and their keys,
  // by the same roles: the API server accepts them instead of a token.
  std::map<std::string, std::string> clientCertificateFiles;
  std::map<std::string, std::string> clientKeyFiles;
  std::string writeLog;  // JSON lines, one per mutating request
  // The relays the cluster's agents stream through, one per aggregator instance (or external
  // address), in instance order; cut together by partition-agents and kill-cluster.
  std::vector<std::uint16_t> relayPorts;
  std::uint16_t relayPort = 0;  // relayPorts[0]
  std::vector<NodeEndpoints> nodes;
};

// How a cluster's API server has treated credentials so far: what a test of the aggregator's exec
// credential plugins checks (scaling went on while tokens rotated).
struct AuthCounters {
  std::uint64_t unauthorizedRequests = 0;  // answered 401, whoever asked
  std::uint64_t revokedTokenRequests = 0;  // of those, with a token that had rotated out
  std::uint64_t tokenRotations = 0;        // aggregator-auth exec-expiring: tokens replaced
};

// Thread-safe unless noted.
class FleetSimulator {
 public:
  FleetSimulator(Scenario scenario, SimulatorOptions options, const Clock& clock);
  ~FleetSimulator();
  FleetSimulator(const FleetSimulator&) = delete;
  FleetSimulator& operator=(const FleetSimulator&) = delete;

  // Creates the state directory, certificates, tokens and kubeconfigs, the trees, the servers,
  // the aggregator and agents, then starts the clock. Call once, from a thread that lives until
  // stop() (children are bound to it).
  Status start();
  // Stops agents, aggregator and servers, writes report.json and report.txt to the state
  // directory (when it is kept) and removes a temporary state directory. Idempotent.
  void stop();

  // True once the scenario's duration has passed (never with duration 0) or requestFinish().
  bool finished() const { return finished_; }
  bool waitUntilFinished(std::chrono::milliseconds timeout);
  void requestFinish();

  // --- the aggregators this simulator started (aggregator.instances; instance 0 first) -------
  // Instance i runs with --aggregator-id aggregator-<i>; the methods below take i.
  int aggregatorCount() const;
  // SIGKILL: no cleanup, no goodbye to the agents or the API servers. Returns once it is dead.
  Status killAggregator(int instance);
  // Starts a stopped or killed instance again on the same ports, with the same state directory
  // and arguments; returns once it serves (its ready file is written).
  Status startAggregator(int instance);
  // Stops instance 0 (SIGTERM) and starts it again, as startAggregator(0) does.
  Status restartAggregator();

  // Applies a fault now (its `at` is ignored; `for` still ends it).
  Status inject(const FaultSpec& fault);

  Timeline timeline() const;
  Report report() const;
  nlohmann::json reportJson() const;
  nlohmann::json stateJson();  // per cluster: up/down flags, nodes, workloads, pods
  nlohmann::json endpointsJson() const;
  const std::vector<ClusterEndpoints>& endpoints() const { return endpoints_; }
  const ClusterEndpoints* findEndpoints(const std::string& cluster) const;
  // {ingest port, HTTP port} of an aggregator instance this simulator started (default: 0).
  std::optional<std::pair<std::uint16_t, std::uint16_t>> aggregatorPorts(int instance = 0) const;
  // How to reach the aggregators' HTTP API: "https" with aggregator.secure-api (then
  // endpointsJson()'s "ca_file" verifies it and "viewer_token_file" reads it), else "http".
  std::string aggregatorScheme() const { return scenario_.aggregator.secureApi ? "https" : "http"; }
  std::uint16_t controlPort() const;
  // The port every pod's metrics endpoint answers on (http://<podIP>:<port>/metrics, pod_metrics.h;
  // also "pod_metrics_port" in endpointsJson() and ready.json); 0 when no workload has
  // requests-per-core.
  std::uint16_t podMetricsPort() const;
  const std::string& stateDir() const { return stateDir_; }
  const Scenario& scenario() const { return scenario_; }
  SharedFleet& fleet() { return *fleet_; }
  // The write log of one cluster's API server (nullptr for an unknown cluster).
  WriteLog* writes(const std::string& cluster);
  // The 401s of one cluster's API server and its token rotations (nullopt for an unknown
  // cluster). Also per cluster as "auth" in stateJson() (GET /v1/state) and in reportJson()'s
  // "simulator" section.
  std::optional<AuthCounters> authCounters(const std::string& cluster) const;
  // Whether the agents were given the kubelet flags (the agent binary has --kubelet-url).
  bool agentsReadKubelet() const { return agentsReadKubelet_; }
  // The cost of running the fleet so far: CPU seconds of this process and of its children.
  nlohmann::json costJson();

  struct Impl;

 private:
  void loop();
  void tick();
  nlohmann::json authJson(const std::string& cluster) const;
  void baselineLoop();
  void applyFault(const FaultSpec& fault, bool ending, SimTime now);
  // Writes the admin token and, for autoscaled scenarios, the policy; builds each instance's
  // arguments.
  Status prepareAggregators(const std::string& binDir);
  Status prepareSecureApi(const std::string& dir, const std::string& adminToken);
  Status launchAggregator(int instance, const std::string& listen, const std::string& httpListen);
  Status checkAggregatorIndex(int instance) const;
  Status stopAggregator(int instance, int signal);

  Scenario scenario_;
  SimulatorOptions options_;
  const Clock& clock_;
  std::unique_ptr<SharedFleet> fleet_;
  std::unique_ptr<Impl> impl_;
  std::string stateDir_;
  std::string treesDir_;
  bool temporaryTreesDir_ = false;
  bool temporaryStateDir_ = false;
  std::vector<ClusterEndpoints> endpoints_;
  bool agentsReadKubelet_ = false;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> stopped_{false};
  std::thread loopThread_;
  std::thread baselineThread_;
};

}  // namespace fleetscale::sim
