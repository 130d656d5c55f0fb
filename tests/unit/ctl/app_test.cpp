#include "fleetscale/ctl/app.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace fleetscale::ctl {
namespace {

// Answers by URL path (without the server) and remembers every URL asked for.
class CannedHttp final : public HttpClient {
 public:
  explicit CannedHttp(std::map<std::string, Result<HttpClientResponse>> answers)
      : answers_(std::move(answers)) {}
  Result<HttpClientResponse> send(const HttpClientRequest& request) override {
    urls.push_back(request.url);
    methods.push_back(request.method);
    const std::string path = request.url.substr(request.url.find("/api/"));
    const std::string route = path.substr(0, path.find('?'));
    auto it = answers_.find(route);
    if (it == answers_.end()) return HttpClientResponse{404, R"({"error":"no such path"})", {}};
    return it->second;
  }
  std::vector<std::string> urls;
  std::vector<std::string> methods;

 private:
  std::map<std::string, Result<HttpClientResponse>> answers_;
};

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(HttpClient& http, std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = runCtl(args, http, out, err);
  return {code, out.str(), err.str()};
}

HttpClientResponse ok(std::string body) { return HttpClientResponse{200, std::move(body), {}}; }

TEST(CtlAppTest, QueryStringsSkipEmptyValuesAndEscape) {
  EXPECT_EQ(queryString({{"a", ""}, {"b", ""}}), "");
  EXPECT_EQ(queryString({{"cluster", "aws"}, {"node", ""}, {"since", "2026-01-01T00:00:00+02:00"}}),
            "?cluster=aws&since=2026-01-01T00%3A00%3A00%2B02%3A00");
}

TEST(CtlAppTest, ContainersTableWithFilters) {
  CannedHttp http(
      {{"/api/v1/containers",
        ok(R"({"items":[{"cluster":"aws","node":"n1","id":"0123456789abcdef","runtime":"containerd","namespace":"shop","pod":"web-1","cpu_cores":0.25,"cpu_limit_cores":null,"memory_working_set_bytes":1048576,"memory_limit_bytes":null,"stale":false}]})")}});
  auto result = run(http, {"--server", "http://agg:7080", "containers", "--cluster", "aws"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(http.urls.at(0), "http://agg:7080/api/v1/containers?cluster=aws");
  EXPECT_NE(result.out.find("0123456789ab "), std::string::npos) << "ids shortened: " << result.out;
  EXPECT_NE(result.out.find("0.250"), std::string::npos);
  EXPECT_NE(result.out.find("1.0Mi"), std::string::npos);
  EXPECT_NE(result.out.find("fresh"), std::string::npos);
}

TEST(CtlAppTest, TopShowsWorkloadsAndClusters) {
  CannedHttp http(
      {{"/api/v1/workloads",
        ok(R"({"items":[{"namespace":"shop","kind":"Deployment","name":"web","clusters":[{},{}],"replicas":4,"replicas_ready":3,"cpu_usage_cores":1.5,"cpu_request_cores":2,"cpu_utilization":0.75,"memory_usage_bytes":2097152,"memory_utilization":null}]})")},
       {"/api/v1/clusters",
        ok(R"({"items":[{"name":"aws","health":"degraded","nodes":3,"stale_nodes":1,"agents_connected":2,"containers":10,"workloads":1,"cpu_usage_cores":1.5,"cpu_capacity_cores":8,"memory_usage_bytes":1048576,"memory_capacity_bytes":2097152}]})")}});
  auto result = run(http, {"top", "--namespace", "shop"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(http.urls.at(0), "http://127.0.0.1:7080/api/v1/workloads?namespace=shop");
  EXPECT_NE(result.out.find("Deployment/web"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("3/4"), std::string::npos);
  EXPECT_NE(result.out.find("75%"), std::string::npos);
  EXPECT_NE(result.out.find("degraded"), std::string::npos);
  EXPECT_NE(result.out.find("2/3"), std::string::npos) << "fresh of all nodes";
  auto clustersOnly = run(http, {"top", "clusters"});
  EXPECT_EQ(clustersOnly.out.find("NAMESPACE"), std::string::npos);
  EXPECT_NE(clustersOnly.out.find("HEALTH"), std::string::npos);
}

TEST(CtlAppTest, EventsAndDecisions) {
  CannedHttp http(
      {{"/api/v1/events",
        ok(R"({"items":[{"time_unix_ms":1700000000000,"kind":"agent_connected","cluster":"aws","agent_id":"a1","message":"agent a1 connected"}]})")},
       {"/api/v1/decisions",
        ok(R"({"items":[{"time_unix_ms":1700000000000,"namespace":"shop","kind":"Deployment","name":"web","current_replicas":3,"desired_replicas":5,"reason":"cpu"}]})")}});
  auto events = run(http, {"events", "--kind", "agent_connected", "--since", "1h"});
  ASSERT_EQ(events.code, 0) << events.err;
  EXPECT_EQ(http.urls.back(), "http://127.0.0.1:7080/api/v1/events?kind=agent_connected&since=1h");
  EXPECT_NE(events.out.find("2023-11-14T22:13:20Z"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("agent a1 connected"), std::string::npos);
  auto decisions = run(http, {"decisions", "--workload", "web", "--limit", "5"});
  ASSERT_EQ(decisions.code, 0);
  EXPECT_NE(decisions.out.find("Deployment/web"), std::string::npos);
  EXPECT_NE(decisions.out.find("5 "), std::string::npos);
}

// One row per node, with how often its agent was replaced (restarts, rollouts).
TEST(CtlAppTest, NodesShowOneRowPerNodeWithItsAgentRestarts) {
  CannedHttp http(
      {{"/api/v1/nodes",
        ok(R"({"items":[{"cluster":"aws","node":"n1","connected":true,"stale":false,"containers":3,"cpu_usage_cores":0.5,"cpu_capacity_cores":4,"memory_usage_bytes":1048576,"memory_capacity_bytes":2097152,"agent_version":"0.1.0","agent_restarts":7,"last_sequence":42}]})")}});
  auto result = run(http, {"nodes"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("RESTARTS"), std::string::npos) << result.out;
  const auto row = result.out.substr(result.out.find("\naws"));
  EXPECT_NE(row.find(" 7 "), std::string::npos) << result.out;
  EXPECT_NE(row.find("42"), std::string::npos) << result.out;
}

TEST(CtlAppTest, JsonOutputPassesTheApiThrough) {
  CannedHttp http({{"/api/v1/nodes", ok(R"({"items":[]})")}});
  auto result = run(http, {"-o", "json", "nodes"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("\"items\": []"), std::string::npos);
}

TEST(CtlAppTest, ExitCodes) {
  CannedHttp down({{"/api/v1/nodes", Error{"connection refused"}}});
  auto unreachable = run(down, {"nodes"});
  EXPECT_EQ(unreachable.code, kCtlServerError);
  EXPECT_NE(unreachable.err.find("cannot reach"), std::string::npos);
  CannedHttp failing({{"/api/v1/nodes", HttpClientResponse{500, R"({"error":"boom"})", {}}},
                      {"/api/v1/events", HttpClientResponse{400, R"({"error":"bad since"})", {}}},
                      {"/api/v1/decisions", HttpClientResponse{403, R"({"error":"no"})", {}}}});
  auto serverError = run(failing, {"nodes"});
  EXPECT_EQ(serverError.code, kCtlServerError);
  EXPECT_NE(serverError.err.find("boom"), std::string::npos);
  EXPECT_EQ(run(failing, {"events", "--since", "soon"}).code, kCtlUsageError);
  EXPECT_EQ(run(failing, {"decisions"}).code, kCtlAuthError);
  EXPECT_EQ(run(failing, {"containers"}).code, kCtlNotFound);
  EXPECT_EQ(run(failing, {"frobnicate"}).code, kCtlUsageError);
  EXPECT_EQ(run(failing, {}).code, kCtlUsageError);
  EXPECT_EQ(run(failing, {"--help"}).code, kCtlOk);
  CannedHttp notJson({{"/api/v1/nodes", ok("<html>")}});
  EXPECT_EQ(run(notJson, {"nodes"}).code, kCtlServerError);
}

// Connection settings that cannot work are usage errors, found before any request.
TEST(CtlAppTest, BadConnectionSettingsAreUsageErrors) {
  CannedHttp http({{"/api/v1/nodes", ok(R"({"items":[]})")}});
  const auto scheme = run(http, {"--server", "ftp://agg", "nodes"});
  EXPECT_EQ(scheme.code, kCtlUsageError);
  EXPECT_EQ(scheme.err,
            "fleetscalectl: --server must be an http:// or https:// URL, got 'ftp://agg'\n");
  EXPECT_EQ(run(http, {"--token-file", "/nonexistent/token", "nodes"}).code, kCtlUsageError);
  EXPECT_EQ(run(http, {"--context", "prod", "nodes"}).code, kCtlUsageError) << "no config file";
  EXPECT_TRUE(http.urls.empty());
}

// Each 401 and 403 says what to do about it; app_https_test.cpp sees them from a real server.
TEST(CtlAppTest, AuthorizationFailuresSayWhatToDo) {
  CannedHttp http({{"/api/v1/reload", HttpClientResponse{403, R"({"error":"no admin token"})", {}}},
                   {"/api/v1/nodes", HttpClientResponse{403, R"({"error":"unknown role"})", {}}},
                   {"/api/v1/events", HttpClientResponse{401, "", {}}}});
  const auto anonymous = run(http, {"reload"});
  EXPECT_EQ(anonymous.code, kCtlAuthError);
  EXPECT_EQ(
      anonymous.err,
      "fleetscalectl: reload the policy was refused without a token (the aggregator said: no "
      "admin token): pass --token-file or --token (FLEETSCALE_CTL_TOKEN_FILE, FLEETSCALE_TOKEN), "
      "or set token-file in the config file's context\n");
  const auto viewer = run(http, {"--token", "v", "reload"});
  EXPECT_NE(viewer.err.find("this token's role may not reload the policy: an admin token is "
                            "needed (token from --token)"),
            std::string::npos)
      << viewer.err;
  const auto read = run(http, {"--token", "v", "nodes"});
  EXPECT_EQ(read.code, kCtlAuthError);
  EXPECT_EQ(read.err,
            "fleetscalectl: the aggregator refused the token from --token (the aggregator said: "
            "unknown role)\n");
  const auto stale = run(http, {"--token", "v", "events"});
  EXPECT_EQ(stale.code, kCtlAuthError);
  EXPECT_NE(stale.err.find("did not accept the token from --token"), std::string::npos)
      << stale.err;
}

// Transport failures by CurlHttpClient's codes; the OpenSSL wordings are seen in
// app_https_test.cpp against a real server.
TEST(CtlAppTest, TransportFailuresByKind) {
  CannedHttp http({{"/api/v1/nodes", Error{"SSL certificate problem", kHttpTlsVerifyFailed}},
                   {"/api/v1/events", Error{"Empty reply from server", kHttpNoAnswer}},
                   {"/api/v1/decisions", Error{"some handshake trouble", kHttpTlsFailed}}});
  const auto verify = run(http, {"--server", "https://agg:7080", "nodes"});
  EXPECT_EQ(verify.code, kCtlServerError);
  EXPECT_NE(verify.err.find("pass the CA that signed it with --certificate-authority FILE"),
            std::string::npos)
      << verify.err;
  const auto plain = run(http, {"--server", "http://agg:7080", "events"});
  EXPECT_NE(plain.err.find("if it serves HTTPS on that port, use https://"), std::string::npos)
      << plain.err;
  const auto tls = run(http, {"--server", "https://agg:7080", "decisions"});
  EXPECT_EQ(tls.err,
            "fleetscalectl: TLS with the aggregator at https://agg:7080 failed: some handshake "
            "trouble\n");
}

// The status view itself is tested in views_test.cpp; here only that `status` shows it.
constexpr const char* kStatus =
    R"({"role": "standby", "clusters": [], "workloads": [], "drains": []})";

TEST(CtlAppTest, OperatorCommandsUseTheRightEndpoints) {
  CannedHttp http(
      {{"/api/v1/status", ok(kStatus)},
       {"/api/v1/clusters/aws/drain", ok(R"({"cluster":"aws","draining":true})")},
       {"/api/v1/clusters/aws/undrain", ok(R"({"cluster":"aws","draining":false})")},
       {"/api/v1/reload", HttpClientResponse{401, R"({"error":"admin token required"})", {}}},
       {"/api/v1/decisions", ok(R"({"items":[]})")}});
  const auto status = run(http, {"status"});
  EXPECT_EQ(status.code, kCtlOk);
  EXPECT_EQ(http.methods.back(), "GET");
  EXPECT_EQ(http.urls.back(), "http://127.0.0.1:7080/api/v1/status");
  EXPECT_NE(status.out.find("Aggregator role: standby"), std::string::npos) << status.out;

  auto drained = run(http, {"--token", "t", "drain", "aws"});
  EXPECT_EQ(drained.code, kCtlOk);
  EXPECT_EQ(http.methods.back(), "POST");
  EXPECT_EQ(http.urls.back(), "http://127.0.0.1:7080/api/v1/clusters/aws/drain");
  EXPECT_NE(drained.out.find("fleetscalectl status"), std::string::npos);
  EXPECT_EQ(run(http, {"--token", "t", "undrain", "aws"}).code, kCtlOk);
  EXPECT_EQ(http.urls.back(), "http://127.0.0.1:7080/api/v1/clusters/aws/undrain");
  EXPECT_EQ(run(http, {"drain"}).code, kCtlUsageError) << "needs a cluster";

  auto refused = run(http, {"reload"});
  EXPECT_EQ(refused.code, kCtlAuthError);
  EXPECT_NE(refused.err.find("the aggregator needs a token: pass --token-file or --token"),
            std::string::npos)
      << refused.err;

  auto none = run(http, {"explain", "shop/web"});
  EXPECT_EQ(none.code, kCtlNotFound);
  EXPECT_EQ(http.urls.back(),
            "http://127.0.0.1:7080/api/v1/decisions?namespace=shop&workload=web&limit=1");
  EXPECT_EQ(run(http, {"explain", "shop/"}).code, kCtlUsageError);
}

TEST(CtlAppTest, RecommendAsksForAWorkloadANamespaceOrAll) {
  CannedHttp http({{"/api/v1/recommendations", ok(R"({"items":[],"savings":{}})")}});
  EXPECT_EQ(run(http, {"recommend"}).code, kCtlOk);
  EXPECT_EQ(http.urls.back(), "http://127.0.0.1:7080/api/v1/recommendations");
  const auto one = run(http, {"recommend", "shop/web"});
  EXPECT_EQ(one.code, kCtlOk);
  EXPECT_NE(one.out.find("CPU REQUEST"), std::string::npos) << one.out;
  EXPECT_EQ(http.urls.back(),
            "http://127.0.0.1:7080/api/v1/recommendations?namespace=shop&workload=web");
  EXPECT_EQ(run(http, {"recommend", "shop"}).code, kCtlOk);
  EXPECT_EQ(http.urls.back(), "http://127.0.0.1:7080/api/v1/recommendations?namespace=shop");
  EXPECT_EQ(run(http, {"recommend", "shop/"}).code, kCtlUsageError);
  EXPECT_EQ(run(http, {"recommend", "/web"}).code, kCtlUsageError);
}

TEST(CtlAppTest, ExplainAddsTheRecommendationWhenTheAggregatorHasOne) {
  const std::string decision =
      R"({"items":[{"namespace":"shop","name":"web","current_replicas":2,"desired_replicas":3}]})";
  const std::string recommendation =
      R"({"items":[{"container":"app","mode":"recommend","reason":"cpu: p90 x",)"
      R"("cpu_cores":{"controlled":true,"request":1,"target":0.5}}],"savings":{}})";
  CannedHttp with(
      {{"/api/v1/decisions", ok(decision)}, {"/api/v1/recommendations", ok(recommendation)}});
  auto explained = run(with, {"explain", "shop/web"});
  EXPECT_EQ(explained.code, kCtlOk) << explained.err;
  EXPECT_NE(explained.out.find("app: cpu 1.000 -> 0.500 cores"), std::string::npos)
      << explained.out;
  EXPECT_EQ(with.urls.back(),
            "http://127.0.0.1:7080/api/v1/recommendations?namespace=shop&workload=web");
  const auto json = run(with, {"-o", "json", "explain", "shop/web"});
  EXPECT_EQ(json.out.find("recommend\""), std::string::npos) << "-o json keeps the decisions only";
  // An aggregator without the route (404 here) still explains.
  CannedHttp without({{"/api/v1/decisions", ok(decision)}});
  explained = run(without, {"explain", "shop/web"});
  EXPECT_EQ(explained.code, kCtlOk) << explained.err;
  EXPECT_EQ(explained.out.find("Right-sizing"), std::string::npos);
}

// Found by testing: answers without a field (another version, a proxy's page) aborted the process.
TEST(CtlAppTest, AnswersMissingFieldsPrintDashesInsteadOfCrashing) {
  CannedHttp http({{"/api/v1/nodes", ok(R"({"items":[{"cluster":"aws"}]})")},
                   {"/api/v1/clusters", ok(R"({"items":[{"name":"aws"}]})")},
                   {"/api/v1/workloads", ok(R"({"error":"behind a proxy"})")},
                   {"/api/v1/events", ok(R"({"items":[{"time_unix_ms":"yesterday"}]})")},
                   {"/api/v1/decisions", ok(R"({"items":[{}]})")}});
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"nodes"},
                                             {"top", "clusters"},
                                             {"top", "workloads"},
                                             {"events"},
                                             {"decisions"},
                                             {"explain", "shop/web"}}) {
    const auto result = run(http, args);
    EXPECT_EQ(result.code, 0) << args[0] << ": " << result.err;
  }
  EXPECT_NE(run(http, {"nodes"}).out.find("aws"), std::string::npos);
}

TEST(CtlAppTest, AFieldOfTheWrongTypeIsAServerErrorNotACrash) {
  CannedHttp http({{"/api/v1/status", ok(R"({"leadership":{"enabled":true,"leader":7}})")}});
  const auto result = run(http, {"status"});
  EXPECT_EQ(result.code, kCtlServerError);
  EXPECT_NE(result.err.find("unexpected answer"), std::string::npos) << result.err;
}

// Node names, container ids and messages come from agents: an escape sequence in one must not
// reach the operator's terminal.
TEST(CtlAppTest, AgentSuppliedControlCharactersAreEscaped) {
  CannedHttp http(
      {{"/api/v1/nodes",
        ok(R"({"items":[{"cluster":"aws","node":"n1\u001b[2J\u001b]0;owned\u0007","stale":false,"connected":true}]})")},
       {"/api/v1/events",
        ok(R"({"items":[{"kind":"agent_connected","message":"line\nforged \u009b31m"}]})")}});
  const auto nodes = run(http, {"nodes"});
  EXPECT_EQ(nodes.out.find('\x1b'), std::string::npos) << nodes.out;
  EXPECT_EQ(nodes.out.find('\x07'), std::string::npos);
  EXPECT_NE(nodes.out.find("n1\\x1b[2J"), std::string::npos) << nodes.out;
  const auto events = run(http, {"events"});
  EXPECT_NE(events.out.find("line\\x0aforged \\x9b31m"), std::string::npos) << events.out;
}

}  // namespace
}  // namespace fleetscale::ctl
