#include "fleetscale/aggregator/kube/kubeconfig.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_pki.h"

namespace fleetscale::aggregator {
namespace {

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63],
            kAlphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

TEST(KubeconfigTest, ContextsTokensAndInlineCertificates) {
  auto pki = makeTestPki();
  ASSERT_TRUE(pki.ok());
  const std::string yaml =
      "apiVersion: v1\nkind: Config\ncurrent-context: aws\n"
      "clusters:\n"
      "- name: aws-cluster\n  cluster:\n    server: https://127.0.0.1:6443/\n"
      "    certificate-authority-data: " +
      base64(pki->ca.certificate) +
      "\n"
      "- name: gcp-cluster\n  cluster:\n    server: https://10.1.1.1\n    "
      "insecure-skip-tls-verify: true\n"
      "users:\n"
      "- name: aws-admin\n  user:\n    token: abc123\n"
      "- name: gcp-admin\n  user:\n"
      "    client-certificate-data: " +
      base64(pki->client.certificate) +
      "\n"
      "    client-key-data: " +
      base64(pki->client.privateKey) +
      "\n"
      "contexts:\n"
      "- name: aws\n  context:\n    cluster: aws-cluster\n    user: aws-admin\n"
      "- name: gcp\n  context:\n    cluster: gcp-cluster\n    user: gcp-admin\n";
  auto current = parseKubeconfig(yaml, "", "");
  ASSERT_TRUE(current.ok()) << current.error().message;
  EXPECT_EQ(current->server, "https://127.0.0.1:6443");
  EXPECT_EQ(current->bearerToken, "abc123");
  EXPECT_EQ(current->tls.caPem, pki->ca.certificate);
  auto gcp = parseKubeconfig(yaml, "gcp", "");
  ASSERT_TRUE(gcp.ok()) << gcp.error().message;
  EXPECT_TRUE(gcp->tls.insecureSkipVerify);
  EXPECT_EQ(gcp->tls.clientCertPem, pki->client.certificate);
  EXPECT_EQ(gcp->tls.clientKeyPem, pki->client.privateKey);
  EXPECT_TRUE(gcp->bearerToken.empty());
  EXPECT_FALSE(parseKubeconfig(yaml, "azure", "").ok());
}

TEST(KubeconfigTest, RelativeFilesResolveAgainstTheKubeconfigDirectory) {
  testing::TempDir dir;
  testing::writeFile(dir.file("certs/ca.crt"), "CA PEM");
  testing::writeFile(dir.file("token"), "from-file\n");
  testing::writeFile(
      dir.file("kubeconfig"),
      "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://x:1\n"
      "    certificate-authority: certs/ca.crt\nusers:\n- name: u\n  user:\n    tokenFile: token\n"
      "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n");
  ClusterAccess access;
  access.kind = ClusterAccess::Kind::kKubeconfig;
  access.kubeconfig = dir.file("kubeconfig");
  auto credentials = resolveCredentials(access);
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  EXPECT_EQ(credentials->tls.caPem, "CA PEM");
  EXPECT_EQ(credentials->bearerToken, "from-file");
  EXPECT_EQ(credentials->tokenFile, dir.file("token")) << "read again as it changes";
}

TEST(KubeconfigTest, ServerTokenAndInCluster) {
  testing::TempDir dir;
  testing::writeFile(dir.file("sa/token"), "sa-token");
  testing::writeFile(dir.file("sa/ca.crt"), "ca");
  testing::writeFile(dir.file("token"), "t0k3n");
  ClusterAccess server;
  server.kind = ClusterAccess::Kind::kServer;
  server.server = "https://api.example:443/";
  server.tokenFile = dir.file("token");
  server.caFile = dir.file("sa/ca.crt");
  auto direct = resolveCredentials(server);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->server, "https://api.example:443");
  EXPECT_EQ(direct->bearerToken, "t0k3n");
  EXPECT_EQ(direct->tokenFile, dir.file("token"));

