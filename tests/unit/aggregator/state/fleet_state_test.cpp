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

// An agent process that says its sequence epoch and start time, as agents do since epochs.
AgentIdentity process(const std::string& agent, const std::string& node, std::uint64_t epoch,
                      std::int64_t startedUnixMs, std::uint64_t queueCapacity = 0) {
  AgentIdentity id = identity(agent, node, "c1");
  id.sequenceEpoch = epoch;
  id.startedUnixMs = startedUnixMs;
  id.queueCapacity = queueCapacity;
  return id;
}

const WallTime kT0{std::chrono::seconds(1'700'000'000)};

FoldResult apply(FleetState& fleet, const FleetState::Session& session, std::uint64_t sequence,
                 const std::vector<ContainerSpec>& specs, WallTime at = kT0) {
  DecodedBatch decoded;
  testing::decodeInto(makeBatch(sequence, specs), decoded);
  return fleet.applyBatch(session, decoded.view, at);
}

// A batch of a clock-aligned agent: sampled at `round` (its stamp), received `after` it.
FoldResult applyRound(FleetState& fleet, const FleetState::Session& session, std::uint64_t sequence,
                      const std::vector<ContainerSpec>& specs, WallTime round,
                      std::chrono::milliseconds after) {
  DecodedBatch decoded;
  auto batch = makeBatch(sequence, specs);
  batch.set_timestamp_unix_ms(toUnixMillis(round));
  testing::decodeInto(batch, decoded);
  return fleet.applyBatch(session, decoded.view, round + after);
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

// Issue 14: when a cluster goes dark between two sampling rounds, its pods' load moves to the
// others and shows in their next round while the dark pods' last figures are not yet late (1.5
// intervals). Counted together the load doubles and the fleet overshot (8 replicas where 6
// served). A node of a clock-aligned agent that owes the newest round is late at once.
TEST(FleetStateTest, PodsOfANodeThatOwesTheNewestRoundAreLateForDecisions) {
  using std::chrono::milliseconds;
  FleetState fleet;
  AgentIdentity awsAgent = identity("a1", "n1", "aws"), gcpAgent = identity("a2", "n2", "gcp");
  AgentIdentity oldAgent = identity("a3", "n3", "gcp");
  awsAgent.clockAlignedSampling = gcpAgent.clockAlignedSampling = true;
  const auto aws = fleet.agentConnected(awsAgent);
  const auto gcp = fleet.agentConnected(gcpAgent);
  const auto old = fleet.agentConnected(oldAgent);
  (void)applyRound(fleet, aws, 1, {{"x", "web-1"}}, kT0, milliseconds(5));
  (void)applyRound(fleet, gcp, 1, {{"y", "web-2"}}, kT0, milliseconds(40));
  (void)apply(fleet, old, 1, {{"z", "web-3"}}, kT0 + milliseconds(200));  // its own phase
  (void)applyRound(fleet, aws, 2, {{"x", "web-1"}}, kT0 + milliseconds(1000), milliseconds(5));
  const auto snapshot = fleet.snapshot(kT0 + milliseconds(1010));
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->pods.size(), 3u);
  EXPECT_FALSE(web->pods[0].late) << "aws sent the newest round";
  EXPECT_TRUE(web->pods[1].late) << "gcp owes it: a round behind, not yet 1.5 intervals silent";
  EXPECT_FALSE(web->pods[2].late) << "an agent that does not sample on the clock: 1.5 intervals";
  EXPECT_EQ(web->total.replicasSeen, 3) << "late pods stay in the rollups";

  (void)applyRound(fleet, gcp, 2, {{"y", "web-2"}}, kT0 + milliseconds(1000), milliseconds(120));
  const auto caughtUp = fleet.snapshot(kT0 + milliseconds(1130));
  EXPECT_FALSE(caughtUp.find(WorkloadKey{"shop", "Deployment", "web"})->pods[1].late)
      << "within a round, batches may come a little apart";

  // A batch of no round (an agent's first sample at start-up, a replay from its spool) neither
  // sets the newest round nor is judged by it.
  (void)applyRound(fleet, aws, 3, {{"x", "web-1"}}, kT0 + milliseconds(1800), milliseconds(5));
  const auto offRound = fleet.snapshot(kT0 + milliseconds(1810));
  const auto* again = offRound.find(WorkloadKey{"shop", "Deployment", "web"});
  EXPECT_FALSE(again->pods[0].late);
  EXPECT_FALSE(again->pods[1].late) << "gcp is not behind a sample taken 0.8 s into the round";
  (void)applyRound(fleet, gcp, 3, {{"y", "web-2"}}, kT0 - milliseconds(3000), milliseconds(4900));
  const auto replayed = fleet.snapshot(kT0 + milliseconds(1910));
  EXPECT_FALSE(replayed.find(WorkloadKey{"shop", "Deployment", "web"})->pods[1].late)
      << "a replayed batch: late only after 1.5 intervals, as before rounds";
}

TEST(FleetStateTest, ARoundIsInWhenEveryClockAlignedAgentStillReportingHasSentItsBatch) {
  using std::chrono::milliseconds;
  using Progress = FleetState::RoundProgress;
  FleetState fleet;
  AgentIdentity first = identity("a1", "n1", "aws"), second = identity("a2", "n2", "gcp");
  AgentIdentity gone = identity("a3", "n3", "gcp");
  first.clockAlignedSampling = second.clockAlignedSampling = gone.clockAlignedSampling = true;
  const auto a = fleet.agentConnected(first);
  const auto b = fleet.agentConnected(second);
  const auto c = fleet.agentConnected(gone);
  (void)applyRound(fleet, a, 1, {{"x", "web-1"}}, kT0, milliseconds(5));
  (void)applyRound(fleet, b, 1, {{"y", "web-2"}}, kT0, milliseconds(30));
  (void)applyRound(fleet, c, 1, {{"z", "web-3"}}, kT0 - milliseconds(5000), milliseconds(5));
  const WallTime round = kT0 + milliseconds(1000);
  (void)applyRound(fleet, a, 2, {{"x", "web-1"}}, round, milliseconds(5));
  EXPECT_EQ(fleet.roundProgress(round + milliseconds(6)), Progress::kWaiting) << "n2 owes it";
  (void)applyRound(fleet, b, 2, {{"y", "web-2"}}, round, milliseconds(30));
  EXPECT_EQ(fleet.roundProgress(round + milliseconds(31)), Progress::kComplete)
      << "a late node is not waited for";

  const auto nextRound = round + milliseconds(1000);
  (void)applyRound(fleet, a, 3, {{"x", "web-1"}}, nextRound, milliseconds(5));
  fleet.agentDisconnected(b);
  EXPECT_EQ(fleet.roundProgress(nextRound + milliseconds(6)), Progress::kComplete)
      << "nor a disconnected one";

  const auto old = fleet.agentConnected(identity("a4", "n4", "aws"));
  (void)apply(fleet, old, 1, {{"w", "web-4"}}, nextRound);
  EXPECT_EQ(fleet.roundProgress(nextRound + milliseconds(6)), Progress::kUnaligned)
      << "an agent sampling on its own phase makes rounds meaningless";
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

// Pods the kubelet lists as Pending without a started container come with the batch: known to
// the decisions as unready replicas, counted apart in the rollups, replaced by the next batch.
// A pending pod whose sandbox is sampled counts once, with its spec's requests. Terminating pods
// are counted apart too; both hold their requests' room.
// The series a pod serves (scraped by its agent) reach the snapshot's pod, and go with the next
// batch that lists none for it.
TEST(FleetStateTest, PodSeriesOfTheLatestBatchReachTheirPod) {
  FleetState fleet;
  const auto a = fleet.agentConnected(identity("a1", "n1", "aws"));
  auto batch = makeBatch(1, {{"c1", "web-1", "web"}, {"c2", "web-2", "web"}});
  auto* scraped = batch.add_pod_metrics();
  scraped->set_pod_uid("uid-web-1");
  scraped->set_scraped_unix_ms(toUnixMillis(kT0) - 300);
  auto* series = scraped->add_series();
  series->set_name("http_requests_per_second");
  series->add_labels("code");
  series->add_labels("200");
  series->set_value(12.5);
  batch.add_pod_metrics()->set_pod_uid("uid-not-here");  // no such pod: ignored
  DecodedBatch decoded;
  testing::decodeInto(batch, decoded);
  ASSERT_EQ(fleet.applyBatch(a, decoded.view, kT0).outcome, BatchOutcome::kAccepted);

  auto snapshot = fleet.snapshot(kT0);
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->pods.size(), 2u);
  ASSERT_NE(web->pods[0].podSeries, nullptr);
  const PodSeriesSet& set = *web->pods[0].podSeries;
  EXPECT_EQ(set.scrapedAt, kT0 - std::chrono::milliseconds(300));
  ASSERT_EQ(set.series.size(), 1u);
  EXPECT_EQ(set.series[0].name, "http_requests_per_second");
  EXPECT_EQ(set.series[0].labels, (std::map<std::string, std::string>{{"code", "200"}}));
  EXPECT_EQ(set.series[0].value, 12.5);
  EXPECT_EQ(web->pods[1].podSeries, nullptr) << "web-2 was not scraped";

  ASSERT_EQ(apply(fleet, a, 2, {{"c1", "web-1", "web"}}, kT0 + std::chrono::seconds(1)).outcome,
            BatchOutcome::kAccepted);
  snapshot = fleet.snapshot(kT0 + std::chrono::seconds(1));
  EXPECT_EQ(snapshot.find(WorkloadKey{"shop", "Deployment", "web"})->pods[0].podSeries, nullptr);
}

TEST(FleetStateTest, PendingAndTerminatingPodsAreKnownAndCountedApart) {
  FleetState fleet;
  const auto a = fleet.agentConnected(identity("a1", "n1", "aws"));
  auto pendingPod = [](const std::string& name) {
    v1::ContainerMetadata pod;
    pod.set_pod(name);
    pod.set_pod_uid("uid-" + name);
    pod.set_namespace_("shop");
    pod.set_workload_kind("Deployment");
    pod.set_workload("web");
    pod.set_pod_phase("Pending");
    pod.set_cpu_request_cores(1.0);
    return pod;
  };
  ContainerSpec app{"c1", "web-1", "web"};
  app.container = "app";
  ContainerSpec sandbox{"s2", "web-2", "web", "shop", 0.001};
  sandbox.podLevelOnly = true;
  ContainerSpec leaving{"c4", "web-4", "web"};
  leaving.container = "app";
  auto batch = makeBatch(1, {app, sandbox, leaving});
  batch.mutable_containers(2)->mutable_metadata()->set_deletion_unix_ms(toUnixMillis(kT0));
  *batch.add_pending_pods() = pendingPod("web-2");
  *batch.add_pending_pods() = pendingPod("web-3");
  v1::ContainerMetadata unowned = pendingPod("debug");
  unowned.clear_workload();
  *batch.add_pending_pods() = unowned;
  DecodedBatch decoded;
  testing::decodeInto(batch, decoded);
  ASSERT_EQ(fleet.applyBatch(a, decoded.view, kT0).outcome, BatchOutcome::kAccepted);

  auto snapshot = fleet.snapshot(kT0);
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->pods.size(), 4u) << "web-2 once";
  const PodSample& running = web->pods[0];
  const PodSample& pulling = web->pods[1];
  const PodSample& waiting = web->pods[2];
  const PodSample& terminating = web->pods[3];
  EXPECT_EQ(running.pod, "web-1");
  EXPECT_FALSE(running.pending);
  EXPECT_EQ(pulling.pod, "web-2");
  EXPECT_TRUE(pulling.pending);
  EXPECT_EQ(pulling.containers, 1) << "its sandbox";
  EXPECT_DOUBLE_EQ(pulling.cpuRequestCores, 1.0) << "from the kubelet's spec";
  EXPECT_EQ(waiting.pod, "web-3");
  EXPECT_TRUE(waiting.pending);
  EXPECT_FALSE(waiting.ready);
  EXPECT_EQ(waiting.containers, 0);
  EXPECT_DOUBLE_EQ(waiting.cpuRequestCores, 1.0);
  EXPECT_EQ(terminating.pod, "web-4");
  EXPECT_TRUE(terminating.deleting);
  EXPECT_EQ(web->total.replicasSeen, 1);
  EXPECT_EQ(web->total.replicasPending, 2);
  EXPECT_EQ(web->total.replicasTerminating, 1);
  EXPECT_DOUBLE_EQ(web->total.cpuUsageCores, 0.5) << "only the running pod's figures";
  EXPECT_DOUBLE_EQ(web->total.cpuRequestCores, 1.0);
  EXPECT_DOUBLE_EQ(web->total.heldCpuRequestCores, 3.0) << "web-2, web-3 and web-4 hold room";

  // The next batch lists none: the pending pods are gone (scheduled elsewhere, or deleted).
  ASSERT_EQ(apply(fleet, a, 2, {app}, kT0 + std::chrono::seconds(1)).outcome,
            BatchOutcome::kAccepted);
  snapshot = fleet.snapshot(kT0 + std::chrono::seconds(1));
  web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->pods.size(), 1u);
  EXPECT_EQ(web->total.replicasPending, 0);
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

TEST(FleetStateTest, ProgressOfAnAgentSilentForTheRetentionIsDropped) {
  FleetState fleet;
  const auto session = fleet.agentConnected(identity("gone", "ip-10-0-1-23", "c1"));
  EXPECT_EQ(apply(fleet, session, 7, {{"x"}}, kT0).outcome, BatchOutcome::kAccepted);
  fleet.agentDisconnected(session);
  using std::chrono::hours;
  ASSERT_EQ(fleet.forgetSilentNodes(kT0 + hours(1), hours(0), hours(720)).size(), 1u);
  EXPECT_EQ(fleet.lastAcceptedSequence("gone"), 7u) << "kept while within the retention";
  fleet.forgetSilentNodes(kT0 + hours(721), hours(0), hours(720));
  EXPECT_EQ(fleet.lastAcceptedSequence("gone"), 0u) << "a churned node's agent is not kept forever";
}

// CronJob-style workloads: a new name per run. The names of containers long gone are forgotten,
// and a snapshot still names every live workload right when the forgotten ids are reused.
TEST(FleetStateTest, ForgetsWorkloadNamesNoContainerCarriesAndReusesTheirIds) {
  FleetState fleet;
  const auto session = fleet.agentConnected(identity("a1", "n1", "c1"));
  std::uint64_t sequence = 0;
  for (int run = 0; run < 1000; ++run) {
    const std::string job = "report-" + std::to_string(run);
    ASSERT_EQ(
        apply(fleet, session, ++sequence, {{"web-1", "web-1", "web"}, {job, job, job}}).outcome,
        BatchOutcome::kAccepted);
  }
  EXPECT_EQ(fleet.workloadNameCount(), 1001u);
  using std::chrono::minutes;
  EXPECT_EQ(fleet.forgetUnusedWorkloadNames(kT0, minutes(10)), 0u) << "just seen";
  ASSERT_EQ(apply(fleet, session, ++sequence, {{"web-1", "web-1", "web"}}).outcome,
            BatchOutcome::kAccepted);
  EXPECT_EQ(fleet.forgetUnusedWorkloadNames(kT0 + minutes(5), minutes(10)), 0u);
  EXPECT_EQ(fleet.forgetUnusedWorkloadNames(kT0 + minutes(11), minutes(10)), 1000u);
  EXPECT_EQ(fleet.workloadNameCount(), 1u) << "only the live workload";
  ASSERT_EQ(apply(fleet, session, ++sequence,
                  {{"web-1", "web-1", "web"}, {"next", "next", "report-1000"}}, kT0 + minutes(22))
                .outcome,
            BatchOutcome::kAccepted);
  const auto snapshot = fleet.snapshot(kT0 + minutes(22));
  ASSERT_EQ(snapshot.workloads.size(), 2u);
  EXPECT_EQ(snapshot.workloads[0].key.name, "report-1000");
  EXPECT_EQ(snapshot.workloads[1].key.name, "web");
  EXPECT_EQ(snapshot.workloads[1].pods.size(), 1u);
  EXPECT_EQ(fleet.workloadNameCount(), 2u);
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

// Issue 20: an agent without a spool took a new random id at each start, and every session's
// containers stayed in the fleet state: one flapping node counted its pods eleven times. The
// state is keyed by node now; each new agent of the node supersedes the previous one.
TEST(FleetStateTest, AFlappingNodeUnderManyAgentIdsCountsEachPodOnce) {
  FleetState fleet;
  const std::vector<ContainerSpec> pods = {{"x1", "web-1"}, {"x2", "web-2"}, {"x3", "web-3"}};
  for (int start = 0; start < 11; ++start) {
    const auto session = fleet.agentConnected(identity("n1-" + std::to_string(start), "n1", "c1"));
    EXPECT_EQ(session.restart, start > 0);
    ASSERT_EQ(apply(fleet, session, 1, pods, kT0 + std::chrono::seconds(start)).outcome,
              BatchOutcome::kAccepted);
  }
  const auto nodes = fleet.nodes(kT0 + std::chrono::seconds(10));
  ASSERT_EQ(nodes.size(), 1u) << "one node, one row";
  EXPECT_EQ(nodes[0].identity.agentId, "n1-10");
  EXPECT_EQ(nodes[0].agentRestarts, 10u);
  EXPECT_EQ(nodes[0].containers, 3u);
  const auto snapshot = fleet.snapshot(kT0 + std::chrono::seconds(10));
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->pods.size(), 3u);
  EXPECT_EQ(web->total.replicasSeen, 3);
  EXPECT_EQ(web->total.replicasReady, 3);
  EXPECT_EQ(web->total.replicasStale, 0);
  ASSERT_EQ(snapshot.clusters.size(), 1u);
  EXPECT_EQ(snapshot.clusters[0].nodes, 1);
}

TEST(FleetStateTest, ANewAgentSupersedesTheOldOneAndItsFirstBatchReplacesTheContainers) {
  FleetState fleet;
  const auto old = fleet.agentConnected(process("old", "n1", 1, 1000));
  ASSERT_EQ(apply(fleet, old, 1, {{"x"}, {"y"}}).outcome, BatchOutcome::kAccepted);
  const auto fresh = fleet.agentConnected(process("new", "n1", 2, 2000));
  EXPECT_TRUE(fresh.current);
  EXPECT_TRUE(fresh.restart);
  EXPECT_NE(fresh.superseded.find("old"), std::string::npos) << fresh.superseded;
  ASSERT_TRUE(fresh.nodeRecord.has_value());
  EXPECT_EQ(fresh.nodeRecord->agentId, "new");
  EXPECT_EQ(fresh.nodeRecord->agentRestarts, 1u);
  // The old agent drains: its batches count in its progress (and get acked), not in the node.
  const auto drained = apply(fleet, old, 2, {{"stale-container"}});
  EXPECT_EQ(drained.outcome, BatchOutcome::kSuperseded);
  EXPECT_EQ(drained.progress.lastSequence, 2u);
  EXPECT_EQ(apply(fleet, old, 2, {{"stale-container"}}).outcome, BatchOutcome::kDuplicate);
  EXPECT_EQ(fleet.containers({}, kT0).size(), 2u) << "untouched by the superseded agent";
  ASSERT_EQ(apply(fleet, fresh, 1, {{"z"}}).outcome, BatchOutcome::kAccepted);
  const auto containers = fleet.containers({}, kT0);
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].id, "z");
  const auto nodes = fleet.nodes(kT0);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].identity.agentId, "new");
  EXPECT_EQ(nodes[0].agents, 2u);
  EXPECT_EQ(nodes[0].identity.startedUnixMs, 2000);
}

