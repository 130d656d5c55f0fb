#include "fleetscale/sim/kube_objects.h"

#include <gtest/gtest.h>

#include <set>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::seconds;

ClusterModel makeCluster(int replicas, double nodeCpu = 4) {
  ClusterSpec spec;
  spec.name = "aws-us-east-1";
  spec.cloud = "aws";
  spec.region = "us-east-1";
  spec.nodes = 1;
  spec.capacity.cpuCores = nodeCpu;
  spec.allocatable = spec.capacity;
  WorkloadSpec w;
  w.name = "checkout";
  w.namespaceName = "shop";
  w.replicas = {{"aws-us-east-1", replicas}};
  w.resources = {0.5, 1.0, 256.0 * 1024 * 1024, 512.0 * 1024 * 1024};
  return ClusterModel(spec, 0, {w}, 1, WallTime{seconds(1'700'000'000)});
}

// Every key path in `shape`, down to leaves; lists contribute their first element.
void keyPaths(const json& value, const std::string& prefix, std::set<std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      out.insert(prefix + "/" + key);
      keyPaths(child, prefix + "/" + key, out);
    }
  } else if (value.is_array() && !value.empty()) {
    keyPaths(value[0], prefix + "[]", out);
  }
}

TEST(KubeObjectsTest, PodsHaveTheShapeOfARealKubeletsPods) {
  ClusterModel cluster = makeCluster(1);
  cluster.advance(SimTime{0});
  const PodState& pod = cluster.pods().back();
  ASSERT_EQ(pod.workload, "checkout");
  const json ours = podJson(cluster, pod, SimTime{0});

  auto text = readFile(testing::fixturePath("kubelet/pods_docker-era_minikube.json"));
  ASSERT_TRUE(text);
  const json real = json::parse(*text)["items"][0];
  std::set<std::string> realPaths, ourPaths;
  keyPaths(real, "", realPaths);
  keyPaths(ours, "", ourPaths);
  // Keys the 2018 docker-era pod has that a containerd-era pod of ours need not: docker-only
  // fields, the DaemonSet's env and volumes, and a container that restarted (lastState).
  for (const std::string& path : realPaths) {
    if (path.find("/env") != std::string::npos || path.find("hostPath") != std::string::npos ||
        path.find("secret") != std::string::npos || path.find("lastState/") != std::string::npos ||
        path.find("scheduler.alpha") != std::string::npos ||
        path.find("/readOnly") != std::string::npos || path == "/metadata/selfLink" ||
        path.find("/labels/") != std::string::npos ||
        path.find("/tolerations[]/") != std::string::npos ||
        path.rfind("/spec/resources", 0) == 0 || path.find("/annotations/") != std::string::npos) {
      continue;
    }
    EXPECT_TRUE(ourPaths.count(path)) << "missing " << path;
  }
  // And what a containerd-era pod carries.
  const json& status = ours["status"]["containerStatuses"][0];
  EXPECT_EQ(status["containerID"], "containerd://" + pod.containerId);
  EXPECT_TRUE(isLowerHex(pod.containerId));
  EXPECT_EQ(ours["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
  EXPECT_EQ(ours["metadata"]["ownerReferences"][0]["name"], pod.ownerName);
  EXPECT_EQ(ours["metadata"]["labels"]["pod-template-hash"],
            pod.ownerName.substr(std::string("checkout-").size()));
  EXPECT_EQ(ours["spec"]["containers"][0]["resources"]["requests"]["cpu"], "500m");
  EXPECT_EQ(ours["spec"]["containers"][0]["resources"]["limits"]["memory"], "512Mi");
  EXPECT_EQ(ours["status"]["qosClass"], "Burstable");
  EXPECT_EQ(ours["status"]["phase"], "Running");
  bool readyCondition = false;
  for (const auto& condition : ours["status"]["conditions"]) {
    if (condition["type"] == "Ready") readyCondition = condition["status"] == "True";
  }
  EXPECT_TRUE(readyCondition);
}

TEST(KubeObjectsTest, PodsThatAreStartingOrPendingSayWhy) {
  ClusterModel cluster =
      makeCluster(4, 1.6);  // room for 3 of 4 (0.5 cores each + kube-proxy's 0.1)
  cluster.advance(SimTime{0});
  ASSERT_TRUE(
      cluster.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 4, "", seconds(1)).ok());
  int pending = 0;
  for (const auto& pod : cluster.pods()) {
    if (pod.bound()) continue;
    ++pending;
    const json object = podJson(cluster, pod, seconds(1));
    EXPECT_EQ(object["status"]["phase"], "Pending");
    EXPECT_EQ(object["status"]["conditions"][0]["reason"], "Unschedulable");
    EXPECT_FALSE(object["spec"].contains("nodeName"));
  }
  EXPECT_EQ(pending, 1);

  ClusterModel growing = makeCluster(1);
  growing.advance(SimTime{0});
  ASSERT_TRUE(
      growing.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 2, "", seconds(1)).ok());
  growing.advance(seconds(1));
  const json starting = podJson(growing, growing.pods().back(), seconds(1));
  EXPECT_EQ(starting["status"]["phase"], "Pending");
  EXPECT_EQ(starting["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ContainerCreating");
  EXPECT_FALSE(starting["status"]["containerStatuses"][0].contains("containerID"));
}

TEST(KubeObjectsTest, StatusObjectsCarryCodeReasonAndDetails) {
  const json status = statusJson({404, "NotFound", "deployments.apps \"x\" not found",
                                  json{{"name", "x"}, {"group", "apps"}, {"kind", "deployments"}}});
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["apiVersion"], "v1");
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["code"], 404);
  EXPECT_EQ(status["reason"], "NotFound");
  EXPECT_EQ(status["details"]["name"], "x");
}

