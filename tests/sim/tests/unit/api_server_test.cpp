// The fake kube-apiserver over real HTTPS, from a real HTTP client.
#include "fleetscale/sim/api_server.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/test_pki.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

// `base` with an RFC 7386 merge patch applied.
json merged(json base, const json& patch) {
  base.merge_patch(patch);
  return base;
}

constexpr const char* kAdmin = "admin-token";
constexpr const char* kController = "controller-token";
constexpr const char* kAgent = "agent-token";
constexpr const char* kNobody = "nobody-token";

Scenario scenario() {
  Scenario s;
  ClusterSpec cluster;
  cluster.name = "aws-us-east-1";
  cluster.cloud = "aws";
  cluster.region = "us-east-1";
  cluster.nodes = 2;
  s.clusters.push_back(cluster);
  WorkloadSpec web;
  web.name = "web";
  web.namespaceName = "shop";
  web.replicas = {{"aws-us-east-1", 2}};
  web.resources = {0.5, 1.0, std::nullopt, std::nullopt};
  s.workloads.push_back(web);
  WorkloadSpec db = web;
  db.name = "db";
  db.kind = WorkloadKind::kStatefulSet;
  db.replicas = {{"aws-us-east-1", 1}};
  s.workloads.push_back(db);
  return s;
}

class ApiServerTest : public ::testing::Test {
 protected:
  explicit ApiServerTest(const Scenario& fleetScenario = scenario())
      : fleet_(fleetScenario, clock_) {
    auto pki = makeTestPki();
    if (!pki) throw std::runtime_error(pki.error().message);
    pki_ = *pki;
    tokens_ = std::make_shared<TokenBook>();
    const auto& tokens = tokens_;
    tokens->add(kAdmin, {"kubernetes-admin", Role::kAdmin});
    tokens->add(kController,
                {"system:serviceaccount:fleetscale:fleetscale-aggregator", Role::kController});
    tokens->add(kAgent, {"system:serviceaccount:fleetscale:fleetscale-agent", Role::kAgent});
    tokens->add(kNobody, {"system:serviceaccount:default:default", Role::kNone});
    {
      std::lock_guard lock(fleet_.mutex);
      fleet_.model.step(SimTime{0});
    }
    server_ = std::make_unique<FakeApiServer>(
        io_, makeServerTls(pki_.server.certificate, pki_.server.privateKey), fleet_,
        "aws-us-east-1", tokens, 1);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
    TlsClientOptions tls;
    tls.caPem = pki_.ca.certificate;
    client_ = std::make_unique<CurlHttpClient>(tls);
  }
  ~ApiServerTest() override {
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  HttpClientResponse call(const std::string& method, const std::string& path,
                          const std::string& token = kAdmin, const std::string& body = "",
                          const std::string& contentType = "application/json",
                          const std::string& accept = "application/json",
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    HttpClientRequest request;
    request.method = method;
    request.url = server_->url() + path;
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    request.headers.emplace_back("Accept", accept);
    request.headers.insert(request.headers.end(), headers.begin(), headers.end());
    if (!body.empty()) request.headers.emplace_back("Content-Type", contentType);
    request.body = body;
    auto response = client_->send(request);
    if (!response) return HttpClientResponse{0, response.error().message, {}};
    return *response;
  }

  static json parse(const HttpClientResponse& response) {
    return json::parse(response.body, nullptr, false);
  }

  SystemClock clock_;
  SharedFleet fleet_;
  TestPki pki_;
  std::shared_ptr<TokenBook> tokens_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::unique_ptr<FakeApiServer> server_;
  std::thread thread_;
  std::unique_ptr<CurlHttpClient> client_;
};

const std::string kDeployments = "/apis/apps/v1/namespaces/shop/deployments";

TEST_F(ApiServerTest, DiscoveryDescribesCoreAndApps) {
  const auto version = call("GET", "/version", "");  // public, no token needed
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(parse(version)["gitVersion"], "v1.34.2");
  EXPECT_EQ(parse(call("GET", "/api"))["versions"][0], "v1");
  EXPECT_EQ(parse(call("GET", "/apis"))["groups"][0]["name"], "apps");
  const json apps = parse(call("GET", "/apis/apps/v1"));
  EXPECT_EQ(apps["kind"], "APIResourceList");
  EXPECT_EQ(apps["groupVersion"], "apps/v1");
  EXPECT_EQ(call("GET", "/readyz", "").body, "ok");
  EXPECT_EQ(call("GET", "/livez", "").status, 200);
}

TEST_F(ApiServerTest, TokensAuthenticateAndRolesAuthorize) {
  const auto anonymous = call("GET", kDeployments, "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(parse(anonymous)["reason"], "Unauthorized");
  EXPECT_EQ(call("GET", kDeployments, "wrong-token").status, 401);
  EXPECT_EQ(call("GET", "/apis", "").status, 401);

  const auto nobody = call("GET", kDeployments, kNobody);
  EXPECT_EQ(nobody.status, 403);
  EXPECT_EQ(parse(nobody)["message"],
            "deployments.apps is forbidden: User \"system:serviceaccount:default:default\" cannot "
            "list resource \"deployments\" in API group \"apps\" in the namespace \"shop\"");
  EXPECT_EQ(call("GET", kDeployments, kAgent).status, 200);
  const auto agentWrite = call("PATCH", kDeployments + "/web/scale", kAgent,
                               R"({"spec":{"replicas":3}})", "application/merge-patch+json");
  EXPECT_EQ(agentWrite.status, 403);
  EXPECT_NE(parse(agentWrite)["message"].get<std::string>().find(
                "cannot patch resource \"deployments/scale\""),
            std::string::npos);
  EXPECT_EQ(call("PATCH", kDeployments + "/web/scale", kController, R"({"spec":{"replicas":3}})",
                 "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(call("GET", "/api/v1/pods", kController).status, 200);
}

TEST_F(ApiServerTest, CountsTheRequestsItRefusesWith401) {
  EXPECT_EQ(server_->authRefusals().unauthorized, 0u);
  EXPECT_EQ(call("GET", kDeployments, kController).status, 200);
  EXPECT_EQ(call("GET", "/version", "").status, 200);  // public: no credentials needed
  EXPECT_EQ(call("GET", kDeployments, kNobody).status, 403);
  EXPECT_EQ(server_->authRefusals().unauthorized, 0u);  // 403 is not 401

  EXPECT_EQ(call("GET", kDeployments, "").status, 401);
  EXPECT_EQ(call("GET", kDeployments, "never-issued").status, 401);
  // An expiring token rotates: the new one works, the old one is refused from then on.
  tokens_->add("rotated-in",
               {"system:serviceaccount:fleetscale:fleetscale-aggregator", Role::kController});
  ASSERT_TRUE(tokens_->revoke(kController));
  EXPECT_EQ(call("GET", kDeployments, "rotated-in").status, 200);
  const auto refused = call("GET", kDeployments, kController);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(parse(refused)["reason"], "Unauthorized");
  EXPECT_EQ(call("PATCH", kDeployments + "/web/scale", kController, R"({"spec":{"replicas":4}})",
                 "application/merge-patch+json")
                .status,
            401);
  const AuthRefusals refusals = server_->authRefusals();
  EXPECT_EQ(refusals.unauthorized, 4u);
  EXPECT_EQ(refusals.revokedToken, 2u);
}

TEST_F(ApiServerTest, GetListAndTables) {
  const json list = parse(call("GET", "/apis/apps/v1/deployments"));
  EXPECT_EQ(list["kind"], "DeploymentList");
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list["items"][0].contains("kind"));
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "web");
  EXPECT_EQ(parse(call("GET", kDeployments + "?labelSelector=app%3Dweb"))["items"].size(), 1u);
  EXPECT_EQ(parse(call("GET", kDeployments + "?labelSelector=app%3Dother"))["items"].size(), 0u);
  // Set-based selectors, as a client writes them into the query (spaces as + or %20).
  EXPECT_EQ(parse(call("GET", kDeployments + "?labelSelector=app+in+(web,x)"))["items"].size(), 1u);
  EXPECT_EQ(
      parse(call("GET", kDeployments + "?labelSelector=app%20notin%20%28web%29"))["items"].size(),
      0u);
  EXPECT_EQ(parse(call("GET", kDeployments + "?labelSelector=!app"))["items"].size(), 0u);
  const auto malformed = call("GET", kDeployments + "?labelSelector=app+in+(a,b");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(parse(malformed)["message"],
            "unable to parse requirement: found 'end of selector', expected: ',' or ')'");
  const json webPods =
      parse(call("GET", "/api/v1/namespaces/shop/pods?labelSelector=app+in+(web)"));
  ASSERT_EQ(webPods["items"].size(), 2u);
  for (const auto& pod : webPods["items"]) EXPECT_EQ(pod["metadata"]["labels"]["app"], "web");

  const json one = parse(call("GET", kDeployments + "/web"));
  EXPECT_EQ(one["kind"], "Deployment");
  EXPECT_EQ(one["status"]["readyReplicas"], 2);
  const json sts = parse(call("GET", "/apis/apps/v1/namespaces/shop/statefulsets/db"));
  EXPECT_EQ(sts["kind"], "StatefulSet");

  const json table = parse(call("GET", "/apis/apps/v1/deployments", kAdmin, "", "",
                                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["rows"][0]["cells"][1], "2/2");

  const json pods = parse(call("GET", "/api/v1/namespaces/shop/pods"));
  EXPECT_EQ(pods["kind"], "PodList");
  EXPECT_EQ(pods["items"].size(), 3u);
  EXPECT_EQ(parse(call("GET", "/api/v1/nodes"))["items"].size(), 2u);

  const auto missing = call("GET", kDeployments + "/nope");
  EXPECT_EQ(missing.status, 404);
  const json status = parse(missing);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["message"], "deployments.apps \"nope\" not found");
  EXPECT_EQ(status["details"]["name"], "nope");
  EXPECT_EQ(call("GET", "/apis/batch/v1/jobs").status, 404);
  EXPECT_EQ(call("DELETE", kDeployments + "/web").status, 405);
  EXPECT_EQ(parse(call("GET", kDeployments + "?watch=true"))["reason"], "MethodNotAllowed");
}

TEST_F(ApiServerTest, PutChecksTheResourceVersion) {
  json object = parse(call("GET", kDeployments + "/web"));
  object["spec"]["replicas"] = 4;
  const auto first = call("PUT", kDeployments + "/web", kAdmin, object.dump());
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(parse(first)["spec"]["replicas"], 4);
  // The same body again: its resourceVersion is stale now.
  const auto stale = call("PUT", kDeployments + "/web", kAdmin, object.dump());
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(parse(stale)["reason"], "Conflict");
  EXPECT_EQ(parse(stale)["details"]["kind"], "deployments");

  object["spec"]["replicas"] = -2;
  object["metadata"].erase("resourceVersion");
  const auto invalid = call("PUT", kDeployments + "/web", kAdmin, object.dump());
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(parse(invalid)["reason"], "Invalid");
  EXPECT_EQ(call("PUT", kDeployments + "/web", kAdmin, "{nope").status, 400);
  object["metadata"]["name"] = 5;
  const auto malformed = call("PUT", kDeployments + "/web", kAdmin, object.dump());
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(parse(malformed)["kind"], "Status");
  EXPECT_EQ(
      call("PATCH", kDeployments + "/web", kAdmin, R"({"spec":[]})", "application/merge-patch+json")
          .status,
      422);
}

TEST_F(ApiServerTest, PatchFlavoursAndTheScaleSubresource) {
  EXPECT_EQ(parse(call("PATCH", kDeployments + "/web", kAdmin, R"({"spec":{"replicas":3}})",
                       "application/merge-patch+json"))["spec"]["replicas"],
            3);
  EXPECT_EQ(parse(call("PATCH", kDeployments + "/web", kAdmin, R"({"spec":{"replicas":4}})",
                       "application/strategic-merge-patch+json"))["spec"]["replicas"],
            4);
  EXPECT_EQ(parse(call("PATCH", kDeployments + "/web", kAdmin,
                       R"([{"op":"replace","path":"/spec/replicas","value":5}])",
                       "application/json-patch+json"))["spec"]["replicas"],
            5);
  EXPECT_EQ(
      call("PATCH", kDeployments + "/web", kAdmin, "{}", "application/apply-patch+yaml").status,
      415);

  const json scale = parse(call("GET", kDeployments + "/web/scale"));
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(scale["spec"]["replicas"], 5);
  json put = scale;
  put["spec"]["replicas"] = 6;
  EXPECT_EQ(parse(call("PUT", kDeployments + "/web/scale", kAdmin, put.dump()))["spec"]["replicas"],
            6);
  EXPECT_EQ(call("PUT", kDeployments + "/web/scale", kAdmin, put.dump()).status, 409);  // stale now
  // A patch that names a resourceVersion is a precondition too.
  const auto conditional = call("PATCH", kDeployments + "/web/scale", kAdmin,
                                R"({"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}})",
                                "application/merge-patch+json");
  EXPECT_EQ(conditional.status, 409);
  EXPECT_EQ(
      parse(call("PATCH", "/apis/apps/v1/namespaces/shop/statefulsets/db/scale", kAdmin,
                 R"({"spec":{"replicas":2}})", "application/merge-patch+json"))["spec"]["replicas"],
      2);
  std::lock_guard lock(fleet_.mutex);
  EXPECT_EQ(fleet_.model.clusters()[0].find(WorkloadKind::kDeployment, "shop", "web")->replicas, 6);
}

