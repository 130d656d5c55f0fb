#include "fleetscale/aggregator/rightsizing/resize_plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fleetscale::aggregator::rightsizing {
namespace {

constexpr double kMi = kMebibyte;

ContainerResources app(double cpuRequest, double cpuLimit, double memoryRequest,
                       double memoryLimit) {
  return {"app", cpuRequest, cpuLimit, memoryRequest, memoryLimit};
}

ContainerRecommendation recommend(double cpuTarget, double memoryTarget,
                                  std::string container = "app") {
  ContainerRecommendation r;
  r.container = std::move(container);
  r.cpu.target = cpuTarget;
  r.memory.target = memoryTarget;
  return r;
}

PodView pod(std::string name, ContainerResources resources, bool ready = true) {
  PodView p;
  p.name = std::move(name);
  p.running = true;
  p.ready = ready;
  p.spec = {resources};
  p.status = {resources};
  p.generation = p.observedGeneration = 1;
  return p;
}

TEST(ResizePlanTest, ChangesEnoughNeedsBothTheShareAndTheFloor) {
  struct Case {
    double current, target;
    bool expected;
  };
  // 10% of 500m is 50m; the floor is 10m.
  const Case cases[] = {{0.5, 0.5, false},   {0.5, 0.54, false},   {0.5, 0.55, false},
                        {0.5, 0.56, true},   {0.5, 0.2, true},     {0.05, 0.059, false},
                        {0.05, 0.061, true}, {0.5, kAbsent, false}};
  for (const auto& c : cases) {
    EXPECT_EQ(changesEnough(c.current, c.target, 0.1, 0.01), c.expected)
        << c.current << " -> " << c.target;
  }
}

TEST(ResizePlanTest, TargetsKeepRequestsWithinLimitsAndTheQosClass) {
  RightsizingPolicy policy;  // keep-ratio limits
  struct Case {
    const char* name;
    ContainerResources current;
    double cpuTarget, memoryTarget;
    std::optional<ContainerResources> expected;
  };
  const Case cases[] = {
      {"within the band: nothing", app(0.5, 1, 256 * kMi, 512 * kMi), 0.52, 260 * kMi,
       std::nullopt},
      {"burstable: the ratio is kept", app(0.5, 1, 256 * kMi, 512 * kMi), 0.2, 128 * kMi,
       app(0.2, 0.4, 128 * kMi, 256 * kMi)},
      {"no limit stays none", app(0.5, kAbsent, 256 * kMi, kAbsent), 0.2, 100 * kMi,
       app(0.2, kAbsent, 100 * kMi, kAbsent)},
      {"no request stays none", app(kAbsent, 1, 256 * kMi, 512 * kMi), 0.2, 128 * kMi,
       app(kAbsent, 1, 128 * kMi, 256 * kMi)},
      {"rounded up to millicores and mebibytes", app(0.5, kAbsent, 256 * kMi, kAbsent), 0.2001,
       100.2 * kMi, app(0.201, kAbsent, 101 * kMi, kAbsent)},
  };
  for (const auto& c : cases) {
    const auto got = resizeTarget(c.current, recommend(c.cpuTarget, c.memoryTarget), policy,
                                  qosClassOf(std::span(&c.current, 1)) == QosClass::kGuaranteed);
    ASSERT_EQ(got.has_value(), c.expected.has_value()) << c.name;
    if (got) {
      EXPECT_TRUE(sameResources(*got, *c.expected)) << c.name;
    }
  }
}

TEST(ResizePlanTest, AGuaranteedPodKeepsRequestEqualToLimit) {
  RightsizingPolicy policy;
  policy.limits = LimitsMode::kUnchanged;
  const std::vector<ContainerResources> guaranteed = {app(1, 1, 512 * kMi, 512 * kMi)};
  ASSERT_EQ(qosClassOf(guaranteed), QosClass::kGuaranteed);
  const std::vector<ContainerRecommendation> recommendations = {recommend(0.3, 200 * kMi)};
  const auto target = podTarget(guaranteed, recommendations, policy);
  ASSERT_TRUE(target);
  EXPECT_TRUE(sameResources((*target)[0], app(0.3, 0.3, 200 * kMi, 200 * kMi)));
  EXPECT_EQ(qosClassOf(*target), QosClass::kGuaranteed);
}

TEST(ResizePlanTest, AChangeThatWouldMakeABurstablePodGuaranteedIsNotMade) {
  // Memory already request == limit; the CPU request rises past its limit, which `unchanged`
  // raises to the request: every figure equal would make the pod Guaranteed.
  RightsizingPolicy policy;
  policy.limits = LimitsMode::kUnchanged;
  policy.controlsMemory = false;
  const std::vector<ContainerResources> burstable = {app(0.5, 1, 256 * kMi, 256 * kMi)};
  auto recommendation = recommend(1.5, kAbsent);
  recommendation.memory.controlled = false;
  bool qosChange = false;
  EXPECT_FALSE(podTarget(burstable, std::span(&recommendation, 1), policy, &qosChange));
  EXPECT_TRUE(qosChange);
  const std::vector<PodView> pods = {pod("web-0", burstable[0])};
  const auto plan = planResizes(pods, std::span(&recommendation, 1), policy);
  EXPECT_EQ(plan.state, ApplyState::kQosChange);
  EXPECT_TRUE(plan.resizes.empty());
}

TEST(ResizePlanTest, BestEffortPodsAreLeftAlone) {
  const std::vector<ContainerResources> none = {app(kAbsent, kAbsent, kAbsent, kAbsent)};
  const std::vector<ContainerRecommendation> recommendations = {recommend(0.3, 200 * kMi)};
  EXPECT_FALSE(podTarget(none, recommendations, RightsizingPolicy{}));
}

TEST(ResizePlanTest, TheBudgetIsOnePodOrTenPercentOfReadyReplicas) {
  struct Case {
    int ready;
    double share;
    int expected;
  };
  const Case cases[] = {{0, 0.1, 1},  {3, 0.1, 1},  {10, 0.1, 1}, {19, 0.1, 1},
                        {20, 0.1, 2}, {35, 0.1, 3}, {10, 0.5, 5}, {4, 1.0, 4}};
  for (const auto& c : cases) {
    EXPECT_EQ(resizeBudget(c.ready, c.share), c.expected) << c.ready << " x " << c.share;
  }
}

std::vector<PodView> pods(int count, const ContainerResources& resources) {
  std::vector<PodView> out;
  for (int i = 0; i < count; ++i) out.push_back(pod("web-" + std::to_string(i), resources));
  return out;
}

TEST(ResizePlanTest, ResizesOnePodAtATimeAndWaitsForItToFinish) {
  const auto current = app(0.5, 1, 256 * kMi, 512 * kMi);
  const std::vector<ContainerRecommendation> recommendations = {recommend(0.2, 128 * kMi)};
  auto fleet = pods(3, current);
  auto plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  EXPECT_EQ(plan.state, ApplyState::kResizing);
  ASSERT_EQ(plan.resizes.size(), 1U);
  EXPECT_EQ(plan.resizes[0].pod, "web-0");

  // Patched: spec changed, generation up, the kubelet not there yet.
  fleet[0].spec = plan.resizes[0].containers;
  fleet[0].generation = 2;
  plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  EXPECT_EQ(plan.inFlight, 1);
  EXPECT_TRUE(plan.resizes.empty());

  // Observed, in progress: still waiting.
  fleet[0].observedGeneration = 2;
  fleet[0].resizeInProgress = true;
  EXPECT_TRUE(planResizes(fleet, recommendations, RightsizingPolicy{}).resizes.empty());

  // Actual resources still the old ones: still waiting.
  fleet[0].resizeInProgress = false;
  EXPECT_TRUE(planResizes(fleet, recommendations, RightsizingPolicy{}).resizes.empty());

  // Done: the next pod.
  fleet[0].status = fleet[0].spec;
  plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  ASSERT_EQ(plan.resizes.size(), 1U);
  EXPECT_EQ(plan.resizes[0].pod, "web-1");

  for (auto& p : fleet) p.spec = p.status = plan.resizes[0].containers;
  plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  EXPECT_EQ(plan.state, ApplyState::kApplied);
  EXPECT_TRUE(plan.resizes.empty());
}

TEST(ResizePlanTest, ALargerFleetResizesItsBudgetAtOnceAndSkipsPodsNotRunning) {
  auto fleet = pods(30, app(0.5, 1, 256 * kMi, 512 * kMi));
  fleet[0].running = false;  // pending or terminating: nothing to resize
  const std::vector<ContainerRecommendation> recommendations = {recommend(0.2, 128 * kMi)};
  const auto plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  ASSERT_EQ(plan.budget, 3);
  ASSERT_EQ(plan.resizes.size(), 3U);
  EXPECT_EQ(plan.resizes[0].pod, "web-1");
}

TEST(ResizePlanTest, DeferredWaitsAndInfeasibleStops) {
  const auto current = app(0.5, 1, 256 * kMi, 512 * kMi);
  const std::vector<ContainerRecommendation> recommendations = {recommend(2, 128 * kMi)};
  auto fleet = pods(3, current);
  fleet[0].pendingReason = "Deferred";
  fleet[0].resizeMessage = "Node didn't have enough resource: cpu";
  auto plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  EXPECT_EQ(plan.state, ApplyState::kPending);
  EXPECT_TRUE(plan.resizes.empty());
  EXPECT_NE(plan.message.find("web-0"), std::string::npos) << plan.message;

  fleet[0].pendingReason = "Infeasible";
  fleet[0].resizeMessage = "Node didn't have enough capacity: cpu";
  plan = planResizes(fleet, recommendations, RightsizingPolicy{});
  EXPECT_EQ(plan.state, ApplyState::kInfeasible);
  EXPECT_TRUE(plan.resizes.empty());
  EXPECT_NE(plan.message.find("enough capacity"), std::string::npos) << plan.message;
}

TEST(ResizePlanTest, TheMinChangeOfThePolicyWidensTheBand) {
  RightsizingPolicy policy;
  policy.minChangeRatio = 0.5;
  const auto fleet = pods(2, app(0.5, 1, 256 * kMi, 512 * kMi));
  const std::vector<ContainerRecommendation> small = {recommend(0.3, 200 * kMi)};
  EXPECT_EQ(planResizes(fleet, small, policy).state, ApplyState::kApplied);
  const std::vector<ContainerRecommendation> large = {recommend(0.2, 200 * kMi)};
  EXPECT_EQ(planResizes(fleet, large, policy).resizes.size(), 1U);
}

TEST(ResizePlanTest, PatchesAreStrategicMergesByContainerName) {
  const std::vector<ContainerResources> containers = {app(0.25, 0.5, 128 * kMi, 256 * kMi)};
  const auto patch = nlohmann::json::parse(podResizePatch(containers));
  EXPECT_EQ(patch, nlohmann::json::parse(R"({"spec":{"containers":[{"name":"app","resources":{
      "requests":{"cpu":"250m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}}]}})"));
  const auto forTemplate = nlohmann::json::parse(templatePatch(containers));
  EXPECT_EQ(forTemplate["spec"]["template"]["spec"], patch["spec"]);
  EXPECT_EQ(cpuQuantity(2), "2");
  EXPECT_EQ(memoryQuantity(1000), "1000");
}

TEST(ResizePlanTest, ReadsPodsAsTheApiServerListsThem) {
  const auto pods = parsePods(R"({"kind":"PodList","items":[
    {"metadata":{"name":"web-b","generation":2},
     "spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"500m","memory":"256Mi"},
                                                      "limits":{"cpu":"1","memory":"512Mi"}}}]},
     "status":{"phase":"Running","observedGeneration":2,
       "conditions":[{"type":"Ready","status":"True"},
                     {"type":"PodResizePending","status":"True","reason":"Infeasible",
                      "message":"Node didn't have enough capacity"}],
       "containerStatuses":[{"name":"app","resources":{"requests":{"cpu":"500m"}}}]}},
    {"metadata":{"name":"web-a","deletionTimestamp":"2026-01-01T00:00:00Z"},
     "spec":{"containers":[]},"status":{"phase":"Running"}}]})");
  ASSERT_TRUE(pods) << pods.error().message;
  ASSERT_EQ(pods->size(), 2U);
  EXPECT_EQ((*pods)[0].name, "web-a");
  EXPECT_FALSE((*pods)[0].running);
  const auto& b = (*pods)[1];
  EXPECT_TRUE(b.running);
  EXPECT_TRUE(b.ready);
  EXPECT_EQ(b.pendingReason, "Infeasible");
  EXPECT_EQ(b.generation, 2);
  EXPECT_TRUE(sameResources(b.spec[0], app(0.5, 1, 256 * kMi, 512 * kMi)));
  EXPECT_DOUBLE_EQ(b.status[0].cpuRequest, 0.5);
  EXPECT_FALSE(parsePods("{}"));
}

