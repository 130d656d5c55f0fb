#include "e2e_fleet.h"

#include <sstream>
#include <thread>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {

using nlohmann::json;

std::string twoCloudScenario(const TwoCloudOptions& options) {
  std::string aggregator;
  for (const auto& [key, value] : {std::pair{"failed-after", options.failedAfter},
                                   std::pair{"healthy-after", options.healthyAfter},
                                   std::pair{"probe-interval", options.probeInterval}}) {
    if (value.empty()) continue;
    aggregator += (aggregator.empty() ? "" : ", ") + std::string(key) + ": " + value;
  }
  if (options.aggregators != 1) {
    aggregator += (aggregator.empty() ? "" : ", ") + std::string("instances: ") +
                  std::to_string(options.aggregators);
  }
  if (options.secureApi) {
    aggregator += (aggregator.empty() ? "" : ", ") + std::string("secure-api: true");
  }
  if (!options.aggregatorArgs.empty()) {
    std::string args;
    for (const auto& arg : options.aggregatorArgs) args += (args.empty() ? "" : ", ") + arg;
    aggregator += (aggregator.empty() ? "" : ", ") + std::string("args: [") + args + "]";
  }
  return "name: " + options.name + R"(
seed: 17
aggregator: {)" +
         aggregator +
         R"(}
defaults:
  nodes: 2
  node-capacity: {cpu: 8, memory: 32Gi}
  scheduling-delay: 1s
  readiness-delay: )" +
         options.readinessDelay + R"(
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, cgroup: {driver: systemd, version: 2}}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1, cgroup: {driver: cgroupfs, version: 1}}
workloads:
  - name: checkout
    namespace: shop
    replicas: {aws-us-east-1: 3, gcp-europe-west1: 3}
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: "1", memory: 512Mi}
    capacity-per-replica: 400m
    load: {cpu: )" +
         options.load + R"(, memory: 1Gi}
    autoscale: {min-replicas: 2, max-replicas: 20, cpu-utilization: 80}
)";
}

E2eFleet::E2eFleet(const std::string& scenarioYaml, const std::string& name)
    : clock_(std::make_unique<SystemClock>()),
      state_(std::make_unique<testing::TempDir>("e2e-" + name)) {
  auto scenario = sim::parseScenario(scenarioYaml);
  if (!scenario) {
    ADD_FAILURE() << "scenario: " << scenario.error().message;
    return;
  }
  sim::SimulatorOptions options;
  options.stateDir = state_->path();
  options.binDir = testing::binaryPath("");
  options.agents = true;
  options.aggregator = true;
  options.durationSeconds = 0;
  simulator_ = std::make_unique<sim::FleetSimulator>(*scenario, options, *clock_);
  if (Status started = simulator_->start(); !started) {
    ADD_FAILURE() << "fleet: " << started.message();
  }
}

E2eFleet::~E2eFleet() {
  if (simulator_) simulator_->stop();
}

std::string E2eFleet::aggregatorUrl(int instance) const {
  const auto ports = simulator_->aggregatorPorts(instance);
  return ports ? simulator_->aggregatorScheme() + "://127.0.0.1:" + std::to_string(ports->second)
               : "";
}

std::optional<sim::WorkloadSample> E2eFleet::latest(const std::string& workload) const {
  const sim::Timeline timeline = simulator_->timeline();
  if (timeline.samples.empty()) return std::nullopt;
  const auto& workloads = timeline.samples.back().workloads;
  const auto found = workloads.find(workload);
  if (found == workloads.end()) return std::nullopt;
  return found->second;
}

int E2eFleet::desired(const std::string& workload, const std::string& cluster) const {
  const auto sample = latest(workload);
  if (!sample || !sample->clusters.count(cluster)) return -1;
  return sample->clusters.at(cluster).desired;
}

int E2eFleet::ready(const std::string& workload, const std::string& cluster) const {
  const auto sample = latest(workload);
  if (!sample || !sample->clusters.count(cluster)) return -1;
  return sample->clusters.at(cluster).ready;
}

json E2eFleet::get(const std::string& path) const {
  if (!simulator_->scenario().aggregator.secureApi) {
    return testing::httpGetJson(aggregatorUrl() + path);
  }
  const json endpoints = simulator_->endpointsJson();
  const auto viewer = readSecretFile(endpoints["aggregator"].value("viewer_token_file", ""));
  const auto response = send("GET", path, viewer ? *viewer : "");
  if (!response || response->status != 200) return nullptr;
  return json::parse(response->body, nullptr, false);
}