TEST(KubeObjectsTest, ScaleAndDiscoveryDescribeTheScaleSubresource) {
  ClusterModel cluster = makeCluster(3);
  cluster.advance(SimTime{0});
  const json scale = scaleJson(*cluster.find(WorkloadKind::kDeployment, "shop", "checkout"));
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(scale["spec"]["replicas"], 3);
  EXPECT_EQ(scale["status"]["selector"], "app=checkout");
  EXPECT_FALSE(scale["metadata"]["resourceVersion"].get<std::string>().empty());

  bool found = false;
  const json discovery = appsResourceListJson();
  for (const auto& resource : discovery["resources"]) {
    if (resource["name"] == "deployments/scale") {
      found = true;
      EXPECT_EQ(resource["group"], "autoscaling");
      EXPECT_EQ(resource["kind"], "Scale");
    }
  }
  EXPECT_TRUE(found);
}

TEST(KubeObjectsTest, TablesHaveKubectlsColumns) {
  ClusterModel cluster = makeCluster(2);
  cluster.advance(SimTime{0});
  const WorkloadObject& workload = *cluster.find(WorkloadKind::kDeployment, "shop", "checkout");
  const json table = tableJson(
      "deployments", 7, {{workloadCells(workload, wallAt(cluster, SimTime{0})), workload.object}},
      TableObject::kMetadata);
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["columnDefinitions"][1]["name"], "Ready");
  EXPECT_EQ(table["rows"][0]["cells"][0], "checkout");
  EXPECT_EQ(table["rows"][0]["cells"][1], "2/2");
  EXPECT_EQ(table["rows"][0]["cells"][4], "24h");
  EXPECT_EQ(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
  EXPECT_EQ(table["rows"][0]["object"]["metadata"]["namespace"], "shop");
}

TEST(KubeObjectsTest, HumanDurationMatchesKubectlsAgeColumn) {
  EXPECT_EQ(humanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(humanDuration(seconds(0)), "0s");
  EXPECT_EQ(humanDuration(seconds(119)), "119s");
  EXPECT_EQ(humanDuration(seconds(200)), "3m20s");
  EXPECT_EQ(humanDuration(seconds(600)), "10m");
  EXPECT_EQ(humanDuration(seconds(4 * 3600 + 60)), "4h1m");
  EXPECT_EQ(humanDuration(seconds(30 * 3600)), "30h");
  EXPECT_EQ(humanDuration(seconds(3 * 86400)), "3d");
  EXPECT_EQ(humanDuration(seconds(3 * 86400 + 7200)), "3d2h");
  EXPECT_EQ(humanDuration(seconds(100 * 86400)), "100d");
}

}  // namespace
}  // namespace fleetscale::sim
