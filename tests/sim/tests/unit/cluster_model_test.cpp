#include "fleetscale/sim/cluster_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace fleetscale::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

ClusterSpec clusterSpec(int nodes = 2, double cpu = 4) {
  ClusterSpec spec;
  spec.name = "aws-us-east-1";
  spec.cloud = "aws";
  spec.region = "us-east-1";
  spec.nodes = nodes;
  spec.capacity.cpuCores = cpu;
  spec.allocatable = spec.capacity;
  spec.schedulingDelaySeconds = 1;
  spec.readinessDelaySeconds = 2;
  spec.systemPods = false;
  return spec;
}

WorkloadSpec workload(const std::string& name, int replicas,
                      WorkloadKind kind = WorkloadKind::kDeployment) {
  WorkloadSpec w;
  w.name = name;
  w.namespaceName = "shop";
  w.kind = kind;
  w.replicas["aws-us-east-1"] = replicas;
  w.resources.cpuRequest = 1;
  w.resources.cpuLimit = 2;
  return w;
}

int countPods(const ClusterModel& model, const std::string& name, SimTime now,
              bool (PodState::*predicate)(SimTime) const = nullptr) {
  int n = 0;
  for (const auto& pod : model.pods()) {
    if (pod.workload != name) continue;
    if (!predicate || (pod.*predicate)(now)) ++n;
  }
  return n;
}

TEST(ClusterModelTest, StartsWithTheInitialReplicasRunningAndReady) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 3)}, 1, WallTime{});
  model.advance(SimTime{0});
  EXPECT_EQ(countPods(model, "checkout", SimTime{0}, &PodState::ready), 3);
  const WorkloadObject* object = model.find(WorkloadKind::kDeployment, "shop", "checkout");
  ASSERT_NE(object, nullptr);
  EXPECT_EQ(object->object["status"]["readyReplicas"], 3);
  EXPECT_EQ(object->object["spec"]["replicas"], 3);
  for (const auto& pod : model.pods()) {
    EXPECT_EQ(pod.ownerKind, "ReplicaSet");
    EXPECT_EQ(pod.ownerName, "checkout-" + object->templateHash);
    EXPECT_EQ(pod.labels.at("pod-template-hash"), object->templateHash);
    EXPECT_EQ(pod.name.rfind(pod.ownerName + "-", 0), 0u);
    EXPECT_EQ(pod.containerId.size(), 64u);
    EXPECT_EQ(pod.qos, QosClass::kBurstable);
  }
}

TEST(ClusterModelTest, ScaleUpCreatesPodsThatRunAndTurnReadyAfterTheDelays) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 1)}, 1, WallTime{});
  model.advance(SimTime{0});
  auto result =
      model.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 3, "", seconds(10));
  ASSERT_TRUE(result.ok()) << result.error->message;
  model.advance(seconds(10));
  EXPECT_EQ(countPods(model, "checkout", seconds(10)), 3);
  EXPECT_EQ(countPods(model, "checkout", seconds(10), &PodState::running), 1);
  model.advance(milliseconds(10'999));
  EXPECT_EQ(countPods(model, "checkout", milliseconds(10'999), &PodState::running), 1);
  model.advance(seconds(11));
  EXPECT_EQ(countPods(model, "checkout", seconds(11), &PodState::running), 3);
  EXPECT_EQ(countPods(model, "checkout", seconds(11), &PodState::ready), 1);
  model.advance(seconds(13));
  EXPECT_EQ(countPods(model, "checkout", seconds(13), &PodState::ready), 3);
  EXPECT_EQ(
      model.find(WorkloadKind::kDeployment, "shop", "checkout")->object["status"]["readyReplicas"],
      3);
}

TEST(ClusterModelTest, PodsStayPendingWithoutRoomAndScheduleWhenRoomAppears) {
  // 2 nodes x 4 cores, 1 core requested per replica: 8 fit.
  ClusterModel model(clusterSpec(2, 4), 0, {workload("checkout", 8)}, 1, WallTime{});
  model.advance(SimTime{0});
  ASSERT_TRUE(
      model.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 10, "", seconds(1)).ok());
  model.advance(seconds(1));
  int pending = 0;
  for (const auto& pod : model.pods()) pending += pod.bound() ? 0 : 1;
  EXPECT_EQ(pending, 2);
  EXPECT_DOUBLE_EQ(model.freeOn(model.nodes()[0].name).cpuCores, 0);
  // Spread: LeastAllocated put 4 on each node.
  int onFirst = 0;
  for (const auto& pod : model.pods()) onFirst += pod.node == model.nodes()[0].name ? 1 : 0;
  EXPECT_EQ(onFirst, 4);
  // Scale down to 6: the two Pending pods go first, then two bound ones.
  ASSERT_TRUE(
      model.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 6, "", seconds(2)).ok());
  model.advance(seconds(2));
  EXPECT_EQ(countPods(model, "checkout", seconds(2)), 6);
  for (const auto& pod : model.pods()) EXPECT_TRUE(pod.bound());
}

TEST(ClusterModelTest, ScaleDownRemovesNotReadyPodsBeforeReadyOnes) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 2)}, 1, WallTime{});
  model.advance(SimTime{0});
  std::set<std::string> original;
  for (const auto& pod : model.pods()) original.insert(pod.name);
  ASSERT_TRUE(
      model.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 4, "", seconds(5)).ok());
  model.advance(seconds(5));
  ASSERT_TRUE(
      model.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 2, "", seconds(6)).ok());
  model.advance(seconds(6));
  std::set<std::string> left;
  for (const auto& pod : model.pods()) left.insert(pod.name);
  EXPECT_EQ(left, original);
}

