// The scaling loop over hand-made fleet snapshots, with fake actuators and the real SQLite
// store: decisions, writes, failover, leadership, dry runs and history across restarts.
#include "fleetscale/aggregator/control/scaling_loop.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/pipeline/decision_json.h"
#include "fleetscale/aggregator/store/store_metrics.h"
#include "fleetscale/testing/policy_fixtures.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

// Remembers writes; reports the spec replicas it was last set to.
class RecordingActuator final : public Actuator {
 public:
  explicit RecordingActuator(int replicas) : replicas_(replicas) {}
  ActuationOutcome getScale(const WorkloadKey&) override {
    std::lock_guard lock(mutex_);
    ActuationOutcome outcome;
    outcome.status.specReplicas = replicas_;
    return outcome;
  }
  ActuationOutcome setScale(const ScaleRequest& request) override {
    std::lock_guard lock(mutex_);
    replicas_ = request.replicas;
    writes_.push_back(request);
    ActuationOutcome outcome;
    outcome.status.specReplicas = replicas_;
    return outcome;
  }
  std::vector<ScaleRequest> writtenSoFar() {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  // As a Kubernetes cluster's: the autoscalers listed there.
  void setAutoscalers(std::vector<ForeignAutoscaler> autoscalers) {
    std::lock_guard lock(mutex_);
    listsAutoscalers_ = true;
    autoscalers_ = std::move(autoscalers);
  }
  bool listsAutoscalers() const override {
    std::lock_guard lock(mutex_);
    return listsAutoscalers_;
  }
  AutoscalerListing listAutoscalers(const std::string&) override {
    std::lock_guard lock(mutex_);
    return {ActuationError::kNone, "", autoscalers_};
  }

 private:
  mutable std::mutex mutex_;
  int replicas_;
  std::vector<ScaleRequest> writes_;
  bool listsAutoscalers_ = false;
  std::vector<ForeignAutoscaler> autoscalers_;
};

class ScalingLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PolicyConfig config;
    for (const char* name : {"aws", "gcp"}) {
      ClusterConfig cluster;
      cluster.name = name;
      config.clusters.push_back(cluster);
    }
    config.workloads.push_back(fleetscale::testing::shopWebAtHalfCpu());
    policy_.set(config);
    openStore();
    registry_.configure(config.clusters);
  }

  void openStore() {
    SqliteStoreOptions options;
    options.stateDir = dir_.path();
    options.commitInterval = std::chrono::milliseconds(10);
    options.rollupRetention = std::chrono::hours(72);
    auto store = SqliteStore::open(options, &metrics_, clock_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }

  // Each cluster: `pods` ready pods of 0.5 core request at `cpu` cores each, agents all fresh.
  FleetSnapshot snapshot(std::map<std::string, std::pair<int, double>> pods,
                         std::set<std::string> silent = {},
                         std::map<std::string, double> cpuAllocatable = {}) {
    FleetSnapshot s;
    s.takenAt = clock_.wallNow();
    std::vector<PodSample> samples;
    for (const auto& [cluster, load] : pods) {
      ClusterSnapshot c;
      c.name = cluster;
      c.nodes = 1;
      c.staleNodes = silent.count(cluster) ? 1 : 0;
      c.cpuAllocatableCores = cpuAllocatable.count(cluster) ? cpuAllocatable[cluster] : 0;
      s.clusters.push_back(c);
      for (int i = 0; i < load.first; ++i) {
        PodSample pod;
        pod.cluster = cluster;
        pod.pod = "web-" + std::to_string(i);
        pod.ready = true;
        pod.containers = 1;
        pod.stale = silent.count(cluster) > 0;
        pod.cpuUsageCores = load.second;
        pod.cpuRequestCores = 0.5;
        pod.memoryUsageBytes = 1;
        pod.memoryRequestBytes = 1;
        pod.startTimeUnixMs = toUnixMillis(clock_.wallNow()) - 3'600'000;
        pod.podReadyTimeUnixMs = pod.startTimeUnixMs;
        samples.push_back(pod);
      }
    }
    s.workloads.push_back(rollupWorkload(WorkloadKey{"shop", "Deployment", "web"}, samples));
    return s;
  }

  ScalingLoopOptions options() {
    ScalingLoopOptions o;
    o.actuation.writesPerSecond = 1000;
    o.actuation.burst = 1000;
    return o;
  }

  testing::TempDir dir_;
  SystemClock clock_;
  prometheus::Registry metricsRegistry_;
  StoreMetrics metrics_{metricsRegistry_};
  PolicyHolder policy_;
  std::unique_ptr<SqliteStore> store_;
  SnapshotHolder snapshots_;
  std::map<std::string, std::shared_ptr<RecordingActuator>> actuators_{
      {"aws", std::make_shared<RecordingActuator>(2)},
      {"gcp", std::make_shared<RecordingActuator>(2)}};
  std::map<std::string, bool> reachable_{{"aws", true}, {"gcp", true}};
  // The registry owns its actuators; these forward to the shared recorders, so a second
  // registry (an aggregator restart) writes to the same fake clusters.
  ClusterConnector connector() {
    return ClusterConnector{
        [this](const ClusterConfig& c) -> Result<std::unique_ptr<Actuator>> {
          struct Forward final : Actuator {
            std::shared_ptr<RecordingActuator> target;
            ActuationOutcome getScale(const WorkloadKey& w) override { return target->getScale(w); }
            ActuationOutcome setScale(const ScaleRequest& r) override {
              return target->setScale(r);
            }
            bool listsAutoscalers() const override { return target->listsAutoscalers(); }
            AutoscalerListing listAutoscalers(const std::string& ns) override {
              return target->listAutoscalers(ns);
            }
          };
          auto forward = std::make_unique<Forward>();
          forward->target = actuators_.at(c.name);
          return std::unique_ptr<Actuator>(std::move(forward));
        },
        [this](const ClusterConfig& c) -> Result<std::function<bool()>> {
          return std::function<bool()>([this, name = c.name] { return reachable_[name]; });
        }};
  }
  static scaling::HealthThresholds instantThresholds() {
    return {std::chrono::milliseconds(0), std::chrono::milliseconds(0), 0.5};
  }
  ClusterRegistry registry_{connector(), instantThresholds(), clock_};
};

