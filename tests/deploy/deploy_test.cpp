// Checks that what users install really works, with the tools they use: kubectl renders every
// overlay, the manifests validate against the Kubernetes OpenAPI schemas (tools/
// validate-manifests.mjs), systemd accepts the units, promtool accepts and unit-tests the rules,
// CPack builds the .deb, and every metric the alerts and the dashboard query is exported by the
// real binaries. Label "deploy"; a tool that is missing here skips its test with a message.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kSource = FLEETSCALE_SOURCE_DIR;
const std::string kBuild = FLEETSCALE_BUILD_DIR;

// Secrets the manifests reference but never contain: users create them (install-kubernetes.md).
const std::vector<std::string> kExternalSecrets = {
    "fleetscale-agent-token", "fleetscale-aggregator-tokens", "fleetscale-election"};

std::optional<std::string> findProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// Runs `program` found on PATH; the test skips when it is not installed.
#define REQUIRE_PROGRAM(variable, name)                                                         \
  const auto variable##Path = findProgram(name);                                                \
  if (!variable##Path) GTEST_SKIP() << (name) << " is not installed (scripts/install-deps.sh)"; \
  const std::string& variable = *variable##Path

std::string describe(const testing::CommandResult& result) {
  return "exit " + std::to_string(result.status) + "\nstdout:\n" + result.output + "\nstderr:\n" +
         result.errors;
}

std::string node() {
  const auto path = findProgram("node");
  return path ? *path : "";
}

void requireNodeTools() {
  ASSERT_FALSE(node().empty()) << "node is not installed (scripts/install-deps.sh installs it)";
  ASSERT_TRUE(fs::exists(kSource + "/tools/node_modules/kubernetes-models"))
      << "tools/node_modules is missing: run scripts/install-deps.sh";
}

// --- Kubernetes ----------------------------------------------------------------------------------

const std::vector<std::string> kOverlays = {"eks/member",     "eks/hub",     "gke/member",
                                            "gke/hub",        "aks/member",  "aks/hub",
                                            "generic/member", "generic/hub", "generic/hub-ha"};

class OverlayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OverlayTest, RendersWithKubectlAndValidatesAgainstTheSchemas) {
  REQUIRE_PROGRAM(kubectl, "kubectl");
  requireNodeTools();
  const std::string overlay = kSource + "/deploy/overlays/" + GetParam();
  const auto rendered = testing::runCommand(kubectl, {"kustomize", overlay}, seconds(60));
  ASSERT_EQ(rendered.status, 0) << describe(rendered);

  testing::TempDir dir;
  testing::writeFile(dir.file("rendered.yaml"), rendered.output);
  std::vector<std::string> args{kSource + "/tools/validate-manifests.mjs",
                                dir.file("rendered.yaml")};
  for (const auto& secret : kExternalSecrets) {
    args.push_back("--external-secret");
    args.push_back(secret);
  }
  const auto validated = testing::runCommand(node(), args, seconds(60));
  EXPECT_EQ(validated.status, 0) << describe(validated);

  // Every cluster runs the agent; only hubs run the aggregator.
  const bool hub = GetParam().find("/hub") != std::string::npos;
  EXPECT_NE(rendered.output.find("kind: DaemonSet"), std::string::npos);
  EXPECT_EQ(rendered.output.find("kind: Deployment") != std::string::npos, hub);
  EXPECT_EQ(rendered.output.find("name: fleetscale-policy") != std::string::npos, hub);
  // An HA hub's aggregator elects a leader; a plain hub's does not.
  EXPECT_EQ(rendered.output.find("FLEETSCALE_LEADER_ELECTION: etcd") != std::string::npos,
            GetParam().ends_with("-ha"));
}