TEST(FleetStateTest, AnOlderProcessNeverTakesTheNodeBack) {
  FleetState fleet;
  const auto newer = fleet.agentConnected(process("a2", "n1", 2, 2000));
  ASSERT_EQ(apply(fleet, newer, 1, {{"x"}}).outcome, BatchOutcome::kAccepted);
  const auto older = fleet.agentConnected(process("a1", "n1", 1, 1000));
  EXPECT_FALSE(older.current);
  EXPECT_FALSE(older.restart);
  EXPECT_FALSE(older.nodeRecord.has_value());
  EXPECT_EQ(apply(fleet, older, 1, {{"old"}}).outcome, BatchOutcome::kSuperseded);
  EXPECT_EQ(fleet.nodes(kT0)[0].identity.agentId, "a2");
  EXPECT_EQ(fleet.nodes(kT0)[0].agentRestarts, 0u);
  // The newer one reconnecting is the same process: no restart.
  const auto again = fleet.agentConnected(process("a2", "n1", 2, 2000));
  EXPECT_TRUE(again.current);
  EXPECT_FALSE(again.restart);
  EXPECT_EQ(again.lastSequence, 1u);
}

TEST(FleetStateTest, ANewEpochOfTheSameIdStartsAFreshSequenceSpace) {
  FleetState fleet;
  const auto first = fleet.agentConnected(process("c1/n1", "n1", 7, 1000));
  for (std::uint64_t sequence = 1; sequence <= 5; ++sequence) {
    ASSERT_EQ(apply(fleet, first, sequence, {{"x"}}).outcome, BatchOutcome::kAccepted);
  }
  // Restarted without a spool: same id, new epoch, numbering from 1 again.
  const auto second = fleet.agentConnected(process("c1/n1", "n1", 8, 5000));
  EXPECT_TRUE(second.newSequenceSpace);
  EXPECT_TRUE(second.restart);
  EXPECT_EQ(second.lastSequence, 0u);
  EXPECT_EQ(second.durableSequence, 0u);
  const auto result = apply(fleet, second, 1, {{"y"}});
  ASSERT_EQ(result.outcome, BatchOutcome::kAccepted) << "not a duplicate of the old sequence 1";
  EXPECT_EQ(result.progress.sequenceEpoch, 8u);
  EXPECT_EQ(result.progress.batchesAccepted, 6u) << "the count goes on over epochs";
  EXPECT_EQ(fleet.containers({}, kT0)[0].id, "y");
  // The old process's connection is from a space that no longer exists.
  EXPECT_EQ(apply(fleet, first, 6, {{"x"}}).outcome, BatchOutcome::kStale);
  // Durable progress of the old epoch does not count for the new one.
  fleet.markDurable("c1/n1", 7, 5);
  EXPECT_EQ(fleet.agentConnected(process("c1/n1", "n1", 8, 5000)).durableSequence, 0u);
  fleet.markDurable("c1/n1", 8, 1);
  EXPECT_EQ(fleet.agentConnected(process("c1/n1", "n1", 8, 5000)).durableSequence, 1u);
}

