// In-place resize (pods/{name}/resize, Kubernetes 1.33+) and OOM kills in the model: what the
// kubelet decides, what the runtime applies, and what the cgroup files then show.
#include <gtest/gtest.h>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/cgroup_reader.h"
#include "fleetscale/sim/fleet_model.h"
#include "fleetscale/sim/kube_objects.h"
#include "fleetscale/sim/node_writer.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr double kMi = 1024.0 * 1024;

// One cluster of one node (4 cores, 16 GiB) running `replicas` of "web" (Burstable: 0.5-1 core,
// 128-256 MiB).
Scenario oneNode(int replicas = 2, std::string version = "v1.34.2") {
  Scenario scenario;
  ClusterSpec cluster;
  cluster.name = "c";
  cluster.nodes = 1;
  cluster.systemPods = false;
  cluster.schedulingDelaySeconds = 1;
  cluster.readinessDelaySeconds = 2;
  cluster.resizeDelaySeconds = 0.5;
  cluster.kubernetesVersion = std::move(version);
  scenario.clusters.push_back(cluster);
  WorkloadSpec w;
  w.name = "web";
  w.namespaceName = "shop";
  w.replicas = {{"c", replicas}};
  w.resources = {0.5, 1.0, 128 * kMi, 256 * kMi};
  w.cpu = LoadCurve::constant(0.4 * replicas);
  w.memory = LoadCurve::constant(100 * kMi * replicas);
  w.idleCpuCores = 0;
  scenario.workloads.push_back(w);
  return scenario;
}

// A resize body as a client sends it: the whole pod with the container's resources replaced.
json resized(const ClusterModel& cluster, const PodState& pod, const json& resources, SimTime now) {
  json object = podJson(cluster, pod, now);
  object["spec"]["containers"][0]["resources"] = resources;
  return object;
}

json resources(const std::string& cpuRequest, const std::string& cpuLimit,
               const std::string& memoryRequest = "128Mi",
               const std::string& memoryLimit = "256Mi") {
  return {{"requests", {{"cpu", cpuRequest}, {"memory", memoryRequest}}},
          {"limits", {{"cpu", cpuLimit}, {"memory", memoryLimit}}}};
}

const json* conditionOf(const json& pod, const std::string& type) {
  for (const auto& condition : pod["status"]["conditions"]) {
    if (condition["type"] == type) return &condition;
  }
  return nullptr;
}

class PodResizeTest : public ::testing::Test {
 protected:
  explicit PodResizeTest(const Scenario& scenario = oneNode()) : fleet_(scenario, WallTime{}) {
    fleet_.step(SimTime{0});
  }
  ClusterModel& cluster() { return fleet_.clusters()[0]; }
  PodState& pod(std::size_t index = 0) { return cluster().pods()[index]; }
  ApiResult resize(std::size_t index, const json& body) {
    const PodState& target = pod(index);
    return cluster().resizePod(target.namespaceName, target.name,
                               resized(cluster(), target, body, fleet_.lastStep()));
  }
  json podAt(std::size_t index, SimTime now) { return podJson(cluster(), pod(index), now); }

  FleetModel fleet_;
};

