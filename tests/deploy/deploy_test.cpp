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
#include <functional>
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

// Secrets the manifests reference but never contain: users create them (install-kubernetes.md,
// scripts/fleetscale-ca secrets), or cert-manager does (the two made by components/cert-manager).
const std::vector<std::string> kExternalSecrets = {
    "fleetscale-agent-token",  "fleetscale-agent-tls",  "fleetscale-aggregator-tls",
    "fleetscale-agent-tokens", "fleetscale-api-tokens", "fleetscale-election"};
const std::set<std::string> kCertManagerSecrets = {"fleetscale-aggregator-tls",
                                                   "fleetscale-agent-tls"};

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
  const std::string& variable = *variable##Path  // NOLINT(bugprone-macro-parentheses): a name

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

// --- Secure by default ---------------------------------------------------------------------------

// The value at `path` under `node`, or an undefined node (never throws, never inserts).
YAML::Node at(const YAML::Node& node, const std::vector<std::string>& path, std::size_t i = 0) {
  if (i == path.size()) return node;
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[path[i]];
  if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  return at(child, path, i + 1);
}

std::string text(const YAML::Node& node) { return node.IsScalar() ? node.as<std::string>() : ""; }

// The objects of a rendered overlay.
struct Manifests {
  std::vector<YAML::Node> objects;

