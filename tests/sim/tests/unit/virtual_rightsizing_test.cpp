// Right-sizing in virtual time (virtual_rightsizing.h): the aggregator's recommender fed from
// the engine's snapshots and applied through the simulated resize subresource.
#include "fleetscale/sim/virtual_rightsizing.h"

#include <gtest/gtest.h>

#include "fleetscale/sim/virtual_engine.h"

namespace fleetscale::sim {
namespace {

constexpr double kMi = 1024.0 * 1024.0;

std::unique_ptr<VirtualEngine> engineFor(const std::string& yaml, RightsizingBaseline baseline) {
  auto scenario = parseScenario(yaml);
  EXPECT_TRUE(scenario) << scenario.error().message;
  if (!scenario) return nullptr;
  VirtualOptions options;
  options.rightsizing = baseline;
  auto engine = VirtualEngine::create(*scenario, options);
  EXPECT_TRUE(engine) << engine.error().message;
  return engine ? std::move(*engine) : nullptr;
}

const PodState* onlyPod(const VirtualEngine& engine) {
  const PodState* found = nullptr;
  for (const auto& pod : engine.model().clusters()[0].pods()) {
    if (!pod.isSystem()) found = &pod;
  }
  return found;
}

// One replica whose working set (300Mi) is over its memory limit (256Mi) from its first start.
const char* kOomLoop = R"(
name: oom-loop
duration: 30m
seed: 5
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    nodes: 1
    node-capacity: {cpu: 4, memory: 16Gi}
    scheduling-delay: 1s
    readiness-delay: 2s
workloads:
  - name: worker
    namespace: batch
    replicas: 1
    resources:
      requests: {cpu: 200m, memory: 128Mi}
      limits: {cpu: "1", memory: 256Mi}
    load:
      cpu: 100m
      memory: 0
      memory-per-replica: 300Mi
)";

TEST(VirtualRightsizingTest, AContainerOomLoopingFromItsFirstStartRecoversWithinOneRestart) {
  auto engine = engineFor(kOomLoop, RightsizingBaseline::kFleetscale);
  ASSERT_NE(engine, nullptr);
  std::optional<int> restartsAtResize;
  for (double t = 1; !engine->finished(); t += 1) {
    engine->runUntil(t);
    if (!restartsAtResize && engine->rightsizing()->counts().resizes > 0) {
      restartsAtResize = onlyPod(*engine)->restartCount;
    }
  }
  ASSERT_TRUE(restartsAtResize) << "no recommendation was applied";
  const PodState* pod = onlyPod(*engine);
  ASSERT_NE(pod, nullptr);
  // The resize lands while the container waits out its back-off: the next start is its last.
  EXPECT_LE(pod->restartCount, *restartsAtResize + 1);
  EXPECT_TRUE(pod->ready(fromSeconds(engine->now())));
  ASSERT_TRUE(pod->actual.memoryLimit);
  EXPECT_GE(*pod->actual.memoryLimit, 300 * kMi);
  const auto report = engine->reportJson(0);
  EXPECT_EQ(report["rightsizing"]["crash_looping_at_end"], 0);
  EXPECT_FALSE(report["rightsizing"]["oom_loop_at_end"].get<bool>());
  // Every kill after the first was a start that still had too little memory.
  EXPECT_EQ(report["rightsizing"]["oom_kills_repeated"].get<std::uint64_t>(),
            pod->counters.oomKills - 1);

  // Left alone, it is still looping at the end, with many more restarts.
  auto original = engineFor(kOomLoop, RightsizingBaseline::kOriginal);
  ASSERT_NE(original, nullptr);
  original->run();
  EXPECT_GT(onlyPod(*original)->restartCount, *restartsAtResize + 3);
  EXPECT_TRUE(original->reportJson(0)["rightsizing"]["oom_loop_at_end"].get<bool>());
  EXPECT_GT(original->reportJson(0)["rightsizing"]["oom_kills_repeated"].get<std::uint64_t>(),
            report["rightsizing"]["oom_kills_repeated"].get<std::uint64_t>() + 3);
}

// Scales on CPU utilization (80% of a 500m request) while its memory request (1Gi) is four
// times what it uses: right-sizing shrinks memory and leaves the CPU request alone, so the
// replica count only follows the load (one step up), never swings.
const char* kHorizontalAndVertical = R"(
name: horizontal-and-vertical
duration: 2h
seed: 9
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    nodes: 2
    node-capacity: {cpu: 16, memory: 64Gi}
    scheduling-delay: 1s
    readiness-delay: 2s
workloads:
  - name: api
    namespace: web
    replicas: 2
    resources:
      requests: {cpu: 500m, memory: 1Gi}
      limits: {cpu: "1", memory: 2Gi}
    capacity-per-replica: 400m
    load:
      cpu: {curve: step, initial: 700m, steps: [{at: 40m, value: 2100m}]}
      memory: 400Mi
    autoscale: {min-replicas: 2, max-replicas: 20, cpu-utilization: 80}
)";