TEST_F(PodResizeTest, AFittingResizeIsAppliedInPlaceWithoutARestart) {
  const std::string containerId = pod().containerId;
  ASSERT_TRUE(resize(0, resources("300m", "600m")).ok());
  // The API answer: the spec changed, the status not yet (the kubelet has not looked).
  json before = podAt(0, seconds(0));
  EXPECT_EQ(before["spec"]["containers"][0]["resources"]["limits"]["cpu"], "600m");
  EXPECT_EQ(before["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"], "1");
  EXPECT_EQ(before["metadata"]["generation"], 2);

  fleet_.step(milliseconds(100));  // the kubelet admits it; the runtime takes the resize delay
  json progress = podAt(0, milliseconds(100));
  ASSERT_NE(conditionOf(progress, "PodResizeInProgress"), nullptr);
  EXPECT_EQ(conditionOf(progress, "PodResizePending"), nullptr);
  EXPECT_EQ(progress["status"]["containerStatuses"][0]["allocatedResources"]["cpu"], "300m");
  EXPECT_EQ(progress["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"], "1");
  ASSERT_TRUE(pod().actual.cpuLimit);
  EXPECT_DOUBLE_EQ(*pod().actual.cpuLimit, 1.0);

  fleet_.step(milliseconds(700));
  json done = podAt(0, milliseconds(700));
  EXPECT_EQ(conditionOf(done, "PodResizeInProgress"), nullptr);
  EXPECT_EQ(done["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"], "600m");
  EXPECT_EQ(done["status"]["containerStatuses"][0]["resources"]["requests"]["cpu"], "300m");
  EXPECT_EQ(done["status"]["containerStatuses"][0]["restartCount"], 0);
  EXPECT_EQ(done["status"]["containerStatuses"][0]["containerID"], "containerd://" + containerId);
  EXPECT_TRUE(pod().ready(milliseconds(700)));
  EXPECT_DOUBLE_EQ(*pod().actual.cpuLimit, 0.6);
}

TEST_F(PodResizeTest, TheCpuCapFollowsTheAppliedLimit) {
  // 0.4 cores of demand per replica under a 1 core limit: no throttling.
  fleet_.step(seconds(1));
  EXPECT_DOUBLE_EQ(pod().counters.throttledPeriods, 0);
  ASSERT_TRUE(resize(0, resources("100m", "200m")).ok());
  fleet_.step(milliseconds(1100));  // admitted
  fleet_.step(seconds(2));          // applied
  const double throttledBefore = pod().counters.throttledNs;
  const double cpuBefore = pod().counters.cpuNs;
  fleet_.step(seconds(3));
  EXPECT_NEAR(pod().counters.cpuCores, 0.2, 1e-9);
  EXPECT_NEAR(pod().counters.cpuNs - cpuBefore, 0.2e9, 1e3);
  EXPECT_NEAR(pod().counters.throttledNs - throttledBefore, 0.2e9, 1e3);  // 0.4 asked - 0.2
  EXPECT_DOUBLE_EQ(fleet_.sample().workloads.at("shop/web").requestedCpuCores, 0.1 + 0.5);
}

TEST_F(PodResizeTest, ARequestThatDoesNotFitNowIsDeferredUntilRoomFrees) {
  // 4 cores; the other replica holds 0.5: 3.8 fits the node but not now.
  ASSERT_TRUE(resize(0, resources("3800m", "3800m")).ok());
  fleet_.step(milliseconds(100));
  const json deferred = podAt(0, milliseconds(100));
  const json* pending = conditionOf(deferred, "PodResizePending");
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ((*pending)["reason"], "Deferred");
  EXPECT_NE((*pending)["message"].get<std::string>().find("cpu"), std::string::npos);
  EXPECT_EQ(pod().allocated.cpuRequest, 0.5);

  // The other replica shrinks: the kubelet retries the deferred one and admits it.
  fleet_.step(seconds(1));
  EXPECT_EQ(pod().allocated.cpuRequest, 0.5);
  ASSERT_TRUE(resize(1, resources("100m", "1")).ok());
  fleet_.step(seconds(2));  // the shrink is admitted; the deferred resize in the next step
  fleet_.step(seconds(3));
  fleet_.step(seconds(4));
  const json done = podAt(0, seconds(4));
  EXPECT_EQ(conditionOf(done, "PodResizePending"), nullptr);
  EXPECT_EQ(done["status"]["containerStatuses"][0]["resources"]["requests"]["cpu"], "3800m");
}

TEST_F(PodResizeTest, MoreThanTheNodeHasIsInfeasibleAndStaysSo) {
  ASSERT_TRUE(resize(0, resources("5", "5")).ok());
  fleet_.step(milliseconds(100));
  fleet_.step(seconds(5));
  const json infeasible = podAt(0, seconds(5));
  const json* pending = conditionOf(infeasible, "PodResizePending");
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ((*pending)["reason"], "Infeasible");
  EXPECT_EQ(pod().allocated.cpuRequest, 0.5);
  // A new resize that fits replaces it.
  ASSERT_TRUE(resize(0, resources("700m", "1")).ok());
  fleet_.step(seconds(6));
  EXPECT_EQ(conditionOf(podAt(0, seconds(6)), "PodResizePending"), nullptr);
  EXPECT_EQ(pod().allocated.cpuRequest, 0.7);
}

