// The applier over a fake cluster (an Actuator that keeps pods as the API server would show
// them): which pods are resized when, what each refusal is reported as, the fallback to the pod
// template, and that only a leader, not in dry-run, writes.
#include "fleetscale/aggregator/control/rightsizing_applier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleetscale/testing/policy_fixtures.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using rightsizing::Mode;

const WorkloadKey kWeb{"shop", "Deployment", "web"};

// One cluster's web Deployment and its pods; resizes change the spec, finish() plays the kubelet.
class FakeCluster final : public Actuator {
 public:
  explicit FakeCluster(int pods) {
    for (int i = 0; i < pods; ++i) {
      pods_.push_back({"web-" + std::to_string(i), "1", "2", "1", "2", 1, 1, ""});
    }
  }
  ActuationOutcome getScale(const WorkloadKey&) override { return {}; }
  ActuationOutcome setScale(const ScaleRequest&) override { return {}; }
  bool resizesPods() const override { return true; }
  ActuationOutcome getWorkload(const WorkloadKey&, std::string& body) override {
    json workload = {
        {"spec",
         {{"selector", {{"matchLabels", {{"app", "web"}}}}},
          {"template", {{"spec", {{"containers", {container(templateCpu_, "2")}}}}}}}}};
    if (!replicaFailure.empty()) {
      workload["status"]["conditions"] = {{{"type", "ReplicaFailure"},
                                           {"status", "True"},
                                           {"reason", "FailedCreate"},
                                           {"message", replicaFailure}}};
    }
    body = workload.dump();
    return {};
  }
  ActuationOutcome listPods(const std::string&, const std::string& selector,
                            std::string& body) override {
    EXPECT_EQ(selector, "app=web");
    json items = json::array();
    for (const auto& pod : pods_) {
      json conditions = json::array({{{"type", "Ready"}, {"status", "True"}}});
      if (!pod.pending.empty()) {
        conditions.push_back(
            {{"type", "PodResizePending"}, {"status", "True"}, {"reason", pod.pending}});
      }
      items.push_back({{"metadata", {{"name", pod.name}, {"generation", pod.generation}}},
                       {"spec", {{"containers", {container(pod.cpu, pod.cpuLimit)}}}},
                       {"status",
                        {{"phase", "Running"},
                         {"observedGeneration", pod.observed},
                         {"conditions", conditions},
                         {"containerStatuses", {container(pod.actualCpu, pod.actualCpuLimit)}}}}});
    }
    body = json{{"items", items}}.dump();
    return {};
  }
  ActuationOutcome resizePod(const std::string&, const std::string& pod,
                             const std::string& patch) override {
    resized.push_back(pod);
    if (refuseWith != ActuationError::kNone) {
      return {refuseWith, "pod " + pod + " resize: HTTP 4xx: " + refuseMessage, {}, 1};
    }
    const auto resources = json::parse(patch)["spec"]["containers"][0]["resources"];
    for (auto& p : pods_) {
      if (p.name != pod) continue;
      p.cpu = resources["requests"]["cpu"];
      p.cpuLimit = resources["limits"]["cpu"];
      ++p.generation;
    }
    return {};
  }
  ActuationOutcome patchWorkload(const WorkloadKey&, const std::string& patch) override {
    templatePatches.push_back(patch);
    templateCpu_ = json::parse(
        patch)["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"];
    return {};
  }

  // The kubelet applies every resize it has.
  void finish() {
    for (auto& pod : pods_) {
      pod.actualCpu = pod.cpu;
      pod.actualCpuLimit = pod.cpuLimit;
      pod.observed = pod.generation;
    }
  }
  void setPending(std::size_t pod, std::string reason) { pods_[pod].pending = std::move(reason); }
  std::string cpuOf(std::size_t pod) const { return pods_[pod].cpu; }

  std::vector<std::string> resized;
  std::vector<std::string> templatePatches;
  ActuationError refuseWith = ActuationError::kNone;
  std::string refuseMessage = "refused";  // the API server's Status message
  // The Deployment's ReplicaFailure (FailedCreate) message while its pods cannot be created.
  std::string replicaFailure;

 private:
  struct Pod {
    std::string name, cpu, cpuLimit, actualCpu, actualCpuLimit;
    int generation, observed;
    std::string pending;
  };
  static json container(const std::string& cpu, const std::string& cpuLimit) {
    return {{"name", "app"},
            {"resources",
             {{"requests", {{"cpu", cpu}, {"memory", "256Mi"}}},
              {"limits", {{"cpu", cpuLimit}, {"memory", "512Mi"}}}}}};
  }
  std::vector<Pod> pods_;
  std::string templateCpu_ = "1";
};