TEST_F(ApiServerTest, EveryWriteIsLogged) {
  call("PATCH", kDeployments + "/web/scale", kController, R"({"spec":{"replicas":4}})",
       "application/merge-patch+json");
  call("PATCH", kDeployments + "/web/scale", kNobody, R"({"spec":{"replicas":9}})",
       "application/merge-patch+json");
  call("GET", kDeployments + "/web");
  const auto records = server_->writes().records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].status, 200);
  EXPECT_EQ(records[0].workload, "shop/web");
  EXPECT_EQ(records[0].replicasBefore, 2);
  EXPECT_EQ(records[0].replicasAfter, 4);
  EXPECT_EQ(records[0].user, "system:serviceaccount:fleetscale:fleetscale-aggregator");
  EXPECT_EQ(records[0].contentType, "application/merge-patch+json");
  EXPECT_EQ(records[1].status, 403);
  EXPECT_FALSE(records[1].replicasAfter);
}

TEST_F(ApiServerTest, FaultsSlowFailAndConflict) {
  ApiFaults faults;
  faults.errorRate = 1;
  faults.errorStatus = 503;
  server_->faults().set(faults);
  const auto failing = call("GET", kDeployments);
  EXPECT_EQ(failing.status, 503);
  EXPECT_EQ(parse(failing)["reason"], "ServiceUnavailable");

  faults = ApiFaults{};
  faults.conflictRate = 1;
  server_->faults().set(faults);
  EXPECT_EQ(call("GET", kDeployments).status, 200);  // reads are not affected
  const auto storm = call("PATCH", kDeployments + "/web/scale", kAdmin,
                          R"({"spec":{"replicas":3}})", "application/merge-patch+json");
  EXPECT_EQ(storm.status, 409);
  EXPECT_EQ(parse(storm)["reason"], "Conflict");

  faults = ApiFaults{};
  faults.latency = std::chrono::milliseconds(300);
  server_->faults().set(faults);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(call("GET", "/version").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(ApiServerTest, ClientCertificatesAuthenticateAsTheirCommonName) {
  // A second server on the same fleet that also accepts client certificates from the CA.
  auto tokens = std::make_shared<TokenBook>();
  tokens->add(kController,
              {"system:serviceaccount:fleetscale:fleetscale-aggregator", Role::kController});
  FakeApiServer mutual(
      io_, makeServerTls(pki_.server.certificate, pki_.server.privateKey, pki_.ca.certificate),
      fleet_, "aws-us-east-1", tokens, 2);
  mutual.start();
  auto get = [&](const PemPair& certificate) {
    TlsClientOptions tls;
    tls.caPem = pki_.ca.certificate;
    tls.clientCertPem = certificate.certificate;
    tls.clientKeyPem = certificate.privateKey;
    CurlHttpClient client(tls);
    HttpClientRequest request;
    request.url = mutual.url() + kDeployments + "/web/scale";
    auto response = client.send(request);
    return response ? *response : HttpClientResponse{0, response.error().message, {}};
  };
  auto controller = issueCertificate(
      pki_.ca, "system:serviceaccount:fleetscale:fleetscale-aggregator", {}, false);
  ASSERT_TRUE(controller.ok());
  EXPECT_EQ(get(*controller).status, 200);
  // Signed by the CA, but a user with no rights: authenticated, then refused.
  const auto stranger = get(pki_.client);
  EXPECT_EQ(stranger.status, 403);
  EXPECT_NE(parse(stranger)["message"].get<std::string>().find(
                "User \"fleetscale-test-client\" cannot get resource \"deployments/scale\""),
            std::string::npos)
      << stranger.body;
  // From another CA: the handshake fails.
  auto other = makeTestPki();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(get(other->client).status, 0);
  // No certificate and no token: 401, as before.
  EXPECT_EQ(get(PemPair{}).status, 401);
  mutual.stop();
}

TEST_F(ApiServerTest, StopsAndComesBackOnTheSamePort) {
  const std::uint16_t port = server_->port();
  server_->stop();
  EXPECT_EQ(call("GET", "/version").status, 0);  // connection refused
  server_->start();
  EXPECT_EQ(server_->port(), port);
  EXPECT_EQ(call("GET", "/version").status, 200);
}

const std::string kLeases = "/apis/coordination.k8s.io/v1/namespaces/fleetscale/leases";

std::string leaseBody(const std::string& holder, const std::string& renewTime,
                      const std::string& resourceVersion = "") {
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "fleetscale-aggregator"}, {"namespace", "fleetscale"}}},
                {"spec",
                 {{"holderIdentity", holder},
                  {"leaseDurationSeconds", 10},
                  {"acquireTime", "2024-08-14T19:29:05.000001Z"},
                  {"renewTime", renewTime},
                  {"leaseTransitions", 0}}}};
  if (!resourceVersion.empty()) lease["metadata"]["resourceVersion"] = resourceVersion;
  return lease.dump();
}

