// Issue 16, the HTTP API ready for real clouds, against the real fleetscale-aggregator with a real
// HTTPS client: every route but the probes needs a token, roles, the open metrics listener,
// plaintext refused on the TLS port, tokens and certificates rotated on disk without a restart,
// mutual TLS.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/api/http_api.h"
#include "fleetscale/aggregator/api/scaling_routes.h"
#include "fleetscale/aggregator/control/cluster_registry.h"
#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_pki.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// One cluster to drain; nothing to scale.
constexpr const char* kPolicy = R"(clusters:
  - name: aws
    cloud: aws
    server: http://127.0.0.1:1
workloads: []
)";

constexpr const char* kTokens =
    "# the API's users\n"
    "v1ew-t0ken,alice,viewer\n"
    "adm1n-t0ken,ops,admin\n";

// Every route the aggregator serves, from the function its HTTP step registers them with: a
// route added later is walked too.
std::vector<HttpRouter::RoutePattern> aggregatorRoutes() {
  using namespace aggregator;
  ManualClock clock;
  FleetState fleet;
  SnapshotHolder snapshots;
  AggregatorMetrics metrics;
  WorkloadHistory history{std::chrono::minutes(15)};
  std::atomic<bool> ready{true};
  PolicyHolder policy;
  ClusterRegistry clusters(ClusterConnector{}, scaling::HealthThresholds{}, clock);
  ScalingLoop loop(policy, clusters, snapshots, nullptr, clock, ScalingLoopOptions{});
  const ApiContext api{fleet, snapshots, metrics, nullptr, history, clock, ready};
  const ScalingApiContext scaling{loop, clusters, nullptr, clock, [] { return Status{}; }};
  HttpRouter router;
  addAggregatorRoutes(router, api, scaling);
  return router.patterns();
}

// "/api/v1/clusters/{name}/drain" -> "/api/v1/clusters/aws/drain".
std::string concretePath(const std::string& pattern) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    out += "aws";
    i = pattern.find('}', i);
  }
  return out;
}

class AggregatorApiAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = makeTestPki({"127.0.0.1"}, "api-client");
    ASSERT_TRUE(pki.ok()) << pki.error().message;
    pki_ = *pki;
    ASSERT_TRUE(writePemPair(pki_.ca, dir_.path(), "ca").ok());
    ASSERT_TRUE(writePemPair(pki_.server, dir_.path(), "server").ok());
    ASSERT_TRUE(writePemPair(pki_.client, dir_.path(), "client").ok());
    testing::writeFile(dir_.file("policy.yaml"), kPolicy);
    testing::writeFile(dir_.file("tokens.csv"), kTokens);
  }

  void start(std::vector<std::string> extra) {
    std::vector<std::string> args{"--listen",
                                  "127.0.0.1:0",
                                  "--http-listen",
                                  "127.0.0.1:0",
                                  "--state-dir",
                                  dir_.file("state"),
                                  "--ready-file",
                                  dir_.file("ready.json"),
                                  "--policy",
                                  dir_.file("policy.yaml"),
                                  "--threads",
                                  "2",
                                  "--http-tls-cert-file",
                                  dir_.file("server.crt"),
                                  "--http-tls-key-file",
                                  dir_.file("server.key")};
    args.insert(args.end(), extra.begin(), extra.end());
    aggregator_ =
        std::make_unique<testing::Process>(testing::binaryPath("fleetscale-aggregator"), args);
    ports_ = testing::waitForReadyFile(dir_.file("ready.json"));
    ASSERT_NE(ports_.http, 0) << aggregator_->errors();
    base_ = "https://127.0.0.1:" + std::to_string(ports_.http);
  }

  // One request over HTTPS, verifying the server against `caFile` (default: the test CA).
  Result<HttpClientResponse> send(const std::string& method, const std::string& path,
                                  const std::string& token, TlsClientOptions tls = {}) {
    if (tls.caFile.empty()) tls.caFile = dir_.file("ca.crt");
    CurlHttpClient client(tls);
    HttpClientRequest request;
    request.method = method;
    request.url = base_ + path;
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    return client.send(request);
  }
  long status(const std::string& method, const std::string& path, const std::string& token = "") {
    auto response = send(method, path, token);
    return response ? response->status : 0;
  }

  std::optional<double> denied(const std::string& reason) {
    return testing::scrape("http://127.0.0.1:" + std::to_string(ports_.metrics) + "/metrics",
                           "fleetscale_http_requests_denied_total{reason=\"" + reason + "\"}");
  }

  testing::TempDir dir_;
  TestPki pki_;
  std::unique_ptr<testing::Process> aggregator_;
  testing::AggregatorPorts ports_;
  std::string base_;
};