INSTANTIATE_TEST_SUITE_P(Overlays, OverlayTest, ::testing::ValuesIn(kOverlays),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '/', '_');
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ManifestValidatorTest, NamesEveryMistakeInBrokenManifests) {
  requireNodeTools();
  const auto result =
      testing::runCommand(node(),
                          {kSource + "/tools/validate-manifests.mjs",
                           kSource + "/tests/deploy/fixtures/broken-manifests.yaml"},
                          seconds(60));
  EXPECT_EQ(result.status, 1) << describe(result);
  for (const std::string expected : {
           "readOnlyRootFilesystem must be boolean",  // schema: type
           "endpoints/0/port must be string",         // CRD schema
           "ConfigMap/no-namespace: namespaced object without metadata.namespace",
           "no schema for example.com/v1 Widget",
           "container agent: no cpu limits",
           "host path volume host-proc is mounted writable",
           "Service/agent-metrics: selects no pod template",
           "port 7071 is not a port of Service agent-metrics",
       }) {
    EXPECT_NE(result.errors.find(expected), std::string::npos) << expected << "\n" << result.errors;
  }
}

TEST(PrometheusRuleTest, OperatorRulesAreGeneratedFromTheRuleFiles) {
  requireNodeTools();
  for (const auto& [rules, component, name] :
       {std::tuple{"fleetscale-agent.rules.yml", "agent-monitoring/agent-prometheusrule.yaml",
                   "fleetscale-agent"},
        std::tuple{"fleetscale-aggregator.rules.yml",
                   "aggregator-monitoring/aggregator-prometheusrule.yaml",
                   "fleetscale-aggregator"}}) {
    const auto generated =
        testing::runCommand(node(),
                            {kSource + "/tools/render-prometheusrule.mjs",
                             kSource + "/deploy/prometheus/rules/" + rules, name},
                            seconds(30));
    ASSERT_EQ(generated.status, 0) << describe(generated);
    const auto committed = readFile(kSource + "/deploy/components/" + component);
    ASSERT_TRUE(committed);
    EXPECT_EQ(*committed, generated.output)
        << "deploy/components/" << component << " is stale; regenerate it (docs/monitoring.md)";
  }
}

// --- Prometheus ----------------------------------------------------------------------------------

std::vector<std::string> filesIn(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().string().ends_with(suffix)) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(PrometheusTest, RulesPassPromtoolCheckAndUnitTests) {
  REQUIRE_PROGRAM(promtool, "promtool");
  const auto rules = filesIn(kSource + "/deploy/prometheus/rules", ".rules.yml");
  ASSERT_EQ(rules.size(), 2u);
  std::vector<std::string> check{"check", "rules"};
  check.insert(check.end(), rules.begin(), rules.end());
  const auto checked = testing::runCommand(promtool, check, seconds(60));
  EXPECT_EQ(checked.status, 0) << describe(checked);

  const auto tests = filesIn(kSource + "/deploy/prometheus/tests", ".test.yml");
  ASSERT_EQ(tests.size(), 2u);
  std::vector<std::string> test{"test", "rules"};
  test.insert(test.end(), tests.begin(), tests.end());
  const auto tested = testing::runCommand(promtool, test, seconds(60));
  EXPECT_EQ(tested.status, 0) << describe(tested);
  EXPECT_EQ(tested.output.find("FAILED"), std::string::npos) << tested.output;
}

// Every alert the rules define has a promtool unit test that expects it to fire.
TEST(PrometheusTest, EveryAlertHasAUnitTest) {
  std::set<std::string> alerts;
  for (const auto& file : filesIn(kSource + "/deploy/prometheus/rules", ".rules.yml")) {
    for (const auto& group : YAML::LoadFile(file)["groups"]) {
      for (const auto& rule : group["rules"]) alerts.insert(rule["alert"].as<std::string>());
    }
  }
  std::set<std::string> tested;
  for (const auto& file : filesIn(kSource + "/deploy/prometheus/tests", ".test.yml")) {
    for (const auto& test : YAML::LoadFile(file)["tests"]) {
      for (const auto& check : test["alert_rule_test"]) {
        if (check["exp_alerts"].size() > 0) tested.insert(check["alertname"].as<std::string>());
      }
    }
  }
  for (const auto& alert : alerts)
    EXPECT_TRUE(tested.count(alert)) << alert << " never fires in a test";
}