TEST(ResizePlanTest, ReadsADeploymentsSelectorAndTemplate) {
  const auto workload = parseWorkloadTemplate(R"({"spec":{
    "selector":{"matchLabels":{"app":"web","tier":"front"}},
    "template":{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"250m"}}}]}}}})");
  ASSERT_TRUE(workload) << workload.error().message;
  EXPECT_EQ(workload->selector, "app=web,tier=front");
  ASSERT_EQ(workload->containers.size(), 1U);
  EXPECT_DOUBLE_EQ(workload->containers[0].cpuRequest, 0.25);
}

// A workload with `selector` (a metav1.LabelSelector in JSON) and one container.
std::string workloadWith(const std::string& selector) {
  return R"({"spec":{"selector":)" + selector +
         R"(,"template":{"spec":{"containers":[{"name":"app"}]}}}})";
}

TEST(ResizePlanTest, WritesEachSelectorOperatorAsTheListQueryKubernetesParses) {
  struct Case {
    std::string selector;
    std::string query;
  };
  const std::vector<Case> cases = {
      {R"({"matchLabels":{"app":"web"}})", "app=web"},
      {R"({"matchLabels":{"app":""}})", "app="},
      {R"({"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]})",
       "tier in (a,b)"},
      {R"({"matchExpressions":[{"key":"track","operator":"NotIn","values":["canary"]}]})",
       "track notin (canary)"},
      {R"({"matchExpressions":[{"key":"example.com/release","operator":"Exists"}]})",
       "example.com/release"},
      {R"({"matchExpressions":[{"key":"legacy","operator":"DoesNotExist","values":[]}]})",
       "!legacy"},
      // matchLabels and matchExpressions are ANDed: all in one query.
      {R"({"matchLabels":{"app":"web"},"matchExpressions":[
           {"key":"tier","operator":"In","values":["front"]},
           {"key":"legacy","operator":"DoesNotExist"}]})",
       "app=web,tier in (front),!legacy"},
  };
  for (const auto& c : cases) {
    const auto workload = parseWorkloadTemplate(workloadWith(c.selector));
    ASSERT_TRUE(workload) << c.selector << ": " << workload.error().message;
    EXPECT_EQ(workload->selector, c.query) << c.selector;
  }
}

