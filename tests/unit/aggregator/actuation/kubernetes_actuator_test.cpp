// The Kubernetes actuator against a scripted HTTP client: every status the API can answer,
// retries, optimistic concurrency and fencing. (The simulated fleet's real API server covers the
// same paths end to end in the integration tests.)
#include "fleetscale/aggregator/actuation/kubernetes_actuator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>

#include "fleetscale/testing/scripted_http_client.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

Result<HttpClientResponse> scale(int replicas, const std::string& resourceVersion) {
  return HttpClientResponse{
      200,
      json{{"kind", "Scale"},
           {"apiVersion", "autoscaling/v1"},
           {"metadata",
            {{"name", "web"}, {"namespace", "shop"}, {"resourceVersion", resourceVersion}}},
           {"spec", {{"replicas", replicas}}},
           {"status", {{"replicas", replicas}}}}
          .dump(),
      {}};
}

Result<HttpClientResponse> status(long code, const std::string& message) {
  return HttpClientResponse{
      code,
      json{{"kind", "Status"}, {"status", "Failure"}, {"message", message}, {"code", code}}.dump(),
      {}};
}

struct Harness {
  explicit Harness(std::deque<Result<HttpClientResponse>> script) {
    auto http = std::make_unique<testing::ScriptedHttpClient>(std::move(script));
    scripted = http.get();
    KubeCredentials credentials;
    credentials.server = "https://api.sim:6443";
    credentials.bearerToken = "tok";
    actuator = std::make_unique<KubernetesActuator>(
        std::move(http), credentials, KubernetesActuatorOptions{},
        [this](std::chrono::milliseconds d) { slept.push_back(d); });
  }
  testing::ScriptedHttpClient* scripted;
  std::vector<std::chrono::milliseconds> slept;
  std::unique_ptr<KubernetesActuator> actuator;
};

const WorkloadKey kWeb{"shop", "Deployment", "web"};
ScaleRequest request(int replicas) { return ScaleRequest{kWeb, replicas, "d-1", "load", 7, {}}; }

TEST(KubernetesActuatorTest, ScalePaths) {
  EXPECT_EQ(KubernetesActuator::scalePath(kWeb),
            "/apis/apps/v1/namespaces/shop/deployments/web/scale");
  EXPECT_EQ(KubernetesActuator::scalePath({"db", "StatefulSet", "pg"}),
            "/apis/apps/v1/namespaces/db/statefulsets/pg/scale");
}

TEST(KubernetesActuatorTest, GetThenPutWithTheReadResourceVersion) {
  Harness h({scale(2, "41"), scale(5, "42")});
  auto outcome = h.actuator->setScale(request(5));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.status.specReplicas, 5);
  EXPECT_EQ(outcome.attempts, 2);
  ASSERT_EQ(h.scripted->requests.size(), 2u);
  const auto& put = h.scripted->requests[1];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.url, "https://api.sim:6443/apis/apps/v1/namespaces/shop/deployments/web/scale");
  const auto body = json::parse(put.body);
  EXPECT_EQ(body["spec"]["replicas"], 5);
  EXPECT_EQ(body["metadata"]["resourceVersion"], "41");
  bool bearer = false;
  for (const auto& [name, value] : put.headers)
    bearer |= name == "Authorization" && value == "Bearer tok";
  EXPECT_TRUE(bearer);
}

TEST(KubernetesActuatorTest, NoWriteWhenAlreadyAtTheDesiredCount) {
  Harness h({scale(5, "41")});
  auto outcome = h.actuator->setScale(request(5));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(h.scripted->requests.size(), 1u);
}

TEST(KubernetesActuatorTest, ConflictRereadsAndWritesAgain) {
  Harness h({scale(2, "41"), status(409, "the object has been modified"), scale(3, "43"),
             scale(5, "44")});
  auto outcome = h.actuator->setScale(request(5));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  ASSERT_EQ(h.scripted->requests.size(), 4u);
  EXPECT_EQ(json::parse(h.scripted->requests[3].body)["metadata"]["resourceVersion"], "43");
  EXPECT_TRUE(h.slept.empty()) << "conflicts re-read at once";
}

