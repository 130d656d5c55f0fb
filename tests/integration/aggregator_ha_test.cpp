// Two real fleetscale-aggregator processes electing a leader on a real etcd: exactly one leads,
// /readyz, /metrics, /api/v1/status and `fleetscalectl status` say who; a SIGKILLed leader is
// replaced within the lease + 2 s; a leader shut down gracefully hands over at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fleetscale/testing/etcd.h"
#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class AggregatorHaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = std::make_unique<testing::EtcdCluster>(1);
    for (int i = 0; i < 2; ++i) start(i);
  }

  static std::string id(int i) { return "aggregator-" + std::to_string(i); }

  void start(int i) {
    aggregators_[i].reset();
    const std::string ready = dir_.file("ready-" + std::to_string(i) + ".json");
    std::remove(ready.c_str());
    aggregators_[i] = std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-aggregator"),
        std::vector<std::string>{"--listen",
                                 "127.0.0.1:0",
                                 "--http-listen",
                                 "127.0.0.1:0",
                                 "--http-anonymous-reads",
                                 "--state-dir",
                                 dir_.file("state-" + std::to_string(i)),
                                 "--ready-file",
                                 ready,
                                 "--threads",
                                 "1",
                                 "--aggregator-id",
                                 id(i),
                                 "--leader-election",
                                 "etcd",
                                 "--etcd-endpoints",
                                 etcd_->endpoints(),
                                 "--lease-duration",
                                 "3s",
                                 "--renew-deadline",
                                 "2s",
                                 "--retry-period",
                                 "250ms",
                                 "--scale-request-timeout",
                                 "1s"});
    const auto ports = testing::waitForReadyFile(ready);
    ASSERT_NE(ports.http, 0) << aggregators_[i]->errors();
    urls_[i] = "http://127.0.0.1:" + std::to_string(ports.http);
  }

  json readyz(int i, const std::string& query = "") {
    return testing::httpGetJson(urls_[i] + "/readyz" + query);
  }
  bool leads(int i) { return readyz(i).value("role", "") == "leader"; }
  // The index of the aggregator that leads, once exactly one does and the other knows it.
  int waitForOneLeader(seconds timeout) {
    int leader = -1;
    testing::waitFor(
        [&] {
          const json a = readyz(0), b = readyz(1);
          const bool aLeads = a.value("role", "") == "leader";
          const bool bLeads = b.value("role", "") == "leader";
          if (aLeads == bLeads) return false;
          leader = aLeads ? 0 : 1;
          return (aLeads ? b : a).value("leader", "") == id(leader);
        },
        timeout, milliseconds(50));
    return leader;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::EtcdCluster> etcd_;
  std::array<std::unique_ptr<testing::Process>, 2> aggregators_;
  std::array<std::string, 2> urls_;
};