TEST(ResizePlanTest, RefusesSelectorsKubernetesRefusesOrThatSelectEveryPod) {
  struct Case {
    std::string selector;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"null", "spec.selector: missing"},
      {"{}", "spec.selector: empty: it would select every pod of the namespace"},
      {R"({"matchLabels":{},"matchExpressions":[]})",
       "spec.selector: empty: it would select every pod of the namespace"},
      {R"({"matchExpressions":[{"key":"tier","operator":"Gt","values":["1"]}]})",
       R"(spec.selector: matchExpressions[0].operator: "Gt" is not a valid label selector )"
       "operator"},
      {R"({"matchExpressions":[{"key":"tier"}]})",
       R"(spec.selector: matchExpressions[0].operator: "" is not a valid label selector operator)"},
      {R"({"matchExpressions":[{"key":"tier","operator":"In","values":[]}]})",
       "spec.selector: matchExpressions[0].values: for 'in', 'notin' operators, values set "
       "can't be empty"},
      {R"({"matchExpressions":[{"key":"tier","operator":"NotIn"}]})",
       "spec.selector: matchExpressions[0].values: for 'in', 'notin' operators, values set "
       "can't be empty"},
      {R"({"matchExpressions":[{"key":"tier","operator":"Exists","values":["a"]}]})",
       "spec.selector: matchExpressions[0].values: values set must be empty for exists and does "
       "not exist"},
      {R"({"matchExpressions":[{"key":"tier","operator":"DoesNotExist","values":["a"]}]})",
       "spec.selector: matchExpressions[0].values: values set must be empty for exists and does "
       "not exist"},
      {R"({"matchExpressions":[{"operator":"Exists"}]})",
       "spec.selector: matchExpressions[0].key: required"},
      {R"({"matchExpressions":[{"key":"a b","operator":"Exists"}]})",
       R"(spec.selector: matchExpressions[0].key: invalid value "a b": name part must be 1 to )"
       "63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric "
       "character"},
      {R"({"matchExpressions":[{"key":"Example.com/a","operator":"Exists"}]})",
       R"(spec.selector: matchExpressions[0].key: invalid value "Example.com/a": prefix part )"
       "must be a lowercase DNS subdomain"},
      {R"({"matchExpressions":[{"key":"a","operator":"In","values":["x,y"]}]})",
       R"(spec.selector: matchExpressions[0].values[0]: invalid value "x,y": a valid label )"
       "value must be empty or 1 to 63 alphanumeric characters, '-', '_' or '.', starting and "
       "ending with an alphanumeric character"},
      {R"({"matchExpressions":[{"key":"a","operator":"In","values":[1]}]})",
       "spec.selector: matchExpressions[0].values[0]: not a string"},
      {R"({"matchExpressions":{"key":"a"}})", "spec.selector: matchExpressions: not a list"},
      {R"({"matchLabels":["app"]})", "spec.selector: matchLabels: not an object"},
      {R"({"matchLabels":{"app":7}})", "spec.selector: matchLabels.app: not a string"},
      {R"({"matchLabels":{"-app":"web"}})",
       R"(spec.selector: matchLabels: invalid key "-app": name part must be 1 to 63 )"
       "alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric "
       "character"},
  };
  for (const auto& c : cases) {
    const auto workload = parseWorkloadTemplate(workloadWith(c.selector));
    ASSERT_FALSE(workload) << c.selector << " gave " << workload->selector;
    EXPECT_EQ(workload.error().message, c.error) << c.selector;
  }
}

