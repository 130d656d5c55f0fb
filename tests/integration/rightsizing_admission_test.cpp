// The right-sizing applier with the real KubernetesActuator against the simulated fleet's real
// HTTPS kube-apiservers, where a LimitRange (one cluster) and a ResourceQuota (another) refuse
// the recommended resize with the API server's 403: each reported and counted as what it is
// (`limit-range`, `quota`, not RBAC's `forbidden`), with the admission plugin's words, while the
// third cluster goes on resizing. In mode recreate the same two refuse the rollout's pods instead
// (the template patch is admitted), and the applier reports that, not `applied`.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "fleetscale/aggregator/actuation/kubernetes_actuator.h"
#include "fleetscale/aggregator/control/rightsizing_applier.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/policy_fixtures.h"
#include "fleetscale/testing/simulated_api_server.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using namespace std::chrono_literals;

const WorkloadKey kWeb{"shop", "Deployment", "web"};
const std::vector<std::string> kClusters = {"aws-us-east-1", "gcp-europe-west1",
                                            "azure-westeurope"};

// web: 2 replicas per cluster at 100m (limit 200m). aws bounds a container's CPU at 300m, gcp
// allows the namespace 250m of CPU requests, azure neither.
sim::Scenario threeClusters() {
  sim::Scenario scenario;
  scenario.name = "rightsizing-admission";
  for (const auto& name : kClusters) {
    sim::ClusterSpec cluster;
    cluster.name = name;
    cluster.cloud = name.substr(0, name.find('-'));
    cluster.region = name.substr(name.find('-') + 1);
    cluster.nodes = 1;
    cluster.capacity.cpuCores = 8;
    cluster.allocatable = cluster.capacity;
    cluster.schedulingDelaySeconds = 0.1;
    cluster.readinessDelaySeconds = 0.1;
    scenario.clusters.push_back(cluster);
  }
  scenario.clusters[0].limitRanges.push_back({"shop", "bounds", {}, {{"cpu", "300m"}}});
  scenario.clusters[1].resourceQuotas.push_back({"shop", "compute", {{"requests.cpu", "250m"}}});
  sim::WorkloadSpec web;
  web.name = "web";
  web.namespaceName = "shop";
  for (const auto& name : kClusters) web.replicas[name] = 2;
  web.resources = {0.1, 0.2, 64.0 * 1024 * 1024, 128.0 * 1024 * 1024};
  web.cpu = sim::LoadCurve::constant(0.1);
  web.memory = sim::LoadCurve::constant(64.0 * 1024 * 1024);
  scenario.workloads = {web};
  return scenario;
}

rightsizing::RightsizingPolicy inPlaceCpu() {
  rightsizing::RightsizingPolicy policy;
  policy.mode = rightsizing::Mode::kInPlace;
  policy.controlsMemory = false;
  return policy;
}

// 400m of CPU for the web container: four times its request (the limit keeps the ratio: 800m).
std::shared_ptr<const RecommendationSet> recommendingMoreCpu() {
  auto set = std::make_shared<RecommendationSet>();
  rightsizing::ContainerRecommendation r;
  r.workload = kWeb;
  r.container = "web";
  r.cpu.target = 0.4;
  r.memory.controlled = false;
  set->containers.push_back(r);
  return set;
}

// fleetscale_rightsizing_applies_total as /metrics shows it.
std::string metricsText(const RightsizingApplier& applier) {
  return prometheus::TextSerializer().Serialize(applier.metrics());
}

std::string appliesLine(const std::string& cluster, const std::string& result,
                        const std::string& mode = "in-place") {
  return "fleetscale_rightsizing_applies_total{namespace=\"shop\",workload=\"web\",cluster=\"" +
         cluster + "\",mode=\"" + mode + "\",result=\"" + result + "\"} 1";
}

// The cluster's result is `result` in `mode`, its message has the plugin's `words`, and /metrics
// counted it once.
void expectRefused(const std::map<std::string, ApplyStatus>& status, const std::string& metrics,
                   const std::string& cluster, const std::string& result, const std::string& mode,
                   const std::string& words) {
  const auto& applied = status.at(cluster);
  EXPECT_EQ(applied.result, result) << cluster << ": " << applied.message;
  EXPECT_EQ(applied.mode, mode) << cluster;
  EXPECT_NE(applied.message.find(words), std::string::npos) << applied.message;
  EXPECT_NE(metrics.find(appliesLine(cluster, result, mode)), std::string::npos) << metrics;
}

class RightsizingAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(api_.start());
    for (const auto& name : kClusters) {
      ClusterAccess access;
      access.kind = ClusterAccess::Kind::kKubeconfig;
      access.kubeconfig = api_.endpoints(name).aggregatorKubeconfig;
      auto credentials = resolveCredentials(access);
      ASSERT_TRUE(credentials.ok()) << credentials.error().message;
      actuators_[name] = std::make_unique<KubernetesActuator>(
          std::make_unique<CurlHttpClient>(credentials->tls), *credentials);
    }
    policy_.set(testing::shopWebRightsized(inPlaceCpu(), kClusters));
    // Pods resize only once they run.
    ASSERT_TRUE(testing::waitFor([&] { return readyPods() == 6; }, 10s));
  }

  // Whether the cluster's web Deployment has a True ReplicaFailure condition.
  bool replicaFailing(const std::string& name) {
    auto& fleet = api_.simulator().fleet();
    std::lock_guard lock(fleet.mutex);
    const auto* web =
        fleet.model.findCluster(name)->find(sim::WorkloadKind::kDeployment, "shop", "web");
    for (const auto& condition :
         web->object["status"].value("conditions", nlohmann::json::array())) {
      if (condition.value("type", "") == "ReplicaFailure") return condition["status"] == "True";
    }
    return false;
  }

  int readyPods() {
    auto& fleet = api_.simulator().fleet();
    std::lock_guard lock(fleet.mutex);
    int ready = 0;
    for (const auto& name : kClusters) {
      const auto* cluster = fleet.model.findCluster(name);
      for (const auto& pod : cluster->pods()) {
        ready += pod.namespaceName == "shop" && pod.ready(fleet.model.lastStep()) ? 1 : 0;
      }
    }
    return ready;
  }

  SystemClock clock_;
  testing::SimulatedApiServer api_{threeClusters(), clock_};
  std::map<std::string, std::unique_ptr<KubernetesActuator>> actuators_;
  PolicyHolder policy_;
};

TEST_F(RightsizingAdmissionTest, LimitRangeAndQuotaRefusalsAreReportedApartAndStopNoOtherCluster) {
  RightsizingApplier applier(
      [] { return recommendingMoreCpu(); }, policy_,
      [&](const std::string& cluster) -> Actuator* { return actuators_.at(cluster).get(); },
      nullptr, clock_);
  applier.tick();
  const auto status = applier.status().at(kWeb);

  const std::string metrics = metricsText(applier);
  expectRefused(status, metrics, "aws-us-east-1", "limit-range", "in-place",
                "is forbidden: maximum cpu usage per Container is 300m, but limit is 800m");
  EXPECT_EQ(status.at("aws-us-east-1").message.find("RBAC"), std::string::npos);
  expectRefused(status, metrics, "gcp-europe-west1", "quota", "in-place",
                "is forbidden: exceeded quota: compute, requested: requests.cpu=300m, used: "
                "requests.cpu=200m, limited: requests.cpu=250m");

  // The third cluster is not held up: its first pod is resizing.
  const auto& azure = status.at("azure-westeurope");
  EXPECT_EQ(azure.result, "resizing") << azure.message;
  EXPECT_NE(metrics.find(appliesLine("azure-westeurope", "applied")), std::string::npos) << metrics;

  // Refused writes changed nothing in the clusters.
  auto& fleet = api_.simulator().fleet();
  std::lock_guard lock(fleet.mutex);
  for (const auto& name : {"aws-us-east-1", "gcp-europe-west1"}) {
    for (const auto& pod : fleet.model.findCluster(name)->pods()) {
      if (pod.namespaceName == "shop") {
        EXPECT_EQ(pod.container.resources.cpuRequest, 0.1) << name;
      }
    }
  }
}

// In recreate mode the template patch is admitted everywhere (a template is no pod); the
// ReplicaSets of aws and gcp cannot create the rollout's pods, their Deployments say so, and the
// next pass reports each as what refused it while azure rolls.
TEST_F(RightsizingAdmissionTest, RecreateReportsTheRolloutsRefusedPodsApart) {
  auto recreate = inPlaceCpu();
  recreate.mode = rightsizing::Mode::kRecreate;
  policy_.set(testing::shopWebRightsized(recreate, kClusters));
  RightsizingApplier applier(
      [] { return recommendingMoreCpu(); }, policy_,
      [&](const std::string& cluster) -> Actuator* { return actuators_.at(cluster).get(); },
      nullptr, clock_);
  applier.tick();
  for (const auto& name : kClusters) {
    EXPECT_EQ(applier.status().at(kWeb).at(name).result, "applied") << name;
  }
  ASSERT_TRUE(testing::waitFor(
      [&] { return replicaFailing("aws-us-east-1") && replicaFailing("gcp-europe-west1"); }, 10s));
  EXPECT_FALSE(replicaFailing("azure-westeurope"));
  applier.tick();
  const auto status = applier.status().at(kWeb);
  const std::string metrics = metricsText(applier);

  expectRefused(status, metrics, "aws-us-east-1", "limit-range", "recreate",
                "-\" is forbidden: maximum cpu usage per Container is 300m, but limit is 800m");
  expectRefused(status, metrics, "gcp-europe-west1", "quota", "recreate",
                "-\" is forbidden: exceeded quota: compute, requested: requests.cpu=400m, used: "
                "requests.cpu=200m, limited: requests.cpu=250m");
  EXPECT_EQ(status.at("azure-westeurope").result, "applied");
  // The refused clusters keep their old pods; azure makes new ones.
  auto& fleet = api_.simulator().fleet();
  std::lock_guard lock(fleet.mutex);
  for (const auto& name : {"aws-us-east-1", "gcp-europe-west1"}) {
    int pods = 0;
    for (const auto& pod : fleet.model.findCluster(name)->pods()) {
      if (pod.namespaceName != "shop") continue;
      ++pods;
      EXPECT_EQ(pod.container.resources.cpuRequest, 0.1) << name;
    }
    EXPECT_EQ(pods, 2) << name;
  }
}

}  // namespace
}  // namespace fleetscale::aggregator
