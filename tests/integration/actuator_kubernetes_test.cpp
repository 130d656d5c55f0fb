// The real KubernetesActuator (libcurl, kubeconfig credentials) against the simulated fleet's real
// HTTPS kube-apiserver: bearer tokens and client certificates, every error path the API server
// and the network produce (hang, 5xx, 409, 401, 403, 404), one write in flight per workload
// through the actuation queue, and the metrics and store events the scaling loop records for a
// failed write.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/actuation/actuation_queue.h"
#include "fleetscale/aggregator/actuation/kubernetes_actuator.h"
#include "fleetscale/aggregator/control/scaling_loop.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/policy_fixtures.h"
#include "fleetscale/testing/simulated_api_server.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kCluster = "aws-us-east-1";
const WorkloadKey kWeb{"shop", "Deployment", "web"};

sim::Scenario oneCluster() {
  sim::Scenario scenario;
  scenario.name = "actuator";
  sim::ClusterSpec cluster;
  cluster.name = kCluster;
  cluster.cloud = "aws";
  cluster.region = "us-east-1";
  cluster.nodes = 1;
  cluster.capacity.cpuCores = 16;
  cluster.allocatable = cluster.capacity;
  scenario.clusters = {cluster};
  sim::WorkloadSpec web;
  web.name = "web";
  web.namespaceName = "shop";
  web.replicas = {{kCluster, 2}};
  web.resources = {0.1, 0.2, 64.0 * 1024 * 1024, 128.0 * 1024 * 1024};
  web.cpu = sim::LoadCurve::constant(0.1);
  web.memory = sim::LoadCurve::constant(64.0 * 1024 * 1024);
  scenario.workloads = {web};
  return scenario;
}

sim::FaultSpec fault(sim::FaultKind kind) {
  sim::FaultSpec spec;
  spec.kind = kind;
  spec.cluster = kCluster;
  return spec;
}

// Every API request answered with `status`.
sim::FaultSpec failingApi(int status) {
  auto spec = fault(sim::FaultKind::kFailingApi);
  spec.rate = 1.0;
  spec.status = status;
  return spec;
}

// Fast retries so failing paths end quickly; real sleeping between them.
KubernetesActuatorOptions quickOptions() {
  KubernetesActuatorOptions options;
  options.connectTimeout = 1s;
  options.requestTimeout = 3s;
  options.retry.maxAttempts = 3;
  options.retry.initialBackoff = 20ms;
  options.retry.maxBackoff = 40ms;
  return options;
}

class ActuatorKubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(api_.start());
    endpoints_ = api_.endpoints(kCluster);
    clusterDir_ = std::filesystem::path(endpoints_.caFile).parent_path().string();
  }

  // A kubeconfig next to the cluster's files, with paths relative to it as clientcmd resolves
  // them. `user` is the kubeconfig's user entry (token, tokenFile or client-certificate keys).
  std::string writeKubeconfig(const std::string& name, const std::string& user) {
    std::string path = clusterDir_ + "/" + name + ".kubeconfig";
    const std::string text =
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n"
        "    server: " +
        endpoints_.apiUrl +
        "\n    certificate-authority: ca.crt\n"
        "users:\n- name: fleetscale\n  user:\n" +
        user +
        "contexts:\n- name: fleetscale\n  context:\n    cluster: sim\n"
        "    user: fleetscale\ncurrent-context: fleetscale\n";
    testing::writeFile(path, text);
    return path;
  }
  std::string tokenKubeconfig(const std::string& role) {
    return writeKubeconfig(role, "    tokenFile: tokens/" + role + ".token\n");
  }
  std::string literalTokenKubeconfig(const std::string& token) {
    return writeKubeconfig("literal", "    token: " + token + "\n");
  }

  // The actuator exactly as the aggregator builds it: credentials resolved from the kubeconfig,
  // a libcurl client with their TLS settings.
  std::unique_ptr<KubernetesActuator> actuator(const std::string& kubeconfig,
                                               KubernetesActuatorOptions options = quickOptions(),
                                               Sleeper sleeper = sleepFor) {
    ClusterAccess access;
    access.kind = ClusterAccess::Kind::kKubeconfig;
    access.kubeconfig = kubeconfig;
    auto credentials = resolveCredentials(access);
    EXPECT_TRUE(credentials.ok()) << credentials.error().message;
    if (!credentials) return nullptr;
    return std::make_unique<KubernetesActuator>(std::make_unique<CurlHttpClient>(credentials->tls),
                                                *credentials, std::move(options),
                                                std::move(sleeper));
  }

  // spec.replicas of shop/web as the simulated cluster holds it.
  int modelReplicas() {
    std::lock_guard lock(api_.simulator().fleet().mutex);
    const auto* cluster = api_.simulator().fleet().model.findCluster(kCluster);
    return cluster->find(sim::WorkloadKind::kDeployment, "shop", "web")->replicas;
  }
  std::vector<sim::WriteRecord> writes() { return api_.simulator().writes(kCluster)->records(); }

  void inject(const sim::FaultSpec& spec) { ASSERT_TRUE(api_.simulator().inject(spec)); }

  SystemClock clock_;
  testing::SimulatedApiServer api_{oneCluster(), clock_};
  sim::ClusterEndpoints endpoints_;
  std::string clusterDir_;
};