  explicit Manifests(const std::string& yaml) {
    for (const auto& document : YAML::LoadAll(yaml)) {
      if (document.IsMap()) objects.push_back(document);
    }
  }
  std::vector<YAML::Node> ofKind(const std::string& kind) const {
    std::vector<YAML::Node> found;
    for (const auto& object : objects) {
      if (text(object["kind"]) == kind) found.push_back(object);
    }
    return found;
  }
  // The object of that kind and name, or an undefined node.
  YAML::Node find(const std::string& kind, const std::string& name) const {
    for (const auto& object : ofKind(kind)) {
      if (text(at(object, {"metadata", "name"})) == name) return object;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }
  std::map<std::string, std::string> configMap(const std::string& name) const {
    std::map<std::string, std::string> data;
    for (const auto& entry : at(find("ConfigMap", name), {"data"})) {
      data[entry.first.as<std::string>()] = text(entry.second);
    }
    return data;
  }
};

// A kustomization in `dir` that renders `overlay` with extra `components` (paths under deploy/;
// kustomize wants them relative), in the fleetscale namespace as the overlays are.
void writeKustomization(const std::string& dir, const std::string& overlay,
                        const std::vector<std::string>& components) {
  const auto relative = [&](const std::string& path) {
    return fs::relative(kSource + "/deploy/" + path, dir).string();
  };
  std::string text =
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
      "namespace: fleetscale\nresources:\n  - " +
      relative("overlays/" + overlay) + "\ncomponents:\n";
  for (const auto& component : components) text += "  - " + relative(component) + "\n";
  testing::writeFile(dir + "/kustomization.yaml", text);
}

testing::CommandResult validate(const std::string& dir, const std::string& rendered,
                                const std::set<std::string>& madeInside = {}) {
  testing::writeFile(dir + "/rendered.yaml", rendered);
  std::vector<std::string> args{kSource + "/tools/validate-manifests.mjs", dir + "/rendered.yaml"};
  for (const auto& secret : kExternalSecrets) {
    if (madeInside.count(secret)) continue;
    args.push_back("--external-secret");
    args.push_back(secret);
  }
  return testing::runCommand(node(), args, seconds(60));
}

// Options naming files or directories (FLEETSCALE_*_FILE, _DIR, _PATH) that a workload's
// containers take from their ConfigMaps, each with the volume it lies in (or "" if none).
struct PathOption {
  std::string workload, container, key, value, volume, secret;
};
std::vector<PathOption> pathOptions(const Manifests& manifests) {
  std::vector<PathOption> options;
  for (const std::string kind : {"DaemonSet", "Deployment", "StatefulSet"}) {
    for (const auto& workload : manifests.ofKind(kind)) {
      const auto pod = at(workload, {"spec", "template", "spec"});
      std::map<std::string, std::string> secretOf;
      for (const auto& volume : pod["volumes"]) {
        secretOf[text(volume["name"])] = text(at(volume, {"secret", "secretName"}));
      }
      for (const auto& container : pod["containers"]) {
        for (const auto& source : container["envFrom"]) {
          const auto name = text(at(source, {"configMapRef", "name"}));
          for (const auto& [key, value] : manifests.configMap(name)) {
            if (!key.ends_with("_FILE") && !key.ends_with("_DIR") && !key.ends_with("_PATH")) {
              continue;
            }
            PathOption option{text(at(workload, {"metadata", "name"})),
                              text(container["name"]),
                              key,
                              value,
                              "",
                              ""};
            for (const auto& mount : container["volumeMounts"]) {
              const auto path = text(mount["mountPath"]);
              if (value == path || value.starts_with(path + "/")) {
                option.volume = text(mount["name"]);
                option.secret = secretOf[option.volume];
              }
            }
            options.push_back(option);
          }
        }
      }
    }
  }
  return options;
}

// What issue 16 asks of every shipped overlay: the stream is TLS with per-cluster agent
// credentials, the API HTTPS with tokens, nothing opens anonymous reads, the probes and
// Prometheus use the metrics listener, and the agent's spool lives on the node.
TEST_P(OverlayTest, IsSecureByDefault) {
  REQUIRE_PROGRAM(kubectl, "kubectl");
  const auto rendered = testing::runCommand(
      kubectl, {"kustomize", kSource + "/deploy/overlays/" + GetParam()}, seconds(60));
  ASSERT_EQ(rendered.status, 0) << describe(rendered);
  // Anonymous reads would open every GET of the API (decisions, workloads, clusters) to the
  // network.
  EXPECT_EQ(rendered.output.find("ANONYMOUS_READS"), std::string::npos)
      << "FLEETSCALE_HTTP_ANONYMOUS_READS is set";
  EXPECT_EQ(rendered.output.find("anonymous-reads"), std::string::npos)
      << "--http-anonymous-reads is set";
  const Manifests manifests(rendered.output);

  auto agent = manifests.configMap("fleetscale-agent");
  EXPECT_EQ(agent["FLEETSCALE_TLS"], "true");
  EXPECT_EQ(agent["FLEETSCALE_TLS_CA_FILE"], "/etc/fleetscale/tls/ca.crt");
  EXPECT_EQ(agent["FLEETSCALE_TOKEN_FILE"], "/etc/fleetscale/token/token");
  EXPECT_TRUE(agent["FLEETSCALE_SPOOL_PATH"].starts_with("/var/lib/fleetscale-agent/"));

  // The spool on the node: one agent pod per node at any time, the directory made the agent's
  // by an init container with CHOWN and FOWNER only.
  const auto daemonSet = manifests.find("DaemonSet", "fleetscale-agent");
  ASSERT_TRUE(daemonSet.IsDefined());
  EXPECT_EQ(text(at(daemonSet, {"spec", "updateStrategy", "rollingUpdate", "maxSurge"})), "0");
  const auto pod = at(daemonSet, {"spec", "template", "spec"});
  bool spoolOnHost = false;
  for (const auto& volume : pod["volumes"]) {
    if (text(volume["name"]) != "spool") continue;
    spoolOnHost = text(at(volume, {"hostPath", "path"})) == "/var/lib/fleetscale-agent" &&
                  text(at(volume, {"hostPath", "type"})) == "DirectoryOrCreate";
  }
  EXPECT_TRUE(spoolOnHost);
  ASSERT_EQ(pod["initContainers"].size(), 1u);
  const auto init = pod["initContainers"][0];
  EXPECT_EQ(text(at(init, {"securityContext", "runAsUser"})), "0");
  std::set<std::string> added;
  for (const auto& capability : at(init, {"securityContext", "capabilities", "add"})) {
    added.insert(capability.as<std::string>());
  }
  EXPECT_EQ(added, (std::set<std::string>{"CHOWN", "FOWNER"}));
  EXPECT_EQ(text(at(pod, {"securityContext", "runAsUser"})), "65532");

  // Every file an option names is in a volume mounted into that container, and every Secret is
  // one the documentation tells users to make.
  const auto options = pathOptions(manifests);
  EXPECT_FALSE(options.empty());
  for (const auto& option : options) {
    EXPECT_FALSE(option.volume.empty()) << option.workload << "/" << option.container << " "
                                        << option.key << "=" << option.value << " is in no volume";
  }

  const bool hub = GetParam().find("/hub") != std::string::npos;
  if (!hub) return;
  auto aggregator = manifests.configMap("fleetscale-aggregator");
  for (const std::string key : {"FLEETSCALE_TLS_CERT_FILE", "FLEETSCALE_TLS_KEY_FILE",
                                "FLEETSCALE_AGENT_TOKENS_DIR", "FLEETSCALE_HTTP_TLS_CERT_FILE",
                                "FLEETSCALE_HTTP_TLS_KEY_FILE", "FLEETSCALE_API_TOKENS_FILE"}) {
    EXPECT_FALSE(aggregator[key].empty()) << key << " is not set";
  }
  // The shared token is exclusive with per-cluster tokens.
  EXPECT_EQ(aggregator.count("FLEETSCALE_TOKEN_FILE"), 0u);
  EXPECT_EQ(aggregator["FLEETSCALE_TLS_CLIENT_IDENTITY"], "cluster");
  EXPECT_EQ(aggregator["FLEETSCALE_METRICS_LISTEN"], "0.0.0.0:7081");
  for (const auto& option : options) {
    if (option.workload != "fleetscale-aggregator" || option.key.starts_with("FLEETSCALE_ETCD_"))
      continue;
    if (option.key.find("TLS") != std::string::npos) {
      EXPECT_EQ(option.secret, "fleetscale-aggregator-tls") << option.key;
    }
  }

  // Probes and Prometheus on the metrics listener (plain HTTP, no token).
  const auto container = at(manifests.find("Deployment", "fleetscale-aggregator"),
                            {"spec", "template", "spec"})["containers"][0];
  bool metricsPort = false;
  for (const auto& port : container["ports"]) {
    metricsPort |= text(port["name"]) == "metrics" && text(port["containerPort"]) == "7081";
  }
  EXPECT_TRUE(metricsPort);
  EXPECT_EQ(text(at(container, {"readinessProbe", "httpGet", "port"})), "metrics");
  EXPECT_EQ(text(at(container, {"livenessProbe", "httpGet", "port"})), "metrics");
  const auto monitor = manifests.find("ServiceMonitor", "fleetscale-aggregator");
  ASSERT_TRUE(monitor.IsDefined());
  EXPECT_EQ(text(at(monitor, {"spec"})["endpoints"][0]["port"]), "metrics");
}

// The options of the shipped components on top of an overlay: cert-manager makes the two TLS
// Secrets (so they need not be external), and agent-mtls adds client certificates on both sides.
TEST(ComponentTest, CertManagerAndMtlsRenderAndValidate) {
  REQUIRE_PROGRAM(kubectl, "kubectl");
  requireNodeTools();
  testing::TempDir dir;
  writeKustomization(dir.path(), "eks/hub", {"components/cert-manager", "components/agent-mtls"});
  const auto hub = testing::runCommand(kubectl, {"kustomize", dir.path()}, seconds(60));
  ASSERT_EQ(hub.status, 0) << describe(hub);
  const auto validated = validate(dir.path(), hub.output, kCertManagerSecrets);
  EXPECT_EQ(validated.status, 0) << describe(validated);

  const Manifests manifests(hub.output);
  auto agent = manifests.configMap("fleetscale-agent");
  auto aggregator = manifests.configMap("fleetscale-aggregator");
  EXPECT_EQ(agent["FLEETSCALE_TLS_CERT_FILE"], "/etc/fleetscale/tls/tls.crt");
  EXPECT_EQ(agent["FLEETSCALE_TLS_KEY_FILE"], "/etc/fleetscale/tls/tls.key");
  EXPECT_EQ(aggregator["FLEETSCALE_TLS_CLIENT_CA_FILE"], "/etc/fleetscale/tls/ca.crt");
  // The hub's agents' certificate names the hub's cluster.
  const auto certificate = manifests.find("Certificate", "fleetscale-agent");
  EXPECT_EQ(text(at(certificate, {"spec", "commonName"})), agent["FLEETSCALE_CLUSTER"]);
  EXPECT_EQ(text(at(certificate, {"spec", "secretName"})), "fleetscale-agent-tls");
  EXPECT_EQ(
      text(at(manifests.find("Certificate", "fleetscale-aggregator"), {"spec", "secretName"})),
      "fleetscale-aggregator-tls");

  // A member has no aggregator: the component's aggregator patch matches nothing.
  testing::TempDir memberDir;
  writeKustomization(memberDir.path(), "gke/member", {"components/agent-mtls"});
  const auto member = testing::runCommand(kubectl, {"kustomize", memberDir.path()}, seconds(60));
  ASSERT_EQ(member.status, 0) << describe(member);
  EXPECT_EQ(validate(memberDir.path(), member.output).status, 0);
  EXPECT_EQ(Manifests(member.output).configMap("fleetscale-agent")["FLEETSCALE_TLS_CERT_FILE"],
            "/etc/fleetscale/tls/tls.crt");
}

// --- scripts/fleetscale-ca -----------------------------------------------------------------------

std::string fleetscaleCa() { return kSource + "/scripts/fleetscale-ca"; }

std::string sha(const std::string& path) {
  const auto content = readFile(path);
  return content ? std::to_string(std::hash<std::string>{}(*content)) : "missing";
}

TEST(FleetscaleCaTest, MakesAChainWithTheRightNamesUsagesAndModesAndKeepsWhatExists) {
  REQUIRE_PROGRAM(openssl, "openssl");
  testing::TempDir temp;
  const std::string dir = temp.file("pki");
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--dir", dir});
    return testing::runCommand(fleetscaleCa(), args, seconds(60));
  };
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"init"},
           {"aggregator", "--dns", "fleetscale-ingest.fleet.example.internal", "--ip", "10.1.2.3"},
           {"agent", "gcp-europe-west1"},
           {"token", "gcp-europe-west1"},
           {"token", "aws-us-east-1"},
           {"api-token", "ops", "--role", "admin"}}) {
    const auto result = run(args);
    ASSERT_EQ(result.status, 0) << args[0] << ": " << describe(result);
  }

  const auto verified = testing::runCommand(openssl,
                                            {"verify", "-CAfile", dir + "/ca.crt", "-purpose",
                                             "sslclient", dir + "/agents/gcp-europe-west1.crt"},
                                            seconds(30));
  EXPECT_EQ(verified.status, 0) << describe(verified);
  const auto server = testing::runCommand(
      openssl,
      {"verify", "-CAfile", dir + "/ca.crt", "-purpose", "sslserver", dir + "/aggregator.crt"},
      seconds(30));
  EXPECT_EQ(server.status, 0) << describe(server);

  const auto agent = testing::runCommand(openssl,
                                         {"x509", "-in", dir + "/agents/gcp-europe-west1.crt",
                                          "-noout", "-subject", "-ext", "extendedKeyUsage"},
                                         seconds(30));
  ASSERT_EQ(agent.status, 0) << describe(agent);
  EXPECT_NE(agent.output.find("CN = gcp-europe-west1"), std::string::npos) << agent.output;
  EXPECT_NE(agent.output.find("TLS Web Client Authentication"), std::string::npos) << agent.output;
  EXPECT_EQ(agent.output.find("Server Authentication"), std::string::npos) << agent.output;

  const auto names = testing::runCommand(
      openssl,
      {"x509", "-in", dir + "/aggregator.crt", "-noout", "-ext", "subjectAltName,extendedKeyUsage"},
      seconds(30));
  ASSERT_EQ(names.status, 0) << describe(names);
  for (const std::string name :
       {"DNS:fleetscale-ingest.fleet.example.internal", "IP Address:10.1.2.3",
        "DNS:fleetscale-aggregator.fleetscale.svc", "DNS:localhost", "IP Address:127.0.0.1",
        "TLS Web Server Authentication"}) {
    EXPECT_NE(names.output.find(name), std::string::npos) << name << "\n" << names.output;
  }
  const auto key = testing::runCommand(openssl, {"x509", "-in", dir + "/ca.crt", "-noout", "-text"},
                                       seconds(30));
  EXPECT_NE(key.output.find("NIST CURVE: P-256"), std::string::npos) << key.output;
  EXPECT_NE(key.output.find("CA:TRUE"), std::string::npos) << key.output;

  // Keys and tokens: 0600.
  for (const std::string secret : {"ca.key", "aggregator.key", "agents/gcp-europe-west1.key",
                                   "tokens/gcp-europe-west1", "api-tokens.csv", "api-tokens/ops"}) {
    const auto permissions = fs::status(dir + "/" + secret).permissions();
    EXPECT_EQ(permissions, fs::perms::owner_read | fs::perms::owner_write) << secret;
  }
  const auto token = readFile(dir + "/tokens/gcp-europe-west1");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->size(), 64u);
  const auto apiTokens = readFile(dir + "/api-tokens.csv");
  ASSERT_TRUE(apiTokens);
  EXPECT_NE(apiTokens->find(",ops,admin\n"), std::string::npos);

  // A second run keeps every key, certificate and token.
  const std::vector<std::string> files = {"ca.key",
                                          "ca.crt",
                                          "aggregator.key",
                                          "aggregator.crt",
                                          "agents/gcp-europe-west1.key",
                                          "agents/gcp-europe-west1.crt",
                                          "tokens/gcp-europe-west1",
                                          "api-tokens.csv"};
  std::map<std::string, std::string> before;
  for (const auto& file : files) before[file] = sha(dir + "/" + file);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"init"},
           {"aggregator", "--dns", "fleetscale-ingest.fleet.example.internal", "--ip", "10.1.2.3"},
           {"agent", "gcp-europe-west1"},
           {"token", "gcp-europe-west1"},
           {"api-token", "ops", "--role", "admin"}}) {
    const auto result = run(args);
    EXPECT_EQ(result.status, 0) << args[0] << ": " << describe(result);
    EXPECT_NE(result.errors.find("kept"), std::string::npos) << args[0] << ": " << result.errors;
  }
  for (const auto& file : files) EXPECT_EQ(sha(dir + "/" + file), before[file]) << file;
  // --renew: a new certificate for the same key.
  ASSERT_EQ(run({"agent", "gcp-europe-west1", "--renew"}).status, 0);
  EXPECT_EQ(sha(dir + "/agents/gcp-europe-west1.key"), before["agents/gcp-europe-west1.key"]);
  EXPECT_NE(sha(dir + "/agents/gcp-europe-west1.crt"), before["agents/gcp-europe-west1.crt"]);

  // Bad names never reach openssl or a file name.
  EXPECT_NE(run({"agent", "../etc"}).status, 0);
  EXPECT_NE(run({"token", "a/b"}).status, 0);
  EXPECT_NE(run({"api-token", "x", "--role", "root"}).status, 0);
  for (const std::string command :
       {"init", "aggregator", "agent", "token", "api-token", "secrets"}) {
    const auto help = run({command, "--help"});
    EXPECT_EQ(help.status, 0) << command;
    EXPECT_NE(help.output.find("usage:"), std::string::npos) << command;
  }
}