// Over HTTPS from the simulator's CA with aggregator.secure-api, else plain HTTP.
Result<HttpClientResponse> E2eFleet::send(const std::string& method, const std::string& path,
                                          const std::string& bearer) const {
  const json endpoints = simulator_->endpointsJson();
  TlsClientOptions tls;
  tls.caFile = endpoints["aggregator"].value("ca_file", "");
  CurlHttpClient client(tls);
  HttpClientRequest request;
  request.method = method;
  request.url = aggregatorUrl() + path;
  if (!bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
  return client.send(request);
}

json E2eFleet::status() const { return get("/api/v1/status"); }

std::string E2eFleet::clusterState(const std::string& cluster) const {
  const json body = status();
  if (!body.is_object()) return "";
  for (const auto& entry : body["clusters"]) {
    if (entry.value("name", "") == cluster) return entry.value("state", "");
  }
  return "";
}

json E2eFleet::workloadStatus(const std::string& workload) const {
  const json body = status();
  if (!body.is_object()) return nullptr;
  for (const auto& entry : body["workloads"]) {
    if (entry.value("namespace", "") + "/" + entry.value("name", "") == workload) return entry;
  }
  return nullptr;
}

long E2eFleet::postAdmin(const std::string& path, std::optional<std::string> bearer) const {
  if (!bearer) {
    const json endpoints = simulator_->endpointsJson();
    auto token = readSecretFile(endpoints["aggregator"].value("admin_token_file", ""));
    bearer = token ? *token : "";
  }
  const auto response = send("POST", path, *bearer);
  return response ? response->status : 0;
}

::testing::AssertionResult E2eFleet::waitUntilSteady(const std::string& workload, int replicas,
                                                     std::chrono::seconds timeout) {
  if (!simulator_) return ::testing::AssertionFailure() << "the fleet did not start";
  json last;
  const bool steady = testing::waitFor(
      [&] {
        last = status();
        if (!last.is_object()) return false;
        for (const auto& cluster : last["clusters"]) {
          if (cluster.value("state", "") != "healthy") return false;
        }
        const json w = workloadStatus(workload);
        if (!w.is_object() || w.value("desiredReplicas", -1) != replicas) return false;
        // Decided on metrics from every cluster (not "waiting for ..."): each cluster's ready
        // pods are seen.
        for (const auto& [cluster, replicasThere] : w["clusters"].items()) {
          if (replicasThere.value("ready", 0) != replicasThere.value("current", -1)) return false;
        }
        return w.value("error", "").empty() && !w.value("decisionId", "").empty();
      },
      timeout, std::chrono::milliseconds(200));
  if (steady) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "not steady within " << timeout.count() << " s; last status: " << last.dump();
}

double E2eFleet::inject(sim::FaultKind kind, const std::string& cluster) {
  sim::FaultSpec fault;
  fault.kind = kind;
  fault.cluster = cluster;
  if (Status applied = simulator_->inject(fault); !applied) {
    ADD_FAILURE() << "fault: " << applied.message();
    return -1;
  }
  const sim::Timeline timeline = simulator_->timeline();
  for (auto it = timeline.faults.rbegin(); it != timeline.faults.rend(); ++it) {
    if (it->kind == kind && it->cluster == cluster) return it->seconds;
  }
  ADD_FAILURE() << "the fault is not in the timeline";
  return -1;
}

double E2eFleet::now() const {
  const sim::Timeline timeline = simulator_->timeline();
  return timeline.samples.empty() ? 0 : timeline.samples.back().seconds;
}

bool holdsFor(const std::function<bool()>& condition, std::chrono::milliseconds duration) {
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    if (!condition()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

std::vector<sim::ScaleAction> actionsSince(const sim::Timeline& timeline,
                                           const std::string& workload, const std::string& cluster,
                                           double from) {
  std::vector<sim::ScaleAction> out;
  for (const auto& action : timeline.actions) {
    if (action.workload == workload && action.cluster == cluster && action.seconds >= from) {
      out.push_back(action);
    }
  }
  return out;
}

std::string describeActions(const sim::Timeline& timeline, const std::string& workload,
                            double from) {
  std::ostringstream out;
  for (const auto& action : timeline.actions) {
    if (action.workload != workload || action.seconds < from) continue;
    out << "t=" << action.seconds << " s: " << action.cluster << " " << action.from << " -> "
        << action.to << "\n";
  }
  return out.str();
}

std::string capacityDips(const sim::Timeline& timeline, const std::string& workload, double from,
                         int need) {
  std::ostringstream out;
  for (const auto& sample : timeline.samples) {
    if (sample.seconds < from) continue;
    const auto found = sample.workloads.find(workload);
    if (found == sample.workloads.end()) continue;
    int ready = 0;
    for (const auto& [cluster, replicas] : found->second.clusters) {
      if (replicas.alive) ready += replicas.ready;
    }
    if (ready < need || found->second.readyCapacityCores + 1e-9 < found->second.demandCores) {
      out << "t=" << sample.seconds << " s: " << ready << " ready (need " << need << "), capacity "
          << found->second.readyCapacityCores << " cores for demand " << found->second.demandCores
          << "\n";
    }
  }
  return out.str();
}

}  // namespace fleetscale::e2e