TEST(PrometheusTest, ScrapeConfigsPassPromtool) {
  REQUIRE_PROGRAM(promtool, "promtool");
  const std::string dir = kSource + "/deploy/prometheus";
  const auto vm =
      testing::runCommand(promtool, {"check", "config", dir + "/prometheus-vm.yml"}, seconds(60));
  EXPECT_EQ(vm.status, 0) << describe(vm);

  // Debian builds Prometheus without Kubernetes service discovery, so promtool rejects
  // kubernetes_sd_configs. Check everything else (relabeling, rule files) with each
  // kubernetes_sd_configs replaced by a static target.
  YAML::Node config = YAML::LoadFile(dir + "/prometheus-kubernetes.yml");
  int replaced = 0;
  for (auto job : config["scrape_configs"]) {
    if (!job["kubernetes_sd_configs"]) continue;
    job.remove("kubernetes_sd_configs");
    YAML::Node target;
    target["targets"].push_back("placeholder.invalid:7071");
    job["static_configs"].push_back(target);
    ++replaced;
  }
  EXPECT_EQ(replaced, 2);
  YAML::Node ruleFiles;
  for (const auto& file : config["rule_files"])
    ruleFiles.push_back(dir + "/" + file.as<std::string>());
  config["rule_files"] = ruleFiles;
  testing::TempDir temp;
  testing::writeFile(temp.file("prometheus.yml"), YAML::Dump(config));
  const auto kubernetes =
      testing::runCommand(promtool, {"check", "config", temp.file("prometheus.yml")}, seconds(60));
  EXPECT_EQ(kubernetes.status, 0) << describe(kubernetes);
}

// --- systemd -------------------------------------------------------------------------------------

TEST(SystemdTest, UnitsVerifyAndStayHardened) {
  REQUIRE_PROGRAM(systemdAnalyze, "systemd-analyze");
  testing::TempDir dir;
  for (const std::string name : {"fleetscale-agent", "fleetscale-aggregator"}) {
    // The units name /usr/bin, where the package puts the binaries; point them at this build.
    auto unit = readFile(kSource + "/systemd/" + name + ".service");
    ASSERT_TRUE(unit);
    const std::string installed = "ExecStart=/usr/bin/" + name + "\n";
    const auto at = unit->find(installed);
    ASSERT_NE(at, std::string::npos) << name << ".service: no " << installed;
    unit->replace(at, installed.size(), "ExecStart=" + testing::binaryPath(name) + "\n");
    const std::string path = dir.file(name + ".service");
    testing::writeFile(path, *unit);

    const auto verified = testing::runCommand(systemdAnalyze, {"verify", path}, seconds(60));
    EXPECT_EQ(verified.status, 0) << describe(verified);
    // Warnings (unknown keys, bad values) do not change the exit status; they name the file.
    EXPECT_EQ(verified.errors.find(name + ".service"), std::string::npos) << verified.errors;

    // systemd's own exposure score (0 = fully confined, 10 = unconfined); 2.0 is "OK".
    const auto security = testing::runCommand(
        systemdAnalyze, {"security", "--offline=yes", "--threshold=20", "--no-pager", path},
        seconds(60));
    EXPECT_EQ(security.status, 0) << "exposure above 2.0: " << describe(security);
  }
}

// --- Packaging -----------------------------------------------------------------------------------

const std::vector<std::string> kInstalledFiles = {
    "bin/fleetscale-agent",
    "bin/fleetscale-aggregator",
    "bin/fleetscalectl",
    "lib/systemd/system/fleetscale-agent.service",
    "lib/systemd/system/fleetscale-aggregator.service",
    "share/doc/fleetscale/examples/agent.env.example",
    "share/doc/fleetscale/examples/aggregator.env.example",
    "share/doc/fleetscale/examples/policy.example.yaml",
    "share/fleetscale/prometheus/fleetscale-aggregator.rules.yml",
    "share/fleetscale/prometheus/fleetscale-agent.rules.yml",
    "share/fleetscale/grafana/fleetscale-dashboard.json",
};