TEST(VirtualRightsizingTest, ShrinkingRequestsDoNotMakeTheReplicaCountSwing) {
  auto engine = engineFor(kHorizontalAndVertical, RightsizingBaseline::kFleetscale);
  ASSERT_NE(engine, nullptr);
  engine->run();
  int directionChanges = 0;
  int lastDirection = 0;
  for (const auto& action : engine->timeline().actions) {
    const int direction = action.to > action.from ? 1 : (action.to < action.from ? -1 : 0);
    if (direction != 0 && lastDirection != 0 && direction != lastDirection) ++directionChanges;
    if (direction != 0) lastDirection = direction;
  }
  EXPECT_EQ(directionChanges, 0);
  EXPECT_FALSE(engine->timeline().actions.empty()) << "the horizontal side never acted";
  const auto report = engine->reportJson(0)["rightsizing"];
  EXPECT_GT(report["resizes"].get<int>(), 0);
  EXPECT_FALSE(report["workloads"]["web/api"]["controls_cpu"].get<bool>());
  for (const auto& pod : engine->model().clusters()[0].pods()) {
    if (pod.isSystem() || !pod.running(fromSeconds(engine->now()))) continue;
    EXPECT_DOUBLE_EQ(*pod.container.resources.cpuRequest, 0.5) << pod.name;
    EXPECT_LT(*pod.container.resources.memoryRequest, 512 * kMi) << pod.name;
  }
  EXPECT_EQ(report["restarts"], 0);
  // Memory slack falls well below the original requests' (1Gi for ~200Mi used).
  auto original = engineFor(kHorizontalAndVertical, RightsizingBaseline::kOriginal);
  ASSERT_NE(original, nullptr);
  original->run();
  EXPECT_LT(report["memory_slack_mean"].get<double>(),
            original->reportJson(0)["rightsizing"]["memory_slack_mean"].get<double>() - 0.2);
}

// Ten replicas with a 1-core CPU request using about 100m each, a fixed size (an absolute CPU
// target, so right-sizing may move CPU), and resizes that take 20 s to land: the in-place
// baseline resizes them under the scenario's own policy, as the live applier would.
std::string tenOverSizedReplicas(const std::string& rightsizing) {
  return R"(
name: ten-over-sized
duration: 20m
seed: 3
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    nodes: 2
    node-capacity: {cpu: 16, memory: 64Gi}
    scheduling-delay: 1s
    readiness-delay: 2s
    resize-delay: 20s
workloads:
  - name: api
    namespace: web
    replicas: 10
    resources:
      requests: {cpu: "1", memory: 256Mi}
      limits: {cpu: "2", memory: 512Mi}
    load: {cpu: 1, memory: 0, memory-per-replica: 100Mi}
    autoscale:
      min-replicas: 10
      max-replicas: 10
      metrics:
        - {type: Resource, resource: {name: cpu, target: {type: AverageValue, averageValue: 800m}}}
      rightsizing: )" +
         rightsizing + "\n";
}

struct ResizeRun {
  int mostInFlight = 0;
  int resizedAtEnd = 0;
};

ResizeRun runResizes(const std::string& rightsizing) {
  auto engine = engineFor(tenOverSizedReplicas(rightsizing), RightsizingBaseline::kFleetscale);
  if (engine == nullptr) return {};
  ResizeRun run;
  for (double t = 1; !engine->finished(); t += 1) {
    engine->runUntil(t);
    int inFlight = 0;
    for (const auto& pod : engine->model().clusters()[0].pods()) {
      if (!pod.isSystem() && pod.resize.actuateAt) ++inFlight;
    }
    run.mostInFlight = std::max(run.mostInFlight, inFlight);
  }
  for (const auto& pod : engine->model().clusters()[0].pods()) {
    if (!pod.isSystem() && pod.actual.cpuRequest && *pod.actual.cpuRequest < 0.5) {
      ++run.resizedAtEnd;
    }
  }
  return run;
}

TEST(VirtualRightsizingTest, InPlaceResizesFollowTheWorkloadsResizeBudget) {
  const ResizeRun oneAtATime = runResizes("{controlledResources: [cpu], resizeBudget: 0.1}");
  EXPECT_EQ(oneAtATime.mostInFlight, 1);
  EXPECT_EQ(oneAtATime.resizedAtEnd, 10);
  const ResizeRun halfAtATime = runResizes("{controlledResources: [cpu], resizeBudget: 0.5}");
  EXPECT_GT(halfAtATime.mostInFlight, 1);
  EXPECT_LE(halfAtATime.mostInFlight, 5);
  EXPECT_EQ(halfAtATime.resizedAtEnd, 10);
}

TEST(VirtualRightsizingTest, ChangesInsideTheWorkloadsBandAreNotApplied) {
  // The recommendation (~115m) is 89% below the 1-core request: a band of 95% holds it.
  EXPECT_EQ(runResizes("{controlledResources: [cpu], minChange: {ratio: 0.95}}").resizedAtEnd, 0);
  EXPECT_EQ(runResizes("{controlledResources: [cpu], minChange: {ratio: 0.5}}").resizedAtEnd, 10);
}

}  // namespace
}  // namespace fleetscale::sim
