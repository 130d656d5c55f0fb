// The aggregator's credentials as the simulator writes them (aggregator-auth): each kind of
// kubeconfig reaches its cluster as the controller, through the plugin the simulator wrote, and
// exec-expiring tokens rotate with the old ones refused. The fleet runs in process without
// agents, aggregator or control API.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/exec_credential.h"
#include "fleetscale/sim/fleet_simulator.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

constexpr const char* kScenario = R"(
name: aggregator-auth
duration: 0
defaults: {nodes: 1, system-pods: false}
clusters:
  - name: plain
  - name: exec-token
    aggregator-auth: exec-token
  - name: exec-certificate
    aggregator-auth: exec-certificate
  - name: exec-expiring
    aggregator-auth: exec-expiring
    token-lifetime: 2s
)";

// Leases are what the controller may read and the agent may not: a 200 proves the role.
constexpr const char* kLeases = "/apis/coordination.k8s.io/v1/namespaces/fleetscale/leases";
constexpr const char* kExecInfo =
    R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}})";

class FleetSimulatorAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scenario = parseScenario(kScenario);
    ASSERT_TRUE(scenario) << scenario.error().message;
    SimulatorOptions options;
    options.stateDir = state_.path();
    options.agents = false;
    options.aggregator = false;
    options.controlApi = false;
    simulator_ = std::make_unique<FleetSimulator>(*scenario, options, clock_);
    ASSERT_TRUE(simulator_->start());
  }
  void TearDown() override {
    if (simulator_) simulator_->stop();
  }

  const ClusterEndpoints& endpoints(const std::string& cluster) const {
    return *simulator_->findEndpoints(cluster);
  }

  // The `user:` of the aggregator's kubeconfig of a cluster.
  YAML::Node aggregatorUser(const std::string& cluster) const {
    const YAML::Node kubeconfig = YAML::LoadFile(endpoints(cluster).aggregatorKubeconfig);
    return kubeconfig["users"][0]["user"];
  }

  // Runs the kubeconfig's exec plugin as client-go does (the command itself, its args, its env
  // and KUBERNETES_EXEC_INFO, nothing else from this process's environment) and parses what it
  // prints.
  json runExecPlugin(const std::string& cluster) const {
    const YAML::Node exec = aggregatorUser(cluster)["exec"];
    std::vector<std::string> argv = {"-i", "PATH=/usr/bin:/bin",
                                     std::string("KUBERNETES_EXEC_INFO=") + kExecInfo};
    for (const auto& entry : exec["env"]) {
      argv.push_back(entry["name"].as<std::string>() + "=" + entry["value"].as<std::string>());
    }
    argv.push_back(exec["command"].as<std::string>());
    for (const auto& arg : exec["args"]) argv.push_back(arg.as<std::string>());
    const auto run = testing::runCommand("/usr/bin/env", argv, std::chrono::seconds(10));
    EXPECT_EQ(run.status, 0) << run.errors;
    return json::parse(run.output, nullptr, false);
  }

  // GET `path` on a cluster's API server with a bearer token or a client certificate.
  int get(const std::string& cluster, const std::string& path, const std::string& token,
          const std::string& certificatePem = "", const std::string& keyPem = "") const {
    TlsClientOptions tls;
    tls.caFile = endpoints(cluster).caFile;
    tls.clientCertPem = certificatePem;
    tls.clientKeyPem = keyPem;
    CurlHttpClient client(tls);
    HttpClientRequest request;
    request.url = endpoints(cluster).apiUrl + path;
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    auto response = client.send(request);
    return response ? response->status : 0;
  }

  AuthCounters counters(const std::string& cluster) const {
    return simulator_->authCounters(cluster).value_or(AuthCounters{});
  }

  SystemClock clock_;
  testing::TempDir state_{"sim-auth"};
  std::unique_ptr<FleetSimulator> simulator_;
};

TEST_F(FleetSimulatorAuthTest, ATokenClusterKeepsItsTokenInTheKubeconfig) {
  const YAML::Node user = aggregatorUser("plain");
  EXPECT_FALSE(user["exec"]);
  const auto controller = readSecretFile(endpoints("plain").tokenFiles.at("controller"));
  ASSERT_TRUE(controller);
  EXPECT_EQ(user["token"].as<std::string>(), *controller);
  EXPECT_EQ(get("plain", kLeases, *controller), 200);
  EXPECT_EQ(endpoints("plain").execPlugin, "");
  EXPECT_EQ(endpoints("plain").aggregatorAuth, AggregatorAuth::kToken);
  // The admin kubeconfigs carry tokens whatever the aggregator's kind.
  for (const auto& cluster : simulator_->endpoints()) {
    EXPECT_TRUE(YAML::LoadFile(cluster.kubeconfig)["users"][0]["user"]["token"]) << cluster.name;
  }
}

