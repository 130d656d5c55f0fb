#include "fleetscale/sim/exec_credential.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using testing::CommandResult;

// What client-go puts in KUBERNETES_EXEC_INFO for a v1 plugin that may not interact.
constexpr const char* kExecInfo =
    R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}})";
constexpr const char* kCluster = "aws-us-east-1";

// Runs the plugin with /bin/sh in an environment of exactly `env` (plus a PATH for cat), so what
// the test's own environment holds cannot leak in.
CommandResult runPlugin(const std::string& script, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {"-i", "PATH=/usr/bin:/bin"};
  for (const auto& [name, value] : env) argv.push_back(name + "=" + value);
  argv.push_back("/bin/sh");
  argv.push_back(script);
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::runCommand("/usr/bin/env", argv, std::chrono::seconds(10));
}

class ExecPluginTest : public ::testing::Test {
 protected:
  ExecPluginTest() {
    testing::writeFile(script_, execPluginScript(kCluster));
    testing::writeFile(credential_, execTokenCredentialJson("secret-token"));
  }

  std::map<std::string, std::string> clientGoEnv() const {
    return {{"KUBERNETES_EXEC_INFO", kExecInfo}, {std::string(kExecClusterEnv), kCluster}};
  }
  std::vector<std::string> args() const {
    return {std::string(kExecCredentialFileFlag), credential_};
  }

  testing::TempDir dir_{"exec-plugin"};
  std::string script_ = dir_.file("credential-plugin.sh");
  std::string credential_ = dir_.file("credential.json");
};

TEST_F(ExecPluginTest, IsPosixShell) {
  const CommandResult check = testing::runCommand("/bin/sh", {"-n", script_});
  EXPECT_EQ(check.status, 0) << check.errors;
  EXPECT_EQ(execPluginScript(kCluster).rfind("#!/bin/sh\n", 0), 0u);
}

TEST_F(ExecPluginTest, PrintsTheCredentialFileWhenRunAsClientGoRunsIt) {
  const CommandResult run = runPlugin(script_, args(), clientGoEnv());
  ASSERT_EQ(run.status, 0) << run.errors;
  EXPECT_EQ(run.errors, "");
  const json credential = json::parse(run.output, nullptr, false);
  ASSERT_FALSE(credential.is_discarded()) << run.output;
  EXPECT_EQ(credential["apiVersion"], "client.authentication.k8s.io/v1");
  EXPECT_EQ(credential["kind"], "ExecCredential");
  EXPECT_EQ(credential["status"]["token"], "secret-token");
  EXPECT_FALSE(credential["status"].contains("expirationTimestamp"));
}

TEST_F(ExecPluginTest, FailsWithTheReasonWhenNotRunAsClientGoRunsIt) {
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
    std::string reason;
  };
  const std::string clusterEnv(kExecClusterEnv);
  const std::vector<Case> cases = {
      {{{clusterEnv, kCluster}}, args(), "KUBERNETES_EXEC_INFO is not set"},
      {{{"KUBERNETES_EXEC_INFO", ""}, {clusterEnv, kCluster}},
       args(),
       "KUBERNETES_EXEC_INFO is not set"},
      {{{"KUBERNETES_EXEC_INFO", "{}"}, {clusterEnv, kCluster}},
       args(),
       "KUBERNETES_EXEC_INFO holds no ExecCredential: {}"},
      {{{"KUBERNETES_EXEC_INFO",
         R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1"})"},
        {clusterEnv, kCluster}},
       args(),
       "is not of apiVersion client.authentication.k8s.io/v1"},
      {{{"KUBERNETES_EXEC_INFO", kExecInfo}},
       args(),
       "FLEETSCALE_SIM_CLUSTER is '', expected 'aws-us-east-1' (the kubeconfig's exec.env)"},
      {{{"KUBERNETES_EXEC_INFO", kExecInfo}, {clusterEnv, "gcp-europe-west1"}},
       args(),
       "FLEETSCALE_SIM_CLUSTER is 'gcp-europe-west1'"},
      {clientGoEnv(), {}, "expected the arguments --credential-file FILE"},
      {clientGoEnv(), {credential_}, "expected the arguments --credential-file FILE"},
      {clientGoEnv(),
       {std::string(kExecCredentialFileFlag), dir_.file("missing.json")},
       "cannot read " + dir_.file("missing.json")},
  };
  for (const auto& c : cases) {
    const CommandResult run = runPlugin(script_, c.args, c.env);
    EXPECT_EQ(run.status, 1) << c.reason;
    EXPECT_EQ(run.output, "") << c.reason;
    EXPECT_NE(run.errors.find("fleetscale-sim credential plugin for cluster aws-us-east-1: "),
              std::string::npos)
        << run.errors;
    EXPECT_NE(run.errors.find(c.reason), std::string::npos) << run.errors;
  }
}

