// Leader election on a Kubernetes Lease, against the simulated fleet's real HTTPS API server with
// the aggregator's own (controller) credentials: one holder at a time, client-go's expiry on the
// candidate's own clock, release, RBAC errors that say what is missing, and a leader that loses
// the API server stopping at its renew deadline.
#include "fleetscale/aggregator/election/kubernetes_lease.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/kube/kubeconfig.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/simulated_api_server.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kScenario = R"(
name: lease
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, nodes: 1}
workloads: []
)";

class KubernetesLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scenario = sim::parseScenario(kScenario);
    ASSERT_TRUE(scenario.ok()) << scenario.error().message;
    api_ = std::make_unique<testing::SimulatedApiServer>(*scenario, clock_);
    ASSERT_TRUE(api_->start());
    endpoints_ = api_->endpoints("aws-us-east-1");
  }

  // A backend exactly as the aggregator builds it from --lease-kubeconfig.
  std::unique_ptr<KubernetesLeaseBackend> candidate(const std::string& identity,
                                                    const std::string& kubeconfig = "") {
    ClusterAccess access;
    access.kubeconfig = kubeconfig.empty() ? endpoints_.aggregatorKubeconfig : kubeconfig;
    auto credentials = resolveCredentials(access);
    EXPECT_TRUE(credentials.ok()) << credentials.error().message;
    KubernetesLeaseOptions options;
    options.credentials = *credentials;
    options.namespaceName = "fleetscale";
    options.identity = identity;
    options.leaseDuration = seconds(2);
    options.requestTimeout = milliseconds(500);
    options.userAgent = "fleetscale-aggregator/test " + identity;
    return std::make_unique<KubernetesLeaseBackend>(
        std::make_unique<CurlHttpClient>(credentials->tls), options, clock_);
  }

  nlohmann::json leaseAsKubectlSeesIt() {
    const auto result = testing::runCommand(
        "/usr/bin/kubectl",
        {"--kubeconfig", endpoints_.kubeconfig, "--cache-dir", state_.file("kube-cache"), "get",
         "lease", "fleetscale-aggregator", "-n", "fleetscale", "-o", "json"},
        seconds(20), {{"HOME", state_.path()}});
    EXPECT_EQ(result.status, 0) << result.errors;
    return nlohmann::json::parse(result.output, nullptr, false);
  }

  testing::TempDir state_;  // kubectl's home
  SystemClock clock_;
  std::unique_ptr<testing::SimulatedApiServer> api_;
  sim::ClusterEndpoints endpoints_;
};

TEST_F(KubernetesLeaseTest, OneHolderAtATimeAndKubectlSeesIt) {
  auto a = candidate("aggregator-a");
  auto b = candidate("aggregator-b");
  auto first = a->tryAcquireOrRenew();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->held) << "created the Lease";
  EXPECT_EQ(first->term, 1u);
  auto other = b->tryAcquireOrRenew();
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_FALSE(other->held);
  EXPECT_EQ(other->holder, "aggregator-a");
  auto renewed = a->tryAcquireOrRenew();
  ASSERT_TRUE(renewed.ok() && renewed->held);
  EXPECT_EQ(renewed->term, 1u) << "renewing keeps the term";

  const auto lease = leaseAsKubectlSeesIt();
  EXPECT_EQ(lease["spec"]["holderIdentity"], "aggregator-a");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 2);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
  // Renewals are writes with the aggregator's identity in the write log (the audit trail).
  const auto writes = api_->simulator().writes("aws-us-east-1")->records();
  ASSERT_GE(writes.size(), 2u);
  EXPECT_EQ(writes.back().userAgent, "fleetscale-aggregator/test aggregator-a");
  EXPECT_EQ(writes.back().method, "PUT");
}

TEST_F(KubernetesLeaseTest, AStandbyTakesAnUnrenewedLeaseAfterItsDurationOnItsOwnClock) {
  auto a = candidate("aggregator-a");
  auto b = candidate("aggregator-b");
  ASSERT_TRUE(a->tryAcquireOrRenew()->held);
  const auto firstSeen = std::chrono::steady_clock::now();
  std::uint64_t term = 0;
  ASSERT_TRUE(testing::waitFor(
      [&] {
        auto round = b->tryAcquireOrRenew();
        if (round && round->held) term = round->term;
        return round && round->held;
      },
      seconds(10), milliseconds(100)));
  EXPECT_GE(std::chrono::steady_clock::now() - firstSeen, seconds(2))
      << "not before b saw the record unchanged for leaseDurationSeconds";
  EXPECT_EQ(term, 2u) << "leaseTransitions 1";
  auto former = a->tryAcquireOrRenew();
  ASSERT_TRUE(former.ok());
  EXPECT_FALSE(former->held) << "a's renewal must not take it back";
  EXPECT_EQ(former->holder, "aggregator-b");
  EXPECT_EQ(leaseAsKubectlSeesIt()["spec"]["leaseTransitions"], 1);
}

TEST_F(KubernetesLeaseTest, AReleasedLeaseIsTakenAtOnce) {
  auto a = candidate("aggregator-a");
  auto b = candidate("aggregator-b");
  ASSERT_TRUE(a->tryAcquireOrRenew()->held);
  ASSERT_FALSE(b->tryAcquireOrRenew()->held);
  a->release();
  auto next = b->tryAcquireOrRenew();
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_TRUE(next->held) << "holderIdentity \"\" needs no wait";
  EXPECT_EQ(next->term, 2u);
}

TEST_F(KubernetesLeaseTest, MissingRightsAreAClearError) {
  ClusterAccess access;
  access.kind = ClusterAccess::Kind::kServer;
  access.server = endpoints_.apiUrl;
  access.caFile = endpoints_.caFile;
  access.tokenFile = endpoints_.tokenFiles.at("agent");
  auto credentials = resolveCredentials(access);
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  KubernetesLeaseOptions options;
  options.credentials = *credentials;
  options.namespaceName = "fleetscale";
  options.identity = "agent";
  KubernetesLeaseBackend forbidden(std::make_unique<CurlHttpClient>(credentials->tls), options,
                                   clock_);
  auto round = forbidden.tryAcquireOrRenew();
  ASSERT_FALSE(round.ok());
  EXPECT_NE(round.error().message.find("HTTP 403"), std::string::npos) << round.error().message;
  EXPECT_NE(round.error().message.find("leases.coordination.k8s.io"), std::string::npos)
      << round.error().message;
}

TEST_F(KubernetesLeaseTest, ALeaderThatLosesTheApiServerStopsAtItsRenewDeadline) {
  auto backend = candidate("aggregator-a");
  LeaderElector elector(*backend, "aggregator-a",
                        ElectionTiming{seconds(2), milliseconds(1200), milliseconds(200)}, clock_);
  elector.start();
  ASSERT_TRUE(testing::waitFor([&] { return elector.fencingToken().has_value(); }, seconds(5)));
  sim::FaultSpec partition;
  partition.kind = sim::FaultKind::kPartitionApi;
  partition.cluster = "aws-us-east-1";
  ASSERT_TRUE(api_->simulator().inject(partition));
  const auto cut = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::waitFor([&] { return !elector.fencingToken().has_value(); }, seconds(5),
                               milliseconds(10)));
  EXPECT_LE(std::chrono::steady_clock::now() - cut, milliseconds(1300))
      << "within the 1.2 s renew deadline, before the 2 s lease";
  elector.stop(false);
}

}  // namespace
}  // namespace fleetscale::aggregator
