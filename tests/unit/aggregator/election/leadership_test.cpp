// makeElection: the leader-election flags turned into a backend, and every wrong setting refused
// with the flag that is wrong. No engine is contacted: building a backend sends nothing.
#include "fleetscale/aggregator/election/leadership.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class MakeElectionTest : public ::testing::Test {
 protected:
  Result<std::optional<Election>> make(const ElectionSettings& settings,
                                       milliseconds scaleRequestTimeout = seconds(5)) {
    return makeElection(settings, "aggregator-0", "fleetscale-aggregator/test", clock_,
                        scaleRequestTimeout);
  }
  // The error makeElection gives for `settings` ("" when it accepts them).
  std::string refusal(const ElectionSettings& settings,
                      milliseconds scaleRequestTimeout = seconds(5)) {
    const auto election = make(settings, scaleRequestTimeout);
    return election.ok() ? "" : election.error().message;
  }

  static ElectionSettings etcd() {
    ElectionSettings settings;
    settings.backend = "etcd";
    settings.etcdEndpoints = "http://127.0.0.1:2379";
    return settings;
  }

  // Two contexts with different servers, so the test sees which one was taken.
  std::string writeKubeconfig() {
    const std::string path = dir_.file("lease.kubeconfig");
    testing::writeFile(path,
                       "apiVersion: v1\nkind: Config\ncurrent-context: east\n"
                       "clusters:\n"
                       "- name: east\n  cluster:\n    server: https://east.test:6443\n"
                       "    insecure-skip-tls-verify: true\n"
                       "- name: west\n  cluster:\n    server: https://west.test:6443\n"
                       "    insecure-skip-tls-verify: true\n"
                       "users:\n- name: aggregator\n  user:\n    token: lease-token\n"
                       "contexts:\n"
                       "- name: east\n  context:\n    cluster: east\n    user: aggregator\n"
                       "- name: west\n  context:\n    cluster: west\n    user: aggregator\n");
    return path;
  }

  ManualClock clock_;
  testing::TempDir dir_{"leadership-test"};
};

TEST_F(MakeElectionTest, NoneMeansNoElection) {
  const auto election = make(ElectionSettings{});
  ASSERT_TRUE(election.ok()) << election.error().message;
  EXPECT_FALSE(election->has_value());
}

TEST_F(MakeElectionTest, UnknownBackendIsRefused) {
  ElectionSettings settings;
  settings.backend = "zookeeper";
  EXPECT_EQ(refusal(settings), "--leader-election: 'zookeeper' is not none, etcd or kubernetes");
}

TEST_F(MakeElectionTest, EtcdBackendWithTheTimingOfTheFlags) {
  auto settings = etcd();
  settings.etcdEndpoints = "http://10.0.0.1:2379/, http://10.0.0.2:2379,http://10.0.0.3:2379";
  settings.electionKey = "/prod/leader";
  settings.leaseDuration = "15s";
  settings.renewDeadline = "10s";
  settings.retryPeriod = "2s";
  const auto election = make(settings);
  ASSERT_TRUE(election.ok()) << election.error().message;
  ASSERT_TRUE(election->has_value());
  const Election& e = **election;
  EXPECT_EQ(e.timing.leaseDuration, seconds(15));
  EXPECT_EQ(e.timing.renewDeadline, seconds(10));
  EXPECT_EQ(e.timing.retryPeriod, seconds(2));
  ASSERT_NE(e.backend, nullptr);
  // Endpoints split on commas and spaces, trailing slashes dropped.
  EXPECT_EQ(e.backend->describe(),
            "etcd http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379 key /prod/leader");
}

TEST_F(MakeElectionTest, EtcdNeedsEndpoints) {
  for (const char* endpoints : {"", " , "}) {
    auto settings = etcd();
    settings.etcdEndpoints = endpoints;
    EXPECT_EQ(refusal(settings), "--etcd-endpoints: required with --leader-election etcd")
        << "'" << endpoints << "'";
  }
}

