#include "fleetscale/aggregator/kube/exec_credential.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::seconds;

constexpr std::string_view kV1 = kExecApiV1;
constexpr std::string_view kV1beta1 = kExecApiV1beta1;

// Not a real pair: parseExecCredential checks only the PEM block types, the TLS layer the rest.
constexpr char kCertPem[] =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] =
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n";

std::string credential(std::string_view apiVersion, const std::string& status) {
  return R"({"kind":"ExecCredential","apiVersion":")" + std::string(apiVersion) +
         R"(","spec":{"interactive":false},"status":)" + status + "}";
}

WallTime at(std::int64_t unixSeconds, std::int64_t nanos = 0) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(seconds(unixSeconds) +
                                                                 std::chrono::nanoseconds(nanos)));
}

TEST(ExecCredentialTest, GoodOutputsOfBothVersions) {
  for (const auto version : {kV1, kV1beta1}) {
    SCOPED_TRACE(version);
    auto token = parseExecCredential(credential(version, R"({"token":"k8s-aws-v1.abc"})"), version);
    ASSERT_TRUE(token.ok()) << token.error().message;
    EXPECT_EQ(token->token, "k8s-aws-v1.abc");
    EXPECT_TRUE(token->clientCertificatePem.empty());
    EXPECT_FALSE(token->expiresAt.has_value());

    nlohmann::json status = {{"clientCertificateData", kCertPem}, {"clientKeyData", kKeyPem}};
    auto pair = parseExecCredential(credential(version, status.dump()), version);
    ASSERT_TRUE(pair.ok()) << pair.error().message;
    EXPECT_EQ(pair->clientCertificatePem, kCertPem);
    EXPECT_EQ(pair->clientKeyPem, kKeyPem);
    EXPECT_TRUE(pair->token.empty());

    // client-go accepts both: it sends the token and presents the certificate.
    status["token"] = "both";
    auto both = parseExecCredential(credential(version, status.dump()), version);
    ASSERT_TRUE(both.ok()) << both.error().message;
    EXPECT_EQ(both->token, "both");
    EXPECT_EQ(both->clientKeyPem, kKeyPem);
  }
}

TEST(ExecCredentialTest, WhatClientGoAlsoAccepts) {
  struct Case {
    const char* name;
    std::string output;
    std::string token;
  };
  const std::vector<Case> cases = {
      {"missing kind defaults to ExecCredential",
       R"({"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t"}})", "t"},
      {"unknown fields, null fields, whitespace around",
       " \n{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
       "\"metadata\":{},\"spec\":null,\"status\":{\"token\":\"t\",\"clientKeyData\":null,"
       "\"expirationTimestamp\":null,\"extra\":[1,2]}}\n\n",
       "t"},
      {"YAML, as apimachinery's YAML serializer reads what does not start with '{'",
       "apiVersion: client.authentication.k8s.io/v1\nkind: ExecCredential\nstatus:\n"
       "  token: 'from-yaml'\n",
       "from-yaml"},
      {"duplicate keys: the last wins",
       R"({"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"a","token":"b"}})",
       "b"},
  };
  for (const auto& c : cases) {
    auto parsed = parseExecCredential(c.output, kV1);
    ASSERT_TRUE(parsed.ok()) << c.name << ": " << parsed.error().message;
    EXPECT_EQ(parsed->token, c.token) << c.name;
  }
}