TEST(KubernetesActuatorTest, ConflictStormGivesUp) {
  std::deque<Result<HttpClientResponse>> script;
  for (int i = 0; i < 10; ++i) {
    script.push_back(scale(2, std::to_string(i)));
    script.push_back(status(409, "conflict"));
  }
  Harness h(script);
  auto outcome = h.actuator->setScale(request(5));
  EXPECT_EQ(outcome.error, ActuationError::kConflict);
  EXPECT_EQ(h.scripted->requests.size(), 12u) << "1 try + 5 re-reads, each a GET and a PUT";
}

TEST(KubernetesActuatorTest, ServerErrorsAndTimeoutsAreRetriedWithBackoff) {
  Harness h({status(503, "overloaded"), Error{"Operation timed out after 5000 milliseconds"},
             scale(2, "1"), scale(4, "2")});
  auto outcome = h.actuator->setScale(request(4));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.attempts, 4);
  EXPECT_EQ(h.slept.size(), 2u);
}

TEST(KubernetesActuatorTest, PersistentFailureReportsTheLastError) {
  Harness h({Error{"connect refused"}, Error{"connect refused"}, Error{"connect refused"},
             Error{"connect refused"}});
  auto outcome = h.actuator->setScale(request(4));
  EXPECT_EQ(outcome.error, ActuationError::kTransport);
  EXPECT_EQ(outcome.attempts, 4);
  EXPECT_NE(outcome.message.find("connect refused"), std::string::npos);
}

TEST(KubernetesActuatorTest, AuthAndNotFoundAreDistinctAndNotRetried) {
  {
    Harness h({status(401, "Unauthorized")});
    auto outcome = h.actuator->getScale(kWeb);
    EXPECT_EQ(outcome.error, ActuationError::kUnauthorized);
    EXPECT_NE(outcome.message.find("token or client certificate"), std::string::npos);
    EXPECT_EQ(h.scripted->requests.size(), 1u);
  }
  {
    Harness h({scale(1, "1"), status(403, "deployments.apps \"web\" is forbidden")});
    auto outcome = h.actuator->setScale(request(4));
    EXPECT_EQ(outcome.error, ActuationError::kForbidden);
    EXPECT_NE(outcome.message.find("is forbidden"), std::string::npos)
        << "the API's Status message";
    EXPECT_NE(outcome.message.find("deployments/scale in namespace shop"), std::string::npos);
  }
  {
    Harness h({status(404, "deployments.apps \"web\" not found")});
    EXPECT_EQ(h.actuator->getScale(kWeb).error, ActuationError::kNotFound);
  }
  {
    Harness h({HttpClientResponse{200, "<html>proxy</html>", {}}});
    EXPECT_EQ(h.actuator->getScale(kWeb).error, ActuationError::kInvalidResponse);
  }
}

TEST(KubernetesActuatorFencingTest, TheWriteCarriesTheTermAndIsNotSentByADeposedLeader) {
  Harness h({scale(2, "10"), scale(5, "11")});
  auto write = request(5);
  std::vector<std::chrono::milliseconds> asked;
  bool leader = true;
  write.stillLeader = [&](std::chrono::milliseconds within) {
    asked.push_back(within);
    return leader;
  };
  ASSERT_TRUE(h.actuator->setScale(write).ok());
  const auto& put = h.scripted->requests.back();
  EXPECT_EQ(put.method, "PUT");
  const auto header = std::find_if(put.headers.begin(), put.headers.end(),
                                   [](const auto& kv) { return kv.first == kFencingTokenHeader; });
  ASSERT_NE(header, put.headers.end());
  EXPECT_EQ(header->second, "7");
  ASSERT_EQ(asked.size(), 1u) << "checked before the PUT only";
  EXPECT_EQ(asked[0], KubernetesActuatorOptions{}.requestTimeout)
      << "the lease must outlast the request";

  Harness deposed({scale(2, "10")});
  leader = false;
  const auto outcome = deposed.actuator->setScale(write);
  EXPECT_EQ(outcome.error, ActuationError::kFenced) << outcome.message;
  EXPECT_NE(outcome.message.find("no longer the leader of term 7"), std::string::npos);
  ASSERT_EQ(deposed.scripted->requests.size(), 1u) << "the GET, never the PUT";
  EXPECT_EQ(deposed.scripted->requests[0].method, "GET");
}

