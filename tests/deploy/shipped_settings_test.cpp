// Issue 16's acceptance with the settings users install: the hub overlay's aggregator ConfigMap
// and a member overlay's agent ConfigMap, rendered by kubectl, are the environment of the real
// binaries; certificates and tokens come from scripts/fleetscale-ca, as install-kubernetes.md
// makes them. Only what a pod gets from elsewhere is replaced: file paths move under a temporary
// directory (the Secrets' mounts), listen addresses become loopback ports, the agent reads a
// cgroup tree instead of the host's and no kubelet. Then every connection is TLS, a plaintext
// agent and an agent claiming another cluster are refused, and every non-health endpoint
// answers 401 without a token.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using Env = std::map<std::string, std::string>;

const std::string kSource = FLEETSCALE_SOURCE_DIR;
const std::string kCluster = "aws-us-east-1";   // the eks member overlay's cluster
const std::string kOther = "gcp-europe-west1";  // another cluster of the fleet

// The program's path on PATH, or "" when it is not installed.
std::string program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  }
  return "";
}

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The data of the ConfigMap `name` in `overlay`, as kubectl kustomize renders it.
Env configMapOf(const std::string& overlay, const std::string& name) {
  const auto rendered = testing::runCommand(program("kubectl"),
                                            {"kustomize", kSource + "/deploy/overlays/" + overlay});
  EXPECT_EQ(rendered.status, 0) << rendered.errors;
  Env data;
  for (const auto& document : YAML::LoadAll(rendered.output)) {
    if (document["kind"].as<std::string>("") != "ConfigMap" ||
        document["metadata"]["name"].as<std::string>("") != name) {
      continue;
    }
    for (const auto& entry : document["data"]) {
      data[entry.first.as<std::string>()] = entry.second.as<std::string>();
    }
  }
  EXPECT_FALSE(data.empty()) << "no ConfigMap " << name << " in " << overlay;
  return data;
}

// Absolute paths move under `root`, the way the pod's volumes would place them.
Env underRoot(Env env, const std::string& root) {
  for (auto& [name, value] : env) {
    if (!value.empty() && value[0] == '/') value = root + value;
  }
  return env;
}

void writeFileAt(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << content;
}

// curl, as a user or Prometheus would: the HTTP status, or 0 when no HTTP answer came.
int curlStatus(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"};
  all.insert(all.end(), args.begin(), args.end());
  const auto result = testing::runCommand(program("curl"), all, seconds(10));
  try {
    return std::stoi(result.output);
  } catch (const std::exception&) {
    return 0;
  }
}

// The API's endpoints as docs/api.md documents them: "### `GET /api/v1/x?...`" headings, path
// parameters filled in.
std::vector<std::pair<std::string, std::string>> documentedEndpoints() {
  std::vector<std::pair<std::string, std::string>> out;
  const std::regex endpoint("`(GET|POST|PUT|DELETE) (/[^`?]*)");
  std::istringstream doc(readAll(kSource + "/docs/api.md"));
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("### ", 0) != 0) continue;
    for (std::sregex_iterator it(line.begin(), line.end(), endpoint), end; it != end; ++it) {
      out.emplace_back((*it)[1],
                       std::regex_replace((*it)[2].str(), std::regex("\\{[^}]*\\}"), "x"));
    }
  }
  return out;
}

class ShippedSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"kubectl", "openssl", "curl"}) {
      if (program(tool).empty()) {
        GTEST_SKIP() << tool << " is not installed (scripts/install-deps.sh)";
      }
    }
    // The fleet's PKI, as docs/install-kubernetes.md makes it.
    const std::string ca = kSource + "/scripts/fleetscale-ca";
    for (const std::vector<std::string>& step :
         {std::vector<std::string>{"init"},
          {"aggregator", "--dns", "fleetscale-ingest.fleet.example.internal"},
          {"token", kCluster},
          {"token", kOther},
          {"api-token", "grafana", "--role", "viewer"},
          {"api-token", "ops", "--role", "admin"}}) {
      std::vector<std::string> args = {"--dir", pki()};
      args.insert(args.end(), step.begin(), step.end());
      const auto made = testing::runCommand(ca, args);
      ASSERT_EQ(made.status, 0) << made.output << made.errors;
    }
    startAggregator();
  }

  std::string pki() const { return dir_.file("pki"); }
  std::string root() const { return dir_.file("root"); }

  void startAggregator() {
    Env env = underRoot(configMapOf("eks/hub", "fleetscale-aggregator"), root());
    // The Secrets' files where the ConfigMap says they are mounted.
    for (const char* name : {"FLEETSCALE_TLS_CERT_FILE", "FLEETSCALE_HTTP_TLS_CERT_FILE"}) {
      ASSERT_TRUE(env.count(name)) << name;
      writeFileAt(env[name], readAll(pki() + "/aggregator.crt"));
    }
    for (const char* name : {"FLEETSCALE_TLS_KEY_FILE", "FLEETSCALE_HTTP_TLS_KEY_FILE"}) {
      ASSERT_TRUE(env.count(name)) << name;
      writeFileAt(env[name], readAll(pki() + "/aggregator.key"));
    }
    ASSERT_TRUE(env.count("FLEETSCALE_AGENT_TOKENS_DIR"));
    for (const auto& cluster : {kCluster, kOther}) {
      writeFileAt(env["FLEETSCALE_AGENT_TOKENS_DIR"] + "/" + cluster,
                  readAll(pki() + "/tokens/" + cluster));
    }
    ASSERT_TRUE(env.count("FLEETSCALE_API_TOKENS_FILE"));
    writeFileAt(env["FLEETSCALE_API_TOKENS_FILE"], readAll(pki() + "/api-tokens.csv"));
    ASSERT_TRUE(env.count("FLEETSCALE_POLICY"));
    writeFileAt(env["FLEETSCALE_POLICY"],
                "clusters:\n"
                "  - {name: " +
                    kCluster +
                    ", cloud: aws, server: https://127.0.0.1:1}\n"
                    "  - {name: " +
                    kOther +
                    ", cloud: gcp, server: https://127.0.0.1:1}\n"
                    "workloads: []\n");
    fs::create_directories(env["FLEETSCALE_STATE_DIR"]);
    for (const char* listen :
         {"FLEETSCALE_LISTEN", "FLEETSCALE_HTTP_LISTEN", "FLEETSCALE_METRICS_LISTEN"}) {
      ASSERT_TRUE(env.count(listen)) << listen;
      env[listen] = "127.0.0.1:0";
    }
    aggregator_.emplace(testing::binaryPath("fleetscale-aggregator"),
                        std::vector<std::string>{"--ready-file", dir_.file("ready.json")}, env);
    ASSERT_TRUE(testing::waitFor(
        [&] {
          const auto ready =
              nlohmann::json::parse(readAll(dir_.file("ready.json")), nullptr, false);
          if (!ready.is_object() || !ready.contains("metrics_port")) return false;
          ingestPort_ = ready["ingest_port"].get<int>();
          httpPort_ = ready["http_port"].get<int>();
          metricsPort_ = ready["metrics_port"].get<int>();
          return true;
        },
        seconds(20)))
        << aggregator_->errors();
  }

  // An agent with the member overlay's settings, as node `node` of `cluster` holding the token
  // file of `tokenOf`; `overrides` change what the test is about ("" removes a setting).
  testing::Process& startAgent(const std::string& node, const std::string& cluster,
                               const std::string& tokenOf, const Env& overrides = {}) {
    const std::string nodeRoot = root() + "/" + node;
    Env env = underRoot(configMapOf("eks/member", "fleetscale-agent"), nodeRoot);
    EXPECT_EQ(env["FLEETSCALE_CLUSTER"], kCluster) << "the eks member overlay's cluster";
    writeFileAt(env["FLEETSCALE_TLS_CA_FILE"], readAll(pki() + "/ca.crt"));
    writeFileAt(env["FLEETSCALE_TOKEN_FILE"], readAll(pki() + "/tokens/" + tokenOf));
    fs::create_directories(fs::path(env["FLEETSCALE_SPOOL_PATH"]).parent_path());
    // What the DaemonSet adds (the node name) and what a test host has instead of a node.
    env["FLEETSCALE_NODE"] = node;
    env["FLEETSCALE_CLUSTER"] = cluster;
    env["FLEETSCALE_AGGREGATOR"] = "127.0.0.1:" + std::to_string(ingestPort_);
    env["FLEETSCALE_METRICS_LISTEN"] = "127.0.0.1:0";
    env["FLEETSCALE_METADATA"] = "none";
    env.erase("FLEETSCALE_HOST_ROOT");
    for (const auto& [name, value] : overrides) {
      if (value.empty()) {
        env.erase(name);
      } else {
        env[name] = value;
      }
    }
    testing::writeV2Container(nodeRoot + "/cgroup",
                              "/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555."
                              "slice/cri-containerd-" +
                                  std::string(64, 'a') + ".scope",
                              {1'000'000'000, 300u << 20, 100u << 20, 150u << 20});
    agents_.push_back(std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-agent"),
        std::vector<std::string>{"--cgroup-root", nodeRoot + "/cgroup", "--mountinfo", "/dev/null",
                                 "--interval", "200ms"},
        env));
    return *agents_.back();
  }

  std::string api(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(httpPort_) + path;
  }
  // GET on the API over HTTPS with the fleet's CA and the viewer token.
  nlohmann::json viewerGet(const std::string& path) const {
    const auto result = testing::runCommand(
        program("curl"),
        {"-sf", "--max-time", "5", "--cacert", pki() + "/ca.crt", "-H",
         "Authorization: Bearer " + readAll(pki() + "/api-tokens/grafana"), api(path)});
    lastCurl_ = std::to_string(result.status) + " " + result.output + " " + result.errors;
    return nlohmann::json::parse(result.output, nullptr, false);
  }
  std::set<std::string> nodesSeen() const {
    std::set<std::string> nodes;
    const auto body = viewerGet("/api/v1/nodes");
    if (!body.is_object()) return nodes;
    for (const auto& n : body.value("items", nlohmann::json::array())) {
      nodes.insert(n.value("cluster", "") + "/" + n.value("node", ""));
    }
    return nodes;
  }
  // A counter of the open metrics listener (0 when absent).
  double metric(const std::string& series) const {
    const auto result = testing::runCommand(
        program("curl"),
        {"-s", "--max-time", "5", "http://127.0.0.1:" + std::to_string(metricsPort_) + "/metrics"});
    std::istringstream lines(result.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return 0;
  }

  testing::TempDir dir_;
  std::optional<testing::Process> aggregator_;
  std::vector<std::unique_ptr<testing::Process>> agents_;
  int ingestPort_ = 0, httpPort_ = 0, metricsPort_ = 0;
  mutable std::string lastCurl_;
};

TEST_F(ShippedSettingsTest, AgentsStreamOverTlsAsTheirOwnClusterOnly) {
  startAgent("node-a", kCluster, kCluster);
  ASSERT_TRUE(
      testing::waitFor([&] { return nodesSeen().count(kCluster + "/node-a") > 0; }, seconds(30)))
      << "nodes: " << viewerGet("/api/v1/nodes").dump() << " " << lastCurl_ << "\n"
      << aggregator_->errors() << agents_.back()->errors();

  // The same cluster's token, but claiming another cluster: refused, counted, never folded.
  const std::string wrongCluster = "fleetscale_ingest_disconnects_total{reason=\"wrong_cluster\"}";
  startAgent("node-b", kOther, kCluster);
  ASSERT_TRUE(testing::waitFor([&] { return metric(wrongCluster) >= 1; }, seconds(30)))
      << aggregator_->errors();

  // Plaintext to the TLS stream: the handshake fails, nothing is folded.
  const double handshakes = metric("fleetscale_ingest_disconnects_total{reason=\"tls_handshake\"}");
  // (A CA file alone turns TLS on in the agent: both go.)
  startAgent("node-c", kCluster, kCluster,
             {{"FLEETSCALE_TLS", "false"}, {"FLEETSCALE_TLS_CA_FILE", ""}});
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return metric("fleetscale_ingest_disconnects_total{reason=\"tls_handshake\"}") > handshakes;
      },
      seconds(30)))
      << aggregator_->errors() << agents_.back()->errors();

  const auto nodes = nodesSeen();
  EXPECT_EQ(nodes.count(kOther + "/node-b"), 0u);
  EXPECT_EQ(nodes.count(kCluster + "/node-c"), 0u);
  EXPECT_EQ(nodes.count(kCluster + "/node-a"), 1u) << "the right agent stays connected";
}