TEST_F(ScalingLoopTest, LoadStepScalesTheFleetAndRecordsWhy) {
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  // 2 + 2 pods at 100% of request against a 50% target: the fleet needs 8.
  loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));
  loop.drainActions();
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 4);
  EXPECT_EQ(actuators_["gcp"]->writtenSoFar().back().replicas, 4);
  const auto status = loop.status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].desiredReplicas, 8);
  EXPECT_EQ(status[0].reason, "scale up from 4 to 8");
  store_->flush();
  DecisionQuery query;
  auto decisions = store_->decisions(query);
  ASSERT_TRUE(decisions.ok());
  ASSERT_FALSE(decisions->empty());
  const auto details = json::parse(decisions->front().details);
  EXPECT_EQ(details["decision"]["metrics"][0]["utilizationPercent"], 100);
  EXPECT_EQ(details["placement"]["writes"]["aws"], 4);
  EXPECT_EQ(details["decision"]["demand"].size(), 2u);
  EXPECT_TRUE(details["acted"].get<bool>());
  auto events = store_->events(EventQuery{"action", "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u) << "one action event per cluster write";
}

// A workload an HPA already scales in one of its clusters is not written anywhere, says why in
// its status and an event, and is scaled again once the HPA is gone. Before a cluster's
// autoscalers are first listed, nothing is written either.
TEST_F(ScalingLoopTest, AWorkloadAnotherAutoscalerTargetsIsNeverWritten) {
  actuators_["gcp"]->setAutoscalers(
      {{"HorizontalPodAutoscaler", "shop", "web", "Deployment", "web", ""},
       {"ScaledObject", "shop", "other", "Deployment", "other-app", ""}});
  actuators_["aws"]->setAutoscalers({});
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0), std::chrono::seconds(0));
  const auto load = snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}});  // asks for 8
  loop.tick(load);  // the namespace is watched from now on, not listed yet
  loop.drainActions();
  EXPECT_TRUE(actuators_["aws"]->writtenSoFar().empty());
  EXPECT_EQ(loop.status().at(0).reason, "waiting to list the other autoscalers in its clusters");

  registry_.refresh(std::chrono::seconds(0), std::chrono::seconds(0));
  for (int i = 0; i < 3; ++i) loop.tick(load);
  loop.drainActions();
  EXPECT_TRUE(actuators_["aws"]->writtenSoFar().empty()) << "not even where no HPA is";
  EXPECT_TRUE(actuators_["gcp"]->writtenSoFar().empty());
  auto status = loop.status().at(0);
  EXPECT_EQ(status.foreignAutoscalers,
            (std::vector<std::string>{"HorizontalPodAutoscaler shop/web in gcp"}));
  EXPECT_NE(status.reason.find("not scaled: HorizontalPodAutoscaler shop/web in gcp already "
                               "scales it"),
            std::string::npos)
      << status.reason;
  store_->flush();
  auto events = store_->events(EventQuery{"foreign_autoscaler", "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u) << "one event while it lasts, not one per tick";
  EXPECT_NE(events->front().message.find("fleetscale holds off"), std::string::npos);

  actuators_["gcp"]->setAutoscalers({});
  registry_.refresh(std::chrono::seconds(0), std::chrono::seconds(0));
  loop.tick(load);
  loop.drainActions();
  ASSERT_FALSE(actuators_["aws"]->writtenSoFar().empty());
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 4);
  EXPECT_TRUE(loop.status().at(0).foreignAutoscalers.empty());
  store_->flush();
  events = store_->events(EventQuery{"foreign_autoscaler", "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u) << "and one when it ends";
}

// --take-over-hpa: the workload is scaled everywhere; in the cluster with an HPA every write
// carries the HPA to pin (the one KEDA made for a ScaledObject is left to its ScaledObject), and
// the take-over is pinned at once where the count stays.
TEST_F(ScalingLoopTest, TakingOverAnHpaScalesThroughIt) {
  actuators_["gcp"]->setAutoscalers(
      {{"HorizontalPodAutoscaler", "shop", "web", "Deployment", "web", ""},
       {"HorizontalPodAutoscaler", "shop", "keda-hpa-q", "Deployment", "web", "ScaledObject"},
       {"ScaledObject", "shop", "q", "Deployment", "web", ""}});
  actuators_["aws"]->setAutoscalers({});
  ScalingLoopOptions takeOver = options();
  takeOver.takeOverAutoscalers = true;
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, takeOver);
  registry_.refresh(std::chrono::seconds(0), std::chrono::seconds(0));
  const auto steady = snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}});  // at the target
  loop.tick(steady);
  registry_.refresh(std::chrono::seconds(0), std::chrono::seconds(0));
  loop.tick(steady);
  loop.drainActions();
  EXPECT_TRUE(actuators_["aws"]->writtenSoFar().empty());
  auto gcp = actuators_["gcp"]->writtenSoFar();
  ASSERT_EQ(gcp.size(), 1u) << "pinned at once, at the count it has";
  EXPECT_EQ(gcp[0].replicas, 2);
  std::vector<std::string> pinned;
  for (const auto& autoscaler : gcp[0].pin) pinned.push_back(autoscaler.describe());
  EXPECT_EQ(pinned,
            (std::vector<std::string>{"HorizontalPodAutoscaler shop/web", "ScaledObject shop/q"}));
  auto status = loop.status().at(0);
  EXPECT_TRUE(status.foreignAutoscalersPinned);
  EXPECT_EQ(status.foreignAutoscalers.size(), 3u);

  loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));  // asks for 8
  loop.drainActions();
  ASSERT_FALSE(actuators_["aws"]->writtenSoFar().empty());
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 4);
  EXPECT_TRUE(actuators_["aws"]->writtenSoFar().back().pin.empty()) << "no HPA there";
  gcp = actuators_["gcp"]->writtenSoFar();
  EXPECT_EQ(gcp.back().replicas, 4);
  EXPECT_EQ(gcp.back().pin.size(), 2u);
  store_->flush();
  auto events = store_->events(EventQuery{"foreign_autoscaler", "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_NE(events->front().message.find("fleetscale takes it over"), std::string::npos)
      << events->front().message;
}

TEST_F(ScalingLoopTest, FailedClusterShareMovesToTheSurvivorInOneTick) {
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}));  // steady: 4 at target
  loop.drainActions();
  EXPECT_TRUE(actuators_["gcp"]->writtenSoFar().empty());
  // gcp goes dark: API unreachable and its agent silent. The thresholds in this fixture are 0 s.
  reachable_["gcp"] = false;
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}, {"gcp"}));
  loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}, {"gcp"}));
  loop.drainActions();
  EXPECT_EQ(registry_.health("gcp"), scaling::HealthState::kFailed);
  ASSERT_FALSE(actuators_["aws"]->writtenSoFar().empty());
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 4) << "aws takes gcp's two";
  EXPECT_TRUE(actuators_["gcp"]->writtenSoFar().empty())
      << "nothing is written to a failed cluster";
  // Later ticks keep the total: the moved share is not counted twice.
  const auto writes = actuators_["aws"]->writtenSoFar().size();
  for (int i = 0; i < 5; ++i)
    loop.tick(snapshot({{"aws", {4, 0.25}}, {"gcp", {2, 0.25}}}, {"gcp"}));
  loop.drainActions();
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().size(), writes);
  EXPECT_EQ(loop.status()[0].desiredReplicas, 4);
}