TEST_F(PodResizeTest, TheApiServerRefusesWhatAResizeMayNotDo) {
  // Guaranteed would be a different QoS class.
  const ApiResult qos = resize(0, resources("1", "1", "256Mi", "256Mi"));
  ASSERT_FALSE(qos.ok());
  EXPECT_EQ(qos.error->code, 422);
  EXPECT_NE(qos.error->message.find("QOS Class may not change"), std::string::npos);
  // Removing a limit.
  const ApiResult removal = resize(
      0, json{{"requests", {{"cpu", "500m"}, {"memory", "128Mi"}}}, {"limits", {{"cpu", "1"}}}});
  ASSERT_FALSE(removal.ok());
  EXPECT_EQ(removal.error->code, 422);
  // A request above its limit.
  const ApiResult above = resize(0, resources("2", "1"));
  ASSERT_FALSE(above.ok());
  EXPECT_EQ(above.error->code, 422);
  // Nothing changed.
  EXPECT_EQ(pod().generation, 1);
  EXPECT_EQ(pod().container.resources.cpuLimit, 1.0);
}

TEST_F(PodResizeTest, OnlyResourcesAndResizePolicyAreTaken) {
  const PodState& target = pod();
  json body = podJson(cluster(), target, SimTime{0});
  body["spec"]["containers"][0]["image"] = "evil:latest";
  body["spec"]["containers"][0]["resources"] = resources("400m", "1");
  body["metadata"]["labels"]["extra"] = "x";
  ASSERT_TRUE(cluster().resizePod("shop", target.name, body).ok());
  EXPECT_NE(pod().container.image, "evil:latest");
  EXPECT_EQ(pod().container.resources.cpuRequest, 0.4);
  EXPECT_FALSE(pod().labels.contains("extra"));
}

TEST_F(PodResizeTest, RestartContainerPolicyRestartsOnResizeOfThatResource) {
  json body = podJson(cluster(), pod(), SimTime{0});
  body["spec"]["containers"][0]["resources"] = resources("500m", "1", "128Mi", "512Mi");
  body["spec"]["containers"][0]["resizePolicy"] =
      json::array({{{"resourceName", "cpu"}, {"restartPolicy", "NotRequired"}},
                   {{"resourceName", "memory"}, {"restartPolicy", "RestartContainer"}}});
  ASSERT_TRUE(cluster().resizePod("shop", pod().name, body).ok());
  fleet_.step(milliseconds(100));
  EXPECT_EQ(pod().restartCount, 1);
  EXPECT_FALSE(pod().ready(milliseconds(100)));
  EXPECT_TRUE(pod().ready(milliseconds(2200)));
  EXPECT_EQ(pod().actual.memoryLimit, 512 * kMi);  // started again with the new limit
  // A CPU-only resize of the same container needs no restart.
  body = podJson(cluster(), pod(), milliseconds(100));
  body["spec"]["containers"][0]["resources"] = resources("400m", "1", "128Mi", "512Mi");
  ASSERT_TRUE(cluster().resizePod("shop", pod().name, body).ok());
  fleet_.step(seconds(3));
  fleet_.step(seconds(4));
  EXPECT_EQ(pod().restartCount, 1);
  EXPECT_EQ(pod().actual.cpuRequest, 0.4);
}