TEST(KubernetesActuatorFencingTest, ARetryIsNotSentAfterLeadershipEnds) {
  Harness h({scale(2, "10"), HttpClientResponse{503, "busy", {}}, scale(5, "11")});
  auto write = request(5);
  int checks = 0;
  write.stillLeader = [&](std::chrono::milliseconds) { return ++checks == 1; };
  const auto outcome = h.actuator->setScale(write);
  EXPECT_EQ(outcome.error, ActuationError::kFenced);
  EXPECT_EQ(h.scripted->requests.size(), 2u) << "GET and the first PUT; the retry was fenced";
}

// Other autoscalers: HPAs, then KEDA ScaledObjects; a cluster without KEDA (404) has none,
// and a refused list says which RBAC rule is missing.
TEST(KubernetesActuatorTest, ListsHorizontalPodAutoscalersAndScaledObjects) {
  const auto list = [](const std::string& kind, const json& items) {
    return Result<HttpClientResponse>(
        HttpClientResponse{200, json{{"kind", kind + "List"}, {"items", items}}.dump(), {}});
  };
  const json hpa = {{"metadata", {{"name", "web"}, {"namespace", "shop"}}},
                    {"spec", {{"scaleTargetRef", {{"kind", "Deployment"}, {"name", "web"}}}}}};
  const json scaledObject = {{"metadata", {{"name", "jobs"}, {"namespace", "shop"}}},
                             {"spec", {{"scaleTargetRef", {{"name", "worker"}}}}}};
  Harness h({list("HorizontalPodAutoscaler", json::array({hpa})),
             list("ScaledObject", json::array({scaledObject}))});
  EXPECT_TRUE(h.actuator->listsAutoscalers());
  auto listing = h.actuator->listAutoscalers("shop");
  ASSERT_TRUE(listing.ok()) << listing.message;
  ASSERT_EQ(listing.autoscalers.size(), 2u);
  EXPECT_EQ(listing.autoscalers[0].describe(), "HorizontalPodAutoscaler shop/web");
  EXPECT_EQ(listing.autoscalers[1].targetKind, "Deployment") << "KEDA's default";
  EXPECT_EQ(listing.autoscalers[1].targetName, "worker");
  ASSERT_EQ(h.scripted->requests.size(), 2u);
  EXPECT_EQ(h.scripted->requests[0].url,
            "https://api.sim:6443/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers");
  EXPECT_EQ(h.scripted->requests[1].url,
            "https://api.sim:6443/apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects");

  Harness noKeda({list("HorizontalPodAutoscaler", json::array()), status(404, "not found")});
  listing = noKeda.actuator->listAutoscalers("shop");
  EXPECT_TRUE(listing.ok()) << listing.message;
  EXPECT_TRUE(listing.autoscalers.empty());

  Harness forbidden({status(403, "forbidden")});
  listing = forbidden.actuator->listAutoscalers("shop");
  EXPECT_EQ(listing.error, ActuationError::kForbidden);
  EXPECT_NE(listing.message.find("RBAC must allow list on HorizontalPodAutoscalers"),
            std::string::npos)
      << listing.message;
}