ScaleRequest scaleWeb(int replicas, const std::string& decisionId = "d-1") {
  return ScaleRequest{kWeb, replicas, decisionId, "test", 0, {}};
}

TEST_F(ActuatorKubernetesTest, BearerTokenFromKubeconfigReadsAndScales) {
  auto kube = actuator(tokenKubeconfig("controller"));
  ASSERT_TRUE(kube);
  const auto read = kube->getScale(kWeb);
  ASSERT_TRUE(read.ok()) << read.message;
  EXPECT_EQ(read.status.specReplicas, 2);
  EXPECT_FALSE(read.status.resourceVersion.empty());

  const auto written = kube->setScale(scaleWeb(5));
  ASSERT_TRUE(written.ok()) << written.message;
  EXPECT_EQ(written.status.specReplicas, 5);
  EXPECT_EQ(written.attempts, 2);  // GET, PUT
  EXPECT_EQ(modelReplicas(), 5);
  const auto log = writes();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].method, "PUT");
  EXPECT_EQ(log[0].path, "/apis/apps/v1/namespaces/shop/deployments/web/scale");
  EXPECT_EQ(log[0].user, "system:serviceaccount:fleetscale:fleetscale-aggregator");
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].replicasBefore, 2);
  EXPECT_EQ(log[0].replicasAfter, 5);

  // Already there: read, nothing written.
  const auto again = kube->setScale(scaleWeb(5));
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_EQ(again.attempts, 1);
  EXPECT_EQ(writes().size(), 1u);
}

TEST_F(ActuatorKubernetesTest, ClientCertificateFromKubeconfigScales) {
  // No token at all: the certificate (CN = the aggregator's user) is the identity.
  const std::string kubeconfig = writeKubeconfig(
      "cert",
      "    client-certificate: certs/controller.crt\n    client-key: certs/controller.key\n");
  auto kube = actuator(kubeconfig);
  ASSERT_TRUE(kube);
  const auto written = kube->setScale(scaleWeb(4));
  ASSERT_TRUE(written.ok()) << written.message;
  EXPECT_EQ(modelReplicas(), 4);
  const auto log = writes();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].user, "system:serviceaccount:fleetscale:fleetscale-aggregator");
  EXPECT_EQ(log[0].replicasAfter, 4);

  // A certificate whose user has no rights authenticates, and RBAC refuses it: 403, not 401.
  auto nobody = actuator(writeKubeconfig(
      "cert-none", "    client-certificate: certs/none.crt\n    client-key: certs/none.key\n"));
  ASSERT_TRUE(nobody);
  const auto refused = nobody->getScale(kWeb);
  EXPECT_EQ(refused.error, ActuationError::kForbidden) << refused.message;
}