void placeWeb(PolicyHolder& policy, std::vector<WorkloadCluster> placements) {
  PolicyConfig config = *policy.get();
  config.workloads[0].clusters = std::move(placements);
  policy.set(config);
}

TEST_F(ScalingLoopTest, AClusterThatFitsToAllocatableSpillsTheRestElsewhere) {
  // aws's nodes have 1.5 cores allocatable; its two pods request 1.0, so one more fits there.
  placeWeb(policy_, {{"aws", 1, 0, std::nullopt, 0, true}, {"gcp", 1, 0, std::nullopt, 1, false}});
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}, {}, {{"aws", 1.5}}));
  loop.drainActions();
  EXPECT_EQ(loop.status()[0].desiredReplicas, 8);
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 3);
  EXPECT_EQ(actuators_["gcp"]->writtenSoFar().back().replicas, 5);
}

TEST_F(ScalingLoopTest, AStandbyClusterTakesTheLoadWhenTheWeightedOneFails) {
  placeWeb(policy_, {{"aws", 1, 0, std::nullopt, 0, false}, {"gcp", 0, 0, std::nullopt, 1, false}});
  ScaleRequest start;
  start.replicas = 4;
  actuators_["aws"]->setScale(start);
  start.replicas = 0;
  actuators_["gcp"]->setScale(start);
  const auto initialWrites = actuators_["gcp"]->writtenSoFar().size();
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {4, 0.25}}, {"gcp", {0, 0}}}));  // steady at 4, all in aws
  loop.drainActions();
  EXPECT_EQ(actuators_["gcp"]->writtenSoFar().size(), initialWrites) << "standby stays empty";
  reachable_["aws"] = false;
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {4, 0.25}}, {"gcp", {0, 0}}}, {"aws"}));
  loop.tick(snapshot({{"aws", {4, 0.25}}, {"gcp", {0, 0}}}, {"aws"}));
  loop.drainActions();
  ASSERT_EQ(registry_.health("aws"), scaling::HealthState::kFailed);
  ASSERT_GT(actuators_["gcp"]->writtenSoFar().size(), initialWrites);
  EXPECT_EQ(actuators_["gcp"]->writtenSoFar().back().replicas, 4) << "standby takes all four";
}