// --take-over-hpa: the HPA is pinned to the count (GET, conditional PUT) before the scale write,
// so it never undoes it; a 409 on the HPA reads it again.
TEST(KubernetesActuatorTest, ATakenOverHpaIsPinnedBeforeTheWrite) {
  const json hpa = {
      {"apiVersion", "autoscaling/v2"},
      {"kind", "HorizontalPodAutoscaler"},
      {"metadata", {{"name", "web-hpa"}, {"namespace", "shop"}, {"resourceVersion", "8"}}},
      {"spec", {{"minReplicas", 2}, {"maxReplicas", 10}}}};
  Harness h({HttpClientResponse{200, hpa.dump(), {}}, status(409, "modified"),
             HttpClientResponse{200, hpa.dump(), {}}, HttpClientResponse{200, hpa.dump(), {}},
             scale(2, "41"), scale(5, "42")});
  ScaleRequest pinned = request(5);
  pinned.pin = {{"HorizontalPodAutoscaler", "shop", "web-hpa", "Deployment", "web", ""}};
  auto outcome = h.actuator->setScale(pinned);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  const auto& requests = h.scripted->requests;
  ASSERT_EQ(requests.size(), 6u);
  const std::string hpaUrl =
      "https://api.sim:6443/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web-hpa";
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].url, hpaUrl);
  EXPECT_EQ(requests[3].method, "PUT");
  EXPECT_EQ(requests[3].url, hpaUrl);
  const auto body = json::parse(requests[3].body);
  EXPECT_EQ(body["spec"]["minReplicas"], 5);
  EXPECT_EQ(body["spec"]["maxReplicas"], 5);
  EXPECT_EQ(body["metadata"]["resourceVersion"], "8");
  bool fenced = false;
  for (const auto& [name, value] : requests[3].headers) {
    fenced |= name == kFencingTokenHeader && value == "7";
  }
  EXPECT_TRUE(fenced) << "the pin is a write of the same term";
  EXPECT_EQ(requests[5].method, "PUT");
  EXPECT_EQ(json::parse(requests[5].body)["spec"]["replicas"], 5);
}

TEST(KubernetesActuatorTest, APinRbacRefuses) {
  const json hpa = {{"kind", "HorizontalPodAutoscaler"},
                    {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
                    {"spec", {{"maxReplicas", 10}}}};
  Harness h({HttpClientResponse{200, hpa.dump(), {}}, status(403, "forbidden")});
  ScaleRequest pinned = request(5);
  pinned.pin = {{"HorizontalPodAutoscaler", "shop", "web", "Deployment", "web", ""}};
  auto outcome = h.actuator->setScale(pinned);
  EXPECT_EQ(outcome.error, ActuationError::kForbidden);
  EXPECT_NE(outcome.message.find("--take-over-hpa needs RBAC update on horizontalpodautoscalers"),
            std::string::npos)
      << outcome.message;
  EXPECT_EQ(h.scripted->requests.size(), 2u) << "no scale write after a failed pin";
}

TEST(KubernetesActuatorTest, ScaledToZeroAnHpaIsLeftAloneAndAScaledObjectPaused) {
  const json scaledObject = {{"kind", "ScaledObject"},
                             {"metadata", {{"name", "q"}, {"namespace", "shop"}}},
                             {"spec", {{"scaleTargetRef", {{"name", "web"}}}}}};
  Harness h({HttpClientResponse{200, scaledObject.dump(), {}},
             HttpClientResponse{200, scaledObject.dump(), {}}, scale(2, "41"), scale(0, "42")});
  ScaleRequest zero = request(0);
  zero.pin = {{"HorizontalPodAutoscaler", "shop", "web", "Deployment", "web", ""},
              {"ScaledObject", "shop", "q", "Deployment", "web", ""}};
  auto outcome = h.actuator->setScale(zero);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  const auto& requests = h.scripted->requests;
  ASSERT_EQ(requests.size(), 4u) << "no request for the HPA";
  EXPECT_EQ(requests[0].url,
            "https://api.sim:6443/apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects/q");
  EXPECT_EQ(json::parse(
                requests[1].body)["metadata"]["annotations"]["autoscaling.keda.sh/paused-replicas"],
            "0");
}

}  // namespace
}  // namespace fleetscale::aggregator