TEST_F(AggregatorHaTest, ExactlyOneLeadsAndEveryViewSaysWhich) {
  const int leader = waitForOneLeader(seconds(10));
  ASSERT_GE(leader, 0) << aggregators_[0]->errors() << aggregators_[1]->errors();
  const int standby = 1 - leader;
  const json lead = readyz(leader);
  EXPECT_TRUE(lead["ready"].get<bool>());
  EXPECT_GT(lead["term"].get<std::uint64_t>(), 0u);
  EXPECT_LT(lead["lastRenewAgeSeconds"].get<double>(), 1.0);
  EXPECT_EQ(readyz(standby)["term"], lead["term"]);
  // A Service that must reach the acting aggregator selects it with ?role=leader.
  EXPECT_EQ(testing::httpGet(urls_[leader] + "/readyz?role=leader").status, 200);
  EXPECT_EQ(testing::httpGet(urls_[standby] + "/readyz?role=leader").status, 503);
  EXPECT_EQ(testing::httpGet(urls_[standby] + "/readyz").status, 200) << "a standby serves";

  const std::string leaderSeries =
      "fleetscale_aggregator_leader{aggregator=\"" + id(leader) + "\"}";
  const std::string standbySeries =
      "fleetscale_aggregator_leader{aggregator=\"" + id(standby) + "\"}";
  EXPECT_EQ(testing::scrape(urls_[leader] + "/metrics", leaderSeries), 1.0);
  EXPECT_EQ(testing::scrape(urls_[standby] + "/metrics", standbySeries), 0.0);
  EXPECT_EQ(
      testing::scrape(urls_[standby] + "/metrics",
                      "fleetscale_aggregator_leader_term{aggregator=\"" + id(standby) + "\"}"),
      lead["term"].get<double>());

  const auto ctl = testing::runCommand(testing::binaryPath("fleetscalectl"),
                                       {"--server", urls_[standby], "status"}, seconds(20));
  ASSERT_EQ(ctl.status, 0) << ctl.errors;
  EXPECT_NE(ctl.output.find("Aggregator role: standby"), std::string::npos) << ctl.output;
  EXPECT_NE(ctl.output.find("Leader: " + id(leader) + ", term " + lead["term"].dump()),
            std::string::npos)
      << ctl.output;
}

TEST_F(AggregatorHaTest, AWriteThatCouldOutliveTheLeaseIsAStartupError) {
  const auto result = testing::runCommand(
      testing::binaryPath("fleetscale-aggregator"),
      {"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--leader-election", "etcd",
       "--etcd-endpoints", etcd_->endpoints(), "--lease-duration", "5s", "--renew-deadline", "3s",
       "--scale-request-timeout", "5s"},
      seconds(20));
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.errors.find("must be shorter than --lease-duration"), std::string::npos)
      << result.errors;
}

TEST_F(AggregatorHaTest, ASigkilledLeaderIsReplacedWithinTheLeasePlusTwoSeconds) {
  const int leader = waitForOneLeader(seconds(10));
  ASSERT_GE(leader, 0);
  const int standby = 1 - leader;
  const auto oldTerm = readyz(leader)["term"].get<std::uint64_t>();
  const auto killed = std::chrono::steady_clock::now();
  aggregators_[leader]->stop(SIGKILL);
  ASSERT_TRUE(testing::waitFor([&] { return leads(standby); }, seconds(10), milliseconds(20)));
  const auto takeover = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(takeover, seconds(3 + 2)) << "lease 3 s + 2 s";
  EXPECT_GT(readyz(standby)["term"].get<std::uint64_t>(), oldTerm);
  // The change of role is an event in the new leader's store (committed within 100 ms).
  json events;
  ASSERT_TRUE(testing::waitFor(
      [&] {
        events = testing::httpGetJson(urls_[standby] + "/api/v1/events?kind=leadership");
        return events.contains("items") && !events["items"].empty();
      },
      seconds(5)))
      << events.dump();
  EXPECT_NE(events["items"][0]["message"].get<std::string>().find(id(standby) + " is now leader"),
            std::string::npos)
      << events.dump();

  start(leader);  // back as standby: the lease is taken
  ASSERT_TRUE(testing::waitFor([&] { return readyz(leader).value("leader", "") == id(standby); },
                               seconds(5)));
  EXPECT_FALSE(leads(leader));
}

TEST_F(AggregatorHaTest, AGracefulShutdownHandsOverWithoutWaitingForTheLease) {
  const int leader = waitForOneLeader(seconds(10));
  ASSERT_GE(leader, 0);
  const int standby = 1 - leader;
  const auto stopping = std::chrono::steady_clock::now();
  ASSERT_EQ(aggregators_[leader]->stop(SIGTERM), 0);
  ASSERT_TRUE(testing::waitFor([&] { return leads(standby); }, seconds(10), milliseconds(20)));
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, milliseconds(2500))
      << "released at shutdown: a retry period, not the 3 s lease";
}

}  // namespace
}  // namespace fleetscale