TEST_F(ScalingLoopTest, AShortfallIsReportedOnceNotHidden) {
  placeWeb(policy_, {{"aws", 1, 0, 3, 0, false}, {"gcp", 1, 0, 3, 1, false}});
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  for (int i = 0; i < 3; ++i) loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));
  loop.drainActions();
  EXPECT_EQ(loop.status()[0].desiredReplicas, 8);
  EXPECT_EQ(loop.status()[0].unplaced, 2) << "two replicas fit nowhere: both clusters max at 3";
  store_->flush();
  auto events = store_->events(EventQuery{"capacity", "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_NE(events->front().message.find("2 of 8 replicas"), std::string::npos);
}

// A drain is a preference: when the cloud it drained to dies, the drained cloud takes the
// workload back (the last resort), the drain shows as paused, and it resumes on its own.
TEST_F(ScalingLoopTest, ADrainedClusterIsTheLastResortAndItsDrainPauses) {
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  ASSERT_TRUE(registry_.setDraining("aws", true));
  loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}));  // gcp grows to 4 first
  loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {4, 0.25}}}));  // then aws shrinks
  loop.drainActions();
  ASSERT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 0);
  EXPECT_FALSE(drainProgress(loop.status(), "aws").paused());

  reachable_["gcp"] = false;  // gcp, where everything runs now, goes dark
  registry_.refresh(std::chrono::seconds(0));
  for (int i = 0; i < 3; ++i)
    loop.tick(snapshot({{"aws", {0, 0.25}}, {"gcp", {4, 0.25}}}, {"gcp"}));
  loop.drainActions();
  ASSERT_EQ(registry_.health("gcp"), scaling::HealthState::kFailed);
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 4) << "aws is the last resort";
  const auto status = loop.status();
  EXPECT_EQ(status[0].unplaced, 0);
  EXPECT_EQ(status[0].clusters.at("aws").lastResort, 4);
  EXPECT_TRUE(drainProgress(status, "aws").paused());
  EXPECT_NE(prometheus::TextSerializer()
                .Serialize(loop.collectMetrics())
                .find("fleetscale_cluster_drain_paused{cluster=\"aws\"} 1"),
            std::string::npos);

  reachable_["gcp"] = true;  // gcp is back and healthy (instant thresholds here)
  registry_.refresh(std::chrono::seconds(0));
  for (int i = 0; i < 3; ++i) loop.tick(snapshot({{"aws", {4, 0.25}}, {"gcp", {4, 0.25}}}));
  loop.drainActions();
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 0) << "the drain finished";
  EXPECT_FALSE(drainProgress(loop.status(), "aws").paused());
  store_->flush();
  auto events = store_->events(EventQuery{std::string(kEventDrainPaused), "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u) << "paused once, resumed once";
  EXPECT_NE(events->back().message.find("drain of aws paused"), std::string::npos);
  EXPECT_NE(events->front().message.find("drain of aws resumed"), std::string::npos);
}

TEST_F(ScalingLoopTest, LosingSightOfEveryClusterHoldsEverythingAndSaysSo) {
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}));
  loop.drainActions();
  const auto awsWrites = actuators_["aws"]->writtenSoFar().size();
  const auto gcpWrites = actuators_["gcp"]->writtenSoFar().size();
  reachable_ = {{"aws", false}, {"gcp", false}};  // the aggregator's own network is cut
  registry_.refresh(std::chrono::seconds(0));
  for (int i = 0; i < 5; ++i)
    loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}, {"aws", "gcp"}));
  loop.drainActions();
  EXPECT_EQ(registry_.health("aws"), scaling::HealthState::kSuspect);
  EXPECT_EQ(registry_.health("gcp"), scaling::HealthState::kSuspect);
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().size(), awsWrites) << "nothing moved or shrank";
  EXPECT_EQ(actuators_["gcp"]->writtenSoFar().size(), gcpWrites);
  EXPECT_NE(prometheus::TextSerializer()
                .Serialize(loop.collectMetrics())
                .find("fleetscale_no_cluster_reachable 1"),
            std::string::npos);
  store_->flush();
  auto events = store_->events(EventQuery{std::string(kEventReachability), "", "", 0, 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_NE(events->front().message.find("no cluster is reachable"), std::string::npos);
}

TEST(DrainProgressTest, CountsWhatIsLeftInTheCluster) {
  WorkloadStatus moved, moving, elsewhere;
  moved.clusters["aws"] = {0, 0, 0};
  moved.clusters["gcp"] = {4, 4, 4};
  moving.clusters["aws"] = {0, 2, 1};
  elsewhere.clusters["gcp"] = {3, 3, 3};
  const DrainProgress progress = drainProgress({moved, moving, elsewhere}, "aws");
  EXPECT_EQ(progress.workloads, 2);
  EXPECT_EQ(progress.workloadsDone, 1);
  EXPECT_EQ(progress.replicasLeft, 2);
  EXPECT_EQ(progress.readyLeft, 1);
  EXPECT_FALSE(progress.complete());
  EXPECT_TRUE(drainProgress({moved, elsewhere}, "aws").complete());
  EXPECT_FALSE(progress.paused());
  WorkloadStatus keptAsLastResort;
  keptAsLastResort.clusters["aws"] = {3, 3, 3, 3};
  EXPECT_EQ(drainProgress({keptAsLastResort, moved}, "aws").pausedWorkloads, 1);
}

TEST_F(ScalingLoopTest, OnlyTheLeaderWritesAndDryRunNeverDoes) {
  {
    ScalingLoop follower(policy_, registry_, snapshots_, store_.get(), clock_, options());
    follower.setLeadership(
        [](std::chrono::milliseconds) { return std::optional<std::uint64_t>(); });
    registry_.refresh(std::chrono::seconds(0));
    follower.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));
    follower.drainActions();
    EXPECT_TRUE(actuators_["aws"]->writtenSoFar().empty());
    EXPECT_EQ(follower.status()[0].desiredReplicas, 8) << "a standby still decides";
  }
  auto dry = options();
  dry.dryRun = true;
  ScalingLoop dryRun(policy_, registry_, snapshots_, store_.get(), clock_, dry);
  dryRun.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));
  dryRun.drainActions();
  EXPECT_TRUE(actuators_["aws"]->writtenSoFar().empty());
  store_->flush();
  auto decisions = store_->decisions(DecisionQuery{});
  ASSERT_TRUE(decisions.ok() && !decisions->empty());
  EXPECT_FALSE(json::parse(decisions->front().details)["acted"].get<bool>());
}