// What client-go's leader election does, with the aggregator's (controller) credentials.
TEST_F(ApiServerTest, LeasesCreateGetAndUpdateWithOptimisticConcurrency) {
  const auto created =
      call("POST", kLeases, kController, leaseBody("aggregator-0", "2024-08-14T19:29:05.123456Z"));
  ASSERT_EQ(created.status, 201) << created.body;
  const json lease = parse(created);
  EXPECT_EQ(lease["kind"], "Lease");
  EXPECT_EQ(lease["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "aggregator-0");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 10);
  EXPECT_EQ(lease["spec"]["renewTime"], "2024-08-14T19:29:05.123456Z");  // kept to the microsecond
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
  EXPECT_FALSE(lease["metadata"].value("uid", "").empty());
  const std::string firstVersion = lease["metadata"]["resourceVersion"];

  const auto again =
      call("POST", kLeases, kController, leaseBody("aggregator-1", "2024-08-14T19:29:06.000000Z"));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(parse(again)["reason"], "AlreadyExists");
  EXPECT_EQ(parse(again)["details"]["group"], "coordination.k8s.io");

  EXPECT_EQ(parse(call("GET", kLeases + "/fleetscale-aggregator", kController)), lease);

  // The holder renews with the version it read: accepted, and the version moves on.
  const auto renewed = call("PUT", kLeases + "/fleetscale-aggregator", kController,
                            leaseBody("aggregator-0", "2024-08-14T19:29:07.654321Z", firstVersion));
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  const std::string secondVersion = parse(renewed)["metadata"]["resourceVersion"];
  EXPECT_NE(secondVersion, firstVersion);
  EXPECT_EQ(parse(renewed)["metadata"]["uid"], lease["metadata"]["uid"]);
  EXPECT_EQ(parse(renewed)["spec"]["renewTime"], "2024-08-14T19:29:07.654321Z");

  // A standby that read the lease before the renewal tries to take it over: 409 Conflict.
  const auto stale = call("PUT", kLeases + "/fleetscale-aggregator", kController,
                          leaseBody("aggregator-1", "2024-08-14T19:29:08.000000Z", firstVersion));
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(parse(stale)["reason"], "Conflict");
  EXPECT_EQ(parse(stale)["message"],
            "Operation cannot be fulfilled on leases.coordination.k8s.io "
            "\"fleetscale-aggregator\": the object has been modified; please apply your changes "
            "to the latest version and try again");
  EXPECT_EQ(
      parse(call("GET", kLeases + "/fleetscale-aggregator", kController))["spec"]["holderIdentity"],
      "aggregator-0");

  // The same write with the current version wins; a no-op write keeps the version.
  const auto takeover =
      call("PUT", kLeases + "/fleetscale-aggregator", kController,
           leaseBody("aggregator-1", "2024-08-14T19:29:08.000000Z", secondVersion));
  ASSERT_EQ(takeover.status, 200);
  const json taken = parse(takeover);
  EXPECT_EQ(parse(call("PUT", kLeases + "/fleetscale-aggregator", kController, taken.dump())),
            taken);

  const json list = parse(call("GET", kLeases, kController));
  EXPECT_EQ(list["kind"], "LeaseList");
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["spec"]["holderIdentity"], "aggregator-1");
  EXPECT_EQ(parse(call("GET", "/apis/coordination.k8s.io/v1/leases", kController))["items"].size(),
            1u);
}

TEST_F(ApiServerTest, LeasesAreGuardedAndValidated) {
  const std::string body = leaseBody("aggregator-0", "2024-08-14T19:29:05.123456Z");
  EXPECT_EQ(call("POST", kLeases, kAgent, body).status, 403);
  EXPECT_EQ(call("POST", kLeases, kNobody, body).status, 403);
  ASSERT_EQ(call("POST", kLeases, kController, body).status, 201);
  const auto agentRead = call("GET", kLeases + "/fleetscale-aggregator", kAgent);
  EXPECT_EQ(agentRead.status, 403);
  EXPECT_EQ(parse(agentRead)["details"]["group"], "coordination.k8s.io");
  EXPECT_EQ(call("DELETE", kLeases + "/fleetscale-aggregator", kController).status, 403);

  const auto zero = call("POST", kLeases, kController,
                         merged(json::parse(body), {{"metadata", {{"name", "zero"}}},
                                                    {"spec", {{"leaseDurationSeconds", 0}}}})
                             .dump());
  EXPECT_EQ(zero.status, 422);
  EXPECT_EQ(parse(zero)["details"]["causes"][0]["field"], "spec.leaseDurationSeconds");
  // MicroTime has exactly six fractional digits.
  EXPECT_EQ(
      call("POST", kLeases, kController, leaseBody("aggregator-0", "2024-08-14T19:29:05Z")).status,
      400);
  EXPECT_EQ(call("POST", "/apis/coordination.k8s.io/v1/namespaces/nowhere/leases", kController,
                 merged(json::parse(body), {{"metadata", {{"namespace", nullptr}}}}).dump())
                .status,
            404);
  EXPECT_EQ(call("PUT", kLeases + "/other", kController, body).status, 400);  // name mismatch
  EXPECT_EQ(parse(call(
                "PUT", kLeases + "/missing", kController,
                merged(json::parse(body), {{"metadata", {{"name", "missing"}}}}).dump()))["reason"],
            "NotFound");

  // An administrator may patch and delete (kubectl edit, kubectl delete).
  const auto patched =
      call("PATCH", kLeases + "/fleetscale-aggregator", kAdmin,
           R"({"spec":{"holderIdentity":"someone-else"}})", "application/merge-patch+json");
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(parse(patched)["spec"]["holderIdentity"], "someone-else");
  EXPECT_EQ(parse(patched)["spec"]["renewTime"], "2024-08-14T19:29:05.123456Z");
  const auto deleted = call("DELETE", kLeases + "/fleetscale-aggregator", kAdmin);
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(parse(deleted)["status"], "Success");
  EXPECT_EQ(call("GET", kLeases + "/fleetscale-aggregator", kAdmin).status, 404);
}

TEST_F(ApiServerTest, LeasesInDiscoveryAndTables) {
  bool listed = false;
  const json groups = parse(call("GET", "/apis"))["groups"];
  for (const auto& group : groups) {
    listed = listed || group["name"] == "coordination.k8s.io";
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(parse(call("GET", "/apis/coordination.k8s.io"))["preferredVersion"]["groupVersion"],
            "coordination.k8s.io/v1");
  const json resources = parse(call("GET", "/apis/coordination.k8s.io/v1"));
  EXPECT_EQ(resources["resources"][0]["name"], "leases");
  EXPECT_EQ(resources["resources"][0]["kind"], "Lease");
  ASSERT_EQ(
      call("POST", kLeases, kController, leaseBody("aggregator-0", "2024-08-14T19:29:05.123456Z"))
          .status,
      201);
  const json table = parse(call("GET", kLeases, kAdmin, "", "application/json",
                                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["columnDefinitions"][1]["name"], "Holder");
  EXPECT_EQ(table["rows"][0]["cells"][0], "fleetscale-aggregator");
  EXPECT_EQ(table["rows"][0]["cells"][1], "aggregator-0");
}

TEST_F(ApiServerTest, WritesRecordUserAgentAndFencingToken) {
  const std::vector<std::pair<std::string, std::string>> leader = {
      {"User-Agent", "fleetscale-aggregator/0.1.0 aggregator-1"},
      {"X-Fleetscale-Fencing-Token", "7"}};
  call("PATCH", kDeployments + "/web/scale", kController, R"({"spec":{"replicas":4}})",
       "application/merge-patch+json", "application/json", leader);
  call("POST", kLeases, kController, leaseBody("aggregator-1", "2024-08-14T19:29:05.123456Z"),
       "application/json", "application/json", {{"User-Agent", "fleetscale-aggregator/0.1.0"}});
  const auto records = server_->writes().records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].userAgent, "fleetscale-aggregator/0.1.0 aggregator-1");
  EXPECT_EQ(records[0].fencingToken, "7");
  EXPECT_EQ(toJson(records[0])["user_agent"], "fleetscale-aggregator/0.1.0 aggregator-1");
  EXPECT_EQ(toJson(records[0])["fencing_token"], 7);
  EXPECT_EQ(records[1].kind, "Lease");
  EXPECT_EQ(records[1].workload, "fleetscale/fleetscale-aggregator");
  EXPECT_EQ(records[1].status, 201);
  EXPECT_EQ(records[1].fencingToken, "");
  EXPECT_TRUE(toJson(records[1])["fencing_token"].is_null());
  EXPECT_FALSE(records[1].replicasAfter);  // not a scale action
}

TEST_F(ApiServerTest, FaultsApplyToLeases) {
  const std::string body = leaseBody("aggregator-0", "2024-08-14T19:29:05.123456Z");
  ApiFaults faults;
  faults.conflictRate = 1;
  server_->faults().set(faults);
  const auto storm = call("POST", kLeases, kController, body);
  EXPECT_EQ(storm.status, 409);
  EXPECT_EQ(parse(storm)["details"]["group"], "coordination.k8s.io");
  faults = ApiFaults{};
  faults.errorRate = 1;
  server_->faults().set(faults);
  EXPECT_EQ(call("GET", kLeases, kController).status, 503);
  server_->faults().set(ApiFaults{});
  EXPECT_EQ(call("GET", kLeases, kController).status, 200);
  server_->stop();
  EXPECT_EQ(call("GET", kLeases, kController).status, 0);
  server_->start();
}

// --- other autoscalers' objects --------------------------------------------------------------

const std::string kHpas = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers";
const std::string kScaledObjects = "/apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects";
constexpr const char* kTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io";

std::string hpaBody(const std::string& name, int maxReplicas) {
  return json{
      {"apiVersion", "autoscaling/v2"},
      {"kind", "HorizontalPodAutoscaler"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
        {"minReplicas", 2},
        {"maxReplicas", maxReplicas}}}}
      .dump();
}