TEST(ResizePlanTest, TellsAdmissionRefusalsFromRbacByTheirWords) {
  struct Case {
    std::string message;
    std::string refusal;
  };
  const std::vector<Case> cases = {
      {R"(pods "web-0" is forbidden: maximum cpu usage per Container is 2, but limit is 4)",
       "limit-range"},
      {R"(pods "web-0" is forbidden: minimum memory usage per Container is 64Mi.  No request is )"
       "specified",
       "limit-range"},
      {R"(pods "web-0" is forbidden: maximum cpu usage per Pod is 4, but limit is 6)",
       "limit-range"},
      {R"(pods "web-0" is forbidden: cpu max limit to request ratio per Container is 2, but )"
       "provided ratio is 4.000000",
       "limit-range"},
      {R"(pods "web-0" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, )"
       "used: requests.cpu=1500m, limited: requests.cpu=2",
       "quota"},
      {R"(pods "web-0" is forbidden: failed quota: compute: must specify limits.cpu for: app)",
       "quota"},
      {R"(pods "web-0" is forbidden: status unknown for quota: compute, resources: requests.cpu)",
       "quota"},
      {R"(pods "web-0" is forbidden: insufficient quota to consume: requests.cpu)", "quota"},
      {R"(pods "web-0" is forbidden: User "system:serviceaccount:fleetscale:aggregator" cannot )"
       R"(patch resource "pods/resize" in API group "" in the namespace "shop")",
       ""},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(admissionRefusal(c.message), c.refusal) << c.message;
}

// A Deployment with one container and the status conditions `conditions` (a JSON array).
std::string deploymentWithConditions(const std::string& conditions) {
  return R"({"spec":{"selector":{"matchLabels":{"app":"web"}},
    "template":{"spec":{"containers":[{"name":"app"}]}}},
    "status":{"conditions":)" +
         conditions + "}}";
}