// The Secrets the script renders are the ones the manifests mount, with the keys the options
// name: every FLEETSCALE_*_FILE in a Secret volume is a key of that Secret.
TEST(FleetscaleCaTest, SecretsHaveTheNamesAndKeysTheOverlaysMount) {
  if (!findProgram("openssl")) GTEST_SKIP() << "openssl is not installed (scripts/install-deps.sh)";
  REQUIRE_PROGRAM(kubectl, "kubectl");
  testing::TempDir temp;
  const std::string dir = temp.file("pki");
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--dir", dir});
    const auto result = testing::runCommand(fleetscaleCa(), args, seconds(60));
    EXPECT_EQ(result.status, 0) << args[0] << ": " << describe(result);
    return result.output;
  };
  run({"init"});
  run({"aggregator", "--dns", "fleetscale-ingest.fleet.example.internal"});
  run({"agent", "aws-us-east-1"});
  run({"token", "aws-us-east-1"});
  run({"token", "gcp-europe-west1"});
  run({"api-token", "ops", "--role", "admin"});
  testing::writeFile(dir + "/kubeconfigs/gcp-europe-west1", "apiVersion: v1\nkind: Config\n");
  const Manifests secrets(run({"secrets", "hub"}) + "\n" +
                          run({"secrets", "member", "aws-us-east-1"}));
  std::map<std::string, std::set<std::string>> keys;
  for (const auto& secret : secrets.ofKind("Secret")) {
    EXPECT_EQ(text(at(secret, {"metadata", "namespace"})), "fleetscale");
    auto& set = keys[text(at(secret, {"metadata", "name"}))];
    for (const auto& entry : secret["data"]) set.insert(entry.first.as<std::string>());
  }
  EXPECT_EQ(keys["fleetscale-agent-tokens"],
            (std::set<std::string>{"aws-us-east-1", "gcp-europe-west1"}));
  EXPECT_EQ(keys["fleetscale-kubeconfigs"], (std::set<std::string>{"gcp-europe-west1"}));
  EXPECT_EQ(keys["fleetscale-agent-tls"], (std::set<std::string>{"ca.crt", "tls.crt", "tls.key"}));
  // With cert-manager making the certificates, only tokens and kubeconfigs.
  std::set<std::string> withoutTls;
  for (const auto& secret : Manifests(run({"secrets", "--no-tls", "hub"}) + "\n" +
                                      run({"secrets", "--no-tls", "member", "aws-us-east-1"}))
                                .ofKind("Secret")) {
    withoutTls.insert(text(at(secret, {"metadata", "name"})));
  }
  EXPECT_EQ(withoutTls,
            (std::set<std::string>{"fleetscale-agent-tokens", "fleetscale-api-tokens",
                                   "fleetscale-kubeconfigs", "fleetscale-agent-token"}));

  // The hub with mTLS uses every Secret and key there is.
  testing::TempDir overlay;
  writeKustomization(overlay.path(), "eks/hub", {"components/agent-mtls"});
  const auto rendered = testing::runCommand(kubectl, {"kustomize", overlay.path()}, seconds(60));
  ASSERT_EQ(rendered.status, 0) << describe(rendered);
  std::set<std::string> used;
  for (const auto& option : pathOptions(Manifests(rendered.output))) {
    if (option.secret.empty() || option.secret == "fleetscale-election") continue;
    used.insert(option.secret);
    ASSERT_TRUE(keys.count(option.secret)) << option.secret << " is not made by the script";
    if (option.key.ends_with("_DIR")) continue;  // the whole Secret, one file per key
    const auto key = fs::path(option.value).filename().string();
    EXPECT_TRUE(keys[option.secret].count(key))
        << option.key << "=" << option.value << ": no key " << key << " in " << option.secret;
  }
  EXPECT_EQ(used, (std::set<std::string>{"fleetscale-agent-token", "fleetscale-agent-tls",
                                         "fleetscale-aggregator-tls", "fleetscale-agent-tokens",
                                         "fleetscale-api-tokens"}));
}