TEST(ExecCredentialTest, BadOutputs) {
  struct Case {
    const char* name;
    std::string output;
    std::string errorPart;
  };
  const std::string secret = "s3cr3t-t0ken-value";
  const std::vector<Case> cases = {
      {"empty", "", "not an ExecCredential object"},
      {"plain text", "error: you must be logged in", "no apiVersion"},
      {"truncated JSON", R"({"apiVersion":"client.authentication.k8s.io/v1","status":{"tok)",
       "not valid JSON"},
      {"trailing garbage", credential(kV1, R"({"token":")" + secret + R"("})") + " " + secret,
       "not valid JSON"},
      {"array", "[1,2]", "not an ExecCredential object"},
      {"no apiVersion", R"({"kind":"ExecCredential","status":{"token":"t"}})", "no apiVersion"},
      {"other version", credential(kV1beta1, R"({"token":"t"})"),
       "configured to use API version client.authentication.k8s.io/v1, plugin returned version "
       "'client.authentication.k8s.io/v1beta1'"},
      {"v1alpha1", credential("client.authentication.k8s.io/v1alpha1", R"({"token":"t"})"),
       "plugin returned version"},
      {"other group", credential("v1", R"({"token":"t"})"), "plugin returned version 'v1'"},
      {"wrong kind",
       R"({"kind":"Secret","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t"}})",
       "kind 'Secret'"},
      {"kind not a string",
       R"({"kind":7,"apiVersion":"client.authentication.k8s.io/v1","status":{"token":"t"}})",
       "kind is not a string"},
      {"missing status",
       R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"})",
       "didn't return a status field"},
      {"null status", credential(kV1, "null"), "didn't return a status field"},
      {"status not an object", credential(kV1, R"("token")"), "status is not an object"},
      {"empty status", credential(kV1, "{}"), "didn't return a token or cert/key pair"},
      {"empty token", credential(kV1, R"({"token":""})"), "didn't return a token"},
      {"token not a string", credential(kV1, R"({"token":12345})"), "status.token is not a string"},
      {"certificate without key",
       credential(kV1, nlohmann::json{{"clientCertificateData", kCertPem}}.dump()),
       "only certificate or key"},
      {"key without certificate",
       credential(kV1, nlohmann::json{{"token", secret}, {"clientKeyData", kKeyPem}}.dump()),
       "only certificate or key"},
      {"certificate not PEM",
       credential(
           kV1,
           nlohmann::json{{"clientCertificateData", "bar"}, {"clientKeyData", kKeyPem}}.dump()),
       "clientCertificateData holds no PEM certificate"},
      {"key not a private key",
       credential(
           kV1,
           nlohmann::json{{"clientCertificateData", kCertPem}, {"clientKeyData", kCertPem}}.dump()),
       "clientKeyData holds no PEM private key"},
      {"spec not an object",
       R"({"apiVersion":"client.authentication.k8s.io/v1","spec":1,"status":{"token":"t"}})",
       "spec is not an object"},
      {"spec.interactive not a boolean",
       R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"no"},"status":{"token":"t"}})",
       "spec.interactive"},
      {"YAML token that YAML reads as a number",
       "apiVersion: client.authentication.k8s.io/v1\nstatus:\n  token: 12345\n",
       "status.token is not a string"},
      {"broken YAML", "apiVersion: [\n", "neither JSON nor YAML"},
      {"huge", std::string(kMaxExecCredentialBytes + 1, ' '), "more than an ExecCredential"},
  };
  for (const auto& c : cases) {
    auto parsed = parseExecCredential(c.output, kV1);
    ASSERT_FALSE(parsed.ok()) << c.name;
    const std::string& message = parsed.error().message;
    EXPECT_NE(message.find(c.errorPart), std::string::npos) << c.name << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name << ": " << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << c.name << ": " << message;
  }
  EXPECT_FALSE(parseExecCredential(credential(kV1, R"({"token":"t"})"), "v1").ok())
      << "the requested version must be one client-go knows";
}