TEST(ClusterModelTest, StatefulSetsScaleInOrdinalOrderOneReadyPodAtATime) {
  ClusterModel model(clusterSpec(), 0, {workload("db", 1, WorkloadKind::kStatefulSet)}, 1,
                     WallTime{});
  model.advance(SimTime{0});
  ASSERT_TRUE(model.setReplicas(WorkloadKind::kStatefulSet, "shop", "db", 3, "", seconds(1)).ok());
  model.advance(seconds(1));
  EXPECT_EQ(countPods(model, "db", seconds(1)), 2);  // db-1 waits for nobody; db-2 waits for db-1
  model.advance(seconds(3));                         // db-1 runs, not ready yet: no db-2
  EXPECT_EQ(countPods(model, "db", seconds(3)), 2);
  model.advance(seconds(4));  // db-1 ready (1 s scheduling + 2 s readiness after t=1)
  EXPECT_EQ(countPods(model, "db", seconds(4)), 3);
  std::set<std::string> names;
  for (const auto& pod : model.pods()) names.insert(pod.name);
  EXPECT_EQ(names, (std::set<std::string>{"db-0", "db-1", "db-2"}));
  for (const auto& pod : model.pods()) {
    EXPECT_EQ(pod.ownerKind, "StatefulSet");
    EXPECT_EQ(pod.labels.at("statefulset.kubernetes.io/pod-name"), pod.name);
  }
  ASSERT_TRUE(model.setReplicas(WorkloadKind::kStatefulSet, "shop", "db", 1, "", seconds(10)).ok());
  model.advance(seconds(10));
  ASSERT_EQ(model.pods().size(), 1u);
  EXPECT_EQ(model.pods()[0].name, "db-0");
}