std::shared_ptr<const RecommendationSet> recommending(double cpuCores) {
  auto set = std::make_shared<RecommendationSet>();
  rightsizing::ContainerRecommendation r;
  r.workload = kWeb;
  r.container = "app";
  r.cpu.target = cpuCores;
  r.memory.controlled = false;
  set->containers.push_back(r);
  return set;
}

rightsizing::RightsizingPolicy mode(Mode m) {
  rightsizing::RightsizingPolicy policy;
  policy.mode = m;
  policy.controlsMemory = false;
  return policy;
}

struct Harness {
  explicit Harness(rightsizing::RightsizingPolicy rightsizing,
                   RightsizingApplierOptions options = {},
                   std::vector<std::string> clusters = {"aws"})
      : applier([this] { return set; }, policy,
                [this](const std::string& cluster) -> Actuator* {
                  const auto it = fakes.find(cluster);
                  return it == fakes.end() ? nullptr : it->second.get();
                },
                nullptr, clock, options) {
    policy.set(testing::shopWebRightsized(rightsizing, clusters));
    for (const auto& cluster : clusters) fakes[cluster] = std::make_unique<FakeCluster>(3);
  }
  std::string result(const std::string& cluster = "aws") const {
    const auto status = applier.status();
    const auto it = status.find(kWeb);
    if (it == status.end() || !it->second.contains(cluster)) return "";
    return it->second.at(cluster).result;
  }
  double count(const std::string& result, const std::string& cluster = "aws") const {
    for (const auto& family : applier.metrics()) {
      for (const auto& metric : family.metric) {
        bool match = true;
        for (const auto& label : metric.label) {
          if (label.name == "result") match = match && label.value == result;
          if (label.name == "cluster") match = match && label.value == cluster;
        }
        if (match) return metric.counter.value;
      }
    }
    return 0;
  }

  ManualClock clock;
  PolicyHolder policy;
  std::shared_ptr<const RecommendationSet> set = recommending(0.2);
  std::map<std::string, std::unique_ptr<FakeCluster>> fakes;
  RightsizingApplier applier;
};

TEST(RightsizingApplierTest, ResizesOnePodAtATimeWaitingForEachToFinish) {
  Harness h(mode(Mode::kInPlace));
  auto& aws = *h.fakes["aws"];
  h.applier.tick();
  EXPECT_EQ(aws.resized, std::vector<std::string>{"web-0"});
  EXPECT_EQ(aws.cpuOf(0), "200m");
  EXPECT_EQ(h.result(), "resizing");
  h.applier.tick();  // web-0 not done: nothing more
  EXPECT_EQ(aws.resized.size(), 1U);
  aws.finish();
  h.applier.tick();
  EXPECT_EQ(aws.resized, (std::vector<std::string>{"web-0", "web-1"}));
  aws.finish();
  h.applier.tick();
  aws.finish();
  h.applier.tick();
  EXPECT_EQ(aws.resized.size(), 3U);
  EXPECT_EQ(h.result(), "applied");
  EXPECT_EQ(h.count("applied"), 3);
  EXPECT_TRUE(aws.templatePatches.empty());
}

