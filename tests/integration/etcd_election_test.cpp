// Leader election on a real etcd (Debian's etcd-server) started on loopback: the etcd backend
// against 1 and 3 members, and the elector's guarantees under member loss, a partition of the
// leader from etcd and an etcd that keeps flapping. Timings are shortened (lease 3 s) so the
// tests take seconds; the defaults scale them up by the same ratios.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "fleetscale/aggregator/election/etcd_lease.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/tcp_relay.h"
#include "fleetscale/testing/etcd.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::EtcdCluster;
using testing::waitFor;

const ElectionTiming kFast{seconds(3), milliseconds(2000), milliseconds(250)};

std::unique_ptr<EtcdLeaseBackend> backendFor(const std::string& endpoints,
                                             const std::string& identity) {
  EtcdElectionOptions options;
  for (auto endpoint : splitFields(endpoints, ",")) options.endpoints.emplace_back(endpoint);
  options.identity = identity;
  options.key = "/fleetscale/test-leader";
  options.leaseTtl = seconds(3);
  options.requestTimeout = milliseconds(500);
  return std::make_unique<EtcdLeaseBackend>(std::make_unique<CurlHttpClient>(), options);
}

// One aggregator's election: its backend and elector, renewing on their own thread.
struct Candidate {
  Candidate(const std::string& endpoints, const std::string& identity)
      : backend(backendFor(endpoints, identity)), elector(*backend, identity, kFast, clock) {}
  SystemClock clock;
  std::unique_ptr<EtcdLeaseBackend> backend;
  LeaderElector elector;
  bool leads() const { return elector.fencingToken().has_value(); }
};

// Starts `leader` first, then `standby`, and waits until the standby sees who leads.
::testing::AssertionResult leaderAndStandby(Candidate& leader, Candidate& standby) {
  leader.elector.start();
  if (!waitFor([&] { return leader.leads(); }, seconds(10))) {
    return ::testing::AssertionFailure() << "no leader: " << leader.elector.status().lastError;
  }
  standby.elector.start();
  if (!waitFor([&] { return standby.elector.status().leader == leader.elector.status().identity; },
               seconds(5))) {
    return ::testing::AssertionFailure() << "the standby does not see the leader";
  }
  return ::testing::AssertionSuccess();
}

TEST(EtcdElectionTest, OneHolderAtATimeAndTheTermGrowsWithEveryNewLeader) {
  EtcdCluster etcd(1);
  auto a = backendFor(etcd.endpoints(), "aggregator-a");
  auto b = backendFor(etcd.endpoints(), "aggregator-b");
  auto first = a->tryAcquireOrRenew();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->held);
  EXPECT_GT(first->term, 0u);
  auto other = b->tryAcquireOrRenew();
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_FALSE(other->held);
  EXPECT_EQ(other->holder, "aggregator-a");
  EXPECT_EQ(other->term, first->term);
  auto renewed = a->tryAcquireOrRenew();
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  EXPECT_TRUE(renewed->held);
  EXPECT_EQ(renewed->term, first->term) << "renewing keeps the term";

  a->release();  // graceful shutdown: the key goes with the lease, no wait for the TTL
  auto next = b->tryAcquireOrRenew();
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_TRUE(next->held);
  EXPECT_GT(next->term, first->term);
  auto former = a->tryAcquireOrRenew();
  ASSERT_TRUE(former.ok());
  EXPECT_FALSE(former->held);
  EXPECT_EQ(former->holder, "aggregator-b");
}

TEST(EtcdElectionTest, ASilentLeadersLeaseExpiresAndTheStandbyTakesOver) {
  EtcdCluster etcd(1);
  auto a = backendFor(etcd.endpoints(), "aggregator-a");
  auto b = backendFor(etcd.endpoints(), "aggregator-b");
  auto first = a->tryAcquireOrRenew();
  ASSERT_TRUE(first.ok() && first->held);
  const auto silentSince = std::chrono::steady_clock::now();
  std::uint64_t term = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        auto round = b->tryAcquireOrRenew();
        if (round && round->held) term = round->term;
        return round && round->held;
      },
      seconds(10), milliseconds(100)));
  const auto waited = std::chrono::steady_clock::now() - silentSince;
  EXPECT_GE(waited, milliseconds(2500)) << "not before the 3 s lease could expire";
  EXPECT_GT(term, first->term);
  auto stale = a->tryAcquireOrRenew();
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->held) << "the old leader learns its lease is gone";
  EXPECT_EQ(stale->holder, "aggregator-b");
}