TEST_F(ActuatorKubernetesTest, HangingServerTimesOutRetriedWithinBoundedTime) {
  auto options = quickOptions();
  options.requestTimeout = 300ms;
  auto kube = actuator(tokenKubeconfig("controller"), options);
  ASSERT_TRUE(kube);
  auto slow = fault(sim::FaultKind::kSlowApi);
  slow.latencySeconds = 5;  // answers long after the actuator's total timeout
  inject(slow);

  const auto started = std::chrono::steady_clock::now();
  const auto outcome = kube->setScale(scaleWeb(6));
  const auto took = std::chrono::steady_clock::now() - started;

  EXPECT_EQ(outcome.error, ActuationError::kTransport);
  EXPECT_EQ(outcome.attempts, 3);  // every attempt timed out
  EXPECT_NE(outcome.message.find("GET Deployment shop/web scale at " + endpoints_.apiUrl),
            std::string::npos)
      << outcome.message;
  EXPECT_NE(outcome.message.find("timed out"), std::string::npos) << outcome.message;
  // Three 300 ms attempts and two short backoffs: far less than one server answer (5 s).
  EXPECT_GE(took, 900ms) << outcome.message;
  EXPECT_LT(took, 2500ms);
  EXPECT_TRUE(writes().empty());
  EXPECT_EQ(modelReplicas(), 2);
}

TEST_F(ActuatorKubernetesTest, ServerErrorIsRetriedAndThenSucceeds) {
  inject(failingApi(503));
  // The first backoff ends the outage, so the retry finds the server well again.
  std::atomic<int> backoffs{0};
  auto kube =
      actuator(tokenKubeconfig("controller"), quickOptions(), [&](std::chrono::milliseconds) {
        if (backoffs++ == 0) inject(fault(sim::FaultKind::kHeal));
      });
  ASSERT_TRUE(kube);
  const auto outcome = kube->setScale(scaleWeb(3));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(backoffs.load(), 1);
  EXPECT_EQ(outcome.attempts, 3);  // GET 503, GET, PUT
  EXPECT_EQ(modelReplicas(), 3);
}

