#include "fleetscale/aggregator/state/fleet_state.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/batch_builder.h"

namespace fleetscale::aggregator {
namespace {

using testing::ContainerSpec;
using testing::DecodedBatch;
using testing::makeBatch;

AgentIdentity identity(const std::string& agent, const std::string& node,
                       const std::string& cluster) {
  return AgentIdentity{agent, node, cluster, "aws", "us-east-1", "a", "0.1.0"};
}

const WallTime kT0{std::chrono::seconds(1'700'000'000)};

FoldResult apply(FleetState& fleet, const FleetState::Session& session, std::uint64_t sequence,
                 const std::vector<ContainerSpec>& specs, WallTime at = kT0) {
  DecodedBatch decoded;
  testing::decodeInto(makeBatch(sequence, specs), decoded);
  return fleet.applyBatch(session, decoded.view, at);
}

TEST(FleetStateTest, AcceptsInOrderAndDropsDuplicates) {
  FleetState fleet;
  const auto session = fleet.agentConnected(identity("a1", "n1", "c1"));
  EXPECT_EQ(session.lastSequence, 0u);
  EXPECT_EQ(apply(fleet, session, 1, {{"x"}}).outcome, BatchOutcome::kAccepted);
  const auto second = apply(fleet, session, 2, {{"x"}});
  EXPECT_EQ(second.outcome, BatchOutcome::kAccepted);
  EXPECT_EQ(second.progress.batchesAccepted, 2u);
  EXPECT_EQ(second.progress.samplesAccepted, 2u);
  EXPECT_EQ(apply(fleet, session, 2, {{"x", "", "web", "shop", 9.0}}).outcome,
            BatchOutcome::kDuplicate);
  EXPECT_EQ(apply(fleet, session, 1, {{"x", "", "web", "shop", 9.0}}).outcome,
            BatchOutcome::kDuplicate);
  EXPECT_EQ(fleet.lastAcceptedSequence("a1"), 2u);
  EXPECT_DOUBLE_EQ(fleet.containers({}, kT0)[0].metrics.cpuCores, 0.5)
      << "a duplicate does not overwrite";
  EXPECT_EQ(fleet.agentConnected(identity("a1", "n1", "c1")).lastSequence, 2u)
      << "a reconnecting agent learns what is already accepted";
  EXPECT_EQ(fleet.nodes(kT0)[0].progress.batchesAccepted, 2u) << "duplicates are not counted";
}

TEST(FleetStateTest, LatestBatchReplacesContainerSetAndKeepsRecords) {
  FleetState fleet;
  const auto s = fleet.agentConnected(identity("a1", "n1", "c1"));
  ASSERT_EQ(apply(fleet, s, 1, {{"x"}, {"y"}, {"z"}}).outcome, BatchOutcome::kAccepted);
  // Reordered, one gone, one new, one with changed metadata.
  ASSERT_EQ(apply(fleet, s, 2, {{"z", "", "api"}, {"w"}, {"x"}}).outcome, BatchOutcome::kAccepted);
  const auto containers = fleet.containers({}, kT0);
  ASSERT_EQ(containers.size(), 3u);
  std::map<std::string, std::string> workloads;
  for (const auto& c : containers) workloads[c.id] = c.workload;
  EXPECT_EQ(workloads,
            (std::map<std::string, std::string>{{"w", "web"}, {"x", "web"}, {"z", "api"}}));
  EXPECT_EQ(containers[0].node, "n1");
  EXPECT_EQ(containers[0].cluster, "c1");
  EXPECT_EQ(containers[0].pod.substr(containers[0].pod.size() - 4), "-pod");
  EXPECT_EQ(containers[0].runtime, "containerd");
  EXPECT_EQ(containers[0].cpuRequestCores, 1.0);
}

TEST(FleetStateTest, ABatchNamingAContainerTwiceChangesNothing) {
  FleetState fleet;
  const auto s = fleet.agentConnected(identity("a1", "n1", "c1"));
  ASSERT_EQ(apply(fleet, s, 1, {{"x"}}).outcome, BatchOutcome::kAccepted);
  const auto result = apply(fleet, s, 2, {{"y"}, {"y"}});
  EXPECT_EQ(result.outcome, BatchOutcome::kInvalid);
  EXPECT_NE(result.error.find("twice"), std::string::npos);
  EXPECT_EQ(fleet.lastAcceptedSequence("a1"), 1u);
  ASSERT_EQ(fleet.containers({}, kT0).size(), 1u);
  EXPECT_EQ(fleet.containers({}, kT0)[0].id, "x");
}

TEST(FleetStateTest, FiltersContainers) {
  FleetState fleet;
  const auto a = fleet.agentConnected(identity("a1", "n1", "c1"));
  const auto b = fleet.agentConnected(identity("a2", "n2", "c2"));
  (void)apply(fleet, a, 1, {{"x"}});
  (void)apply(fleet, b, 1, {{"y"}, {"z", "", "api", "other"}});
  EXPECT_EQ(fleet.containers({}, kT0).size(), 3u);
  EXPECT_EQ(fleet.containers({"c2", "", "", ""}, kT0).size(), 2u);
  EXPECT_EQ(fleet.containers({"", "n1", "", ""}, kT0).size(), 1u);
  EXPECT_EQ(fleet.containers({"", "", "shop", "web"}, kT0).size(), 2u);
  EXPECT_EQ(fleet.containers({"", "", "other", ""}, kT0).size(), 1u);
  EXPECT_EQ(fleet.containers({}, kT0, 2).size(), 2u) << "limit";
}

TEST(FleetStateTest, SnapshotRollsUpPodsAndExcludesStaleNodes) {
  FleetState fleet;
  const auto a = fleet.agentConnected(identity("a1", "n1", "aws"));
  const auto b = fleet.agentConnected(identity("a2", "n2", "gcp"));
  // Two containers of one pod on n1; one pod on n2 (heard from 10 s earlier).
  (void)apply(fleet, a, 1,
              {{"x1", "web-1", "web", "shop", 0.25}, {"x2", "web-1", "web", "shop", 0.25}});
  (void)apply(fleet, b, 1, {{"y", "web-2", "web", "shop", 0.5}}, kT0 - std::chrono::seconds(10));
  auto snapshot = fleet.snapshot(kT0);
  ASSERT_EQ(snapshot.workloads.size(), 1u);
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->total.replicasSeen, 1);
  EXPECT_EQ(web->total.replicasStale, 1);
  EXPECT_DOUBLE_EQ(web->total.cpuUsageCores, 0.5);
  EXPECT_DOUBLE_EQ(web->total.cpuRequestCores, 2.0) << "two containers with 1 core requests each";
  ASSERT_EQ(web->pods.size(), 2u);
  EXPECT_EQ(web->pods[0].containers, 2);
  EXPECT_TRUE(web->pods[1].stale);
  EXPECT_TRUE(web->pods[1].late);
  EXPECT_FALSE(web->pods[0].late);
  // 1.6 s after n1's batch (1 s interval) it is late, not yet stale.
  const auto later = fleet.snapshot(kT0 + std::chrono::milliseconds(1600));
  const auto* again = later.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->pods[0].late);
  EXPECT_FALSE(again->pods[0].stale);
  ASSERT_EQ(snapshot.clusters.size(), 2u);
  EXPECT_EQ(snapshot.clusters[0].reporting, ReportingState::kHealthy);
  EXPECT_EQ(snapshot.clusters[1].reporting, ReportingState::kSilent);
  EXPECT_EQ(snapshot.clusters[0].workloads, 1);
  EXPECT_TRUE(fleet.containers({"gcp", "", "", ""}, kT0)[0].stale);
  EXPECT_FALSE(fleet.containers({"aws", "", "", ""}, kT0)[0].stale);
}

// containerd gives every pod a sandbox (pause) cgroup; the agent labels it with the pod but no
// container name and no requests. Summing it in made every pod's request absent, so no
// utilization target could ever be evaluated on a real node.
TEST(FleetStateTest, APodsSandboxIsLeftOutOfItsFigures) {
  FleetState fleet;
  const auto a = fleet.agentConnected(identity("a1", "n1", "aws"));
  ContainerSpec app{"app1", "web-1", "web", "shop", 0.4, 0.5};
  app.container = "web";
  ContainerSpec sandbox{"pause1", "web-1", "web", "shop", 0.001};
  sandbox.podLevelOnly = true;
  // A pod whose only container the metadata has not named yet keeps what it has: no request.
  ContainerSpec unnamed{"new1", "web-2", "web", "shop", 0.2};
  unnamed.podLevelOnly = true;
  (void)apply(fleet, a, 1, {sandbox, app, unnamed});
  const auto snapshot = fleet.snapshot(kT0);
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->pods.size(), 2u);
  const PodSample& named = web->pods[0].pod == "web-1" ? web->pods[0] : web->pods[1];
  const PodSample& unlisted = web->pods[0].pod == "web-1" ? web->pods[1] : web->pods[0];
  EXPECT_EQ(named.containers, 1);
  EXPECT_DOUBLE_EQ(named.cpuRequestCores, 0.5);
  EXPECT_DOUBLE_EQ(named.cpuUsageCores, 0.4);
  EXPECT_EQ(unlisted.containers, 1);
  EXPECT_FALSE(isPresent(unlisted.cpuRequestCores));
  EXPECT_DOUBLE_EQ(web->total.cpuRequestCores, 0.5) << "only pods with a request count";
}

TEST(FleetStateTest, ConnectionTrackingIgnoresStaleDisconnects) {
  FleetState fleet;
  const auto first = fleet.agentConnected(identity("a1", "n1", "c1"));
  const auto second = fleet.agentConnected(identity("a1", "n1", "c1"));  // reconnected
  fleet.agentDisconnected(first);  // the old connection's close arrives late
  EXPECT_TRUE(fleet.nodes(kT0)[0].connected);
  fleet.agentDisconnected(second);
  EXPECT_FALSE(fleet.nodes(kT0)[0].connected);
  EXPECT_EQ(fleet.nodes(kT0).size(), 1u) << "a disconnected node is still known";
}

TEST(FleetStateTest, ForgottenNodesKeepTheirProgressAndRestoredProgressSeedsDedup) {
  FleetState fleet;
  fleet.restoreProgress({AgentProgress{"old", "n0", "c1", 41, 41, 410, 0}});
  EXPECT_EQ(fleet.lastAcceptedSequence("old"), 41u);
  const auto session = fleet.agentConnected(identity("old", "n0", "c1"));
  EXPECT_EQ(session.lastSequence, 41u);
  EXPECT_EQ(session.durableSequence, 41u);
  EXPECT_EQ(apply(fleet, session, 41, {{"x"}}).outcome, BatchOutcome::kDuplicate);
  EXPECT_EQ(apply(fleet, session, 42, {{"x"}}).progress.batchesAccepted, 42u);
  fleet.agentDisconnected(session);
  EXPECT_TRUE(
      fleet.forgetSilentNodes(kT0 + std::chrono::minutes(1), std::chrono::minutes(5)).empty());
  const auto dropped =
      fleet.forgetSilentNodes(kT0 + std::chrono::minutes(6), std::chrono::minutes(5));
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_TRUE(fleet.nodes(kT0).empty());
  EXPECT_EQ(fleet.containerCount(), 0u);
  EXPECT_EQ(fleet.lastAcceptedSequence("old"), 42u);
  EXPECT_EQ(fleet.agentConnected(identity("old", "n0", "c1")).lastSequence, 42u);
}

TEST(FleetStateTest, DeferredChecksRunForChangedContainersOnly) {
  FleetState fleet;
  const auto s = fleet.agentConnected(identity("a1", "n1", "c1"));
  auto decodeDeferred = [](const v1::SampleBatch& batch, DecodedBatch& out) {
    v1::Envelope envelope;
    *envelope.mutable_batch() = batch;
    envelope.SerializePartialToString(&out.payload);
    ASSERT_TRUE(decodeBatchEnvelope(out.payload, out.view, StringChecks::kDeferred).ok());
  };
  DecodedBatch first;
  decodeDeferred(makeBatch(1, {{"x"}, {"y"}}), first);
  ASSERT_EQ(fleet.applyBatch(s, first.view, kT0).outcome, BatchOutcome::kAccepted);
  EXPECT_TRUE(first.view.containers[0].complete) << "new containers are checked";

  DecodedBatch same;
  decodeDeferred(makeBatch(2, {{"x"}, {"y"}}), same);
  ASSERT_EQ(fleet.applyBatch(s, same.view, kT0).outcome, BatchOutcome::kAccepted);
  EXPECT_FALSE(same.view.containers[0].complete) << "unchanged bytes were checked last tick";

  auto bad = makeBatch(3, {{"x"}, {"y"}});
  bad.mutable_containers(1)->mutable_metadata()->set_pod(std::string("\xc3\x28", 2));
  DecodedBatch broken;
  decodeDeferred(bad, broken);
  const auto result = fleet.applyBatch(s, broken.view, kT0);
  EXPECT_EQ(result.outcome, BatchOutcome::kInvalid);
  EXPECT_NE(result.error.find("UTF-8"), std::string::npos) << result.error;
  EXPECT_EQ(fleet.lastAcceptedSequence("a1"), 2u) << "nothing of the bad batch applied";
}

TEST(FleetStateTest, SnapshotPodsCarryTheirContainersThrottling) {
  FleetState fleet;
  const auto s = fleet.agentConnected(identity("a1", "n1", "c1"));
  auto batch = makeBatch(1, {{"x", "p", "web", "shop", 1.0, 0.5, true, "app"},
                             {"y", "p", "web", "shop", 0.2, 0.5, true, "proxy"}});
  batch.mutable_containers(0)->set_cpu_throttled_seconds_per_second(0.4);
  DecodedBatch decoded;
  testing::decodeInto(batch, decoded);
  ASSERT_EQ(fleet.applyBatch(s, decoded.view, kT0).outcome, BatchOutcome::kAccepted);
  const auto snapshot = fleet.snapshot(kT0);
  ASSERT_EQ(snapshot.workloads.size(), 1u);
  ASSERT_EQ(snapshot.workloads[0].pods.size(), 1u);
  const PodSample& pod = snapshot.workloads[0].pods[0];
  EXPECT_DOUBLE_EQ(pod.cpuUsageCores, 1.2);
  EXPECT_DOUBLE_EQ(pod.cpuThrottledCores, 0.4) << "the proxy reported none: it adds 0";
}

}  // namespace
}  // namespace fleetscale::aggregator