std::string scaledObjectBody(const std::string& name) {
  return json{{"apiVersion", "keda.sh/v1alpha1"},
              {"kind", "ScaledObject"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"scaleTargetRef", {{"name", "web"}}},
                {"maxReplicaCount", 6},
                {"triggers", json::array({{{"type", "cpu"},
                                           {"metricType", "Utilization"},
                                           {"metadata", {{"value", "70"}}}}})}}}}
      .dump();
}

// The fixture's fleet with a scenario's foreign-autoscaler on the StatefulSet `db`.
Scenario scenarioWithForeignAutoscaler() {
  Scenario s = scenario();
  s.workloads[1].foreignAutoscaler =
      ForeignAutoscalerSpec{ForeignAutoscalerKind::kScaledObject, {"aws-us-east-1"}};
  return s;
}

class ApiServerAutoscalerTest : public ApiServerTest {
 protected:
  ApiServerAutoscalerTest() : ApiServerTest(scenarioWithForeignAutoscaler()) {}
};

TEST_F(ApiServerAutoscalerTest, HorizontalPodAutoscalersCreateGetUpdateAndDelete) {
  const auto created = call("POST", kHpas, kAdmin, hpaBody("web", 5));
  ASSERT_EQ(created.status, 201) << created.body;
  const json hpa = parse(created);
  EXPECT_EQ(hpa["kind"], "HorizontalPodAutoscaler");
  EXPECT_EQ(hpa["apiVersion"], "autoscaling/v2");
  EXPECT_EQ(hpa["metadata"]["namespace"], "shop");
  EXPECT_EQ(hpa["metadata"]["generation"], 1);
  EXPECT_FALSE(hpa["metadata"].value("uid", "").empty());
  EXPECT_FALSE(hpa["metadata"].value("creationTimestamp", "").empty());
  EXPECT_EQ(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);

  const auto again = call("POST", kHpas, kAdmin, hpaBody("web", 5));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(parse(again)["reason"], "AlreadyExists");
  EXPECT_EQ(parse(again)["message"], "horizontalpodautoscalers.autoscaling \"web\" already exists");

  EXPECT_EQ(parse(call("GET", kHpas + "/web", kController)), hpa);
  const json list = parse(call("GET", kHpas, kController));
  EXPECT_EQ(list["kind"], "HorizontalPodAutoscalerList");
  EXPECT_EQ(list["apiVersion"], "autoscaling/v2");
  EXPECT_FALSE(list["metadata"].value("resourceVersion", "").empty());
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list["items"][0].contains("kind"));
  EXPECT_EQ(
      parse(call("GET", "/apis/autoscaling/v2/horizontalpodautoscalers", kController))["items"]
          .size(),
      1u);

  // PUT: optimistic with a resourceVersion, unconditional without one (the HPA allows it).
  json changed = hpa;
  changed["spec"]["maxReplicas"] = 7;
  const auto updated = call("PUT", kHpas + "/web", kAdmin, changed.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(parse(updated)["spec"]["maxReplicas"], 7);
  EXPECT_EQ(parse(updated)["metadata"]["generation"], 2);
  EXPECT_EQ(call("PUT", kHpas + "/web", kAdmin, changed.dump()).status, 409);  // stale now
  EXPECT_EQ(call("PUT", kHpas + "/web", kAdmin, hpaBody("web", 8)).status, 200);
  const auto patched = call("PATCH", kHpas + "/web", kAdmin, R"({"spec":{"maxReplicas":9}})",
                            "application/strategic-merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(parse(patched)["spec"]["maxReplicas"], 9);

  // DELETE answers a Status, as for every built-in kind without graceful deletion.
  const auto deleted = call("DELETE", kHpas + "/web", kAdmin);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(parse(deleted)["kind"], "Status");
  EXPECT_EQ(parse(deleted)["status"], "Success");
  EXPECT_EQ(parse(deleted)["details"]["kind"], "horizontalpodautoscalers");
  EXPECT_EQ(parse(deleted)["details"]["uid"], hpa["metadata"]["uid"]);
  const auto gone = call("GET", kHpas + "/web", kAdmin);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(parse(gone)["reason"], "NotFound");
  EXPECT_EQ(parse(gone)["message"], "horizontalpodautoscalers.autoscaling \"web\" not found");
  EXPECT_EQ(call("DELETE", kHpas + "/web", kAdmin).status, 404);
  EXPECT_EQ(call("PUT", kHpas + "/web", kAdmin, hpaBody("web", 8)).status, 404);  // no create
}

TEST_F(ApiServerAutoscalerTest, HorizontalPodAutoscalersAreValidatedAndGuarded) {
  const auto invalid = call("POST", kHpas, kAdmin, hpaBody("web", 0));
  EXPECT_EQ(invalid.status, 422);
  const json status = parse(invalid);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "Invalid");
  EXPECT_EQ(status["details"]["causes"][0]["field"], "spec.maxReplicas");
  EXPECT_EQ(call("POST", kHpas, kAdmin, "{not json").status, 400);
  EXPECT_EQ(call("POST", "/apis/autoscaling/v2/namespaces/nowhere/horizontalpodautoscalers", kAdmin,
                 hpaBody("web", 3))
                .status,
            404);

  // The aggregator reads and updates them (--take-over-hpa) but may not create or delete them;
  // nobody else may even read them.
  const auto refused = call("POST", kHpas, kController, hpaBody("web", 3));
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(parse(refused)["message"],
            "horizontalpodautoscalers.autoscaling is forbidden: User "
            "\"system:serviceaccount:fleetscale:fleetscale-aggregator\" cannot create resource "
            "\"horizontalpodautoscalers\" in API group \"autoscaling\" in the namespace \"shop\"");
  ASSERT_EQ(call("POST", kHpas, kAdmin, hpaBody("web", 3)).status, 201);
  EXPECT_EQ(call("GET", kHpas + "/web", kController).status, 200);
  EXPECT_EQ(call("GET", kHpas + "?watch=true", kController).status, 405);  // allowed, not served
  EXPECT_EQ(call("PUT", kHpas + "/web", kController, hpaBody("web", 4)).status, 200);
  EXPECT_EQ(call("PATCH", kHpas + "/web", kController, "{}", "application/merge-patch+json").status,
            200);
  EXPECT_EQ(call("DELETE", kHpas + "/web", kController).status, 403);
  EXPECT_EQ(call("GET", kHpas, kNobody).status, 403);
  EXPECT_EQ(call("GET", kHpas, "").status, 401);

  const auto records = server_->writes().records();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().kind, "HorizontalPodAutoscaler");
  EXPECT_EQ(records.back().workload, "shop/web");
  EXPECT_EQ(records.back().status, 403);
}