// --- GitOps examples -----------------------------------------------------------------------------

const std::string kGitops = kSource + "/deploy/examples/gitops";

std::vector<YAML::Node> loadAll(const std::string& path) {
  std::vector<YAML::Node> documents;
  for (const auto& document : YAML::LoadAllFromFile(path)) {
    if (document.IsMap()) documents.push_back(document);
  }
  return documents;
}

// Renders a directory of the repository and returns its Deployments and StatefulSets.
std::vector<YAML::Node> workloadsIn(const std::string& kubectl, const std::string& path) {
  const auto rendered =
      testing::runCommand(kubectl, {"kustomize", kSource + "/" + path}, seconds(60));
  EXPECT_EQ(rendered.status, 0) << describe(rendered);
  const Manifests manifests(rendered.output);
  auto workloads = manifests.ofKind("Deployment");
  for (const auto& statefulSet : manifests.ofKind("StatefulSet")) workloads.push_back(statefulSet);
  return workloads;
}

TEST(GitopsTest, ArgoCdLeavesReplicasOfDeploymentsAndStatefulSetsToFleetscale) {
  REQUIRE_PROGRAM(kubectl, "kubectl");
  int applications = 0;
  for (const auto& application : loadAll(kGitops + "/argocd/application.yaml")) {
    ASSERT_EQ(text(application["kind"]), "Application");
    const auto source = text(at(application, {"spec", "source", "path"}));
    const auto workloads = workloadsIn(kubectl, source);
    // An application fleetscale scales something in must ignore its replicas, on sync too.
    if (text(at(application, {"metadata", "name"})) == "fleetscale") continue;
    ++applications;
    EXPECT_FALSE(workloads.empty()) << source;
    std::set<std::string> ignored;
    for (const auto& entry : at(application, {"spec", "ignoreDifferences"})) {
      if (text(entry["group"]) != "apps") continue;
      for (const auto& pointer : entry["jsonPointers"]) {
        if (pointer.as<std::string>() == "/spec/replicas") ignored.insert(text(entry["kind"]));
      }
    }
    EXPECT_TRUE(ignored.count("Deployment")) << "Deployment /spec/replicas not ignored";
    EXPECT_TRUE(ignored.count("StatefulSet")) << "StatefulSet /spec/replicas not ignored";
    std::set<std::string> syncOptions;
    for (const auto& option : at(application, {"spec", "syncPolicy", "syncOptions"})) {
      syncOptions.insert(option.as<std::string>());
    }
    EXPECT_TRUE(syncOptions.count("RespectIgnoreDifferences=true"));
  }
  EXPECT_EQ(applications, 1);
}