TEST(RightsizingApplierTest, RefusalsAreReportedPerClusterAndStopNoOtherCluster) {
  struct Case {
    ActuationError error;
    std::string message;  // the API server's
    const char* result;
  };
  const Case cases[] = {
      {ActuationError::kForbidden,
       R"(pods "web-0" is forbidden: User "system:serviceaccount:fleetscale:fleetscale-aggregator" )"
       R"(cannot patch resource "pods/resize" in API group "" in the namespace "shop")",
       "forbidden"},
      // The LimitRanger and ResourceQuota admission plugins answer 403 Forbidden too.
      {ActuationError::kForbidden,
       R"(pods "web-0" is forbidden: maximum cpu usage per Container is 2, but limit is 4)",
       "limit-range"},
      {ActuationError::kForbidden,
       R"(pods "web-0" is forbidden: [minimum memory usage per Container is 64Mi, but request )"
       R"(is 32Mi, maximum cpu usage per Container is 2, but limit is 4])",
       "limit-range"},
      {ActuationError::kForbidden,
       R"(pods "web-0" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, )"
       R"(used: requests.cpu=1500m, limited: requests.cpu=2)",
       "quota"},
      {ActuationError::kNotFound, "the server could not find the requested resource",
       "unsupported"},
      {ActuationError::kRejected, R"(Pod "web-0" is invalid: spec: Invalid value)", "invalid"},
      {ActuationError::kServerError, "etcdserver: request timed out", "error"}};
  for (const auto& c : cases) {
    Harness h(mode(Mode::kInPlace), {}, {"aws", "gcp"});
    h.fakes["gcp"]->refuseWith = c.error;
    h.fakes["gcp"]->refuseMessage = c.message;
    h.applier.tick();
    EXPECT_EQ(h.result("gcp"), c.result);
    EXPECT_EQ(h.count(c.result, "gcp"), 1) << c.result;
    // The API server's words are kept for the API and the log.
    EXPECT_NE(h.applier.status().at(kWeb).at("gcp").message.find(c.message), std::string::npos)
        << c.result;
    h.applier.tick();  // the same refusal is not counted again before the retry
    EXPECT_EQ(h.count(c.result, "gcp"), 1) << c.result;
    EXPECT_EQ(h.result("aws"), "resizing") << c.result;
    // Tried again only after retryAfterError, while aws goes on.
    h.fakes["aws"]->finish();
    h.applier.tick();
    EXPECT_EQ(h.fakes["gcp"]->resized.size(), 1U) << c.result;
    EXPECT_EQ(h.fakes["aws"]->resized.size(), 2U) << c.result;
    h.clock.advance(std::chrono::seconds(31));
    h.applier.tick();
    EXPECT_EQ(h.fakes["gcp"]->resized.size(), 2U) << c.result;
  }
}

TEST(RightsizingApplierTest, InfeasibleStopsOrFallsBackToThePodTemplate) {
  {
    Harness h(mode(Mode::kInPlace));
    h.fakes["aws"]->setPending(0, "Infeasible");
    h.applier.tick();
    EXPECT_EQ(h.result(), "infeasible");
    EXPECT_EQ(h.count("infeasible"), 1);
    EXPECT_TRUE(h.fakes["aws"]->resized.empty());
    EXPECT_TRUE(h.fakes["aws"]->templatePatches.empty());
  }
  auto policy = mode(Mode::kInPlace);
  policy.fallback = rightsizing::Fallback::kRecreate;
  Harness h(policy);
  h.fakes["aws"]->setPending(0, "Infeasible");
  h.applier.tick();
  ASSERT_EQ(h.fakes["aws"]->templatePatches.size(), 1U);
  EXPECT_EQ(
      json::parse(h.fakes["aws"]->templatePatches[0])["spec"]["template"]["spec"]["containers"][0]
                                                     ["resources"]["requests"]["cpu"],
      "200m");
  EXPECT_EQ(h.result(), "applied");
  EXPECT_EQ(h.applier.status().at(kWeb).at("aws").mode, "recreate");
  EXPECT_EQ(h.count("infeasible"), 1);  // the refusal that led to it is counted
  h.applier.tick();                     // the template has it now: no second patch
  EXPECT_EQ(h.fakes["aws"]->templatePatches.size(), 1U);
  EXPECT_EQ(h.count("infeasible"), 1);
}

TEST(RightsizingApplierTest, AWorkloadNoLongerAppliedShowsNoResult) {
  Harness h(mode(Mode::kInPlace));
  h.applier.tick();
  EXPECT_EQ(h.result(), "resizing");
  h.policy.set(testing::shopWebRightsized(mode(Mode::kRecommend), {"aws"}));
  h.applier.tick();
  EXPECT_EQ(h.result(), "");
  EXPECT_EQ(h.fakes["aws"]->resized.size(), 1U);
}

TEST(RightsizingApplierTest, DeferredWaitsBoundedThenCountsAsInfeasible) {
  {
    Harness h(mode(Mode::kInPlace));
    h.fakes["aws"]->setPending(0, "Deferred");
    h.applier.tick();
    EXPECT_EQ(h.result(), "pending");
    h.clock.advance(std::chrono::minutes(4));
    h.applier.tick();
    EXPECT_EQ(h.result(), "pending");
    EXPECT_TRUE(h.fakes["aws"]->resized.empty());
    h.clock.advance(std::chrono::minutes(2));
    h.applier.tick();
    EXPECT_EQ(h.result(), "infeasible");
    EXPECT_NE(h.applier.status().at(kWeb).at("aws").message.find("deferred for more than 300 s"),
              std::string::npos);
  }
  auto policy = mode(Mode::kInPlace);
  policy.fallback = rightsizing::Fallback::kRecreate;
  Harness h(policy);
  h.fakes["aws"]->setPending(0, "Deferred");
  h.applier.tick();
  h.clock.advance(std::chrono::minutes(6));
  h.applier.tick();
  EXPECT_EQ(h.fakes["aws"]->templatePatches.size(), 1U);
  EXPECT_EQ(h.applier.status().at(kWeb).at("aws").mode, "recreate");
}