TEST_F(ApiServerAutoscalerTest, ScaledObjectsBehaveAsACustomResource) {
  // The scenario's foreign-autoscaler is there from the start, targeting the StatefulSet.
  const auto seeded = call("GET", kScaledObjects + "/db", kController);
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  EXPECT_EQ(parse(seeded)["spec"]["scaleTargetRef"]["kind"], "StatefulSet");
  EXPECT_EQ(parse(seeded)["status"]["scaleTargetKind"], "apps/v1.StatefulSet");

  const auto created = call("POST", kScaledObjects, kAdmin, scaledObjectBody("web"));
  ASSERT_EQ(created.status, 201) << created.body;
  const json scaledObject = parse(created);
  EXPECT_EQ(scaledObject["kind"], "ScaledObject");
  EXPECT_EQ(scaledObject["status"]["scaleTargetKind"], "apps/v1.Deployment");
  EXPECT_EQ(call("POST", kScaledObjects, kAdmin, scaledObjectBody("web")).status, 409);

  const json list = parse(call("GET", "/apis/keda.sh/v1alpha1/scaledobjects", kController));
  EXPECT_EQ(list["kind"], "ScaledObjectList");
  EXPECT_EQ(list["apiVersion"], "keda.sh/v1alpha1");
  EXPECT_EQ(list["items"].size(), 2u);

  // A custom resource needs a resourceVersion to be replaced, and has no strategic merge patch.
  json blind = scaledObject;
  blind["metadata"].erase("resourceVersion");
  const auto unconditional = call("PUT", kScaledObjects + "/web", kAdmin, blind.dump());
  EXPECT_EQ(unconditional.status, 422);
  EXPECT_NE(
      parse(unconditional)["message"].get<std::string>().find("must be specified for an update"),
      std::string::npos);
  json changed = scaledObject;
  changed["spec"]["scaleTargetRef"]["kind"] = "StatefulSet";
  const auto updated = call("PUT", kScaledObjects + "/web", kAdmin, changed.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(parse(updated)["status"]["scaleTargetKind"], "apps/v1.StatefulSet");
  EXPECT_EQ(call("PATCH", kScaledObjects + "/web", kAdmin, R"({"spec":{"maxReplicaCount":3}})",
                 "application/strategic-merge-patch+json")
                .status,
            415);
  const auto merged = call("PATCH", kScaledObjects + "/web", kAdmin,
                           R"({"spec":{"maxReplicaCount":3}})", "application/merge-patch+json");
  ASSERT_EQ(merged.status, 200) << merged.body;
  EXPECT_EQ(parse(merged)["spec"]["maxReplicaCount"], 3);

  json nameless = json::parse(scaledObjectBody("api"));
  nameless["spec"]["scaleTargetRef"].erase("name");
  const auto invalid = call("POST", kScaledObjects, kAdmin, nameless.dump());
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(parse(invalid)["message"],
            "ScaledObject.keda.sh \"api\" is invalid: spec.scaleTargetRef.name: Required value");

  EXPECT_EQ(call("DELETE", kScaledObjects + "/web", kController).status, 403);
  EXPECT_EQ(call("POST", kScaledObjects, kController, scaledObjectBody("x")).status, 403);
  // DELETE answers the deleted object, as for every custom resource.
  const auto deleted = call("DELETE", kScaledObjects + "/web", kAdmin);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(parse(deleted)["kind"], "ScaledObject");
  EXPECT_EQ(parse(deleted)["metadata"]["name"], "web");
  EXPECT_EQ(call("GET", kScaledObjects + "/web", kAdmin).status, 404);
}

TEST_F(ApiServerAutoscalerTest, DiscoveryAndTables) {
  std::set<std::string> groups;
  const json groupList = parse(call("GET", "/apis"));
  for (const auto& group : groupList["groups"]) groups.insert(group["name"]);
  EXPECT_TRUE(groups.contains("autoscaling"));
  EXPECT_TRUE(groups.contains("keda.sh"));
  EXPECT_EQ(parse(call("GET", "/apis/autoscaling"))["preferredVersion"]["groupVersion"],
            "autoscaling/v2");
  const json autoscaling = parse(call("GET", "/apis/autoscaling/v2"));
  EXPECT_EQ(autoscaling["resources"][0]["name"], "horizontalpodautoscalers");
  EXPECT_EQ(autoscaling["resources"][0]["shortNames"], json::array({"hpa"}));
  EXPECT_EQ(autoscaling["resources"][0]["namespaced"], true);
  const json keda = parse(call("GET", "/apis/keda.sh/v1alpha1"));
  EXPECT_EQ(keda["resources"][0]["kind"], "ScaledObject");
  EXPECT_EQ(keda["resources"][0]["shortNames"], json::array({"so"}));

  ASSERT_EQ(call("POST", kHpas, kAdmin, hpaBody("web", 5)).status, 201);
  const json hpaTable = parse(call("GET", kHpas, kAdmin, "", "application/json", kTableAccept));
  EXPECT_EQ(hpaTable["kind"], "Table");
  std::vector<std::string> columns;
  for (const auto& column : hpaTable["columnDefinitions"]) columns.push_back(column["name"]);
  EXPECT_EQ(columns, (std::vector<std::string>{"Name", "Reference", "Targets", "MinPods", "MaxPods",
                                               "Replicas", "Age"}));
  const json& hpaRow = hpaTable["rows"][0]["cells"];
  EXPECT_EQ(hpaRow[0], "web");
  EXPECT_EQ(hpaRow[1], "Deployment/web");
  EXPECT_EQ(hpaRow[2], "cpu: <unknown>/80%");
  EXPECT_EQ(hpaRow[3], 2);
  EXPECT_EQ(hpaRow[4], 5);
  EXPECT_EQ(hpaRow[5], 0);

  const json soTable =
      parse(call("GET", kScaledObjects + "/db", kAdmin, "", "application/json", kTableAccept));
  EXPECT_EQ(soTable["columnDefinitions"][1]["name"], "ScaleTargetKind");
  const json& soRow = soTable["rows"][0]["cells"];
  EXPECT_EQ(soRow[0], "db");
  EXPECT_EQ(soRow[1], "apps/v1.StatefulSet");
  EXPECT_EQ(soRow[2], "db");
  EXPECT_EQ(soRow[3], 1);
  EXPECT_EQ(soRow[5], "cpu");
}

// --- pods/{name}/resize -----------------------------------------------------------------------

class ApiServerResizeTest : public ApiServerTest {
 protected:
  explicit ApiServerResizeTest(const Scenario& fleetScenario = scenario())
      : ApiServerTest(fleetScenario) {}
  // The first web pod's resize URL.
  std::string resizePath() {
    const json pods = parse(call("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb"));
    name_ = pods["items"][0]["metadata"]["name"].get<std::string>();
    return "/api/v1/namespaces/shop/pods/" + name_ + "/resize";
  }
  void step(SimTime now) {
    std::lock_guard lock(fleet_.mutex);
    fleet_.model.step(now);
  }
  std::string name_;
};

TEST_F(ApiServerResizeTest, MergeAndStrategicPatchesResizeInPlace) {
  const std::string path = resizePath();
  const auto got = call("GET", path, kController);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(parse(got)["kind"], "Pod");
  EXPECT_EQ(parse(got)["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1");

  const auto merge = call(
      "PATCH", path, kController,
      R"({"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"300m"},"limits":{"cpu":"600m"}}}]}})",
      "application/merge-patch+json");
  ASSERT_EQ(merge.status, 200) << merge.body;
  EXPECT_EQ(parse(merge)["spec"]["containers"][0]["resources"]["limits"]["cpu"], "600m");
  EXPECT_EQ(parse(merge)["spec"]["containers"][0]["image"], scenario().workloads[0].image);
  EXPECT_EQ(parse(merge)["metadata"]["generation"], 2);

  // Strategic merge: containers merge by name, so only the request changes.
  const auto strategic =
      call("PATCH", path, kController,
           R"({"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"400m"}}}]}})",
           "application/strategic-merge-patch+json");
  ASSERT_EQ(strategic.status, 200) << strategic.body;
  EXPECT_EQ(parse(strategic)["spec"]["containers"][0]["resources"]["requests"]["cpu"], "400m");
  EXPECT_EQ(parse(strategic)["spec"]["containers"][0]["resources"]["limits"]["cpu"], "600m");

  // JSON patch (RFC 6902) on the pod's paths.
  const auto jsonPatch =
      call("PATCH", path, kController,
           R"([{"op":"replace","path":"/spec/containers/0/resources/limits/cpu","value":"800m"}])",
           "application/json-patch+json");
  ASSERT_EQ(jsonPatch.status, 200) << jsonPatch.body;
  EXPECT_EQ(parse(jsonPatch)["spec"]["containers"][0]["resources"]["limits"]["cpu"], "800m");

  step(std::chrono::milliseconds(100));
  step(std::chrono::seconds(1));
  const json pod = parse(call("GET", "/api/v1/namespaces/shop/pods/" + name_, kAgent));
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"], "800m");
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["resources"]["requests"]["cpu"], "400m");
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["restartCount"], 0);
  // The write log names the pod.
  bool logged = false;
  for (const auto& record : server_->writes().records()) {
    logged |= record.kind == "Pod" && record.workload == "shop/" + name_ && record.status == 200;
  }
  EXPECT_TRUE(logged);
}

