// Helpers the simulator's integration tests share: small fleets, HTTPS calls with a cluster's
// CA and tokens, kubectl, and the aggregator's view of the nodes.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/fleet_simulator.h"
#include "fleetscale/sim/status_view.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::sim::testsupport {

inline ClusterSpec cluster(const std::string& name, const std::string& cloud, CgroupDriver driver,
                           int version, int nodes = 1) {
  ClusterSpec spec;
  spec.name = name;
  spec.cloud = cloud;
  spec.region = cloud == "aws" ? "us-east-1" : cloud == "gcp" ? "europe-west1" : "lab";
  spec.nodes = nodes;
  spec.driver = driver;
  spec.cgroupVersion = version;
  spec.schedulingDelaySeconds = 0.5;
  spec.readinessDelaySeconds = 0.5;
  return spec;
}

inline WorkloadSpec workload(const std::string& name, std::map<std::string, int> replicas,
                             double demandCores) {
  WorkloadSpec w;
  w.name = name;
  w.namespaceName = "shop";
  w.replicas = std::move(replicas);
  w.resources = {0.5, 1.0, 128.0 * 1024 * 1024, 512.0 * 1024 * 1024};
  w.cpu = LoadCurve::constant(demandCores);
  w.memory = LoadCurve::constant(300.0 * 1024 * 1024);
  return w;
}

// A fleet in a fresh state directory, without agents or aggregator unless asked.
inline SimulatorOptions options(const std::string& stateDir, bool agents = false,
                                bool aggregator = false) {
  SimulatorOptions o;
  o.stateDir = stateDir;
  o.binDir = testing::binaryPath("");
  o.agents = agents;
  o.aggregator = aggregator;
  o.durationSeconds = 0;
  return o;
}

inline std::string token(const ClusterEndpoints& cluster, const std::string& role) {
  auto text = readSecretFile(cluster.tokenFiles.at(role));
  return text ? *text : "";
}

// A request over HTTPS trusting the cluster's CA; status 0 when the server cannot be reached.
inline HttpClientResponse httpsRequest(const ClusterEndpoints& cluster, const std::string& method,
                                       const std::string& url, const std::string& bearer,
                                       const std::string& body = "",
                                       const std::string& contentType = "") {
  TlsClientOptions tls;
  tls.caFile = cluster.caFile;
  CurlHttpClient client(tls);
  HttpClientRequest request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.connectTimeout = std::chrono::milliseconds(500);
  request.totalTimeout = std::chrono::seconds(3);
  if (!bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
  if (!contentType.empty()) request.headers.emplace_back("Content-Type", contentType);
  auto response = client.send(request);
  return response ? *response : HttpClientResponse{};
}

inline HttpClientResponse httpsGet(const ClusterEndpoints& cluster, const std::string& url,
                                   const std::string& bearer) {
  return httpsRequest(cluster, "GET", url, bearer);
}

inline bool kubectlAvailable() { return ::access("/usr/bin/kubectl", X_OK) == 0; }

// Runs kubectl with its caches in `home`.
inline testing::CommandResult kubectl(const std::string& home, std::vector<std::string> args) {
  args.insert(args.begin(), {"--cache-dir", home + "/.kube/cache"});
  return testing::runCommand("/usr/bin/kubectl", args, std::chrono::seconds(60), {{"HOME", home}});
}

// The aggregator's nodes of one cluster: node name -> last_seen_unix_ms.
inline std::map<std::string, std::int64_t> lastSeen(const FleetSimulator& simulator,
                                                    const std::string& clusterName) {
  std::map<std::string, std::int64_t> seen;
  const auto ports = simulator.aggregatorPorts();
  if (!ports) return seen;
  CurlHttpClient client;
  HttpClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(ports->second) + "/api/v1/nodes";
  auto response = client.send(request);
  if (!response || response->status != 200) return seen;
  const auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (json.is_discarded()) return seen;
  for (const auto& node : json["items"]) {
    if (node.value("cluster", "") != clusterName) continue;
    auto& value = seen[node.value("node", "")];
    value = std::max(value, lastSeenUnixMs(node));
  }
  return seen;
}

// Latest last_seen of any of the cluster's nodes, 0 when the aggregator knows none.
inline std::int64_t newestSeen(const FleetSimulator& simulator, const std::string& clusterName) {
  std::int64_t newest = 0;
  for (const auto& [node, seen] : lastSeen(simulator, clusterName)) newest = std::max(newest, seen);
  return newest;
}

}  // namespace fleetscale::sim::testsupport