TEST(PackageTest, CmakeInstallPlacesBinariesUnitsAndExamples) {
  REQUIRE_PROGRAM(cmake, "cmake");
  testing::TempDir prefix;
  const auto installed =
      testing::runCommand(cmake, {"--install", kBuild, "--prefix", prefix.path()}, seconds(120));
  ASSERT_EQ(installed.status, 0) << describe(installed);
  for (const auto& file : kInstalledFiles) {
    EXPECT_TRUE(fs::is_regular_file(prefix.file(file))) << file;
  }
  for (const std::string binary : {"fleetscale-agent", "fleetscale-aggregator", "fleetscalectl"}) {
    const auto version =
        testing::runCommand(prefix.file("bin/" + binary), {"--version"}, seconds(10));
    EXPECT_EQ(version.status, 0) << binary << ": " << describe(version);
  }
}

TEST(PackageTest, DebBuildsWithCpackAndListsTheExpectedFiles) {
  REQUIRE_PROGRAM(cpack, "cpack");
  REQUIRE_PROGRAM(dpkgDeb, "dpkg-deb");
  testing::TempDir out;
  const auto packed = testing::runCommand(
      cpack, {"-G", "DEB", "--config", kBuild + "/CPackConfig.cmake", "-B", out.path()},
      seconds(240));
  ASSERT_EQ(packed.status, 0) << describe(packed);
  const auto debs = filesIn(out.path(), ".deb");
  ASSERT_EQ(debs.size(), 1u) << packed.output;

  const auto listing = testing::runCommand(dpkgDeb, {"-c", debs[0]}, seconds(30));
  ASSERT_EQ(listing.status, 0) << describe(listing);
  for (const auto& file : kInstalledFiles) {
    EXPECT_NE(listing.output.find(" ./usr/" + file + "\n"), std::string::npos)
        << file << " not in the package:\n"
        << listing.output;
  }
  const auto fields =
      testing::runCommand(dpkgDeb, {"-f", debs[0], "Package", "Depends"}, seconds(30));
  ASSERT_EQ(fields.status, 0) << describe(fields);
  EXPECT_NE(fields.output.find("Package: fleetscale"), std::string::npos) << fields.output;
  // dpkg-shlibdeps found the shared libraries the binaries link.
  EXPECT_NE(fields.output.find("libprotobuf"), std::string::npos) << fields.output;
  EXPECT_NE(fields.output.find("libc6"), std::string::npos) << fields.output;
}

// --- Metrics used by the alerts and the dashboard ------------------------------------------------

const std::regex kMetricName("fleetscale_[A-Za-z0-9_]+");

void collectNames(const std::string& text, const std::string& where,
                  std::map<std::string, std::string>& names) {
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kMetricName);
       it != std::sregex_iterator(); ++it) {
    names.emplace(it->str(), where);
  }
}

// Metric names in the rules' expressions and annotations.
std::map<std::string, std::string> namesInRules() {
  std::map<std::string, std::string> names;
  for (const auto& file : filesIn(kSource + "/deploy/prometheus/rules", ".rules.yml")) {
    for (const auto& group : YAML::LoadFile(file)["groups"]) {
      for (const auto& rule : group["rules"]) {
        const std::string where =
            fs::path(file).filename().string() + " " + rule["alert"].as<std::string>("record");
        collectNames(rule["expr"].as<std::string>(), where, names);
        for (const auto& annotation : rule["annotations"]) {
          collectNames(annotation.second.as<std::string>(), where, names);
        }
      }
    }
  }
  return names;
}

// Metric names in every query of the dashboard: panel targets, variables, annotations.
void walkDashboard(const nlohmann::json& node, const std::string& where,
                   std::map<std::string, std::string>& names) {
  if (node.is_object()) {
    const std::string here = node.contains("title") && node["title"].is_string()
                                 ? node["title"].get<std::string>()
                                 : where;
    for (const auto& [key, value] : node.items()) {
      if ((key == "expr" || key == "query" || key == "definition") && value.is_string()) {
        collectNames(value.get<std::string>(), "dashboard: " + here, names);
      }
      walkDashboard(value, here, names);
    }
  } else if (node.is_array()) {
    for (const auto& item : node) walkDashboard(item, where, names);
  }
}