TEST(ExecCredentialTest, TokenWithAnExpiry) {
  const WallTime expiry{std::chrono::seconds(1'700'000'000) + std::chrono::milliseconds(999)};
  const std::string text = execTokenCredentialJson("abc", expiry);
  ASSERT_EQ(text.back(), '\n');
  const json credential = json::parse(text);
  EXPECT_EQ(credential["status"]["token"], "abc");
  EXPECT_EQ(credential["status"]["expirationTimestamp"], "2023-11-14T22:13:20Z");
  auto parsed = parseRfc3339(credential["status"]["expirationTimestamp"].get<std::string>());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, WallTime{std::chrono::seconds(1'700'000'000)});
}

TEST(ExecCredentialTest, CertificateAndKeyKeepTheirNewlinesEscaped) {
  const std::string certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const std::string key = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";
  const std::string text = execCertificateCredentialJson(certificate, key);
  EXPECT_EQ(text.find('\n'), text.size() - 1);  // one line: the PEM newlines are "\n" escapes
  EXPECT_NE(text.find(R"(-----BEGIN CERTIFICATE-----\nMIIB)"), std::string::npos);
  const json credential = json::parse(text);
  EXPECT_EQ(credential["kind"], "ExecCredential");
  EXPECT_EQ(credential["status"]["clientCertificateData"], certificate);
  EXPECT_EQ(credential["status"]["clientKeyData"], key);
  EXPECT_FALSE(credential["status"].contains("token"));
}

TEST(ExecCredentialTest, KubeconfigUserRunsThePlugin) {
  ExecPlugin plugin{"/state dir/clusters/a/exec/credential-plugin.sh",
                    {"--credential-file", "/state dir/it's.json"},
                    {{"FLEETSCALE_SIM_CLUSTER", "a"}, {"OTHER", "x: \"y\""}},
                    "run fleetscale-sim"};
  const YAML::Node users =
      YAML::Load("users:\n- name: a-fleetscale-aggregator\n  user:\n" + execUserYaml(plugin));
  const YAML::Node exec = users["users"][0]["user"]["exec"];
  ASSERT_TRUE(exec.IsMap());
  EXPECT_EQ(exec["apiVersion"].as<std::string>(), "client.authentication.k8s.io/v1");
  EXPECT_EQ(exec["command"].as<std::string>(), plugin.command);
  ASSERT_EQ(exec["args"].size(), 2u);
  EXPECT_EQ(exec["args"][1].as<std::string>(), "/state dir/it's.json");
  ASSERT_EQ(exec["env"].size(), 2u);
  EXPECT_EQ(exec["env"][0]["name"].as<std::string>(), "FLEETSCALE_SIM_CLUSTER");
  EXPECT_EQ(exec["env"][1]["value"].as<std::string>(), "x: \"y\"");
  EXPECT_EQ(exec["interactiveMode"].as<std::string>(), "Never");
  EXPECT_EQ(exec["installHint"].as<std::string>(), "run fleetscale-sim");
  EXPECT_FALSE(users["users"][0]["user"]["token"]);

  const YAML::Node token =
      YAML::Load("users:\n- name: a\n  user:\n" + tokenUserYaml("abc"))["users"][0]["user"];
  EXPECT_EQ(token["token"].as<std::string>(), "abc");
}

}  // namespace
}  // namespace fleetscale::sim
