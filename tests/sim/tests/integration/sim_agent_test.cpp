// The real fleetscale-agent, run with --once against simulated nodes of every cgroup setup,
// reports the CPU and memory the load model put in each container.
#include <gtest/gtest.h>

#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using namespace testsupport;

TEST(SimAgentTest, OnceReportsTheCpuTheLoadModelPutThere) {
  Scenario scenario;
  scenario.name = "agent-once";
  scenario.tickSeconds = 0.01;  // counters within 10 ms of real time
  scenario.clusters = {cluster("systemd-v2", "aws", CgroupDriver::kSystemd, 2),
                       cluster("cgroupfs-v2", "onprem", CgroupDriver::kCgroupfs, 2),
                       cluster("systemd-v1", "gcp", CgroupDriver::kSystemd, 1),
                       cluster("cgroupfs-v1", "azure", CgroupDriver::kCgroupfs, 1)};
  std::map<std::string, int> two, one;
  for (const auto& c : scenario.clusters) {
    two[c.name] = 2;
    one[c.name] = 1;
  }
  // 8 replicas share 4.8 cores (0.6 each); "hot" wants 2 cores a replica but is capped at 1.
  scenario.workloads = {workload("web", two, 4.8), workload("hot", one, 8)};
  SystemClock clock;
  testing::TempDir state("sim-agent");
  FleetSimulator simulator(scenario, options(state.path()), clock);
  ASSERT_TRUE(simulator.start());

  std::vector<std::unique_ptr<testing::Process>> agents;
  for (const auto& c : simulator.endpoints()) {
    agents.push_back(std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-agent"),
        std::vector<std::string>{"--once", "--interval", "2s", "--host-root", c.nodes[0].hostRoot,
                                 "--node", c.nodes[0].name}));
  }
  for (std::size_t i = 0; i < agents.size(); ++i) {
    const ClusterEndpoints& c = simulator.endpoints()[i];
    SCOPED_TRACE(c.name);
    ASSERT_EQ(agents[i]->wait(std::chrono::seconds(20)), 0) << agents[i]->errors();
    const json report = json::parse(agents[i]->output(), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << agents[i]->output();
    EXPECT_EQ(report["node_cpu_capacity_cores"], 4);

    std::lock_guard lock(simulator.fleet().mutex);
    const ClusterModel* model = simulator.fleet().model.findCluster(c.name);
    int checked = 0;
    double containerCores = 0;
    for (const auto& container : report["containers"]) {
      if (container["cpu_cores"].is_number())
        containerCores += container["cpu_cores"].get<double>();
    }
    for (const auto& pod : model->pods()) {
      if (pod.isSystem()) continue;
      const auto it =
          std::find_if(report["containers"].begin(), report["containers"].end(),
                       [&](const json& entry) { return entry["id"] == pod.containerId; });
      ASSERT_NE(it, report["containers"].end()) << pod.name << " not reported";
      const double expected = pod.workload == "web" ? 0.6 : 1.0;
      ASSERT_TRUE((*it)["cpu_cores"].is_number());
      EXPECT_NEAR((*it)["cpu_cores"].get<double>(), expected, 0.05 * expected) << pod.name;
      EXPECT_DOUBLE_EQ((*it)["cpu_limit_cores"].get<double>(), 1.0);
      EXPECT_EQ((*it)["memory_limit_bytes"], 512u * 1024 * 1024);
      EXPECT_NEAR((*it)["memory_working_set_bytes"].get<double>(), pod.counters.memoryBytes, 4096);
      EXPECT_EQ((*it)["pod_uid"], pod.uid);
      ++checked;
    }
    EXPECT_EQ(checked, 3);
    // The node's own CPU: its containers plus the node's daemons.
    EXPECT_NEAR(report["node_cpu_usage_cores"].get<double>(), containerCores + kNodeOverheadCores,
                0.1 * (containerCores + kNodeOverheadCores));
  }
  simulator.stop();
}

}  // namespace
}  // namespace fleetscale::sim