TEST_F(AggregatorApiAuthTest, EveryRouteButTheProbesNeedsATokenAndRolesDecideTheRest) {
  start({"--api-tokens-file", dir_.file("tokens.csv"), "--metrics-listen", "127.0.0.1:0"});
  ASSERT_NE(ports_.metrics, 0) << "the ready file names the metrics port";

  const auto routes = aggregatorRoutes();
  ASSERT_GE(routes.size(), 10u);
  int refused = 0;
  for (const auto& route : routes) {
    const std::string path = concretePath(route.pattern);
    auto response = send(route.method, path, "");
    ASSERT_TRUE(response.ok()) << path << ": " << response.error().message;
    if (route.pattern == "/healthz" || route.pattern == "/readyz") {
      // 503 until the last startup step, 200 then: never a 401.
      EXPECT_TRUE(response->status == 200 || response->status == 503)
          << path << " is open to probes: " << response->status;
      continue;
    }
    EXPECT_EQ(response->status, 401) << route.method << " " << path << " without a token";
    EXPECT_EQ(response->headers["www-authenticate"], "Bearer realm=\"fleetscale\"") << path;
    ++refused;
  }
  EXPECT_EQ(status("GET", "/api/v1/not-yet-a-route"), 401) << "unknown paths too";
  EXPECT_EQ(status("GET", "/api/v1/status", "not-a-token"), 401);

  // The viewer reads everything, writes nothing.
  for (const auto& route : routes) {
    if (route.method != "GET") continue;
    const std::string path = concretePath(route.pattern);
    const long code = status("GET", path, "v1ew-t0ken");
    EXPECT_NE(code, 401) << path;
    EXPECT_NE(code, 403) << path;
  }
  EXPECT_EQ(status("GET", "/api/v1/status", "v1ew-t0ken"), 200);
  EXPECT_EQ(status("GET", "/metrics", "v1ew-t0ken"), 200);
  EXPECT_EQ(status("POST", "/api/v1/clusters/aws/drain", "v1ew-t0ken"), 403);

  // The admin drains; the audit log names the token's holder, never the token.
  auto drained = send("POST", "/api/v1/clusters/aws/drain", "adm1n-t0ken");
  ASSERT_TRUE(drained.ok()) << drained.error().message;
  EXPECT_EQ(drained->status, 200) << drained->body;
  EXPECT_EQ(json::parse(drained->body)["draining"], true);
  EXPECT_TRUE(testing::waitFor([&] {
    return aggregator_->errors().find("POST /api/v1/clusters/aws/drain by 'ops' (admin): 200") !=
           std::string::npos;
  })) << aggregator_->errors();
  EXPECT_EQ(aggregator_->errors().find("t0ken"), std::string::npos) << "no token in the log";

  // The open listener: /metrics and probes without a token, nothing else.
  const std::string open = "http://127.0.0.1:" + std::to_string(ports_.metrics);
  EXPECT_EQ(testing::httpGet(open + "/metrics").status, 200);
  EXPECT_EQ(testing::httpGet(open + "/healthz").status, 200);
  EXPECT_TRUE(testing::waitFor([&] { return testing::httpGet(open + "/readyz").status == 200; }));
  EXPECT_EQ(testing::httpGet(open + "/api/v1/status").status, 404);

  // Plain HTTP to the TLS port gets no answer.
  const auto plain =
      testing::httpGet("http://127.0.0.1:" + std::to_string(ports_.http) + "/healthz");
  EXPECT_EQ(plain.status, 0) << plain.body;

  EXPECT_GE(denied("missing_token").value_or(0), refused + 1);
  EXPECT_GE(denied("unknown_token").value_or(0), 1);
  EXPECT_GE(denied("forbidden").value_or(0), 1);
}