nlohmann::json loadDashboard() {
  const auto text = readFile(kSource + "/deploy/grafana/fleetscale-dashboard.json");
  if (!text) return nullptr;
  return nlohmann::json::parse(*text, nullptr, false);
}

TEST(DashboardTest, ParsesAndEveryPanelQueriesPrometheus) {
  const auto dashboard = loadDashboard();
  ASSERT_FALSE(dashboard.is_null() || dashboard.is_discarded()) << "the dashboard is not JSON";
  EXPECT_EQ(dashboard["uid"], "fleetscale-overview");
  std::set<int> ids;
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    EXPECT_TRUE(ids.insert(panel["id"].get<int>()).second) << "duplicate panel id " << panel["id"];
    EXPECT_TRUE(panel.contains("gridPos")) << panel["title"];
    if (panel["type"] == "row") continue;
    EXPECT_EQ(panel["datasource"]["uid"], "${datasource}") << panel["title"];
    ASSERT_TRUE(panel["targets"].is_array() && !panel["targets"].empty()) << panel["title"];
    std::set<std::string> refIds;
    for (const auto& target : panel["targets"]) {
      EXPECT_TRUE(refIds.insert(target["refId"].get<std::string>()).second) << panel["title"];
      EXPECT_FALSE(target["expr"].get<std::string>().empty()) << panel["title"];
      ++queries;
    }
  }
  EXPECT_GT(queries, 40);
}

struct Exposition {
  std::map<std::string, std::string> families;  // # TYPE lines: name -> type
  std::set<std::string> samples;                // names of sample lines

  explicit Exposition(const std::string& text) {
    std::stringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("# TYPE ") || line.starts_with("# HELP ")) {
        std::stringstream words(line.substr(7));
        std::string name, type;
        words >> name >> type;
        if (line.starts_with("# TYPE "))
          families[name] = type;
        else
          families.emplace(name, "");
      } else if (!line.empty() && line[0] != '#') {
        samples.insert(line.substr(0, line.find_first_of("{ ")));
      }
    }
  }

  // A registered family (prometheus-cpp prints HELP and TYPE even before the first sample), a
  // sample, or a histogram's _bucket/_sum/_count series.
  bool exports(const std::string& name) const {
    if (families.count(name) || samples.count(name)) return true;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (!name.ends_with(suffix)) continue;
      const auto family = families.find(name.substr(0, name.size() - suffix.size()));
      if (family != families.end() &&
          (family->second == "histogram" || (family->second == "summary" && suffix != "_bucket"))) {
        return true;
      }
    }
    return false;
  }
};

// Families whose series exist only once something happened that this test cannot cause without
// a Kubernetes API to scale (a scale write, a health transition after the suspect/failed delays).
// They are checked when present; the rest must be exported as soon as the binaries run.
const std::set<std::string> kOnlyAfterActions = {
    "fleetscale_scale_actions_total",
    "fleetscale_scale_action_duration_seconds_bucket",
    "fleetscale_cluster_health_transitions_total",
};

int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

bool helpMentions(const std::string& binary, const std::string& flag) {
  return testing::runCommand(binary, {"--help"}, seconds(10)).output.find(flag) !=
         std::string::npos;
}