TEST(ClusterModelTest, UpdatesCheckResourceVersionAndValidate) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 1)}, 1, WallTime{});
  model.advance(SimTime{0});
  const nlohmann::json before = model.find(WorkloadKind::kDeployment, "shop", "checkout")->object;
  const std::string version = before["metadata"]["resourceVersion"];

  nlohmann::json scaled = before;
  scaled["spec"]["replicas"] = 2;
  auto ok = model.update(WorkloadKind::kDeployment, "shop", "checkout", scaled, seconds(1));
  ASSERT_TRUE(ok.ok()) << ok.error->message;
  EXPECT_NE(ok.object["metadata"]["resourceVersion"], version);
  EXPECT_EQ(ok.object["metadata"]["generation"], 2);

  // The same write again carries a stale resourceVersion now.
  auto stale = model.update(WorkloadKind::kDeployment, "shop", "checkout", scaled, seconds(2));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error->code, 409);
  EXPECT_EQ(stale.error->reason, "Conflict");
  EXPECT_NE(stale.error->message.find("the object has been modified"), std::string::npos);

  // Without a resourceVersion the write is unconditional.
  nlohmann::json unconditional = scaled;
  unconditional["metadata"].erase("resourceVersion");
  unconditional["spec"]["replicas"] = 4;
  EXPECT_TRUE(
      model.update(WorkloadKind::kDeployment, "shop", "checkout", unconditional, seconds(3)).ok());
  EXPECT_EQ(model.find(WorkloadKind::kDeployment, "shop", "checkout")->replicas, 4);

  nlohmann::json negative = unconditional;
  negative["spec"]["replicas"] = -1;
  auto invalid = model.update(WorkloadKind::kDeployment, "shop", "checkout", negative, seconds(4));
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error->code, 422);
  EXPECT_EQ(invalid.error->details["causes"][0]["field"], "spec.replicas");

  nlohmann::json selector = unconditional;
  selector["spec"]["selector"]["matchLabels"]["app"] = "other";
  auto immutable =
      model.update(WorkloadKind::kDeployment, "shop", "checkout", selector, seconds(4));
  ASSERT_FALSE(immutable.ok());
  EXPECT_NE(immutable.error->message.find("field is immutable"), std::string::npos);

  for (const char* path : {"/metadata/labels/app", "/spec/template/metadata/labels/app",
                           "/spec/template/metadata/annotations/fleetscale.io~1port",
                           "/spec/template/spec/containers/0/name"}) {
    nlohmann::json wrongType = unconditional;
    wrongType[nlohmann::json::json_pointer(path)] = 7;
    auto refused =
        model.update(WorkloadKind::kDeployment, "shop", "checkout", wrongType, seconds(4));
    ASSERT_FALSE(refused.ok()) << path;
    EXPECT_EQ(refused.error->code, 422) << path;
  }
  model.advance(seconds(4));  // and the controllers still read the stored object

  nlohmann::json renamed = unconditional;
  renamed["metadata"]["name"] = "other";
  auto mismatch = model.update(WorkloadKind::kDeployment, "shop", "checkout", renamed, seconds(4));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error->code, 400);

  auto missing = model.setReplicas(WorkloadKind::kDeployment, "shop", "nope", 1, "", seconds(4));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error->code, 404);
  EXPECT_EQ(missing.error->message, "deployments.apps \"nope\" not found");
}

TEST(ClusterModelTest, ANoOpWriteKeepsTheResourceVersion) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 1)}, 1, WallTime{});
  model.advance(SimTime{0});
  const nlohmann::json before = model.find(WorkloadKind::kDeployment, "shop", "checkout")->object;
  auto same = model.update(WorkloadKind::kDeployment, "shop", "checkout", before, seconds(1));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same.object["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
}

TEST(ClusterModelTest, ADeadClusterRunsNothingAndRevivedPodsGoThroughReadinessAgain) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 2)}, 1, WallTime{});
  model.advance(SimTime{0});
  model.setAlive(false, seconds(1));
  ASSERT_TRUE(
      model.setReplicas(WorkloadKind::kDeployment, "shop", "checkout", 4, "", seconds(2)).ok());
  model.advance(seconds(2));
  EXPECT_EQ(countPods(model, "checkout", seconds(2)), 2);  // no controller while dead
  model.setAlive(true, seconds(5));
  EXPECT_EQ(countPods(model, "checkout", seconds(5), &PodState::ready), 0);
  EXPECT_EQ(countPods(model, "checkout", seconds(5), &PodState::running), 2);
  model.advance(seconds(5));
  EXPECT_EQ(countPods(model, "checkout", seconds(5)), 4);
  EXPECT_EQ(countPods(model, "checkout", seconds(7), &PodState::ready), 2);
}

TEST(ClusterModelTest, NodesAreNamedAfterTheirCloud) {
  ClusterModel aws(clusterSpec(), 0, {}, 1, WallTime{});
  EXPECT_EQ(aws.nodes()[0].name, "ip-10-10-1-10.ec2.internal");
  EXPECT_EQ(aws.nodes()[0].zone, "us-east-1a");
  ClusterSpec gcpSpec = clusterSpec();
  gcpSpec.name = "gcp-europe-west1";
  gcpSpec.cloud = "gcp";
  gcpSpec.region = "europe-west1";
  ClusterModel gcp(gcpSpec, 1, {}, 1, WallTime{});
  EXPECT_EQ(gcp.nodes()[0].name.rfind("gke-gcp-europe-west1-default-pool-", 0), 0u);
  EXPECT_EQ(gcp.nodes()[1].zone, "europe-west1-c");
}