TEST_F(PodResizeTest, AMemoryLimitIsNotLoweredBelowTheUsage) {
  // 100 MiB in use: 80 MiB would OOM-kill it, so the runtime holds back (best effort).
  ASSERT_TRUE(resize(0, resources("500m", "1", "64Mi", "80Mi")).ok());
  fleet_.step(milliseconds(100));
  fleet_.step(seconds(2));
  const json stuck = podAt(0, seconds(2));
  const json* progress = conditionOf(stuck, "PodResizeInProgress");
  ASSERT_NE(progress, nullptr);
  EXPECT_EQ((*progress)["reason"], "Error");
  EXPECT_NE((*progress)["message"].get<std::string>().find("below memory usage"),
            std::string::npos);
  EXPECT_EQ(pod().actual.memoryLimit, 256 * kMi);
  EXPECT_EQ(pod().restartCount, 0);
  // Above the usage it goes through.
  ASSERT_TRUE(resize(0, resources("500m", "1", "64Mi", "200Mi")).ok());
  fleet_.step(seconds(3));
  fleet_.step(seconds(4));
  EXPECT_EQ(conditionOf(podAt(0, seconds(4)), "PodResizeInProgress"), nullptr);
  EXPECT_EQ(pod().actual.memoryLimit, 200 * kMi);
}

class PodResizeV133Test : public PodResizeTest {
 protected:
  PodResizeV133Test() : PodResizeTest(oneNode(2, "v1.33.1")) {}
};

TEST_F(PodResizeV133Test, MemoryLimitDecreasesNeedRestartContainer) {
  const ApiResult lower = resize(0, resources("500m", "1", "128Mi", "200Mi"));
  ASSERT_FALSE(lower.ok());
  EXPECT_EQ(lower.error->code, 422);
  EXPECT_NE(lower.error->message.find("memory limits cannot be decreased"), std::string::npos);
  EXPECT_TRUE(resize(0, resources("500m", "1", "128Mi", "300Mi")).ok());
}

TEST(PodResizeVersionTest, ServedFromV133) {
  for (const auto& [version, served] :
       std::vector<std::pair<std::string, bool>>{{"v1.32.4", false},
                                                 {"v1.30.4", false},
                                                 {"v1.33.0", true},
                                                 {"v1.35.1-gke.100", true},
                                                 {"v1.33+", true}}) {
    FleetModel fleet(oneNode(1, version), WallTime{});
    EXPECT_EQ(fleet.clusters()[0].servesResize(), served) << version;
  }
  EXPECT_EQ(kubernetesMinor("v1.34.2"), 34);
  EXPECT_EQ(kubernetesMinor("nonsense"), std::nullopt);
}

// --- OOM kills ----------------------------------------------------------------------------

Scenario oomLooping(double demandMi, double limitMi) {
  Scenario scenario = oneNode(1);
  WorkloadSpec& w = scenario.workloads[0];
  w.resources = {0.5, 1.0, limitMi / 2 * kMi, limitMi * kMi};
  w.memoryPerReplica = LoadCurve::constant(demandMi * kMi);
  return scenario;
}

TEST(CrashBackOffTest, TenSecondsDoublingToFiveMinutesAfterAnImmediateFirstRestart) {
  EXPECT_EQ(crashBackOff(1), SimTime{0});
  EXPECT_EQ(crashBackOff(2), seconds(10));
  EXPECT_EQ(crashBackOff(3), seconds(20));
  EXPECT_EQ(crashBackOff(4), seconds(40));
  EXPECT_EQ(crashBackOff(6), seconds(160));
  EXPECT_EQ(crashBackOff(7), seconds(300));
  EXPECT_EQ(crashBackOff(50), seconds(300));
}