TEST_F(ActuatorKubernetesTest, PersistentServerErrorFailsWithTheApiServersMessage) {
  inject(failingApi(500));
  auto kube = actuator(tokenKubeconfig("controller"));
  ASSERT_TRUE(kube);
  const auto outcome = kube->setScale(scaleWeb(3));
  EXPECT_EQ(outcome.error, ActuationError::kServerError);
  EXPECT_EQ(outcome.attempts, 3);
  EXPECT_NE(outcome.message.find("HTTP 500"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("etcdserver: request timed out"), std::string::npos)
      << outcome.message;
  EXPECT_EQ(modelReplicas(), 2);
}

// Another writer changes the Deployment between the actuator's GET and PUT: the PUT carries a
// stale resourceVersion and gets a real 409 from the API server, then the actuator reads again.
class InterleavingHttp final : public HttpClient {
 public:
  InterleavingHttp(std::unique_ptr<HttpClient> inner, std::function<void()> beforeFirstPut)
      : inner_(std::move(inner)), beforeFirstPut_(std::move(beforeFirstPut)) {}
  Result<HttpClientResponse> send(const HttpClientRequest& request) override {
    if (request.method == "PUT" && beforeFirstPut_) {
      beforeFirstPut_();
      beforeFirstPut_ = nullptr;
    }
    return inner_->send(request);
  }

 private:
  std::unique_ptr<HttpClient> inner_;
  std::function<void()> beforeFirstPut_;
};

TEST_F(ActuatorKubernetesTest, ConflictRereadsAndWritesAgain) {
  ClusterAccess access;
  access.kubeconfig = tokenKubeconfig("controller");
  auto credentials = resolveCredentials(access);
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  // What `kubectl scale --replicas=3` does in between: a merge patch with the admin token.
  auto kubectlScale = [&] {
    TlsClientOptions tls;
    tls.caFile = endpoints_.caFile;
    CurlHttpClient admin(tls);
    HttpClientRequest patch;
    patch.method = "PATCH";
    patch.url = endpoints_.apiUrl + KubernetesActuator::scalePath(kWeb);
    patch.headers = {{"Authorization", "Bearer " + *readSecretFile(endpoints_.tokenFiles["admin"])},
                     {"Content-Type", "application/merge-patch+json"}};
    patch.body = R"({"spec":{"replicas":3}})";
    auto response = admin.send(patch);
    ASSERT_TRUE(response.ok()) << response.error().message;
    ASSERT_EQ(response->status, 200);
  };
  KubernetesActuator kube(std::make_unique<InterleavingHttp>(
                              std::make_unique<CurlHttpClient>(credentials->tls), kubectlScale),
                          *credentials, quickOptions());

  const auto outcome = kube.setScale(scaleWeb(7));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(modelReplicas(), 7);
  // GET, PUT 409, GET, PUT. The simulated Deployment controller may update the object's status
  // between a re-read and the PUT (as a real one does): that is one more 409 and re-read.
  EXPECT_GE(outcome.attempts, 4);
  EXPECT_EQ(outcome.attempts % 2, 0) << "every attempt is a GET and a PUT";
  const auto log = writes();
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[0].method, "PATCH");  // the other writer
  for (std::size_t i = 1; i + 1 < log.size(); ++i) {
    EXPECT_EQ(log[i].status, 409) << i;
    EXPECT_EQ(log[i].replicasAfter, std::nullopt) << i;
  }
  EXPECT_EQ(log.back().status, 200);
  EXPECT_EQ(log.back().replicasBefore, 3);
  EXPECT_EQ(log.back().replicasAfter, 7);
  EXPECT_EQ(static_cast<int>(log.size()) - 1, outcome.attempts / 2) << "one PUT per attempt pair";
}

TEST_F(ActuatorKubernetesTest, ConflictStormGivesUpAfterTheRereadBudget) {
  auto storm = fault(sim::FaultKind::kConflictStorm);
  storm.rate = 1.0;
  inject(storm);
  auto options = quickOptions();
  options.retry.maxConflictRetries = 2;
  auto kube = actuator(tokenKubeconfig("controller"), options);
  ASSERT_TRUE(kube);
  const auto outcome = kube->setScale(scaleWeb(4));
  EXPECT_EQ(outcome.error, ActuationError::kConflict);
  EXPECT_EQ(outcome.attempts, 6);  // (GET, PUT 409) x 3
  EXPECT_NE(outcome.message.find("the object has been modified"), std::string::npos)
      << outcome.message;
  EXPECT_EQ(writes().size(), 3u);
  EXPECT_EQ(modelReplicas(), 2);
}

TEST_F(ActuatorKubernetesTest, UnknownTokenIsUnauthorizedAndNotRetried) {
  auto kube = actuator(literalTokenKubeconfig("not-a-token-the-cluster-knows"));
  ASSERT_TRUE(kube);
  const auto outcome = kube->setScale(scaleWeb(4));
  EXPECT_EQ(outcome.error, ActuationError::kUnauthorized);
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_NE(outcome.message.find("HTTP 401: Unauthorized"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("check the cluster's token or client certificate"),
            std::string::npos)
      << outcome.message;
}

TEST_F(ActuatorKubernetesTest, ReadOnlyTokenIsForbiddenToWriteAndNotRetried) {
  // The agents' token may read the scale but not update it.
  auto kube = actuator(tokenKubeconfig("agent"));
  ASSERT_TRUE(kube);
  const auto outcome = kube->setScale(scaleWeb(4));
  EXPECT_EQ(outcome.error, ActuationError::kForbidden);
  EXPECT_EQ(outcome.attempts, 2);  // GET allowed, PUT refused once
  EXPECT_NE(outcome.message.find("cannot update resource \"deployments/scale\" in API group "
                                 "\"apps\" in the namespace \"shop\""),
            std::string::npos)
      << outcome.message;
  EXPECT_NE(outcome.message.find("RBAC must allow get and update on deployments/scale"),
            std::string::npos)
      << outcome.message;
  const auto log = writes();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, 403);
  EXPECT_EQ(modelReplicas(), 2);
}