TEST_F(MakeElectionTest, AnUnreadableDurationNamesItsFlag) {
  for (const auto& [flag, field] :
       std::vector<std::pair<std::string, std::string ElectionSettings::*>>{
           {"--lease-duration", &ElectionSettings::leaseDuration},
           {"--renew-deadline", &ElectionSettings::renewDeadline},
           {"--retry-period", &ElectionSettings::retryPeriod}}) {
    auto settings = etcd();
    settings.*field = "soon";
    const std::string error = refusal(settings);
    EXPECT_EQ(error.rfind(flag + ": ", 0), 0u) << error;
  }
}

TEST_F(MakeElectionTest, TimingsOutOfOrderAreRefused) {
  auto renewTooLate = etcd();
  renewTooLate.renewDeadline = "10s";  // = the lease duration
  EXPECT_NE(refusal(renewTooLate).find("--lease-duration must be longer than --renew-deadline"),
            std::string::npos)
      << refusal(renewTooLate);

  auto retryTooSlow = etcd();
  retryTooSlow.retryPeriod = "6s";  // = the renew deadline
  EXPECT_NE(refusal(retryTooSlow).find("--renew-deadline must be longer than --retry-period"),
            std::string::npos)
      << refusal(retryTooSlow);

  auto noRetry = etcd();
  noRetry.retryPeriod = "0s";
  EXPECT_NE(refusal(noRetry).find("--retry-period must be positive"), std::string::npos)
      << refusal(noRetry);
}

// A fenced write is only sent when it can end before the lease could expire: the scale request
// timeout plus one retry period must fit in the lease.
TEST_F(MakeElectionTest, TheScaleRequestTimeoutMustFitInTheLease) {
  // Defaults: lease 10 s, retry 1 s.
  EXPECT_EQ(refusal(etcd(), milliseconds(8999)), "");
  const std::string error = refusal(etcd(), milliseconds(9000));
  EXPECT_EQ(error.rfind("--scale-request-timeout (9000 ms) plus --retry-period (1000 ms) must be "
                        "shorter than --lease-duration (10000 ms)",
                        0),
            0u)
      << error;
}

TEST_F(MakeElectionTest, TheLeaseDurationIsWholeSeconds) {
  auto settings = etcd();
  settings.leaseDuration = "10500ms";
  EXPECT_EQ(refusal(settings),
            "--lease-duration: whole seconds (etcd and Lease TTLs are in seconds)");
}

TEST_F(MakeElectionTest, KubernetesLeaseFromAKubeconfigAndContext) {
  ElectionSettings settings;
  settings.backend = "kubernetes";
  settings.leaseKubeconfig = writeKubeconfig();
  settings.leaseNamespace = "ops";
  settings.leaseName = "scaler";
  const auto current = make(settings);
  ASSERT_TRUE(current.ok()) << current.error().message;
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->backend->describe(), "Lease ops/scaler at https://east.test:6443");

  settings.leaseContext = "west";
  const auto west = make(settings);
  ASSERT_TRUE(west.ok()) << west.error().message;
  EXPECT_EQ((*west)->backend->describe(), "Lease ops/scaler at https://west.test:6443");
}

TEST_F(MakeElectionTest, KubernetesCredentialErrorsNameTheKubeconfigFlag) {
  ElectionSettings settings;
  settings.backend = "kubernetes";
  settings.leaseKubeconfig = dir_.file("missing.kubeconfig");
  EXPECT_EQ(refusal(settings).rfind("--lease-kubeconfig: ", 0), 0u) << refusal(settings);

  settings.leaseKubeconfig = writeKubeconfig();
  settings.leaseContext = "north";
  EXPECT_EQ(refusal(settings).rfind("--lease-kubeconfig: ", 0), 0u) << refusal(settings);
}

TEST_F(MakeElectionTest, WithoutAKubeconfigTheLeaseUsesThePodsServiceAccount) {
  // Outside a pod there is none: the error says so. (Restores the variable when run in one.)
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const std::optional<std::string> saved = host ? std::optional<std::string>(host) : std::nullopt;
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ElectionSettings settings;
  settings.backend = "kubernetes";
  const std::string error = refusal(settings);
  if (saved) ::setenv("KUBERNETES_SERVICE_HOST", saved->c_str(), 1);
  EXPECT_EQ(error.rfind("--lease-kubeconfig: inCluster: ", 0), 0u) << error;
}

}  // namespace
}  // namespace fleetscale::aggregator