TEST_F(ApiServerResizeTest, RefusalsAreKubernetesStatuses) {
  const std::string path = resizePath();
  const std::string body =
      R"({"spec":{"containers":[{"name":"web","resources":{"limits":{"cpu":"2"}}}]}})";
  // The agents' role may not resize; nor may the main pod resource change resources.
  EXPECT_EQ(call("PATCH", path, kAgent, body, "application/merge-patch+json").status, 403);
  const auto main = call("PATCH", "/api/v1/namespaces/shop/pods/" + name_, kAdmin, body,
                         "application/strategic-merge-patch+json");
  EXPECT_EQ(main.status, 422);
  EXPECT_NE(parse(main)["message"].get<std::string>().find("resize subresource"),
            std::string::npos);
  // A QoS change (Burstable -> Guaranteed).
  const auto qos = call(
      "PATCH", path, kController,
      R"({"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"1","memory":"1Gi"},"limits":{"cpu":"1","memory":"1Gi"}}}]}})",
      "application/strategic-merge-patch+json");
  EXPECT_EQ(qos.status, 422);
  EXPECT_EQ(parse(qos)["reason"], "Invalid");
  EXPECT_EQ(call("PATCH", "/api/v1/namespaces/shop/pods/nope/resize", kController, body,
                 "application/merge-patch+json")
                .status,
            404);
  EXPECT_EQ(call("DELETE", path, kController).status, 403);  // RBAC first, as kube-apiserver
  EXPECT_EQ(call("DELETE", path, kAdmin).status, 405);

  // RBAC denies it (resize-forbidden): 403 naming the subresource.
  ApiFaults faults;
  faults.resizeForbidden = true;
  server_->faults().set(faults);
  const auto forbidden = call("PATCH", path, kController, body, "application/merge-patch+json");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(parse(forbidden)["message"].get<std::string>().find("pods/resize"), std::string::npos);
  // An older API server (resize-unsupported): 404, and discovery does not list it.
  faults = ApiFaults{};
  faults.resizeUnsupported = true;
  server_->faults().set(faults);
  const auto missing = call("PATCH", path, kController, body, "application/merge-patch+json");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(parse(missing)["reason"], "NotFound");
  auto listed = [&] {
    const json discovery = parse(call("GET", "/api/v1"));
    for (const auto& resource : discovery["resources"]) {
      if (resource["name"] == "pods/resize") return true;
    }
    return false;
  };
  EXPECT_FALSE(listed());
  server_->faults().set(ApiFaults{});
  EXPECT_TRUE(listed());
  const auto allowed =
      call("PATCH", path, kController, body, "application/strategic-merge-patch+json");
  EXPECT_EQ(allowed.status, 200) << allowed.body;
}