namespace fleetscale::aggregator {
namespace {

std::string headerOf(const HttpClientRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(KubernetesActuatorTest, ListsPodsByASetBasedSelectorEscapedInTheQuery) {
  Harness h({HttpClientResponse{200, R"({"items":[]})", {}}});
  std::string body;
  ASSERT_TRUE(h.actuator->listPods("shop", "app=web,tier in (a,b),!legacy", body).ok());
  ASSERT_EQ(h.scripted->requests.size(), 1u);
  EXPECT_EQ(h.scripted->requests[0].url,
            "https://api.sim:6443/api/v1/namespaces/shop/pods?labelSelector="
            "app%3Dweb%2Ctier%20in%20%28a%2Cb%29%2C%21legacy");
}

TEST(KubernetesActuatorTest, RightsizingReadsPodsAndPatchesResizeAndTemplate) {
  Harness h({HttpClientResponse{200, R"({"kind":"Deployment"})", {}},
             HttpClientResponse{200, R"({"items":[]})", {}}, HttpClientResponse{200, "{}", {}},
             HttpClientResponse{200, "{}", {}}});
  std::string body;
  ASSERT_TRUE(h.actuator->getWorkload(kWeb, body).ok());
  EXPECT_EQ(body, R"({"kind":"Deployment"})");
  ASSERT_TRUE(h.actuator->listPods("shop", "app=web,tier=front", body).ok());
  ASSERT_TRUE(h.actuator->resizePod("shop", "web-0", R"({"spec":{}})").ok());
  ASSERT_TRUE(h.actuator->patchWorkload({"db", "StatefulSet", "pg"}, R"({"spec":{}})").ok());
  const auto& requests = h.scripted->requests;
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].url, "https://api.sim:6443/apis/apps/v1/namespaces/shop/deployments/web");
  EXPECT_EQ(
      requests[1].url,
      "https://api.sim:6443/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb%2Ctier%3Dfront");
  EXPECT_EQ(requests[2].method, "PATCH");
  EXPECT_EQ(requests[2].url, "https://api.sim:6443/api/v1/namespaces/shop/pods/web-0/resize");
  EXPECT_EQ(headerOf(requests[2], "Content-Type"), "application/strategic-merge-patch+json");
  EXPECT_EQ(requests[3].method, "PATCH");
  EXPECT_EQ(requests[3].url, "https://api.sim:6443/apis/apps/v1/namespaces/db/statefulsets/pg");
  EXPECT_EQ(headerOf(requests[3], "Content-Type"), "application/strategic-merge-patch+json");
}

TEST(KubernetesActuatorTest, ResizeRefusalsSayWhatToCheck) {
  const std::string rbac =
      R"(pods "web-0" is forbidden: User "fleetscale" cannot patch resource "pods/resize")";
  const std::string limitRange =
      R"(pods "web-0" is forbidden: maximum cpu usage per Container is 2, but limit is 4)";
  struct Case {
    long code;
    std::string message;  // the Status's
    ActuationError error;
    std::string hint;
  };
  const Case cases[] = {
      {403, rbac, ActuationError::kForbidden, "RBAC must allow patch on pods/resize"},
      {404, "not found", ActuationError::kNotFound, "before Kubernetes 1.33"},
      {422, "spec: Invalid value", ActuationError::kRejected, "spec: Invalid value"}};
  for (const auto& c : cases) {
    Harness h({status(c.code, c.message)});
    const auto outcome = h.actuator->resizePod("shop", "web-0", "{}");
    EXPECT_EQ(outcome.error, c.error) << c.code;
    EXPECT_NE(outcome.message.find(c.hint), std::string::npos) << outcome.message;
    EXPECT_EQ(h.scripted->requests.size(), 1u) << "not retried";
  }
  // A LimitRange's (or ResourceQuota's) 403 is no RBAC matter: its own words, no RBAC hint.
  Harness h({status(403, limitRange)});
  const auto outcome = h.actuator->resizePod("shop", "web-0", "{}");
  EXPECT_EQ(outcome.error, ActuationError::kForbidden);
  EXPECT_NE(outcome.message.find(limitRange), std::string::npos) << outcome.message;
  EXPECT_EQ(outcome.message.find("RBAC"), std::string::npos) << outcome.message;
}

}  // namespace
}  // namespace fleetscale::aggregator