TEST(ClusterModelTest, QosClassFollowsKubernetesRules) {
  EXPECT_EQ(qosClassOf({}), QosClass::kBestEffort);
  EXPECT_EQ(qosClassOf({1.0, 1.0, 1e9, 1e9}), QosClass::kGuaranteed);
  EXPECT_EQ(qosClassOf({std::nullopt, 1.0, std::nullopt, 1e9}), QosClass::kGuaranteed);
  EXPECT_EQ(qosClassOf({0.5, 1.0, 1e9, 1e9}), QosClass::kBurstable);
  EXPECT_EQ(qosClassOf({0.5, std::nullopt, std::nullopt, std::nullopt}), QosClass::kBurstable);
}

TEST(ClusterModelTest, ATemplateChangeRollsOnePodAtATimeWithoutLosingReadyReplicas) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 3)}, 1, WallTime{});
  model.advance(SimTime{0});
  const WorkloadObject* object = model.find(WorkloadKind::kDeployment, "shop", "checkout");
  const std::string oldHash = object->templateHash;
  nlohmann::json updated = object->object;
  updated["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "700m";
  ASSERT_TRUE(
      model.update(WorkloadKind::kDeployment, "shop", "checkout", updated, seconds(1)).ok());
  const std::string newHash = object->templateHash;
  ASSERT_NE(newHash, oldHash);
  int most = 0;
  for (SimTime now = seconds(1); now <= seconds(20); now += milliseconds(100)) {
    model.advance(now);
    EXPECT_GE(countPods(model, "checkout", now, &PodState::ready), 3) << toSeconds(now);
    most = std::max(most, countPods(model, "checkout", now));
  }
  EXPECT_EQ(most, 4);  // one surge pod at a time
  ASSERT_EQ(countPods(model, "checkout", seconds(20), &PodState::ready), 3);
  for (const auto& pod : model.pods()) {
    EXPECT_EQ(pod.templateHash, newHash);
    EXPECT_EQ(pod.container.resources.cpuRequest, 0.7);  // the template's resources
    EXPECT_EQ(pod.ownerName, "checkout-" + newHash);
  }
  EXPECT_EQ(object->object["status"]["updatedReplicas"], 3);
}

// The conditions of a workload's status of `type`, or null.
nlohmann::json conditionOf(const WorkloadObject& object, const std::string& type) {
  for (const auto& condition :
       object.object["status"].value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == type) return condition;
  }
  return nullptr;
}

// Admission as a LimitRange with a CPU limit maximum would answer; the names it was asked with.
struct CpuLimitAdmission {
  double maxLimit = 2;
  std::string words = "maximum cpu usage per Container is 2, but limit is ";
  std::vector<std::string> asked;
  ClusterModel::PodAdmission hook() {
    return [this](const std::string& ns, const std::string& pod,
                  const ContainerResources& resources) -> std::optional<ApiError> {
      asked.push_back(ns + "/" + pod);
      if (!resources.cpuLimit || *resources.cpuLimit <= maxLimit) return std::nullopt;
      return ApiError{403, "Forbidden", "pods \"" + pod + "\" is forbidden: " + words + "3"};
    };
  }
};