TEST_F(ScalingLoopTest, LeaderTermTravelsWithEveryWrite) {
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  loop.setLeadership([](std::chrono::milliseconds) { return std::optional<std::uint64_t>(42); });
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));
  loop.drainActions();
  ASSERT_FALSE(actuators_["aws"]->writtenSoFar().empty());
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().back().fencingToken, 42u);
}

// A standby promoted after a long gap: its store holds an hour-old decision whose
// recommendations say nothing about the last 300 s. It must not scale down on one tick of data.
TEST_F(ScalingLoopTest, ANewLeaderHoldsScaleDownUntilItHasWatchedTheWindow) {
  scaling::ScalingHistory old;
  old.recommendations.push_back({4, clock_.wallNow() - std::chrono::hours(1)});
  DecisionRecord record;
  record.timeUnixMs = toUnixMillis(clock_.wallNow() - std::chrono::hours(1));
  record.workload = WorkloadKey{"shop", "Deployment", "web"};
  record.currentReplicas = 4;
  record.desiredReplicas = 4;
  record.details = json{{"history", historyToJson(old)}}.dump();
  store_->recordDecision(record);
  store_->flush();
  // 2 + 2 pods at 10% of request against a 50% target: the metrics alone ask for 1.
  const auto quiet = snapshot({{"aws", {2, 0.05}}, {"gcp", {2, 0.05}}});
  registry_.refresh(std::chrono::seconds(0));
  {
    ScalingLoop promoted(policy_, registry_, snapshots_, store_.get(), clock_, options());
    promoted.restoreHistory();
    promoted.setLeadership(
        [](std::chrono::milliseconds) { return std::optional<std::uint64_t>(9); });
    promoted.tick(quiet);
    promoted.drainActions();
    EXPECT_TRUE(actuators_["aws"]->writtenSoFar().empty());
    EXPECT_TRUE(actuators_["gcp"]->writtenSoFar().empty());
    const auto status = promoted.status();
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].desiredReplicas, 4);
    EXPECT_NE(status[0].reason.find("after becoming leader"), std::string::npos)
        << status[0].reason;
    store_->flush();
    auto decisions = store_->decisions(DecisionQuery{});
    ASSERT_TRUE(decisions.ok() && !decisions->empty());
    const auto steps = json::parse(decisions->front().details)["decision"]["steps"];
    ASSERT_FALSE(steps.empty());
    EXPECT_EQ(steps.back()["rule"], "takeover") << steps.dump();
  }
  // The same history without leader election (one aggregator, restarted): the HPA's rules alone,
  // which scale down at once. The hold is what kept the count above.
  record.timeUnixMs = toUnixMillis(clock_.wallNow());
  store_->recordDecision(record);
  store_->flush();
  ScalingLoop single(policy_, registry_, snapshots_, store_.get(), clock_, options());
  single.restoreHistory();
  single.tick(quiet);
  single.drainActions();
  ASSERT_FALSE(actuators_["aws"]->writtenSoFar().empty());
  EXPECT_LT(actuators_["aws"]->writtenSoFar().back().replicas, 2);
}