TEST_F(ActuatorKubernetesTest, MissingWorkloadIsNotFoundAndNotRetried) {
  auto kube = actuator(tokenKubeconfig("controller"));
  ASSERT_TRUE(kube);
  const auto outcome =
      kube->setScale(ScaleRequest{{"shop", "Deployment", "nope"}, 3, "d", "", 0, {}});
  EXPECT_EQ(outcome.error, ActuationError::kNotFound);
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_NE(outcome.message.find("deployments.apps \"nope\" not found"), std::string::npos)
      << outcome.message;
  // A StatefulSet of that name does not exist either: the path names the kind.
  const auto stateful = kube->getScale({"shop", "StatefulSet", "web"});
  EXPECT_EQ(stateful.error, ActuationError::kNotFound);
  EXPECT_NE(stateful.message.find("statefulsets.apps \"web\" not found"), std::string::npos)
      << stateful.message;
}

TEST_F(ActuatorKubernetesTest, QueueKeepsOneWriteInFlightAndTheLatestValueWins) {
  auto slow = fault(sim::FaultKind::kSlowApi);
  slow.latencySeconds = 0.3;
  inject(slow);
  auto kube = actuator(tokenKubeconfig("controller"));
  ASSERT_TRUE(kube);
  std::mutex mutex;
  std::vector<CompletedAction> done;
  ActuationQueueOptions options;
  options.workers = 4;  // more workers than writes: only the per-target rule can serialize them
  options.writesPerSecond = 1000;
  options.burst = 1000;
  ActuationQueue queue(
      [&](const std::string& cluster) { return cluster == kCluster ? kube.get() : nullptr; },
      options, clock_,
      [&](const CompletedAction& action) {
        std::lock_guard lock(mutex);
        done.push_back(action);
      });
  queue.submit(kCluster, scaleWeb(3, "d-3"));
  // Once the first write has left the queue, newer decisions pile up behind it.
  ASSERT_TRUE(testing::waitFor([&] { return queue.waiting() == 0; }, 5s));
  for (int replicas : {4, 5, 6})
    queue.submit(kCluster, scaleWeb(replicas, "d-" + std::to_string(replicas)));
  EXPECT_EQ(queue.waiting(), 1u);  // 4 and 5 were replaced by 6 before they started
  EXPECT_TRUE(queue.busy(kCluster, kWeb));
  queue.drain();

  EXPECT_EQ(modelReplicas(), 6);
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0].request.decisionId, "d-3");
    EXPECT_EQ(done[1].request.decisionId, "d-6");
    EXPECT_TRUE(done[0].outcome.ok()) << done[0].outcome.message;
    EXPECT_TRUE(done[1].outcome.ok()) << done[1].outcome.message;
    // GET and PUT, each answered after 300 ms.
    EXPECT_GE(done[0].duration, 550ms);
  }
  // At the server: two writes, the second one arriving only after the first write's answer and
  // the next GET's (each delayed 300 ms), so the requests never overlapped.
  const auto log = writes();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].replicasAfter, 3);
  EXPECT_EQ(log[1].replicasAfter, 6);
  EXPECT_GE(log[1].seconds - log[0].seconds, 0.55);
  queue.stop();
}