  ClusterAccess inCluster;
  inCluster.kind = ClusterAccess::Kind::kInCluster;
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "10.96.0.1";
    if (name == "KUBERNETES_SERVICE_PORT") return "443";
    return std::nullopt;
  };
  auto pod = resolveCredentials(inCluster, env, dir.file("sa"));
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->server, "https://10.96.0.1:443");
  EXPECT_EQ(pod->bearerToken, "sa-token");
  EXPECT_EQ(pod->tokenFile, dir.file("sa") + "/token") << "projected tokens rotate";
  EXPECT_EQ(pod->tls.caFile, dir.file("sa") + "/ca.crt");
  auto noEnv = resolveCredentials(
      inCluster, [](const std::string&) { return std::nullopt; }, dir.file("sa"));
  EXPECT_FALSE(noEnv.ok());
}

// An EKS-style kubeconfig whose user runs a credential plugin.
std::string execKubeconfig(const std::string& userExtra, const std::string& clusterExtra = "") {
  return "current-context: eks\n"
         "clusters:\n- name: prod\n  cluster:\n    server: "
         "https://ABC.gr7.eu-west-1.eks.amazonaws.com/\n"
         "    certificate-authority-data: " +
         base64("CA PEM") + "\n" + clusterExtra + "users:\n- name: eks-user\n  user:\n" +
         userExtra + "contexts:\n- name: eks\n  context:\n    cluster: prod\n    user: eks-user\n";
}

TEST(KubeconfigTest, ExecUser) {
  auto credentials = parseKubeconfig(
      execKubeconfig("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                     "      command: aws\n"
                     "      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod]\n"
                     "      env:\n      - name: AWS_PROFILE\n        value: prod\n"),
      "", "/etc/fleetscale");
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  ASSERT_TRUE(credentials->exec.has_value());
  EXPECT_EQ(credentials->exec->command, "aws") << "a bare name is for $PATH";
  EXPECT_EQ(credentials->exec->args.size(), 6u);
  EXPECT_EQ(credentials->exec->interactiveMode, "IfAvailable");
  EXPECT_TRUE(credentials->bearerToken.empty());
  EXPECT_EQ(credentials->tls.caPem, "CA PEM");
  EXPECT_TRUE(credentials->execCluster.server.empty()) << "no provideClusterInfo";
}

TEST(KubeconfigTest, ExecCommandPathsResolveAgainstTheKubeconfigDirectory) {
  const auto commandFor = [](const std::string& command) -> std::string {
    auto credentials = parseKubeconfig(
        execKubeconfig("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                       "      interactiveMode: Never\n      command: " +
                       command + "\n"),
        "", "/etc/fleetscale");
    if (!credentials.ok()) return "error: " + credentials.error().message;
    return credentials->exec ? credentials->exec->command : "no exec";
  };
  EXPECT_EQ(commandFor("./bin/token-helper"), "/etc/fleetscale/bin/token-helper");
  EXPECT_EQ(commandFor("bin/token-helper"), "/etc/fleetscale/bin/token-helper");
  EXPECT_EQ(commandFor("../tools/helper"), "/etc/tools/helper");
  EXPECT_EQ(commandFor("/usr/local/bin/helper"), "/usr/local/bin/helper");
  EXPECT_EQ(commandFor("gke-gcloud-auth-plugin"), "gke-gcloud-auth-plugin");
}