TEST(OomKillTest, AContainerAboveItsLimitLoopsUntilItsLimitIsRaised) {
  FleetModel fleet(oomLooping(300, 256), WallTime{});
  const milliseconds tick(100);
  SimTime now{0};
  auto runUntil = [&](SimTime end) {
    for (; now <= end; now += tick) fleet.step(now);
  };
  runUntil(seconds(1));
  ClusterModel& cluster = fleet.clusters()[0];
  PodState& pod = cluster.pods()[0];
  // Killed at its first step, restarted at once, killed again, then backing off 10 s.
  EXPECT_EQ(pod.counters.oomKills, 2u);
  EXPECT_EQ(pod.restartCount, 2);
  EXPECT_EQ(pod.counters.memoryBytes, 0);  // nothing runs in the back-off
  EXPECT_TRUE(pod.backingOff(now));
  json status = podJson(cluster, pod, now)["status"];
  EXPECT_EQ(status["phase"], "Running");
  EXPECT_EQ(status["containerStatuses"][0]["state"]["waiting"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(status["containerStatuses"][0]["lastState"]["terminated"]["reason"], "OOMKilled");
  EXPECT_EQ(status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 137);
  EXPECT_EQ(status["containerStatuses"][0]["ready"], false);
  EXPECT_EQ(podCells(podJson(cluster, pod, now), WallTime{})[3], "2");

  runUntil(seconds(35));  // restarts at ~10 s and ~30 s (10 s, then 20 s of back-off)
  EXPECT_EQ(pod.counters.oomKills, 4u);
  const WorkloadSample looping = fleet.sample().workloads.at("shop/web");
  EXPECT_EQ(looping.oomKills, 4u);
  EXPECT_EQ(looping.crashLooping, 1);

  // The limit goes up in place while the container waits: the next start fits.
  json body = podJson(cluster, pod, now);
  body["spec"]["containers"][0]["resources"]["limits"]["memory"] = "512Mi";
  ASSERT_TRUE(cluster.resizePod("shop", pod.name, body).ok());
  runUntil(seconds(120));
  EXPECT_EQ(pod.counters.oomKills, 4u);
  EXPECT_EQ(pod.restartCount, 4);
  EXPECT_TRUE(pod.ready(now));
  EXPECT_NEAR(pod.counters.memoryBytes, 300 * kMi, 1);
  EXPECT_EQ(pod.actual.memoryLimit, 512 * kMi);
  const WorkloadSample recovered = fleet.sample().workloads.at("shop/web");
  EXPECT_EQ(recovered.oomKills, 4u);
  EXPECT_EQ(recovered.crashLooping, 0);
  EXPECT_NEAR(recovered.usedMemoryBytes, 300 * kMi, 1);
  EXPECT_DOUBLE_EQ(recovered.requestedMemoryBytes, 128 * kMi);
}

TEST(OomKillTest, ATemplateChangeRollsTheWorkloadOntoPodsThatFit) {
  FleetModel fleet(oomLooping(300, 256), WallTime{});
  ClusterModel& cluster = fleet.clusters()[0];
  fleet.step(SimTime{0});
  ASSERT_EQ(cluster.pods()[0].counters.oomKills, 1u);
  const WorkloadObject* object = cluster.find(WorkloadKind::kDeployment, "shop", "web");
  json updated = object->object;
  updated["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "512Mi";
  ASSERT_TRUE(cluster.update(WorkloadKind::kDeployment, "shop", "web", updated, seconds(1)).ok());
  for (SimTime now = seconds(1); now <= seconds(10); now += milliseconds(100)) fleet.step(now);
  ASSERT_EQ(cluster.pods().size(), 1u);
  const PodState& replacement = cluster.pods()[0];
  EXPECT_EQ(replacement.templateHash, object->templateHash);
  EXPECT_EQ(replacement.container.resources.memoryLimit, 512 * kMi);
  EXPECT_EQ(replacement.counters.oomKills, 0u);
  EXPECT_TRUE(replacement.ready(seconds(10)));
}

TEST(OomKillTest, UnderTheLimitNothingIsKilled) {
  FleetModel fleet(oomLooping(200, 256), WallTime{});
  for (SimTime now{0}; now <= seconds(30); now += milliseconds(500)) fleet.step(now);
  EXPECT_EQ(fleet.clusters()[0].pods()[0].counters.oomKills, 0u);
  EXPECT_EQ(fleet.clusters()[0].pods()[0].restartCount, 0);
}

TEST(OomKillTest, TheSharedMemoryCurveIsCappedUnlessItMayOomKill) {
  Scenario scenario = oneNode(1);
  scenario.workloads[0].memory = LoadCurve::constant(400 * kMi);  // above the 256 MiB limit
  FleetModel capped(scenario, WallTime{});
  for (SimTime now{0}; now <= seconds(5); now += milliseconds(500)) capped.step(now);
  EXPECT_EQ(capped.clusters()[0].pods()[0].counters.oomKills, 0u);
  EXPECT_DOUBLE_EQ(capped.clusters()[0].pods()[0].counters.memoryBytes, 256 * kMi);

  scenario.workloads[0].oomOnSharedMemory = true;
  FleetModel killing(scenario, WallTime{});
  killing.step(SimTime{0});
  EXPECT_EQ(killing.clusters()[0].pods()[0].counters.oomKills, 1u);
  // Killed at the limit, and restarted at once: the working set is the limit again.
  EXPECT_DOUBLE_EQ(killing.clusters()[0].pods()[0].counters.memoryBytes, 256 * kMi);
}

// --- what the agents read ------------------------------------------------------------------

class ResizeFilesTest : public ::testing::TestWithParam<int> {};

TEST_P(ResizeFilesTest, NewLimitsAndOomKillsReachTheCgroupFiles) {
  const int version = GetParam();
  testing::TempDir dir("resize-files");
  Scenario scenario = oomLooping(200, 256);
  scenario.clusters[0].cgroupVersion = version;
  FleetModel fleet(scenario, WallTime{});
  fleet.step(SimTime{0});
  ClusterModel& cluster = fleet.clusters()[0];
  const NodeState& node = cluster.nodes()[0];
  NodeWriter writer(dir.path() + "/host", CgroupDriver::kSystemd, version, WallTime{});
  ASSERT_TRUE(writer.initialize(snapshotNode(cluster, node, SimTime{0})));
  auto layout = agent::probeLayout(writer.cgroupRoot());
  ASSERT_TRUE(layout);
  auto reader = agent::makeCgroupReader(*layout);
  PodState& pod = cluster.pods()[0];
  const std::string cgroup = writer.cgroupOf(pod.containerId);
  auto read = [&] {
    auto stats = agent::readCgroupOnce(*reader, cgroup);
    EXPECT_TRUE(stats) << stats.error().message;
    return *stats;
  };
  EXPECT_DOUBLE_EQ(*read().limits.cpuLimitCores, 1.0);

  // Resize: lower CPU, raise memory. One step later the files show the new limits.
  json body = podJson(cluster, pod, SimTime{0});
  body["spec"]["containers"][0]["resources"] = resources("250m", "500m", "128Mi", "384Mi");
  ASSERT_TRUE(cluster.resizePod("shop", pod.name, body).ok());
  fleet.step(milliseconds(100));
  fleet.step(milliseconds(700));
  ASSERT_TRUE(writer.sync(snapshotNode(cluster, node, milliseconds(700))));
  auto stats = read();
  ASSERT_TRUE(stats.limits.cpuLimitCores);
  EXPECT_DOUBLE_EQ(*stats.limits.cpuLimitCores, 0.5);
  ASSERT_TRUE(stats.limits.memoryLimitBytes);
  EXPECT_EQ(*stats.limits.memoryLimitBytes, 384u * 1024 * 1024);
  EXPECT_EQ(writer.cgroupOf(pod.containerId), cgroup);  // the same container
  ASSERT_TRUE(stats.limits.cpuWeight);
  EXPECT_EQ(*stats.limits.cpuWeight, cpuWeightOf(0.25));

  // An OOM kill: the counter the agent reads grows, and the cgroup stays through the back-off.
  pod.counters.memoryBytes = 384 * kMi;
  cluster.oomKill(pod, seconds(1));
  cluster.oomKill(pod, seconds(1) + milliseconds(100));
  ASSERT_TRUE(writer.sync(snapshotNode(cluster, node, seconds(2))));
  stats = read();
  ASSERT_TRUE(stats.counters.oomKills);
  EXPECT_EQ(*stats.counters.oomKills, 2u);
}

INSTANTIATE_TEST_SUITE_P(Versions, ResizeFilesTest, ::testing::Values(2, 1),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "V" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace fleetscale::sim