TEST(FleetStateTest, AnAgentTakingItsFirstEpochCarriesItsNumberingOn) {
  FleetState fleet;
  // Stored by an aggregator before epochs: an upgraded agent keeps its spool and its sequence.
  fleet.restoreProgress({AgentProgress{"spooled", "n1", "c1", 41, 41, 410, 0, 0}});
  const auto session = fleet.agentConnected(process("spooled", "n1", 99, 1000));
  EXPECT_FALSE(session.newSequenceSpace);
  EXPECT_EQ(session.lastSequence, 41u);
  EXPECT_EQ(apply(fleet, session, 41, {{"x"}}).outcome, BatchOutcome::kDuplicate);
  EXPECT_EQ(apply(fleet, session, 42, {{"x"}}).progress.sequenceEpoch, 99u);
}

// Issue 19: one batch with sequence 2^64-1 under a victim's id made every later batch of the
// victim a "duplicate" and, stored as a negative number, was acked while the store held 6.
TEST(FleetStateTest, ASequenceTheAgentCannotHaveProducedIsOutOfRangeAndChangesNothing) {
  FleetState fleet;
  const auto session = fleet.agentConnected(process("a1", "n1", 1, 1000, 10));
  ASSERT_EQ(apply(fleet, session, 6, {{"x"}}, kT0).outcome, BatchOutcome::kAccepted);
  const auto wrapped = apply(fleet, session, UINT64_MAX, {{"evil"}}, kT0);
  EXPECT_EQ(wrapped.outcome, BatchOutcome::kOutOfRange);
  EXPECT_NE(wrapped.error.find("2^63-1"), std::string::npos) << wrapped.error;
  // Queue of 10, no silence: at most 11 ahead.
  const auto jump = apply(fleet, session, 6 + 12, {{"evil"}}, kT0);
  EXPECT_EQ(jump.outcome, BatchOutcome::kOutOfRange);
  EXPECT_NE(jump.error.find("holds at most 10 unacked batches"), std::string::npos) << jump.error;
  EXPECT_EQ(fleet.lastAcceptedSequence("a1"), 6u);
  EXPECT_EQ(fleet.containers({}, kT0)[0].id, "x") << "nothing folded";
  // Silence explains more: one batch per 10 ms. After 2 s, 6 + 11 + 201 is within reach.
  EXPECT_EQ(apply(fleet, session, 6 + 11, {{"x"}}, kT0).outcome, BatchOutcome::kAccepted);
  EXPECT_EQ(apply(fleet, session, 17 + 11 + 201, {{"x"}}, kT0 + std::chrono::seconds(2)).outcome,
            BatchOutcome::kAccepted);
  // A fresh sequence space starts anywhere below 2^63.
  const auto other = fleet.agentConnected(process("a2", "n2", 1, 1000));
  EXPECT_EQ(apply(fleet, other, 1'000'000, {{"y"}}).outcome, BatchOutcome::kAccepted);
  EXPECT_EQ(apply(fleet, other, kMaxSequence + 1, {{"y"}}).outcome, BatchOutcome::kOutOfRange);
}