TEST(ClusterModelTest, ARefusedPodStallsTheRolloutAndTheDeploymentSaysReplicaFailure) {
  ClusterModel model(clusterSpec(), 0, {workload("checkout", 3)}, 1, WallTime{});
  CpuLimitAdmission admission;
  model.setPodAdmission(admission.hook());
  model.advance(SimTime{0});
  const WorkloadObject* object = model.find(WorkloadKind::kDeployment, "shop", "checkout");
  const std::string oldHash = object->templateHash;
  EXPECT_TRUE(conditionOf(*object, "ReplicaFailure").is_null());
  nlohmann::json updated = object->object;
  updated["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "3";
  ASSERT_TRUE(
      model.update(WorkloadKind::kDeployment, "shop", "checkout", updated, seconds(1)).ok());
  for (SimTime now = seconds(1); now <= seconds(10); now += seconds(1)) model.advance(now);
  // No pod of the new template: the old ones stay, Ready.
  EXPECT_EQ(countPods(model, "checkout", seconds(10), &PodState::ready), 3);
  for (const auto& pod : model.pods()) EXPECT_EQ(pod.templateHash, oldHash);
  ASSERT_FALSE(admission.asked.empty());
  EXPECT_EQ(admission.asked.back(), "shop/checkout-" + object->templateHash + "-");
  const auto failure = conditionOf(*object, "ReplicaFailure");
  ASSERT_FALSE(failure.is_null()) << object->object["status"].dump();
  EXPECT_EQ(failure["status"], "True");
  EXPECT_EQ(failure["reason"], "FailedCreate");
  EXPECT_EQ(failure["message"], "pods \"checkout-" + object->templateHash +
                                    "-\" is forbidden: maximum cpu usage per Container is 2, "
                                    "but limit is 3");
  EXPECT_EQ(failure["lastTransitionTime"], rfc3339(WallTime{} + seconds(1)));
  EXPECT_EQ(failure["lastUpdateTime"], failure["lastTransitionTime"]);
  EXPECT_FALSE(object->object["status"].contains("updatedReplicas"));
  // The ReplicaSet keeps its condition's first words while the refusals go on.
  admission.words = "other words ";
  model.advance(seconds(11));
  EXPECT_EQ(conditionOf(*object, "ReplicaFailure")["message"], failure["message"]);

  // Once pods may be made again (the LimitRange raised), the rollout goes on and the condition
  // goes.
  admission.maxLimit = 4;
  for (SimTime now = seconds(12); now <= seconds(40); now += seconds(1)) model.advance(now);
  EXPECT_TRUE(conditionOf(*object, "ReplicaFailure").is_null()) << object->object["status"].dump();
  EXPECT_EQ(countPods(model, "checkout", seconds(40), &PodState::ready), 3);
  for (const auto& pod : model.pods()) {
    EXPECT_EQ(pod.templateHash, object->templateHash);
    EXPECT_EQ(pod.container.resources.cpuLimit, 3);
  }
  EXPECT_EQ(object->object["status"]["updatedReplicas"], 3);
}

TEST(ClusterModelTest, ARefusedScaleOutMakesNoPodAndAStatefulSetNoCondition) {
  WorkloadSpec db = workload("db", 1, WorkloadKind::kStatefulSet);
  db.resources.cpuLimit = 3;
  WorkloadSpec web = workload("web", 1);
  web.resources.cpuLimit = 3;
  ClusterModel model(clusterSpec(), 0, {db, web}, 1, WallTime{});
  model.advance(SimTime{0});  // made before the LimitRange was there
  CpuLimitAdmission admission;
  model.setPodAdmission(admission.hook());
  for (const char* name : {"db", "web"}) {
    const auto kind =
        std::string(name) == "db" ? WorkloadKind::kStatefulSet : WorkloadKind::kDeployment;
    ASSERT_TRUE(model.setReplicas(kind, "shop", name, 3, "", seconds(1)).ok());
  }
  for (SimTime now = seconds(1); now <= seconds(10); now += seconds(1)) model.advance(now);
  EXPECT_EQ(countPods(model, "db", seconds(10)), 1);
  EXPECT_EQ(countPods(model, "web", seconds(10)), 1);
  EXPECT_NE(std::find(admission.asked.begin(), admission.asked.end(), "shop/db-1"),
            admission.asked.end());
  // The StatefulSet controller records events only; the Deployment shows its ReplicaSet's.
  const WorkloadObject* statefulSet = model.find(WorkloadKind::kStatefulSet, "shop", "db");
  EXPECT_TRUE(conditionOf(*statefulSet, "ReplicaFailure").is_null());
  const WorkloadObject* deployment = model.find(WorkloadKind::kDeployment, "shop", "web");
  EXPECT_EQ(conditionOf(*deployment, "ReplicaFailure")["reason"], "FailedCreate");
  // Scaled back to what it has, the ReplicaSet needs no pod: the condition goes.
  ASSERT_TRUE(model.setReplicas(WorkloadKind::kDeployment, "shop", "web", 1, "", seconds(11)).ok());
  model.advance(seconds(11));
  EXPECT_TRUE(conditionOf(*deployment, "ReplicaFailure").is_null());
}

}  // namespace
}  // namespace fleetscale::sim
