#include "fleetscale/aggregator/app/options.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/version.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

std::string errorOf(const AggregatorOptions& options) {
  auto settings = resolveOptions(options);
  return settings ? "" : settings.error().message;
}

TEST(AggregatorOptionsTest, DefaultsResolve) {
  AggregatorOptions options;
  options.aggregatorId = "agg-1";
  auto settings = resolveOptions(options);
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  EXPECT_EQ(settings->listen.port, 7070);
  EXPECT_EQ(settings->httpListen.port, 7080);
  EXPECT_EQ(settings->durations.tick, std::chrono::seconds(1));
  EXPECT_EQ(settings->durations.historyWindow, std::chrono::minutes(15));
  EXPECT_GE(settings->threads, 1u);
  EXPECT_TRUE(settings->token.empty());
  EXPECT_EQ(settings->tls, nullptr);
  EXPECT_EQ(settings->identity, "agg-1");
  EXPECT_EQ(settings->userAgent, std::string("fleetscale-aggregator/") + kVersion + " agg-1");
}

TEST(AggregatorOptionsTest, ErrorsNameTheFlag) {
  struct Case {
    void (*set)(AggregatorOptions&);
    std::string prefix;
  };
  for (const auto& c : std::vector<Case>{
           {[](AggregatorOptions& o) { o.listen = "no-port"; }, "--listen: "},
           {[](AggregatorOptions& o) { o.httpListen = "no-port"; }, "--http-listen: "},
           {[](AggregatorOptions& o) { o.idleTimeout = "soon"; }, "--idle-timeout: "},
           {[](AggregatorOptions& o) { o.tick = "0s"; }, "--tick: '0s' is out of range"},
           {[](AggregatorOptions& o) { o.tokenFile = "/nonexistent/token"; }, "--token-file: "},
           {[](AggregatorOptions& o) { o.adminTokenFile = "/nonexistent/admin"; },
            "--admin-token-file: "},
           {[](AggregatorOptions& o) { o.tlsCertFile = "/nonexistent/cert.pem"; }, "TLS: "},
           {[](AggregatorOptions& o) { o.tlsClientCaFile = "/nonexistent/ca.pem"; },
            "--tls-client-ca-file needs --tls-cert-file and --tls-key-file"},
       }) {
    AggregatorOptions options;
    c.set(options);
    const std::string error = errorOf(options);
    EXPECT_EQ(error.rfind(c.prefix, 0), 0u) << "'" << error << "' should start with " << c.prefix;
  }
}

// Issue 16: per-cluster agent tokens, read at startup and failing closed, and the client
// certificate's identity.
TEST(AggregatorOptionsTest, AgentTokensDirIsReadAndExcludesTheSharedToken) {
  testing::TempDir dir;
  testing::writeFile(dir.file("tokens/aws-eu"), "token-aws\n");
  testing::writeFile(dir.file("tokens/gcp-us"), "token-gcp\n");
  testing::writeFile(dir.file("token"), "shared\n");
  AggregatorOptions options;
  options.agentTokensDir = dir.file("tokens");
  auto settings = resolveOptions(options);
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  ASSERT_NE(settings->agentTokens, nullptr);
  EXPECT_EQ(*settings->agentTokens,
            AgentTokens({{"aws-eu", "token-aws"}, {"gcp-us", "token-gcp"}}));
  EXPECT_TRUE(settings->token.empty());
  EXPECT_EQ(settings->clientIdentity, ClientIdentity::kCluster) << "the default";
  EXPECT_EQ(resolveOptions(AggregatorOptions())->agentTokens, nullptr);

  options.tokenFile = dir.file("token");
  EXPECT_EQ(errorOf(options).rfind("--agent-tokens-dir: use either --token-file", 0), 0u)
      << errorOf(options);
  options.tokenFile.clear();
  testing::writeFile(dir.file("tokens/azure-ne"), "");
  EXPECT_EQ(errorOf(options).rfind("--agent-tokens-dir: cluster azure-ne: ", 0), 0u)
      << errorOf(options);
  options.agentTokensDir = dir.file("missing");
  EXPECT_EQ(errorOf(options).rfind("--agent-tokens-dir: ", 0), 0u) << errorOf(options);

  AggregatorOptions any;
  any.tlsClientIdentity = "any";
  EXPECT_EQ(resolveOptions(any)->clientIdentity, ClientIdentity::kAny);
}

// Issue 19: an empty --token-file turned agent authentication off ("no --token-file: any agent
// may connect", although the flag was given). A named token file must hold a token.
TEST(AggregatorOptionsTest, ANamedTokenFileThatHoldsNoTokenIsAnError) {
  testing::TempDir dir;
  testing::writeFile(dir.file("empty"), "");
  testing::writeFile(dir.file("blank"), "\n  \n");
  testing::writeFile(dir.file("token"), "s3cret\n");
  for (const char* file : {"empty", "blank"}) {
    AggregatorOptions agents;
    agents.tokenFile = dir.file(file);
    EXPECT_EQ(errorOf(agents),
              "--token-file: " + dir.file(file) + " is empty: a token file must hold the token");
    AggregatorOptions admin;
    admin.adminTokenFile = dir.file(file);
    EXPECT_EQ(errorOf(admin).rfind("--admin-token-file: ", 0), 0u) << errorOf(admin);
  }
  AggregatorOptions good;
  good.tokenFile = dir.file("token");
  good.adminTokenFile = dir.file("token");
  auto settings = resolveOptions(good);
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  EXPECT_EQ(settings->token, "s3cret");
  EXPECT_EQ(settings->adminToken, "s3cret");
}

// Issue 19: --idle-timeout 3000000h overflowed into a negative timeout that disconnected every
// agent at once. Every duration flag has a range, and the error says which.
TEST(AggregatorOptionsTest, DurationFlagsOutsideTheirRangeAreErrors) {
  struct Case {
    void (*set)(AggregatorOptions&);
    std::string error;
  };
  for (const auto& c : std::vector<Case>{
           {[](AggregatorOptions& o) { o.idleTimeout = "3000000h"; },
            "--idle-timeout: '3000000h' is longer than the maximum duration 87600h (10 years)"},
           {[](AggregatorOptions& o) { o.idleTimeout = "25h"; },
            "--idle-timeout: '25h' is out of range: must be from 1s to 24h"},
           {[](AggregatorOptions& o) { o.handshakeTimeout = "0s"; },
            "--handshake-timeout: '0s' is out of range: must be from 100ms to 1h"},
           {[](AggregatorOptions& o) { o.eventRetention = "2562048h"; },
            "--event-retention: '2562048h' is longer than the maximum duration 87600h (10 years)"},
           {[](AggregatorOptions& o) { o.failedAfter = "8761h"; },
            "--failed-after: '8761h' is out of range: must be from 100ms to 24h"},
       }) {
    AggregatorOptions options;
    c.set(options);
    EXPECT_EQ(errorOf(options), c.error);
  }
  AggregatorOptions widest;
  widest.idleTimeout = "24h";
  widest.eventRetention = "8760h";
  widest.tick = "10ms";
  EXPECT_EQ(errorOf(widest), "") << "the bounds themselves are allowed";
}

TEST(AggregatorOptionsTest, ThreadsDefaultToOnePerCpu) {
  AggregatorOptions options;
  EXPECT_GE(ioThreads(options), 1u);
  options.threads = 3;
  EXPECT_EQ(ioThreads(options), 3u);
}

}  // namespace
}  // namespace fleetscale::aggregator
