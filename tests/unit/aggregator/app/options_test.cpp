#include "fleetscale/aggregator/app/options.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/version.h"

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
           {[](AggregatorOptions& o) { o.tick = "0s"; }, "--tick: must be positive"},
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

TEST(AggregatorOptionsTest, ThreadsDefaultToOnePerCpu) {
  AggregatorOptions options;
  EXPECT_GE(ioThreads(options), 1u);
  options.threads = 3;
  EXPECT_EQ(ioThreads(options), 3u);
}

}  // namespace
}  // namespace fleetscale::aggregator