// The scaling loop's bookkeeping for a write the API refuses: the action counter by result, the
// duration histogram, and an event in the real SQLite store.
TEST_F(ActuatorKubernetesTest, FailedWriteIsCountedTimedAndStoredAsAnEvent) {
  PolicyConfig config;
  ClusterConfig cluster;
  cluster.name = kCluster;
  cluster.access.kind = ClusterAccess::Kind::kServer;
  cluster.access.server = endpoints_.apiUrl;
  cluster.access.caFile = endpoints_.caFile;
  cluster.access.tokenFile = endpoints_.tokenFiles.at("agent");  // may read, may not write
  config.clusters.push_back(cluster);
  config.workloads.push_back(testing::shopWebAtHalfCpu(10));
  PolicyHolder policy;
  policy.set(config);

  testing::TempDir storeDir("actuator-store");
  SqliteStoreOptions storeOptions;
  storeOptions.stateDir = storeDir.path();
  storeOptions.commitInterval = 10ms;
  auto store = SqliteStore::open(storeOptions, nullptr, clock_);
  ASSERT_TRUE(store.ok()) << store.error().message;

  ClusterRegistry registry(realClusterConnector(), scaling::HealthThresholds{}, clock_);
  registry.configure(config.clusters);
  SnapshotHolder snapshots;
  ScalingLoopOptions loopOptions;
  loopOptions.actuation.writesPerSecond = 1000;
  loopOptions.actuation.burst = 1000;
  ScalingLoop loop(policy, registry, snapshots, store->get(), clock_, loopOptions);

  // The loop learns the current scale (2) through the registry's read, as the prober does.
  registry.watch(kCluster, kWeb);
  registry.refresh(0ms);
  ASSERT_TRUE(registry.scale(kCluster, kWeb).has_value());

  // Two ready pods at 100% of their request against a 50% target: scale to 4.
  FleetSnapshot snapshot;
  snapshot.takenAt = clock_.wallNow();
  ClusterSnapshot clusterSnapshot;
  clusterSnapshot.name = kCluster;
  clusterSnapshot.nodes = 1;
  snapshot.clusters.push_back(clusterSnapshot);
  std::vector<PodSample> pods;
  for (int i = 0; i < 2; ++i) {
    PodSample pod;
    pod.cluster = kCluster;
    pod.pod = "web-" + std::to_string(i);
    pod.containers = 1;
    pod.cpuUsageCores = 0.5;
    pod.cpuRequestCores = 0.5;
    pod.memoryUsageBytes = 1;
    pod.memoryRequestBytes = 1;
    pod.startTimeUnixMs = toUnixMillis(clock_.wallNow()) - 3'600'000;
    pod.podReadyTimeUnixMs = pod.startTimeUnixMs;
    pods.push_back(pod);
  }
  snapshot.workloads.push_back(rollupWorkload(WorkloadKey{"shop", "Deployment", "web"}, pods));
  loop.tick(snapshot);
  loop.drainActions();
  (*store)->flush();

  const auto log = writes();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, 403);
  EXPECT_EQ(modelReplicas(), 2);

  double forbidden = -1;
  std::uint64_t timed = 0;
  for (const auto& family : loop.collectMetrics()) {
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& label : metric.label) labels[label.name] = label.value;
      if (family.name == "fleetscale_scale_actions_total" && labels["cluster"] == kCluster &&
          labels["result"] == "forbidden") {
        forbidden = metric.counter.value;
      }
      if (family.name == "fleetscale_scale_action_duration_seconds" &&
          labels["cluster"] == kCluster) {
        timed = metric.histogram.sample_count;
      }
    }
  }
  EXPECT_EQ(forbidden, 1);
  EXPECT_EQ(timed, 1u);

  EventQuery query;
  query.kind = std::string(kEventAction);
  auto events = (*store)->events(query);
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 1u);
  const EventRecord& event = events->front();
  EXPECT_EQ(event.cluster, kCluster);
  EXPECT_EQ(event.workload, "shop/Deployment/web");
  EXPECT_NE(event.message.find("scaling Deployment shop/web failed"), std::string::npos)
      << event.message;
  EXPECT_NE(event.message.find("forbidden"), std::string::npos) << event.message;
  const json details = json::parse(event.details);
  EXPECT_EQ(details["result"], "forbidden");
  EXPECT_EQ(details["replicas"], 4);
  EXPECT_EQ(details["attempts"], 2);
}

}  // namespace
}  // namespace fleetscale::aggregator