// Predictive scaling after a restart: the forecaster is seeded from the stored rollups of the
// workload (not those of another workload), so it forecasts on the first tick.
TEST_F(ScalingLoopTest, ARestartSeedsTheForecasterFromTheStoredRollups) {
  PolicyConfig config = *policy_.get();
  config.workloads[0].policy.predictive.mode = scaling::PredictiveMode::kObserve;
  policy_.set(config);
  std::vector<RollupRow> rows;
  const WallTime now = clock_.wallNow();
  for (WallTime at = now - std::chrono::hours(25); at < now; at += std::chrono::seconds(10)) {
    RollupRow row;
    row.bucketStartUnixMs = toUnixMillis(at);
    row.workload = config.workloads[0].key();
    row.cluster = "aws";
    row.cpuUsageCores = 1.5;
    rows.push_back(row);
    row.workload.name = "other";
    row.cpuUsageCores = 40;
    rows.push_back(row);
  }
  store_->recordRollups(rows);
  store_->flush();
  ScalingLoop restarted(policy_, registry_, snapshots_, store_.get(), clock_, options());
  restarted.restoreHistory();
  registry_.refresh(std::chrono::seconds(0));
  restarted.tick(snapshot({{"aws", {2, 0.75}}, {"gcp", {2, 0}}}));
  const auto status = restarted.status();
  ASSERT_TRUE(status[0].forecast.has_value());
  ASSERT_TRUE(status[0].forecast->forecastCores.has_value()) << status[0].forecast->note;
  EXPECT_NEAR(*status[0].forecast->forecastCores, 1.5, 0.1) << "its own history, not other's";
  EXPECT_FALSE(status[0].forecast->raised) << "observe never acts";
}