TEST_F(ShippedSettingsTest, EveryNonHealthEndpointNeedsAToken) {
  const auto endpoints = documentedEndpoints();
  ASSERT_GE(endpoints.size(), 10u) << "docs/api.md's endpoint headings";
  const std::string ca = pki() + "/ca.crt";
  for (const auto& [method, path] : endpoints) {
    const bool health = path == "/healthz" || path == "/readyz";
    EXPECT_EQ(curlStatus({"--cacert", ca, "-X", method, api(path)}), health ? 200 : 401)
        << method << " " << path;
  }
  for (const char* path : {"/metrics", "/api/v1/no-such-thing", "/"}) {
    EXPECT_EQ(curlStatus({"--cacert", ca, api(path)}), 401) << path;
  }
  // A token makes it work, the role decides what: a viewer reads, only an admin drains.
  const std::string viewer = "Authorization: Bearer " + readAll(pki() + "/api-tokens/grafana");
  const std::string admin = "Authorization: Bearer " + readAll(pki() + "/api-tokens/ops");
  EXPECT_EQ(curlStatus({"--cacert", ca, "-H", viewer, api("/api/v1/status")}), 200);
  EXPECT_EQ(curlStatus({"--cacert", ca, "-H", viewer, "-X", "POST",
                        api("/api/v1/clusters/" + kOther + "/drain")}),
            403);
  EXPECT_EQ(curlStatus({"--cacert", ca, "-H", admin, "-X", "POST",
                        api("/api/v1/clusters/" + kOther + "/drain")}),
            200);
  // Only HTTPS, verified against the fleet's CA; the open listener serves metrics and health.
  EXPECT_EQ(curlStatus({"http://127.0.0.1:" + std::to_string(httpPort_) + "/healthz"}), 0);
  EXPECT_EQ(curlStatus({api("/healthz")}), 0) << "not without the fleet's CA";
  const std::string open = "http://127.0.0.1:" + std::to_string(metricsPort_);
  EXPECT_EQ(curlStatus({open + "/metrics"}), 200);
  EXPECT_EQ(curlStatus({open + "/readyz"}), 200);
  EXPECT_EQ(curlStatus({open + "/api/v1/status"}), 404) << "the open listener serves no API";
}

}  // namespace
}  // namespace fleetscale