TEST(FleetStateTest, APodTwoNodesReportCountsOnceFromTheFreshestReport) {
  FleetState fleet;
  // The same pod (UID) reported under two node names: a node renamed, or two agents on a host.
  const auto a = fleet.agentConnected(identity("a1", "old-name", "c1"));
  const auto b = fleet.agentConnected(identity("a2", "new-name", "c1"));
  (void)apply(fleet, a, 1, {{"x", "web-1", "web", "shop", 0.9}}, kT0 - std::chrono::seconds(10));
  (void)apply(fleet, b, 1, {{"x", "web-1", "web", "shop", 0.3}}, kT0);
  const auto snapshot = fleet.snapshot(kT0);
  const auto* web = snapshot.find(WorkloadKey{"shop", "Deployment", "web"});
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->pods.size(), 1u);
  EXPECT_EQ(web->pods[0].node, "new-name");
  EXPECT_FALSE(web->pods[0].stale);
  EXPECT_EQ(web->total.replicasStale, 0) << "not also counted as a stale replica";
  EXPECT_DOUBLE_EQ(web->total.cpuUsageCores, 0.3);
  // Both fresh: the newer report.
  (void)apply(fleet, a, 2, {{"x", "web-1", "web", "shop", 0.9}}, kT0 + std::chrono::seconds(1));
  const auto later = fleet.snapshot(kT0 + std::chrono::seconds(1));
  ASSERT_EQ(later.find(WorkloadKey{"shop", "Deployment", "web"})->pods.size(), 1u);
  EXPECT_EQ(later.find(WorkloadKey{"shop", "Deployment", "web"})->pods[0].node, "old-name");
}