TEST_F(ScalingLoopTest, HistoryIsRestoredAfterARestartSoScaleDownStaysStabilized) {
  {
    ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
    registry_.refresh(std::chrono::seconds(0));
    loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));  // recommendation 8
    loop.drainActions();
    store_->flush();
  }
  // A new loop (an aggregator restart) sees load drop: without history it would scale down at
  // once; with the restored recommendation of 8 the 5-minute window holds it.
  ScalingLoop restarted(policy_, registry_, snapshots_, store_.get(), clock_, options());
  restarted.restoreHistory();
  registry_.refresh(std::chrono::seconds(0));
  restarted.tick(snapshot({{"aws", {4, 0.05}}, {"gcp", {4, 0.05}}}));
  EXPECT_EQ(restarted.status()[0].desiredReplicas, 8);
}

TEST_F(ScalingLoopTest,
       AnAggregatorRestartedMidFailoverKeepsTheSurvivorsShareAndLeavesTheDeadAlone) {
  {
    ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
    registry_.refresh(std::chrono::seconds(0));
    loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}));
    reachable_["gcp"] = false;
    registry_.refresh(std::chrono::seconds(0));
    loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}, {"gcp"}));
    loop.tick(snapshot({{"aws", {2, 0.25}}, {"gcp", {2, 0.25}}}, {"gcp"}));
    loop.drainActions();
    ASSERT_EQ(actuators_["aws"]->writtenSoFar().back().replicas, 4) << "failed over";
    store_->flush();
  }
  // A new process: fresh cluster health (gcp still dark), the same store, the same clusters.
  ClusterRegistry restartedRegistry(connector(), instantThresholds(), clock_);
  restartedRegistry.configure(policy_.get()->clusters);
  ScalingLoop restarted(policy_, restartedRegistry, snapshots_, store_.get(), clock_, options());
  restarted.restoreHistory();
  const auto awsWrites = actuators_["aws"]->writtenSoFar().size();
  for (int i = 0; i < 3; ++i) {
    restartedRegistry.refresh(std::chrono::seconds(0));
    restarted.tick(snapshot({{"aws", {4, 0.25}}, {"gcp", {2, 0.25}}}, {"gcp"}));
  }
  restarted.drainActions();
  EXPECT_EQ(restartedRegistry.health("gcp"), scaling::HealthState::kFailed);
  EXPECT_EQ(actuators_["aws"]->writtenSoFar().size(), awsWrites)
      << "aws keeps the 4 it holds: a restart neither shrinks nor re-adds gcp's share";
  EXPECT_TRUE(actuators_["gcp"]->writtenSoFar().empty()) << "nothing written to the dead cluster";
  EXPECT_EQ(restarted.status()[0].desiredReplicas, 4);
}

TEST_F(ScalingLoopTest, MetricsDescribeWorkloadsClustersAndActions) {
  ScalingLoop loop(policy_, registry_, snapshots_, store_.get(), clock_, options());
  registry_.refresh(std::chrono::seconds(0));
  loop.tick(snapshot({{"aws", {2, 0.5}}, {"gcp", {2, 0.5}}}));
  loop.drainActions();
  std::map<std::string, std::size_t> families;
  for (const auto& family : loop.collectMetrics()) families[family.name] = family.metric.size();
  EXPECT_EQ(families["fleetscale_placement_replicas"], 6u) << "2 clusters x desired/current/ready";
  EXPECT_EQ(families["fleetscale_cluster_state"], 8u) << "2 clusters x 4 states";
  EXPECT_EQ(families["fleetscale_scale_actions_total"], 2u);
  EXPECT_EQ(families["fleetscale_scale_action_duration_seconds"], 2u);
}

}  // namespace
}  // namespace fleetscale::aggregator
