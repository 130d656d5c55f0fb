#include "fleetscale/aggregator/app/options.h"

#include <gtest/gtest.h>

#include <functional>

#include "fleetscale/shared/options.h"
#include "fleetscale/shared/version.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_pki.h"

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
  ASSERT_EQ(settings->apiTokens.size(), 1u);
  EXPECT_EQ(settings->apiTokens[0].token, "s3cret");
  EXPECT_EQ(settings->apiTokens[0].name, "admin");
  EXPECT_EQ(settings->apiTokens[0].role, ApiRole::kAdmin);
}

// The HTTP API's flags: tokens file errors name the flag and the line, TLS errors the flag whose
// file is wrong, --metrics-listen its address.
TEST(AggregatorOptionsTest, HttpApiFlagErrorsNameTheFlag) {
  testing::TempDir dir;
  testing::writeFile(dir.file("tokens.csv"), "# people\nt1,alice,viewer\nt2,bob\n");
  testing::writeFile(dir.file("garbage.pem"), "not a certificate\n");
  struct Case {
    std::function<void(AggregatorOptions&)> set;
    std::string prefix;
  };
  for (const auto& c : std::vector<Case>{
           {[&](AggregatorOptions& o) { o.apiTokensFile = dir.file("tokens.csv"); },
            "--api-tokens-file: " + dir.file("tokens.csv") + ": line 3: "},
           {[](AggregatorOptions& o) { o.apiTokensFile = "/nonexistent/tokens"; },
            "--api-tokens-file: "},
           {[](AggregatorOptions& o) { o.metricsListen = "no-port"; }, "--metrics-listen: "},
           {[&](AggregatorOptions& o) { o.httpTlsCertFile = dir.file("garbage.pem"); },
            "--http-tls-key-file is needed"},
           {[&](AggregatorOptions& o) { o.httpTlsKeyFile = dir.file("garbage.pem"); },
            "--http-tls-cert-file is needed"},
           {[&](AggregatorOptions& o) { o.httpTlsClientCaFile = dir.file("garbage.pem"); },
            "--http-tls-client-ca-file needs --http-tls-cert-file"},
           {[&](AggregatorOptions& o) {
              o.httpTlsCertFile = dir.file("garbage.pem");
              o.httpTlsKeyFile = dir.file("garbage.pem");
            },
            "--http-tls-cert-file: "},
       }) {
    AggregatorOptions options;
    c.set(options);
    const std::string error = errorOf(options);
    EXPECT_EQ(error.rfind(c.prefix, 0), 0u) << "'" << error << "' should start with " << c.prefix;
    EXPECT_EQ(error.find("t1"), std::string::npos) << "no token in an error: " << error;
  }
}

TEST(AggregatorOptionsTest, HttpApiFlagsResolve) {
  testing::TempDir dir;
  auto pki = makeTestPki();
  ASSERT_TRUE(pki.ok()) << pki.error().message;
  ASSERT_TRUE(writePemPair(pki->server, dir.path(), "server").ok());
  ASSERT_TRUE(writePemPair(pki->ca, dir.path(), "ca").ok());
  testing::writeFile(dir.file("admin"), "adm1n\n");
  testing::writeFile(dir.file("tokens.csv"), "v1ew,alice,viewer\n");
  AggregatorOptions options;
  options.adminTokenFile = dir.file("admin");
  options.apiTokensFile = dir.file("tokens.csv");
  options.metricsListen = "127.0.0.1:7081";
  options.httpTlsCertFile = dir.file("server.crt");
  options.httpTlsKeyFile = dir.file("server.key");
  auto settings = resolveOptions(options);
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  ASSERT_EQ(settings->apiTokens.size(), 2u);
  EXPECT_EQ(settings->apiTokens[0].name, "admin");
  EXPECT_EQ(settings->apiTokens[1].name, "alice");
  EXPECT_NE(settings->httpTls, nullptr);
  ASSERT_TRUE(settings->metricsListen.has_value());
  EXPECT_EQ(settings->metricsListen->port, 7081);
  options.httpTlsClientCaFile = dir.file("server.key");
  EXPECT_EQ(errorOf(options).rfind("--http-tls-client-ca-file: ", 0), 0u) << errorOf(options);
  options.httpTlsClientCaFile = dir.file("ca.crt");
  EXPECT_EQ(errorOf(options), "");
  options.httpTlsKeyFile = dir.file("ca.key");
  EXPECT_EQ(errorOf(options).rfind("--http-tls-key-file: ", 0), 0u)
      << "a key that does not match the certificate: " << errorOf(options);

  AggregatorOptions defaults;
  auto plain = resolveOptions(defaults);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->apiTokens.empty());
  EXPECT_EQ(plain->httpTls, nullptr);
  EXPECT_FALSE(plain->metricsListen.has_value()) << "--metrics-listen is off by default";
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

// Issue 17: the highest protocol version offered to agents, 2 unless held back for a rollout.
TEST(AggregatorOptionsTest, MaxProtocolVersionIsOneOrTwoFromAFlagOrTheEnvironment) {
  // CLI11 takes its arguments last to first.
  const auto parse = [](std::vector<std::string> args, const EnvLookup& env) {
    CLI::App app;
    AggregatorOptions options;
    addAggregatorOptions(app, options);
    auto merged = mergeEnvironmentAndConfig(app, std::move(args), env);
    if (!merged) return std::pair{options, merged.error().message};
    std::reverse(merged->begin(), merged->end());
    try {
      app.parse(*merged);
    } catch (const CLI::ParseError& error) {
      return std::pair{options, std::string(error.what())};
    }
    return std::pair{options, std::string()};
  };
  const EnvLookup none = [](const std::string&) { return std::nullopt; };
  EXPECT_EQ(parse({}, none).first.maxProtocolVersion, 2u);
  EXPECT_EQ(parse({"--max-protocol-version", "1"}, none).first.maxProtocolVersion, 1u);
  const EnvLookup held = [](const std::string& name) -> std::optional<std::string> {
    if (name == "FLEETSCALE_MAX_PROTOCOL_VERSION") return "1";
    return std::nullopt;
  };
  EXPECT_EQ(parse({}, held).first.maxProtocolVersion, 1u);
  for (const char* value : {"0", "3"}) {
    const std::string error = parse({"--max-protocol-version", value}, none).second;
    EXPECT_NE(error.find("--max-protocol-version"), std::string::npos) << value << ": " << error;
  }
}

TEST(AggregatorOptionsTest, ThreadsDefaultToOnePerCpu) {
  AggregatorOptions options;
  EXPECT_GE(ioThreads(options), 1u);
  options.threads = 3;
  EXPECT_EQ(ioThreads(options), 3u);
}

}  // namespace
}  // namespace fleetscale::aggregator