TEST(FleetStateTest, RestoredNodesKeepTheirAgentAndRestartCount) {
  FleetState fleet;
  fleet.restoreNodes({NodeRecord{"c1", "n1", "a2", 2, 2000, 3}});
  const auto older = fleet.agentConnected(process("a1", "n1", 1, 1000));
  EXPECT_FALSE(older.current) << "the restored current agent is newer";
  const auto same = fleet.agentConnected(process("a2", "n1", 2, 2000));
  EXPECT_TRUE(same.current);
  EXPECT_FALSE(same.restart);
  EXPECT_EQ(fleet.nodes(kT0)[0].agentRestarts, 3u);
  const auto newer = fleet.agentConnected(process("a3", "n1", 3, 3000));
  EXPECT_TRUE(newer.restart);
  EXPECT_EQ(newer.nodeRecord->agentRestarts, 4u);
}

TEST(FleetStateTest, SupersededAgentsGoneQuietAreForgottenWithTheirProgress) {
  FleetState fleet;
  const auto old = fleet.agentConnected(process("old", "n1", 1, 1000));
  ASSERT_EQ(apply(fleet, old, 5, {{"x"}}, kT0).outcome, BatchOutcome::kAccepted);
  fleet.agentDisconnected(old);
  const auto fresh = fleet.agentConnected(process("new", "n1", 2, 2000));
  ASSERT_EQ(apply(fleet, fresh, 1, {{"x"}}, kT0 + std::chrono::minutes(6)).outcome,
            BatchOutcome::kAccepted);
  EXPECT_TRUE(
      fleet.forgetSilentNodes(kT0 + std::chrono::minutes(6), std::chrono::minutes(5)).empty())
      << "the node is alive";
  const auto nodes = fleet.nodes(kT0 + std::chrono::minutes(6));
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].agents, 1u) << "the superseded agent is forgotten";
  EXPECT_EQ(nodes[0].agentRestarts, 1u);
  EXPECT_EQ(fleet.lastAcceptedSequence("old"), 5u) << "its progress is kept";
}

TEST(FleetStateTest, AnAgentIdMovingToAnotherNodeTakesItsProgress) {
  FleetState fleet;
  const auto first = fleet.agentConnected(identity("a1", "n1", "c1"));
  ASSERT_EQ(apply(fleet, first, 3, {{"x"}}).outcome, BatchOutcome::kAccepted);
  const auto moved = fleet.agentConnected(identity("a1", "n2", "c1"));
  EXPECT_EQ(moved.lastSequence, 3u);
  EXPECT_EQ(apply(fleet, first, 4, {{"x"}}).outcome, BatchOutcome::kStale)
      << "the old node no longer holds the id";
  EXPECT_EQ(apply(fleet, moved, 4, {{"y"}}).outcome, BatchOutcome::kAccepted);
  const auto nodes = fleet.nodes(kT0);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].agents, 0u) << "n1 has no agent left";
  EXPECT_EQ(nodes[1].identity.agentId, "a1");
}

}  // namespace
}  // namespace fleetscale::aggregator