TEST(RightsizingApplierTest, RecreatePatchesThePodTemplateOnce) {
  Harness h(mode(Mode::kRecreate));
  h.applier.tick();
  h.applier.tick();
  EXPECT_EQ(h.fakes["aws"]->templatePatches.size(), 1U);
  EXPECT_TRUE(h.fakes["aws"]->resized.empty());
  EXPECT_EQ(h.result(), "applied");
}

TEST(RightsizingApplierTest, RecreateReportsARolloutWhosePodsAreRefused) {
  struct Case {
    std::string message;  // the ReplicaFailure condition's
    const char* result;
  };
  const Case cases[] = {
      {R"(pods "web-7c9d8f6b5-" is forbidden: maximum cpu usage per Container is 2, but limit )"
       "is 3",
       "limit-range"},
      {R"(pods "web-7c9d8f6b5-" is forbidden: exceeded quota: compute, requested: )"
       "requests.cpu=200m, used: requests.cpu=2, limited: requests.cpu=2",
       "quota"},
      // Any other cause is not the right-sizer's to report: the template is applied.
      {R"(pods "web-7c9d8f6b5-" is forbidden: violates PodSecurity "restricted:latest")",
       "applied"}};
  for (const auto& c : cases) {
    Harness h(mode(Mode::kRecreate), {}, {"aws", "gcp"});
    h.applier.tick();
    ASSERT_EQ(h.result("gcp"), "applied");
    // The patch was admitted; the ReplicaSet's pods are not.
    h.fakes["gcp"]->replicaFailure = c.message;
    h.clock.advance(std::chrono::seconds(1));
    h.applier.tick();
    EXPECT_EQ(h.result("gcp"), c.result);
    EXPECT_EQ(h.result("aws"), "applied") << c.result;
    EXPECT_EQ(h.fakes["gcp"]->templatePatches.size(), 1U) << c.result;  // no second patch
    if (std::string(c.result) == "applied") continue;
    const auto status = h.applier.status().at(kWeb).at("gcp");
    EXPECT_EQ(status.mode, "recreate");
    EXPECT_NE(status.message.find("rolling update stalls"), std::string::npos) << status.message;
    EXPECT_NE(status.message.find(c.message), std::string::npos) << status.message;
    EXPECT_EQ(h.count(c.result, "gcp"), 1) << c.result;
    EXPECT_EQ(h.count(c.result, "aws"), 0) << c.result;
    h.applier.tick();  // not looked at again before the retry
    EXPECT_EQ(h.count(c.result, "gcp"), 1) << c.result;
    h.clock.advance(std::chrono::seconds(31));
    h.applier.tick();  // still refused: counted again
    EXPECT_EQ(h.count(c.result, "gcp"), 2) << c.result;
    // The LimitRange or quota raised: the rollout goes on, the template is applied.
    h.fakes["gcp"]->replicaFailure.clear();
    h.clock.advance(std::chrono::seconds(31));
    h.applier.tick();
    EXPECT_EQ(h.result("gcp"), "applied") << c.result;
    EXPECT_EQ(h.fakes["gcp"]->templatePatches.size(), 1U) << c.result;
  }
}

TEST(RightsizingApplierTest, OnlyALeaderNotInDryRunWrites) {
  {
    Harness h(mode(Mode::kInPlace));
    h.applier.setLeadership([] { return false; });
    h.applier.tick();
    EXPECT_TRUE(h.fakes["aws"]->resized.empty());
    EXPECT_EQ(h.result(), "");
  }
  RightsizingApplierOptions dryRun;
  dryRun.dryRun = true;
  Harness h(mode(Mode::kInPlace), dryRun);
  h.applier.tick();
  EXPECT_TRUE(h.fakes["aws"]->resized.empty());
  EXPECT_EQ(h.result(), "dry-run");
}

TEST(RightsizingApplierTest, RecommendModeAndUnreachableClustersWriteNothing) {
  Harness h(mode(Mode::kRecommend));
  h.applier.tick();
  EXPECT_TRUE(h.fakes["aws"]->resized.empty());
  EXPECT_EQ(h.result(), "");
  Harness webhook(mode(Mode::kInPlace), {}, {"vm-fleet"});
  webhook.fakes.clear();
  webhook.applier.tick();
  EXPECT_EQ(webhook.result("vm-fleet"), "unsupported");
}

}  // namespace
}  // namespace fleetscale::aggregator