TEST_F(AggregatorApiAuthTest, RotatedTokensAndCertificateTakeEffectWithoutARestart) {
  start({"--api-tokens-file", dir_.file("tokens.csv"), "--metrics-listen", "127.0.0.1:0"});
  ASSERT_EQ(status("GET", "/api/v1/status", "v1ew-t0ken"), 200);

  // A Secret volume's swap: the file is replaced (writeFile renames a new one into place).
  testing::writeFile(dir_.file("tokens.csv"), "n3w-v1ew,alice,viewer\nadm1n-t0ken,ops,admin\n");
  EXPECT_TRUE(testing::waitFor([&] { return status("GET", "/api/v1/status", "n3w-v1ew") == 200; },
                               seconds(15)))
      << aggregator_->errors();
  EXPECT_EQ(status("GET", "/api/v1/status", "v1ew-t0ken"), 401) << "the old token is gone";

  // A malformed file keeps the tokens in force, and says so (log and event).
  testing::writeFile(dir_.file("tokens.csv"), "n3w-v1ew,alice\n");
  EXPECT_TRUE(testing::waitFor(
      [&] {
        return aggregator_->errors().find("HTTP API tokens reload failed") != std::string::npos;
      },
      seconds(15)))
      << aggregator_->errors();
  EXPECT_EQ(status("GET", "/api/v1/status", "n3w-v1ew"), 200);
  EXPECT_TRUE(testing::waitFor([&] {
    auto answer = send("GET", "/api/v1/events?kind=config_reload", "adm1n-t0ken");
    return answer && answer->body.find("line 1: expected token,name,role") != std::string::npos;
  })) << "the reload's failure is an event";
  EXPECT_EQ(aggregator_->errors().find("n3w-v1ew"), std::string::npos) << "no token in the log";

  // cert-manager renews the certificate from another CA: new connections get the new one.
  TestPki renewed = *makeTestPki({"127.0.0.1"});
  ASSERT_TRUE(writePemPair(renewed.ca, dir_.path(), "ca2").ok());
  TlsClientOptions trustsTheNewCa;
  trustsTheNewCa.caFile = dir_.file("ca2.crt");
  ASSERT_FALSE(send("GET", "/healthz", "", trustsTheNewCa).ok()) << "still the first certificate";
  ASSERT_TRUE(writePemPair(renewed.server, dir_.path(), "server").ok());
  EXPECT_TRUE(testing::waitFor([&] { return send("GET", "/healthz", "", trustsTheNewCa).ok(); },
                               seconds(15)))
      << aggregator_->errors();
  EXPECT_FALSE(send("GET", "/healthz", "").ok()) << "the old CA no longer verifies it";
}

TEST_F(AggregatorApiAuthTest, MutualTlsLetsOnlyClientsWithACertificateConnect) {
  start({"--api-tokens-file", dir_.file("tokens.csv"), "--http-tls-client-ca-file",
         dir_.file("ca.crt")});
  EXPECT_FALSE(send("GET", "/healthz", "").ok()) << "no client certificate: no connection";
  TlsClientOptions withCertificate;
  withCertificate.clientCertFile = dir_.file("client.crt");
  withCertificate.clientKeyFile = dir_.file("client.key");
  auto health = send("GET", "/healthz", "", withCertificate);
  ASSERT_TRUE(health.ok()) << health.error().message;
  EXPECT_EQ(health->status, 200);
  auto anonymous = send("GET", "/api/v1/status", "", withCertificate);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 401) << "the certificate lets a client in; the token gives a role";
  auto viewer = send("GET", "/api/v1/status", "v1ew-t0ken", withCertificate);
  ASSERT_TRUE(viewer.ok());
  EXPECT_EQ(viewer->status, 200);
}

TEST_F(AggregatorApiAuthTest, WithoutTokensOnlyTheProbesAnswerAndTheLogSaysSo) {
  start({});
  EXPECT_EQ(status("GET", "/healthz"), 200);
  EXPECT_EQ(status("GET", "/api/v1/status"), 401);
  EXPECT_EQ(status("GET", "/metrics"), 401);
  EXPECT_NE(aggregator_->errors().find("the HTTP API answers only /healthz and /readyz"),
            std::string::npos)
      << aggregator_->errors();
}

TEST_F(AggregatorApiAuthTest, AnonymousReadsLetGetsThroughButNotWrites) {
  start({"--api-tokens-file", dir_.file("tokens.csv"), "--http-anonymous-reads"});
  EXPECT_EQ(status("GET", "/api/v1/status"), 200);
  EXPECT_EQ(status("GET", "/metrics"), 200);
  EXPECT_EQ(status("POST", "/api/v1/clusters/aws/drain"), 401);
  EXPECT_EQ(status("POST", "/api/v1/clusters/aws/drain", "v1ew-t0ken"), 403);
}

}  // namespace
}  // namespace fleetscale