TEST(ExecCredentialTest, ExpirationTimestamps) {
  struct Case {
    const char* text;
    std::optional<WallTime> expected;
  };
  const std::vector<Case> good = {
      {"2006-01-02T15:04:05Z", at(1136214245)},
      {"2006-01-02T15:04:05.123456789Z", at(1136214245, 123456789)},
      {"2006-01-02T15:04:05.1234567891234Z", at(1136214245, 123456789)},  // Go truncates
      {"2006-01-02T17:04:05+02:00", at(1136214245)},
      {"2006-01-02T10:04:05-05:00", at(1136214245)},
      {"2024-02-29T00:00:00Z", at(1709164800)},
      {"9999-12-31T23:59:59Z", WallTime::max()},  // far beyond WallTime: saturates
      {"1000-01-01T00:00:00Z", WallTime::min()},
      {"0001-01-01T00:00:00Z", std::nullopt},  // Go's zero time: client-go's "no expiry"
  };
  for (const auto& c : good) {
    auto parsed = parseExecCredential(
        credential(kV1, std::string(R"({"token":"t","expirationTimestamp":")") + c.text + "\"}"),
        kV1);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.error().message;
    EXPECT_EQ(parsed->expiresAt, c.expected) << c.text;
  }
  for (const char* bad :
       {"", "2006-01-02", "2006-01-02 15:04:05Z", "2006-01-02t15:04:05Z", "2006-01-02T15:04:05z",
        "2006-01-02T15:04:05", "2006-01-02T15:04:60Z", "2023-02-29T00:00:00Z",
        "2006-13-02T15:04:05Z", "2006-01-02T24:00:00Z", "2006-01-02T15:04:05.Z",
        "2006-01-02T15:04:05+0200", "2006-01-02T15:04:05Z ", "1136214245"}) {
    auto parsed = parseExecCredential(
        credential(kV1, std::string(R"({"token":"t","expirationTimestamp":")") + bad + "\"}"), kV1);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.error().message.find("RFC 3339"), std::string::npos) << bad;
    }
  }
  EXPECT_FALSE(
      parseExecCredential(credential(kV1, R"({"token":"t","expirationTimestamp":1136214245})"), kV1)
          .ok());
}

Result<ExecConfig> parseYaml(const std::string& yaml) { return parseExecConfig(YAML::Load(yaml)); }

TEST(ExecConfigTest, ParsesEverySetting) {
  auto config = parseYaml(
      "apiVersion: client.authentication.k8s.io/v1\n"
      "command: aws\n"
      "args: [--region, eu-west-1, eks, get-token, --cluster-name, prod]\n"
      "env:\n- name: AWS_PROFILE\n  value: prod\n- name: EMPTY\n"
      "installHint: \"install the AWS CLI\\n\\e[1mnow\\e[0m\"\n"
      "provideClusterInfo: true\n"
      "interactiveMode: Never\n"
      "somethingNewer: ignored\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->apiVersion, kExecApiV1);
  EXPECT_EQ(config->command, "aws");
  EXPECT_EQ(config->args, (std::vector<std::string>{"--region", "eu-west-1", "eks", "get-token",
                                                    "--cluster-name", "prod"}));
  EXPECT_EQ(config->env, (std::vector<std::pair<std::string, std::string>>{{"AWS_PROFILE", "prod"},
                                                                           {"EMPTY", ""}}));
  EXPECT_EQ(config->installHint, "install the AWS CLI\nU+001B[1mnowU+001B[0m")
      << "escape sequences are defused, newlines kept";
  EXPECT_TRUE(config->provideClusterInfo);
  EXPECT_EQ(config->interactiveMode, "Never");

  auto beta = parseYaml(
      "apiVersion: client.authentication.k8s.io/v1beta1\ncommand: gke-gcloud-auth-plugin\n");
  ASSERT_TRUE(beta.ok()) << beta.error().message;
  EXPECT_EQ(beta->interactiveMode, "IfAvailable") << "clientcmd's default for v1beta1";
  EXPECT_FALSE(beta->provideClusterInfo);
  EXPECT_TRUE(beta->args.empty());
}

TEST(ExecConfigTest, Errors) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"command: aws\ninteractiveMode: Never\n", "exec.apiVersion: required"},
      {"apiVersion: client.authentication.k8s.io/v1alpha1\ncommand: aws\n",
       "exec.apiVersion: client.authentication.k8s.io/v1alpha1 was removed"},
      {"apiVersion: client.authentication.k8s.io/v2\ncommand: aws\n",
       "exec.apiVersion: 'client.authentication.k8s.io/v2' is not"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\n", "exec.command: required"},
      {"apiVersion: client.authentication.k8s.io/v1\ncommand: aws\n",
       "exec.interactiveMode: required for client.authentication.k8s.io/v1"},
      {"apiVersion: client.authentication.k8s.io/v1\ncommand: aws\ninteractiveMode: Sometimes\n",
       "exec.interactiveMode: 'Sometimes' is not"},
      {"apiVersion: client.authentication.k8s.io/v1\ncommand: aws\ninteractiveMode: Always\n",
       "exec.interactiveMode: Always needs a terminal"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\ncommand: [aws]\n",
       "exec.command: must be a string"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\ncommand: aws\nargs: --region\n",
       "exec.args: must be a list"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\ncommand: aws\nargs: [a, {b: c}]\n",
       "exec.args[1]: must be a string"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\ncommand: aws\nenv:\n- value: x\n",
       "exec.env[0].name: required"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\ncommand: aws\nenv: {A: b}\n",
       "exec.env: must be a list"},
      {"apiVersion: client.authentication.k8s.io/v1beta1\ncommand: aws\nprovideClusterInfo: "
       "maybe\n",
       "exec.provideClusterInfo: must be true or false"},
      {"just a string", "exec: must be a mapping"},
  };
  for (const auto& c : cases) {
    auto config = parseYaml(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.error().message.rfind(c.error, 0), 0u)
        << c.yaml << " -> " << config.error().message;
  }
}

