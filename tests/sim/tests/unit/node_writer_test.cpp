#include "fleetscale/sim/node_writer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/cgroup_reader.h"
#include "fleetscale/agent/container_discovery.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/fleet_model.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::sim {
namespace {

using std::chrono::seconds;

Scenario oneNode(CgroupDriver driver, int version, int replicas) {
  Scenario scenario;
  ClusterSpec cluster;
  cluster.name = "c";
  cluster.nodes = 1;
  cluster.driver = driver;
  cluster.cgroupVersion = version;
  cluster.schedulingDelaySeconds = 0;
  cluster.readinessDelaySeconds = 0;
  scenario.clusters.push_back(cluster);
  WorkloadSpec w;
  w.name = "web";
  w.replicas = {{"c", replicas}};
  w.resources = {0.5, 1.5, 128.0 * 1024 * 1024, 256.0 * 1024 * 1024};
  w.cpu = LoadCurve::constant(1.0 * replicas);
  w.memory = LoadCurve::constant(100.0 * 1024 * 1024 * replicas);
  scenario.workloads.push_back(w);
  return scenario;
}

struct Case {
  CgroupDriver driver;
  int version;
};

class NodeWriterTest : public ::testing::TestWithParam<Case> {};

// The trees read back through the agent's own layout detection, discovery and readers.
TEST_P(NodeWriterTest, TheAgentFindsAndReadsEveryContainer) {
  const Case c = GetParam();
  testing::TempDir dir("node-writer");
  FleetModel fleet(oneNode(c.driver, c.version, 2), WallTime{});
  fleet.step(SimTime{0});
  fleet.step(seconds(3));
  ClusterModel& cluster = fleet.clusters()[0];
  const NodeState& node = cluster.nodes()[0];
  NodeWriter writer(dir.path() + "/host", c.driver, c.version, WallTime{});
  ASSERT_TRUE(writer.initialize(snapshotNode(cluster, node, seconds(3))));

  auto layout = agent::detectLayout(dir.path() + "/host/proc/1/mountinfo", writer.cgroupRoot(),
                                    dir.path() + "/host");
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->version,
            c.version == 2 ? agent::CgroupVersion::kV2 : agent::CgroupVersion::kV1);
  const auto found = agent::discoverContainers(layout->discoveryRoot(), {});
  // Two web pods and kube-proxy, each with its pause container.
  ASSERT_EQ(found.size(), 6u);
  auto reader = agent::makeCgroupReader(*layout);
  int checked = 0;
  for (const auto& pod : cluster.pods()) {
    const auto it = std::find_if(found.begin(), found.end(), [&](const agent::ContainerCgroup& f) {
      return f.id == pod.containerId;
    });
    ASSERT_NE(it, found.end()) << pod.name;
    EXPECT_EQ(it->podUid, pod.uid);
    EXPECT_EQ(it->cgroup, writer.cgroupOf(pod.containerId));
    auto stats = agent::readCgroupOnce(*reader, it->cgroup);
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_NEAR(static_cast<double>(stats->counters.cpuUsageNs), pod.counters.cpuNs, 1000);
    if (pod.isSystem()) continue;
    ++checked;
    EXPECT_EQ(it->qosClass, "Burstable");  // as the pod status spells it
    EXPECT_NEAR(static_cast<double>(stats->workingSetBytes()), pod.counters.memoryBytes, 4096);
    ASSERT_TRUE(stats->limits.cpuLimitCores);
    EXPECT_DOUBLE_EQ(*stats->limits.cpuLimitCores, 1.5);
    ASSERT_TRUE(stats->limits.memoryLimitBytes);
    EXPECT_EQ(*stats->limits.memoryLimitBytes, 256u * 1024 * 1024);
    EXPECT_NEAR(static_cast<double>(stats->counters.cpuUsageNs), 3e9, 1000);  // 1 core for 3 s
  }
  EXPECT_EQ(checked, 2);
}

TEST_P(NodeWriterTest, CountersAdvanceAndStoppedPodsLoseTheirCgroups) {
  const Case c = GetParam();
  testing::TempDir dir("node-writer");
  FleetModel fleet(oneNode(c.driver, c.version, 2), WallTime{});
  fleet.step(SimTime{0});
  ClusterModel& cluster = fleet.clusters()[0];
  NodeWriter writer(dir.path() + "/host", c.driver, c.version, WallTime{});
  ASSERT_TRUE(writer.initialize(snapshotNode(cluster, cluster.nodes()[0], SimTime{0})));
  const std::string first = cluster.pods().back().containerId;
  const std::string firstPath = writer.cgroupOf(first);
  ASSERT_FALSE(firstPath.empty());

  ASSERT_TRUE(
      cluster.setReplicas(WorkloadKind::kDeployment, "default", "web", 3, "", seconds(1)).ok());
  fleet.step(seconds(1));
  fleet.step(seconds(2));
  ASSERT_TRUE(writer.sync(snapshotNode(cluster, cluster.nodes()[0], seconds(2))));
  auto layout = agent::probeLayout(writer.cgroupRoot());
  ASSERT_TRUE(layout);
  EXPECT_EQ(agent::discoverContainers(layout->discoveryRoot(), {}).size(), 8u);

  ASSERT_TRUE(
      cluster.setReplicas(WorkloadKind::kDeployment, "default", "web", 1, "", seconds(3)).ok());
  fleet.step(seconds(3));
  ASSERT_TRUE(writer.sync(snapshotNode(cluster, cluster.nodes()[0], seconds(3))));
  EXPECT_EQ(agent::discoverContainers(layout->discoveryRoot(), {}).size(), 4u);
  std::set<std::string> remaining;
  for (const auto& pod : cluster.pods()) remaining.insert(pod.containerId);
  if (!remaining.count(first)) {
    EXPECT_FALSE(std::filesystem::exists(layout->discoveryRoot() + firstPath));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Drivers, NodeWriterTest,
    ::testing::Values(Case{CgroupDriver::kSystemd, 2}, Case{CgroupDriver::kCgroupfs, 2},
                      Case{CgroupDriver::kSystemd, 1}, Case{CgroupDriver::kCgroupfs, 1}),
    [](const ::testing::TestParamInfo<Case>& param) {
      return std::string(toString(param.param.driver)) + "V" + std::to_string(param.param.version);
    });

TEST(WriteFileAtomicTest, ReplacesTheWholeFileAndReportsErrors) {
  testing::TempDir dir("atomic");
  ASSERT_TRUE(writeFileAtomic(dir.file("f"), "first\n"));
  ASSERT_TRUE(writeFileAtomic(dir.file("f"), "2\n"));
  auto text = readFile(dir.file("f"));
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "2\n");
  Status missing = writeFileAtomic(dir.file("no/such/dir/f"), "x");
  EXPECT_FALSE(missing);
  EXPECT_NE(missing.message().find("no/such/dir"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::sim