TEST_F(FleetSimulatorAuthTest, ExecKubeconfigsRunTheSimulatorsPlugin) {
  for (const char* cluster : {"exec-token", "exec-certificate", "exec-expiring"}) {
    const YAML::Node user = aggregatorUser(cluster);
    EXPECT_FALSE(user["token"]) << cluster;
    const YAML::Node exec = user["exec"];
    ASSERT_TRUE(exec) << cluster;
    EXPECT_EQ(exec["apiVersion"].as<std::string>(), "client.authentication.k8s.io/v1");
    EXPECT_EQ(exec["command"].as<std::string>(), endpoints(cluster).execPlugin);
    EXPECT_EQ(exec["interactiveMode"].as<std::string>(), "Never");
    EXPECT_TRUE(std::filesystem::path(endpoints(cluster).execPlugin).is_absolute());
    const auto perms = std::filesystem::status(endpoints(cluster).execPlugin).permissions();
    EXPECT_EQ(perms, std::filesystem::perms(0755)) << cluster;
  }
}

TEST_F(FleetSimulatorAuthTest, ExecTokenPrintsTheControllersToken) {
  const json credential = runExecPlugin("exec-token");
  ASSERT_TRUE(credential.is_object());
  EXPECT_EQ(credential["kind"], "ExecCredential");
  EXPECT_FALSE(credential["status"].contains("expirationTimestamp"));
  const std::string token = credential["status"]["token"];
  EXPECT_EQ(get("exec-token", kLeases, token), 200);
}

TEST_F(FleetSimulatorAuthTest, ExecCertificateIsAClientCertificateOfTheController) {
  const json credential = runExecPlugin("exec-certificate");
  ASSERT_TRUE(credential.is_object());
  EXPECT_FALSE(credential["status"].contains("token"));
  const std::string certificate = credential["status"]["clientCertificateData"];
  const std::string key = credential["status"]["clientKeyData"];
  EXPECT_NE(certificate.find("-----BEGIN CERTIFICATE-----\n"), std::string::npos);
  EXPECT_EQ(get("exec-certificate", kLeases, "", certificate, key), 200);
  EXPECT_EQ(get("exec-certificate", kLeases, ""), 401);  // without it
}

TEST_F(FleetSimulatorAuthTest, ExpiringTokensRotateAndTheOldOnesAreRefused) {
  const json first = runExecPlugin("exec-expiring");
  ASSERT_TRUE(first.is_object());
  const std::string firstToken = first["status"]["token"];
  auto firstExpiry = parseRfc3339(first["status"]["expirationTimestamp"].get<std::string>());
  ASSERT_TRUE(firstExpiry);
  EXPECT_GT(*firstExpiry, std::chrono::system_clock::now());
  EXPECT_LE(*firstExpiry, std::chrono::system_clock::now() + std::chrono::seconds(3));
  EXPECT_EQ(counters("exec-expiring").tokenRotations, 0u);

  ASSERT_TRUE(testing::waitFor([&] { return counters("exec-expiring").tokenRotations >= 1; },
                               std::chrono::seconds(15)));
  // Not revoked before the expiry the plugin announced (the simulation's wall time follows the
  // steady clock; the margin covers the two clocks drifting apart).
  EXPECT_GE(std::chrono::system_clock::now() + std::chrono::milliseconds(100), *firstExpiry);
  EXPECT_EQ(get("exec-expiring", kLeases, firstToken), 401);
  EXPECT_GE(counters("exec-expiring").unauthorizedRequests, 1u);
  EXPECT_GE(counters("exec-expiring").revokedTokenRequests, 1u);

  const std::uint64_t rotations = counters("exec-expiring").tokenRotations;
  const json second = runExecPlugin("exec-expiring");
  ASSERT_TRUE(second.is_object());
  const std::string secondToken = second["status"]["token"];
  EXPECT_NE(secondToken, firstToken);
  auto secondExpiry = parseRfc3339(second["status"]["expirationTimestamp"].get<std::string>());
  ASSERT_TRUE(secondExpiry);
  EXPECT_GE(*secondExpiry - *firstExpiry, std::chrono::seconds(2));
  // Valid until its own expiry (unless the machine was slow enough for the next rotation).
  const int status = get("exec-expiring", kLeases, secondToken);
  EXPECT_TRUE(status == 200 || counters("exec-expiring").tokenRotations > rotations) << status;

  // Other clusters' tokens do not rotate; the counts are in the state and the report too.
  EXPECT_EQ(counters("exec-token").tokenRotations, 0u);
  const json state = simulator_->stateJson();
  for (const auto& cluster : state["clusters"]) {
    if (cluster["name"] != "exec-expiring") continue;
    EXPECT_EQ(cluster["auth"]["aggregator_auth"], "exec-expiring");
    EXPECT_GE(cluster["auth"]["token_rotations"].get<int>(), 1);
    EXPECT_GE(cluster["auth"]["unauthorized_requests"].get<int>(), 1);
  }
  EXPECT_GE(
      simulator_->reportJson()["simulator"]["auth"]["exec-expiring"]["token_rotations"].get<int>(),
      1);
}

}  // namespace
}  // namespace fleetscale::sim