TEST(ResizePlanTest, ReadsAReplicaFailureConditionOnlyWhileItIsTrue) {
  const std::string refused =
      R"(pods \"web-7c9d8f6b5-\" is forbidden: maximum cpu usage per Container is 2, but )"
      R"(limit is 3)";
  const auto failing = parseWorkloadTemplate(deploymentWithConditions(R"([
      {"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},
      {"type":"ReplicaFailure","status":"True","reason":"FailedCreate","message":")" +
                                                                      refused + R"("}])"));
  ASSERT_TRUE(failing) << failing.error().message;
  ASSERT_TRUE(failing->replicaFailure.has_value());
  EXPECT_EQ(failing->replicaFailure->reason, "FailedCreate");
  EXPECT_EQ(failing->replicaFailure->message,
            R"(pods "web-7c9d8f6b5-" is forbidden: maximum cpu usage per Container is 2, but )"
            "limit is 3");
  EXPECT_EQ(podCreateRefusal(*failing), "limit-range");

  for (const std::string conditions :
       {R"([{"type":"ReplicaFailure","status":"False","reason":"FailedCreate","message":"x"}])",
        R"([{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}])", "[]",
        R"("not a list")"}) {
    const auto workload = parseWorkloadTemplate(deploymentWithConditions(conditions));
    ASSERT_TRUE(workload) << conditions;
    EXPECT_FALSE(workload->replicaFailure.has_value()) << conditions;
    EXPECT_EQ(podCreateRefusal(*workload), "") << conditions;
  }
  // A condition without a message or reason is still one.
  const auto bare = parseWorkloadTemplate(
      deploymentWithConditions(R"([{"type":"ReplicaFailure","status":"True"}])"));
  ASSERT_TRUE(bare && bare->replicaFailure.has_value());
  EXPECT_EQ(bare->replicaFailure->message, "");
}

TEST(ResizePlanTest, ClassifiesAFailedCreateByTheAdmissionPluginThatRefusedIt) {
  struct Case {
    std::string reason;
    std::string message;
    std::string refusal;
  };
  const std::vector<Case> cases = {
      {"FailedCreate",
       R"(pods "web-7c9d8f6b5-" is forbidden: exceeded quota: compute, requested: )"
       "requests.cpu=500m, used: requests.cpu=2, limited: requests.cpu=2",
       "quota"},
      {"FailedCreate",
       R"(pods "web-7c9d8f6b5-" is forbidden: maximum memory usage per Container is 1Gi, but )"
       "limit is 2Gi",
       "limit-range"},
      // Another admission plugin, or a failed delete, is not the right-sizer's to report.
      {"FailedCreate",
       R"(pods "web-7c9d8f6b5-" is forbidden: violates PodSecurity "restricted:latest": )"
       "allowPrivilegeEscalation != false",
       ""},
      {"FailedDelete", R"(pods "web-7c9d8f6b5-x" is forbidden: exceeded quota: compute)", ""},
  };
  for (const auto& c : cases) {
    WorkloadTemplate workload;
    workload.replicaFailure = ReplicaFailure{c.reason, c.message};
    EXPECT_EQ(podCreateRefusal(workload), c.refusal) << c.message;
  }
  EXPECT_EQ(podCreateRefusal(WorkloadTemplate{}), "");
}

}  // namespace
}  // namespace fleetscale::aggregator::rightsizing