TEST(GitopsTest, FluxAppliesWorkloadsWithoutReplicas) {
  REQUIRE_PROGRAM(kubectl, "kubectl");
  int kustomizations = 0;
  for (const auto& object : loadAll(kGitops + "/flux/shop.yaml")) {
    if (text(object["kind"]) != "Kustomization") continue;
    ++kustomizations;
    EXPECT_EQ(text(object["apiVersion"]), "kustomize.toolkit.fluxcd.io/v1");
    std::string path = text(at(object, {"spec", "path"}));
    if (path.starts_with("./")) path = path.substr(2);
    const auto workloads = workloadsIn(kubectl, path);
    std::set<std::string> kinds;
    for (const auto& workload : workloads) {
      kinds.insert(text(workload["kind"]));
      EXPECT_FALSE(at(workload, {"spec", "replicas"}).IsDefined())
          << text(workload["kind"]) << "/" << text(at(workload, {"metadata", "name"}))
          << " sets spec.replicas: Flux would own it and undo fleetscale's writes";
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"Deployment", "StatefulSet"}));
  }
  EXPECT_EQ(kustomizations, 1);
}

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
           "init container owner: adds capabilities NET_ADMIN",  // only CHOWN and FOWNER
           "init container owner: host path volume host-etc is mounted writable",
           "container agent: runs as root",
           "Certificate/server: Issuer missing-issuer is not in the manifests",
           "spec.duration 90d is not a duration",
       }) {
    EXPECT_NE(result.errors.find(expected), std::string::npos) << expected << "\n" << result.errors;
  }
  // Init containers run to completion: probes are neither required nor allowed there.
  EXPECT_EQ(result.errors.find("init container owner: no"), std::string::npos) << result.errors;
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