TEST(EtcdElectionTest, LosingAnEtcdMemberDoesNotInterruptLeadership) {
  EtcdCluster etcd(3);
  Candidate a(etcd.endpoints(), "aggregator-a");
  Candidate b(etcd.endpoints(), "aggregator-b");
  ASSERT_TRUE(leaderAndStandby(a, b));
  const auto term = *a.elector.fencingToken();

  // The hardest member to lose: the raft leader (etcd elects another and keeps the leases).
  const int raftLeader = etcd.raftLeader();
  ASSERT_GE(raftLeader, 0);
  etcd.kill(raftLeader);
  // Leadership holds through the loss: checked for longer than the lease.
  const auto until = std::chrono::steady_clock::now() + seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(a.elector.fencingToken(), term);
    ASSERT_FALSE(b.leads());
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(a.elector.status().stepDowns, 0u);
  EXPECT_EQ(b.elector.status().acquisitions, 0u);
  b.elector.stop(true);
  a.elector.stop(true);
}

TEST(EtcdElectionTest, ALeaderCutOffFromEtcdStepsDownBeforeItsLeaseExpires) {
  EtcdCluster etcd(1);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread ioThread([&io] { io.run(); });
  sim::TcpRelay relay(io, HostPort{"127.0.0.1", etcd.clientPort(0)});
  relay.start();
  Candidate a("http://127.0.0.1:" + std::to_string(relay.port()), "aggregator-a");
  Candidate b(etcd.endpoints(), "aggregator-b");
  ASSERT_TRUE(leaderAndStandby(a, b));

  relay.setBlocked(true);  // a partition: a's requests hang, nothing fails fast
  const auto cut = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> aStopped, bStarted;
  ASSERT_TRUE(waitFor(
      [&] {
        const auto now = std::chrono::steady_clock::now();
        if (!aStopped && !a.leads()) aStopped = now;
        if (!bStarted && b.leads()) bStarted = now;
        return aStopped && bStarted;
      },
      seconds(15), milliseconds(10)));
  EXPECT_LT(*aStopped, *bStarted) << "never two leaders";
  EXPECT_LE(*aStopped - cut, milliseconds(2100)) << "within the 2 s renew deadline";
  EXPECT_LT(*bStarted - cut, seconds(3) + milliseconds(1500)) << "lease 3 s + a retry or two";

  relay.setBlocked(false);
  ASSERT_TRUE(waitFor([&] { return a.elector.status().leader == "aggregator-b"; }, seconds(5)));
  EXPECT_FALSE(a.leads()) << "the healed former leader stays standby";
  b.elector.stop(true);
  a.elector.stop(true);
  relay.stop();
  work.reset();
  io.stop();
  ioThread.join();
}

TEST(EtcdElectionTest, AFlappingEtcdCausesNoLeadershipPingPong) {
  EtcdCluster etcd(1);
  Candidate a(etcd.endpoints(), "aggregator-a");
  Candidate b(etcd.endpoints(), "aggregator-b");
  ASSERT_TRUE(leaderAndStandby(a, b));
  const auto term = *a.elector.fencingToken();
  // etcd hangs for 1 s out of every 1.5 s, five times: shorter than the renew deadline each time.
  for (int flap = 0; flap < 5; ++flap) {
    etcd.pause(0);
    std::this_thread::sleep_for(milliseconds(1000));
    etcd.resume(0);
    ASSERT_TRUE(
        waitFor([&] { return a.elector.status().sinceRenew < milliseconds(400); }, seconds(2)))
        << "renewed after the flap";
    EXPECT_EQ(a.elector.fencingToken(), term) << "flap " << flap;
  }
  EXPECT_EQ(a.elector.status().acquisitions, 1u);
  EXPECT_EQ(a.elector.status().stepDowns, 0u);
  EXPECT_EQ(b.elector.status().acquisitions, 0u);
  EXPECT_GT(a.elector.status().errors, 0u) << "the flaps were felt";
  b.elector.stop(true);
  a.elector.stop(true);
}

}  // namespace
}  // namespace fleetscale::aggregator
