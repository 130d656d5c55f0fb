// agents.auth: cluster-tokens (issue 16): each cluster's agents carry a token of their own and
// the real aggregator checks it against the cluster they name (--agent-tokens-dir).
#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using namespace testsupport;

TEST(SimAgentAuthTest, WithClusterTokensEveryClustersAgentsGetIn) {
  testing::TempDir state("sim-agent-auth");
  Scenario scenario;
  scenario.name = "cluster-tokens";
  scenario.agents.interval = "500ms";
  scenario.agents.clusterTokens = true;
  scenario.clusters = {cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2),
                       cluster("gcp-europe-west1", "gcp", CgroupDriver::kCgroupfs, 1)};
  SystemClock clock;
  FleetSimulator simulator(scenario, options(state.path(), true, true), clock);
  ASSERT_TRUE(simulator.start());
  for (const auto& c : scenario.clusters) {
    EXPECT_TRUE(std::filesystem::exists(simulator.stateDir() + "/agent-tokens/" + c.name))
        << c.name;
  }
  EXPECT_TRUE(testing::waitFor(
      [&] {
        return newestSeen(simulator, "aws-us-east-1") > 0 &&
               newestSeen(simulator, "gcp-europe-west1") > 0;
      },
      std::chrono::seconds(20)))
      << "each cluster's agents are let in with their own token";
  simulator.stop();
}

}  // namespace
}  // namespace fleetscale::sim