// Starts the real aggregator (with a one-cluster, one-workload policy) and one agent reading a
// cgroup tree written here, scrapes both /metrics, and checks every name the alert rules and the
// dashboard use. Binaries that predate a feature (the aggregator's --policy, the agent's
// --metrics-listen) cannot export its metrics: then the test lists what it could not verify and
// skips, rather than passing.
TEST(LiveMetricsTest, EveryMetricTheRulesAndDashboardUseIsExported) {
  std::map<std::string, std::string> used = namesInRules();
  const auto dashboard = loadDashboard();
  ASSERT_FALSE(dashboard.is_null() || dashboard.is_discarded());
  walkDashboard(dashboard, "dashboard", used);
  ASSERT_GT(used.size(), 40u);

  // FLEETSCALE_DEPLOY_TEST_BIN_DIR checks other builds' binaries (e.g. a branch with newer
  // metrics) against this tree's rules and dashboard.
  const char* binDir = std::getenv("FLEETSCALE_DEPLOY_TEST_BIN_DIR");
  const auto binary = [binDir](const std::string& name) {
    return binDir ? std::string(binDir) + "/" + name : testing::binaryPath(name);
  };
  const std::string aggregatorBinary = binary("fleetscale-aggregator");
  const std::string agentBinary = binary("fleetscale-agent");
  const bool hasPolicy = helpMentions(aggregatorBinary, "--policy");
  const bool hasStateDir = helpMentions(aggregatorBinary, "--state-dir");
  const bool hasMetricsListener = helpMentions(aggregatorBinary, "--metrics-listen");
  const bool hasAgentMetrics = helpMentions(agentBinary, "--metrics-listen");
  const bool hasMetadataFlag = helpMentions(agentBinary, "--metadata ");
  const bool hasKubeletUrl = helpMentions(agentBinary, "--kubelet-url");

  testing::TempDir dir;
  testing::writeFile(dir.file("token"), "deploy-test-token\n");
  testing::writeFile(dir.file("policy.yaml"),
                     "clusters:\n"
                     "  - name: deploy-test\n"
                     "    cloud: onprem\n"
                     "    server: http://127.0.0.1:1\n"  // refused: the API is unreachable
                     "workloads:\n"
                     "  - namespace: shop\n"
                     "    name: web\n"
                     "    minReplicas: 1\n"
                     "    maxReplicas: 4\n"
                     "    metrics:\n"
                     "      - type: Resource\n"
                     "        resource:\n"
                     "          name: cpu\n"
                     "          target:\n"
                     "            type: Utilization\n"
                     "            averageUtilization: 70\n");
  std::vector<std::string> aggregatorArgs{"--listen",      "127.0.0.1:0",
                                          "--http-listen", "127.0.0.1:0",
                                          "--ready-file",  dir.file("ready.json"),
                                          "--token-file",  dir.file("token"),
                                          "--threads",     "2"};
  // Prometheus scrapes the open metrics listener, as the shipped scrape configurations do; a
  // binary that predates it serves /metrics on its (then open) API port.
  if (hasMetricsListener) {
    aggregatorArgs.insert(aggregatorArgs.end(), {"--metrics-listen", "127.0.0.1:0"});
  }
  if (hasPolicy) aggregatorArgs.insert(aggregatorArgs.end(), {"--policy", dir.file("policy.yaml")});
  if (hasStateDir) aggregatorArgs.insert(aggregatorArgs.end(), {"--state-dir", dir.file("state")});
  testing::Process aggregator(aggregatorBinary, aggregatorArgs);

  int ingestPort = 0, metricsPort = 0;
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const auto text = readFile(dir.file("ready.json"));
        const auto json = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
        if (!json.is_object()) return false;
        ingestPort = json["ingest_port"].get<int>();
        metricsPort =
            hasMetricsListener ? json.value("metrics_port", 0) : json["http_port"].get<int>();
        return true;
      },
      seconds(20)))
      << aggregator.errors();

  const std::string containerId =
      "4f1c2a7e9b3d5f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d2f4a";
  testing::writeV2Container(dir.file("cgroup"),
                            "/kubepods.slice/kubepods-burstable.slice/"
                            "kubepods-burstable-pod11111111_2222_3333_4444_555555555555.slice/"
                            "cri-containerd-" +
                                containerId + ".scope",
                            {1'000'000'000, 300u << 20, 100u << 20, 150u << 20});
  const int agentMetricsPort = hasAgentMetrics ? freeLoopbackPort() : 0;
  std::vector<std::string> agentArgs{"--aggregator",  "127.0.0.1:" + std::to_string(ingestPort),
                                     "--cgroup-root", dir.file("cgroup"),
                                     "--mountinfo",   "/dev/null",
                                     "--interval",    "200ms",
                                     "--token-file",  dir.file("token"),
                                     "--cluster",     "deploy-test",
                                     "--node",        "node-a"};
  if (hasAgentMetrics) {
    agentArgs.insert(agentArgs.end(),
                     {"--metrics-listen", "127.0.0.1:" + std::to_string(agentMetricsPort)});
  }
  // A kubelet that refuses connections: the metadata error and staleness series appear.
  if (hasKubeletUrl) {
    agentArgs.insert(agentArgs.end(),
                     {"--metadata", "kubelet", "--kubelet-url", "https://127.0.0.1:1"});
  } else if (hasMetadataFlag) {
    agentArgs.insert(agentArgs.end(), {"--metadata", "none"});
  }
  testing::Process agent(agentBinary, agentArgs);

  const std::string aggregatorMetrics =
      "http://127.0.0.1:" + std::to_string(metricsPort) + "/metrics";
  const std::string agentMetrics =
      "http://127.0.0.1:" + std::to_string(agentMetricsPort) + "/metrics";
  std::string aggregatorText, agentText;
  const bool live = testing::waitFor(
      [&] {
        aggregatorText = testing::httpGet(aggregatorMetrics).body;
        if (aggregatorText.find("fleetscale_agents_connected{cluster=\"deploy-test\"} 1") ==
            std::string::npos) {
          return false;
        }
        if (hasPolicy && aggregatorText.find("fleetscale_cluster_state{") == std::string::npos) {
          return false;
        }
        if (!hasAgentMetrics) return true;
        agentText = testing::httpGet(agentMetrics).body;
        return agentText.find("fleetscale_agent_ticks_total") != std::string::npos;
      },
      seconds(30));
  ASSERT_TRUE(live) << "aggregator:\n"
                    << aggregator.errors() << "\nagent:\n"
                    << agent.errors() << "\nlast /metrics:\n"
                    << aggregatorText;

  // prometheus-cpp prints a labelled family only once it has a child: end the agent's
  // connection so the aggregator counts a disconnect.
  EXPECT_TRUE(agent.running()) << agent.errors();
  agent.stop(SIGTERM);
  testing::waitFor(
      [&] {
        aggregatorText = testing::httpGet(aggregatorMetrics).body;
        return aggregatorText.find("fleetscale_ingest_disconnects_total{") != std::string::npos;
      },
      seconds(10));

  const Exposition fromAggregator(aggregatorText);
  const Exposition fromAgent(agentText);
  std::vector<std::string> missing;
  for (const auto& [name, where] : used) {
    const bool agentMetric = name.starts_with("fleetscale_agent_");
    const bool exported = agentMetric
                              ? fromAgent.exports(name)
                              : fromAggregator.exports(name) ||
                                    (name == "fleetscale_build_info" && fromAgent.exports(name));
    if (exported) continue;
    if (kOnlyAfterActions.count(name)) {
      std::cout << "not verified (exported only after a scale write or health transition): " << name
                << "\n";
      continue;
    }
    missing.push_back(name + " (" + where + ")");
  }
  EXPECT_TRUE(aggregator.running()) << aggregator.errors();
  EXPECT_EQ(aggregator.stop(SIGTERM), 0);

  std::string list;
  for (const auto& entry : missing) list += "\n  " + entry;
  if (!missing.empty() && (!hasPolicy || !hasAgentMetrics)) {
    GTEST_SKIP() << "these binaries predate " << (hasPolicy ? "" : "the aggregator's --policy ")
                 << (hasAgentMetrics ? "" : "the agent's --metrics-listen") << "; "
                 << missing.size() << " of " << used.size()
                 << " metric names could not be verified:" << list;
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " metric names used by the alert rules or "
                               << "the dashboard are not exported:" << list;
}

}  // namespace
}  // namespace fleetscale