TEST(KubeconfigTest, ExecClusterInfoWhenAsked) {
  auto credentials = parseKubeconfig(
      execKubeconfig("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                     "      command: helper\n      interactiveMode: Never\n"
                     "      provideClusterInfo: true\n",
                     "    tls-server-name: api.internal\n    proxy-url: http://proxy:3128\n"
                     "    extensions:\n    - name: other\n      extension: {a: b}\n"
                     "    - name: client.authentication.k8s.io/exec\n"
                     "      extension:\n        audience: snorlax\n        retries: 3\n"),
      "", "");
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  ASSERT_TRUE(credentials->exec.has_value());
  const auto& cluster = credentials->execCluster;
  EXPECT_EQ(cluster.server, "https://ABC.gr7.eu-west-1.eks.amazonaws.com/") << "as written";
  EXPECT_EQ(cluster.certificateAuthorityPem, "CA PEM");
  EXPECT_EQ(cluster.tlsServerName, "api.internal");
  EXPECT_EQ(cluster.proxyUrl, "http://proxy:3128");
  EXPECT_EQ(cluster.configJson, R"({"audience":"snorlax","retries":3})");
  EXPECT_EQ(execInfoJson(*credentials->exec, &cluster),
            "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
            "\"spec\":{\"cluster\":{\"server\":\"https://ABC.gr7.eu-west-1.eks.amazonaws.com/\","
            "\"tls-server-name\":\"api.internal\",\"certificate-authority-data\":\"" +
                base64("CA PEM") +
                "\",\"proxy-url\":\"http://proxy:3128\",\"config\":{\"audience\":\"snorlax\","
                "\"retries\":3}},\"interactive\":false}}\n");
}

TEST(KubeconfigTest, StaticCredentialsWinOverExecAsInClientGo) {
  const std::string exec =
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n";
  auto token = parseKubeconfig(execKubeconfig("    token: static\n" + exec), "", "");
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_EQ(token->bearerToken, "static");
  EXPECT_FALSE(token->exec.has_value()) << "client-go never runs the plugin then";

  auto pki = makeTestPki();
  ASSERT_TRUE(pki.ok());
  auto cert = parseKubeconfig(
      execKubeconfig("    client-certificate-data: " + base64(pki->client.certificate) +
                     "\n    client-key-data: " + base64(pki->client.privateKey) + "\n" + exec),
      "", "");
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_FALSE(cert->exec.has_value());
  EXPECT_EQ(cert->tls.clientCertPem, pki->client.certificate);

  // The exec settings are still validated, as clientcmd's ConfirmUsable does.
  auto broken =
      parseKubeconfig(execKubeconfig("    token: static\n    exec:\n      apiVersion: "
                                     "client.authentication.k8s.io/v1alpha1\n      command: aws\n"),
                      "", "");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().message,
            "kubeconfig user 'eks-user': exec.apiVersion: client.authentication.k8s.io/v1alpha1 "
            "was removed in Kubernetes 1.24; use client.authentication.k8s.io/v1 or "
            "client.authentication.k8s.io/v1beta1");
}

TEST(KubeconfigTest, BrokenExecUsers) {
  for (const std::string& exec : {
           std::string("    exec:\n      command: aws\n"),
           std::string("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                       "      command: aws\n"),
           std::string("    exec: [aws]\n"),
       }) {
    auto credentials = parseKubeconfig(execKubeconfig(exec), "", "");
    ASSERT_FALSE(credentials.ok()) << exec;
    EXPECT_EQ(credentials.error().message.rfind("kubeconfig user 'eks-user': exec", 0), 0u)
        << credentials.error().message;
  }
  auto nullExec = parseKubeconfig(execKubeconfig("    token: t\n    exec: null\n"), "", "");
  ASSERT_TRUE(nullExec.ok()) << nullExec.error().message;
  EXPECT_FALSE(nullExec->exec.has_value());
}

TEST(KubeconfigTest, BrokenKubeconfigs) {
  EXPECT_FALSE(parseKubeconfig("clusters: [", "", "").ok());
  EXPECT_FALSE(parseKubeconfig("contexts: []\n", "", "").ok()) << "no current-context";
  EXPECT_FALSE(
      parseKubeconfig("current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: nope\n",
                      "", "")
          .ok());
  EXPECT_FALSE(parseKubeconfig(
                   "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://x\n"
                   "    certificate-authority-data: '@@@'\ncontexts:\n- name: c\n  context:\n    "
                   "cluster: k\n",
                   "", "")
                   .ok())
      << "bad base64";
}

}  // namespace
}  // namespace fleetscale::aggregator
