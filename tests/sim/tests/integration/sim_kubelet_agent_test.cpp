// The fake kubelet's PodList read by the agent's own kubelet client and parser: run the real
// fleetscale-agent --once with the kubelet flags against a simulated node.
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using namespace testsupport;

bool agentReadsKubelet() {
  const auto help = testing::runCommand(testing::binaryPath("fleetscale-agent"), {"--help"});
  return help.output.find("--kubelet-url") != std::string::npos;
}

TEST(SimKubeletAgentTest, TheAgentParsesTheFakeKubeletsPods) {
  if (!agentReadsKubelet()) {
    GTEST_SKIP() << "fleetscale-agent has no --kubelet-url yet (kubelet metadata, issue 3)";
  }
  Scenario scenario;
  scenario.name = "kubelet-agent";
  scenario.clusters = {cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2)};
  scenario.workloads = {workload("checkout", {{"aws-us-east-1", 2}}, 1)};
  SystemClock clock;
  testing::TempDir state("sim-kubelet-agent");
  FleetSimulator simulator(scenario, options(state.path()), clock);
  ASSERT_TRUE(simulator.start());
  const ClusterEndpoints& c = simulator.endpoints()[0];
  const auto result =
      testing::runCommand(testing::binaryPath("fleetscale-agent"),
                          {"--once", "--host-root", c.nodes[0].hostRoot, "--node", c.nodes[0].name,
                           "--kubelet-url", c.nodes[0].kubeletUrl, "--kubelet-token-file",
                           c.tokenFiles.at("agent"), "--kubelet-ca-file", c.caFile});
  ASSERT_EQ(result.status, 0) << result.errors;
  // Every pod the kubelet listed shows up in the agent's report by name and namespace.
  std::lock_guard lock(simulator.fleet().mutex);
  for (const auto& pod : simulator.fleet().model.clusters()[0].pods()) {
    if (pod.isSystem()) continue;
    EXPECT_NE(result.output.find(pod.name), std::string::npos) << pod.name << "\n" << result.output;
    EXPECT_NE(result.output.find(pod.ownerName), std::string::npos) << pod.ownerName;
  }
  EXPECT_NE(result.output.find("\"shop\""), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::sim