TEST(ExecInfoJsonTest, ExactlyWhatClientGoSets) {
  ExecConfig config;
  config.apiVersion = kExecApiV1;
  config.command = "aws";
  config.interactiveMode = "Never";
  EXPECT_EQ(execInfoJson(config, nullptr),
            "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
            "\"spec\":{\"interactive\":false}}\n");

  ExecClusterInfo cluster;
  cluster.server = "https://10.0.0.1:6443";
  cluster.certificateAuthorityPem = "baz";
  EXPECT_EQ(execInfoJson(config, &cluster), execInfoJson(config, nullptr))
      << "cluster info only when provideClusterInfo";

  config.provideClusterInfo = true;
  EXPECT_EQ(execInfoJson(config, &cluster),
            "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
            "\"spec\":{\"cluster\":{\"server\":\"https://10.0.0.1:6443\","
            "\"certificate-authority-data\":\"YmF6\",\"config\":null},\"interactive\":false}}\n");

  cluster.tlsServerName = "api.internal";
  cluster.insecureSkipTlsVerify = true;
  cluster.proxyUrl = "http://proxy:3128/?a=1&b=<2>";
  cluster.disableCompression = true;
  cluster.configJson = R"({"audience":"snorlax"})";
  EXPECT_EQ(execInfoJson(config, &cluster),
            "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
            "\"spec\":{\"cluster\":{\"server\":\"https://10.0.0.1:6443\","
            "\"tls-server-name\":\"api.internal\",\"insecure-skip-tls-verify\":true,"
            "\"certificate-authority-data\":\"YmF6\","
            "\"proxy-url\":\"http://proxy:3128/?a=1\\u0026b=\\u003c2\\u003e\","
            "\"disable-compression\":true,\"config\":{\"audience\":\"snorlax\"}},"
            "\"interactive\":false}}\n");

  config.apiVersion = kExecApiV1beta1;
  EXPECT_EQ(execInfoJson(config, &cluster)
                .rfind("{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
                       "v1beta1\","
                       "\"spec\":{\"cluster\":{",
                       0),
            0u);
}

TEST(ExecInfoJsonTest, ExtensionConfigIsCompactJsonWithSortedKeys) {
  auto json = extensionJson(
      YAML::Load("spec: {audience: snorlax, ttl: 15m}\napiVersion: group/v1\nkind: PluginConfig\n"
                 "count: 3\nratio: 1.5\nwhole: 2.0\nenabled: yes\nquoted: 'yes'\nnothing: ~\n"
                 "list: [a, 1, \"2\"]\nhtml: <b>&\n"));
  ASSERT_TRUE(json.ok()) << json.error().message;
  EXPECT_EQ(*json,
            R"({"apiVersion":"group/v1","count":3,"enabled":true,"html":"\u003cb\u003e\u0026",)"
            R"("kind":"PluginConfig","list":["a",1,"2"],"nothing":null,"quoted":"yes",)"
            R"("ratio":1.5,"spec":{"audience":"snorlax","ttl":"15m"},"whole":2})");
  // Aliases expanding exponentially are refused rather than followed.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  EXPECT_FALSE(extensionJson(YAML::Load(bomb)).ok());
}

}  // namespace
}  // namespace fleetscale::aggregator