Scenario oldCluster() {
  Scenario s = scenario();
  s.clusters[0].kubernetesVersion = "v1.32.4";
  return s;
}

class ApiServerOldClusterTest : public ApiServerTest {
 protected:
  ApiServerOldClusterTest() : ApiServerTest(oldCluster()) {}
};

TEST_F(ApiServerOldClusterTest, ClustersBeforeV133HaveNoResizeSubresource) {
  const json pods = parse(call("GET", "/api/v1/namespaces/shop/pods"));
  const std::string name = pods["items"][0]["metadata"]["name"].get<std::string>();
  const auto answer = call("PATCH", "/api/v1/namespaces/shop/pods/" + name + "/resize", kController,
                           R"({"spec":{}})", "application/merge-patch+json");
  EXPECT_EQ(answer.status, 404);
  EXPECT_EQ(parse(call("GET", "/version", ""))["gitVersion"], "v1.32.4");
}

// --- LimitRanges and ResourceQuotas: stored whole, enforced on pods/resize ---------------------

const std::string kLimitRanges = "/api/v1/namespaces/shop/limitranges";
const std::string kQuotas = "/api/v1/namespaces/shop/resourcequotas";

TEST_F(ApiServerResizeTest, LimitRangesAndQuotasAreStoredServedAndListed) {
  const json core = parse(call("GET", "/api/v1"));
  std::set<std::string> names;
  for (const auto& resource : core["resources"]) names.insert(resource["name"]);
  EXPECT_TRUE(names.contains("limitranges"));
  EXPECT_TRUE(names.contains("resourcequotas"));

  const auto created = call("POST", kLimitRanges, kAdmin,
                            R"({"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"bounds"},
          "spec":{"limits":[{"type":"Container","max":{"cpu":"2"},"min":{"cpu":"100m"}}]}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(parse(created)["metadata"]["namespace"], "shop");
  EXPECT_EQ(
      parse(call("GET", kLimitRanges + "/bounds", kController))["spec"]["limits"][0]["max"]["cpu"],
      "2");
  EXPECT_EQ(parse(call("GET", "/api/v1/limitranges"))["items"].size(), 1u);
  // Only the administrator writes them.
  EXPECT_EQ(call("POST", kLimitRanges, kController, R"({"metadata":{"name":"x"}})").status, 403);
  // Validation and decoding, as the API server answers them.
  const auto inverted = call(
      "POST", kLimitRanges, kAdmin,
      R"({"metadata":{"name":"inverted"},"spec":{"limits":[{"type":"Container","min":{"cpu":"3"},"max":{"cpu":"2"}}]}})");
  EXPECT_EQ(inverted.status, 422);
  EXPECT_EQ(parse(inverted)["message"],
            "LimitRange \"inverted\" is invalid: spec.limits[0].min[cpu]: Invalid value: \"3\": "
            "min value 3 is greater than max value 2");
  EXPECT_EQ(
      call(
          "POST", kLimitRanges, kAdmin,
          R"({"metadata":{"name":"bad"},"spec":{"limits":[{"type":"Container","max":{"cpu":"two"}}]}})")
          .status,
      400);

  ASSERT_EQ(
      call(
          "POST", kQuotas, kAdmin,
          R"({"metadata":{"name":"compute"},"spec":{"hard":{"requests.cpu":"2","limits.cpu":"4","pods":"10"}}})")
          .status,
      201);
  // The status is the quota controller's: what the namespace's three pods (0.5 / 1 core each)
  // use now.
  const json quota = parse(call("GET", kQuotas + "/compute", kController));
  EXPECT_EQ(quota["status"]["hard"]["requests.cpu"], "2");
  EXPECT_EQ(quota["status"]["used"]["requests.cpu"], "1500m");
  EXPECT_EQ(quota["status"]["used"]["limits.cpu"], "3");
  const json table =
      parse(call("GET", kQuotas, kAdmin, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io"));
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["columnDefinitions"][2]["name"], "Request");
  EXPECT_EQ(table["rows"][0]["cells"][2], "pods: 0/10, requests.cpu: 1500m/2");
  EXPECT_EQ(table["rows"][0]["cells"][3], "limits.cpu: 3/4");
  EXPECT_EQ(call("DELETE", kQuotas + "/compute").status, 200);
  EXPECT_EQ(call("GET", kQuotas + "/compute").status, 404);
}

TEST_F(ApiServerResizeTest, ALimitRangeRefusesAResizeOutsideItsBounds) {
  const std::string path = resizePath();
  ASSERT_EQ(call("POST", kLimitRanges, kAdmin,
                 R"({"metadata":{"name":"bounds"},"spec":{"limits":[
                      {"type":"Container","max":{"cpu":"2"},"min":{"cpu":"250m"}},
                      {"type":"Pod","max":{"cpu":"1m"}}]}})")
                .status,
            201);
  auto resize = [&](const std::string& request, const std::string& limit) {
    return call("PATCH", path, kController,
                R"({"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":")" +
                    request + R"("},"limits":{"cpu":")" + limit + R"("}}}]}})",
                "application/strategic-merge-patch+json");
  };
  const auto over = resize("500m", "4");
  ASSERT_EQ(over.status, 403) << over.body;
  EXPECT_EQ(parse(over)["reason"], "Forbidden");
  EXPECT_EQ(parse(over)["message"], "pods \"" + name_ +
                                        "\" is forbidden: maximum cpu usage per Container is 2, "
                                        "but limit is 4");
  EXPECT_EQ(parse(over)["details"]["kind"], "pods");
  const auto under = resize("100m", "1");
  ASSERT_EQ(under.status, 403);
  EXPECT_EQ(parse(under)["message"], "pods \"" + name_ +
                                         "\" is forbidden: minimum cpu usage per Container is "
                                         "250m, but request is 100m");
  // Nothing was written; inside the bounds it is (the Pod item is stored, not enforced).
  EXPECT_EQ(
      parse(call("GET", path, kController))["spec"]["containers"][0]["resources"]["limits"]["cpu"],
      "1");
  EXPECT_EQ(resize("300m", "2").status, 200);
  // Another namespace's LimitRange does not apply.
  EXPECT_EQ(call("DELETE", kLimitRanges + "/bounds").status, 200);
  EXPECT_EQ(resize("500m", "4").status, 200);
}

