// Several aggregators on one simulated fleet (aggregator.instances): each its own process, id,
// ports and state directory; one can be killed with SIGKILL and started again on its ports; and
// a cluster's relays to all of them are cut together.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>

#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using namespace testsupport;
namespace asio = boost::asio;
using asio::ip::tcp;

int aggregatorStatus(const FleetSimulator& simulator, int instance) {
  CurlHttpClient client;
  HttpClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(simulator.aggregatorPorts(instance)->second) +
                "/api/v1/nodes";
  request.totalTimeout = std::chrono::seconds(3);
  auto response = client.send(request);
  return response ? response->status : 0;
}

Scenario oneCluster() {
  Scenario scenario;
  scenario.name = "ha";
  scenario.clusters.push_back(cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2));
  return scenario;
}

TEST(SimHaTest, TwoAggregatorsRunAndOneIsKilledAndStartedAgain) {
  testing::TempDir state("sim-ha");
  Scenario scenario = oneCluster();
  scenario.aggregator.instances = 2;
  scenario.aggregator.extraArgs = {"--state-dir", "{state}/stores/{id}"};
  SystemClock clock;
  FleetSimulator simulator(scenario, options(state.path(), false, true), clock);
  ASSERT_TRUE(simulator.start());

  ASSERT_EQ(simulator.aggregatorCount(), 2);
  EXPECT_NE(simulator.aggregatorPorts(0), simulator.aggregatorPorts(1));
  EXPECT_EQ(simulator.aggregatorPorts(), simulator.aggregatorPorts(0));
  EXPECT_EQ(aggregatorStatus(simulator, 0), 200);
  EXPECT_EQ(aggregatorStatus(simulator, 1), 200);
  const json endpoints = simulator.endpointsJson();
  ASSERT_EQ(endpoints["aggregators"].size(), 2u);
  EXPECT_EQ(endpoints["aggregator"], endpoints["aggregators"][0]);
  for (int i = 0; i < 2; ++i) {
    const std::string id = "aggregator-" + std::to_string(i);
    EXPECT_EQ(endpoints["aggregators"][i]["id"], id);
    // Its own store, from the expanded {state}/stores/{id}.
    EXPECT_TRUE(std::filesystem::exists(simulator.stateDir() + "/stores/" + id)) << id;
  }
  EXPECT_EQ(simulator.findEndpoints("aws-us-east-1")->relayPorts.size(), 2u);

  ASSERT_TRUE(simulator.killAggregator(1));
  EXPECT_EQ(aggregatorStatus(simulator, 1), 0);  // dead on return: the port refuses
  EXPECT_EQ(aggregatorStatus(simulator, 0), 200);
  EXPECT_FALSE(simulator.killAggregator(2));

  const auto ports = simulator.aggregatorPorts(1);
  ASSERT_TRUE(simulator.startAggregator(1));
  EXPECT_EQ(simulator.aggregatorPorts(1), ports);
  EXPECT_EQ(aggregatorStatus(simulator, 1), 200);
  EXPECT_FALSE(simulator.startAggregator(1));  // already running

  ASSERT_TRUE(simulator.restartAggregator());  // instance 0, as before
  EXPECT_EQ(aggregatorStatus(simulator, 0), 200);
  simulator.stop();
}

// Two stand-in aggregators (plain TCP servers) given as external addresses: the cluster's agents
// would reach both through its relays, and partition-agents cuts both.
TEST(SimHaTest, PartitionedAgentsAreCutFromEveryAggregator) {
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::acceptor>> listeners;
  std::string addresses;
  for (int i = 0; i < 2; ++i) {
    listeners.push_back(
        std::make_unique<tcp::acceptor>(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)));
    addresses += (i ? "," : "") + std::string("127.0.0.1:") +
                 std::to_string(listeners.back()->local_endpoint().port());
  }
  testing::TempDir state("sim-ha-relays");
  SimulatorOptions simOptions = options(state.path());
  simOptions.externalAggregator = addresses;
  SystemClock clock;
  FleetSimulator simulator(oneCluster(), simOptions, clock);
  ASSERT_TRUE(simulator.start());
  const ClusterEndpoints* aws = simulator.findEndpoints("aws-us-east-1");
  ASSERT_EQ(aws->relayPorts.size(), 2u);

  std::vector<tcp::socket> agents, aggregators;
  for (int i = 0; i < 2; ++i) {
    agents.emplace_back(io).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), aws->relayPorts[i]));
    aggregators.emplace_back(io);
    listeners[i]->accept(aggregators.back());  // the relay dials its aggregator
    asio::write(agents[i], asio::buffer(std::string("a")));
    char byte = 0;
    asio::read(aggregators[i], asio::buffer(&byte, 1));
    EXPECT_EQ(byte, 'a');
  }

  FaultSpec partition;
  partition.kind = FaultKind::kPartitionAgents;
  partition.cluster = "aws-us-east-1";
  ASSERT_TRUE(simulator.inject(partition));
  for (int i = 0; i < 2; ++i) {
    asio::write(agents[i], asio::buffer(std::string("b")));
    aggregators[i].non_blocking(true);
  }
  char byte = 0;
  boost::system::error_code ec;
  EXPECT_FALSE(testing::waitFor(
      [&] {
        for (auto& aggregator : aggregators) {
          aggregator.read_some(asio::buffer(&byte, 1), ec);
          if (ec != asio::error::would_block) return true;
        }
        return false;
      },
      std::chrono::milliseconds(300)))
      << "a byte crossed a cut relay";

  FaultSpec heal;
  heal.kind = FaultKind::kHeal;
  heal.cluster = "aws-us-east-1";
  ASSERT_TRUE(simulator.inject(heal));
  for (auto& aggregator : aggregators) {
    aggregator.non_blocking(false);
    asio::read(aggregator, asio::buffer(&byte, 1));
    EXPECT_EQ(byte, 'b');
  }
  simulator.stop();
}

}  // namespace
}  // namespace fleetscale::sim