TEST_F(ApiServerResizeTest, AResourceQuotaRefusesGrowthPastItsHardLimitOnly) {
  const std::string path = resizePath();
  ASSERT_EQ(call("POST", kQuotas, kAdmin,
                 R"({"metadata":{"name":"compute"},"spec":{"hard":{"requests.cpu":"1800m"}}})")
                .status,
            201);
  auto resizeRequest = [&](const std::string& request) {
    return call("PATCH", path, kController,
                R"({"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":")" +
                    request + R"("}}}]}})",
                "application/strategic-merge-patch+json");
  };
  // 1.5 cores requested in the namespace; 0.5 more would make 2.
  const auto grown = resizeRequest("1");
  ASSERT_EQ(grown.status, 403) << grown.body;
  EXPECT_EQ(parse(grown)["reason"], "Forbidden");
  EXPECT_EQ(parse(grown)["message"], "pods \"" + name_ +
                                         "\" is forbidden: exceeded quota: compute, requested: "
                                         "requests.cpu=500m, used: requests.cpu=1500m, limited: "
                                         "requests.cpu=1800m");
  EXPECT_EQ(resizeRequest("800m").status, 200);  // 0.3 more: 1.8, at the limit
  EXPECT_EQ(parse(call("GET", kQuotas + "/compute"))["status"]["used"]["requests.cpu"], "1800m");
  EXPECT_EQ(resizeRequest("900m").status, 403);
  // Shrinking is never refused, even with the quota lowered below what is used.
  ASSERT_EQ(call("PATCH", kQuotas + "/compute", kAdmin, R"({"spec":{"hard":{"requests.cpu":"1"}}})",
                 "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(resizeRequest("200m").status, 200);
}

Scenario withAdmissionObjects() {
  Scenario s = scenario();
  s.clusters[0].limitRanges.push_back({"shop", "bounds", {}, {{"cpu", "1500m"}}});
  s.clusters[0].resourceQuotas.push_back({"shop", "compute", {{"limits.cpu", "4"}}});
  return s;
}

class ApiServerScenarioAdmissionTest : public ApiServerResizeTest {
 protected:
  ApiServerScenarioAdmissionTest() : ApiServerResizeTest(withAdmissionObjects()) {}
};

TEST_F(ApiServerScenarioAdmissionTest, TheScenariosObjectsAreThereAndEnforced) {
  const std::string path = resizePath();
  EXPECT_EQ(parse(call("GET", kLimitRanges + "/bounds"))["spec"]["limits"][0]["max"]["cpu"],
            "1500m");
  EXPECT_EQ(parse(call("GET", kQuotas + "/compute"))["status"]["used"]["limits.cpu"], "3");
  auto resizeLimit = [&](const std::string& limit) {
    return call("PATCH", path, kController,
                R"({"spec":{"containers":[{"name":"web","resources":{"limits":{"cpu":")" + limit +
                    R"("}}}]}})",
                "application/strategic-merge-patch+json");
  };
  EXPECT_EQ(parse(resizeLimit("2"))["message"],
            "pods \"" + name_ +
                "\" is forbidden: maximum cpu usage per Container is 1500m, but limit is 2");
  // Within the LimitRange: 3 + 0.5 of the quota's 4 limits.cpu.
  EXPECT_EQ(resizeLimit("1500m").status, 200);
}

// --- pods the controllers create pass the same plugins ------------------------------------------

// The web Deployment's ReplicaFailure condition, or null.
json replicaFailureOf(const json& deployment) {
  for (const auto& condition : deployment["status"].value("conditions", json::array())) {
    if (condition.value("type", "") == "ReplicaFailure") return condition;
  }
  return nullptr;
}

TEST_F(ApiServerResizeTest, ALimitRangeStallsARolloutAndTheDeploymentSaysSo) {
  ASSERT_EQ(call("POST", kLimitRanges, kAdmin,
                 R"({"metadata":{"name":"bounds"},"spec":{"limits":[
                      {"type":"Container","max":{"cpu":"2"}}]}})")
                .status,
            201);
  const json before = parse(call("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb"));
  const auto patched = call("PATCH", kDeployments + "/web", kController,
                            R"({"spec":{"template":{"spec":{"containers":[{"name":"web",
                                "resources":{"limits":{"cpu":"3"}}}]}}}})",
                            "application/strategic-merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;  // the template itself is not a pod
  for (int second = 1; second <= 5; ++second) step(std::chrono::seconds(second));
  const json deployment = parse(call("GET", kDeployments + "/web", kController));
  const json failure = replicaFailureOf(deployment);
  ASSERT_FALSE(failure.is_null()) << deployment["status"].dump();
  EXPECT_EQ(failure["status"], "True");
  EXPECT_EQ(failure["reason"], "FailedCreate");
  const std::string message = failure["message"];
  EXPECT_EQ(message.rfind("pods \"web-", 0), 0u) << message;
  EXPECT_NE(message.find("-\" is forbidden: maximum cpu usage per Container is 2, but limit is 3"),
            std::string::npos)
      << message;
  // The old pods are all there is.
  const json pods = parse(call("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb"));
  ASSERT_EQ(pods["items"].size(), before["items"].size());
  for (std::size_t i = 0; i < pods["items"].size(); ++i) {
    EXPECT_EQ(pods["items"][i]["metadata"]["name"], before["items"][i]["metadata"]["name"]);
  }
  // Without the LimitRange the ReplicaSet makes its pod and drops the condition.
  EXPECT_EQ(call("DELETE", kLimitRanges + "/bounds").status, 200);
  step(std::chrono::seconds(6));
  EXPECT_TRUE(replicaFailureOf(parse(call("GET", kDeployments + "/web"))).is_null());
  EXPECT_EQ(
      parse(call("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb"))["items"].size(),
      before["items"].size() + 1);
}

TEST_F(ApiServerResizeTest, AResourceQuotaRefusesAScaleOutsPods) {
  // 1.5 cores requested in the namespace (two web pods and a db pod of 0.5); room for one more.
  ASSERT_EQ(call("POST", kQuotas, kAdmin,
                 R"({"metadata":{"name":"compute"},"spec":{"hard":{"requests.cpu":"2"}}})")
                .status,
            201);
  ASSERT_EQ(call("PATCH", kDeployments + "/web/scale", kController, R"({"spec":{"replicas":4}})",
                 "application/merge-patch+json")
                .status,
            200);
  step(std::chrono::seconds(1));
  const json deployment = parse(call("GET", kDeployments + "/web"));
  const json failure = replicaFailureOf(deployment);
  ASSERT_FALSE(failure.is_null()) << deployment["status"].dump();
  const std::string message = failure["message"];
  EXPECT_NE(message.find("-\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, "
                         "used: requests.cpu=2, limited: requests.cpu=2"),
            std::string::npos)
      << message;
  EXPECT_EQ(parse(call("GET", kQuotas + "/compute"))["status"]["used"]["requests.cpu"], "2");
}

}  // namespace
}  // namespace fleetscale::sim
