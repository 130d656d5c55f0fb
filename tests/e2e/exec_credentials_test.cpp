// Three clusters the aggregator reaches only through kubeconfig `exec` credential plugins, as
// EKS, GKE and AKS kubeconfigs do: one plugin prints a token, one a client certificate, one a
// token that expires (and is revoked) every 10 s. Two load steps make the aggregator write to
// every cluster, the later ones after the expiring token has rotated: every write goes through,
// no cluster ever looks unhealthy, and the rotations cost at most one refused request each.
#include <gtest/gtest.h>

#include <set>

#include "e2e_fleet.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

constexpr const char* kApi = "web/api";
constexpr const char* kAzure = "azure-westeurope";
constexpr const char* kServiceAccount = "system:serviceaccount:fleetscale:fleetscale-aggregator";

// 2.4 cores over 6 replicas of 500m is the 80% target; 4.8 cores ask for about 12 and 7.2 for
// about 18, spread over the three clusters.
const char* kScenario = R"(
name: e2e-exec-credentials
seed: 29
defaults:
  nodes: 1
  node-capacity: {cpu: 16, memory: 64Gi}
  scheduling-delay: 1s
  readiness-delay: 1s
clusters:
  - {name: aws-us-east-1, cloud: aws, region: us-east-1, aggregator-auth: exec-token}
  - {name: gcp-europe-west1, cloud: gcp, region: europe-west1, aggregator-auth: exec-certificate}
  - {name: azure-westeurope, cloud: azure, region: westeurope, aggregator-auth: exec-expiring,
     token-lifetime: 10s}
workloads:
  - name: api
    namespace: web
    replicas: {aws-us-east-1: 2, gcp-europe-west1: 2, azure-westeurope: 2}
    resources:
      requests: {cpu: 500m, memory: 128Mi}
      limits: {cpu: "2", memory: 256Mi}
    capacity-per-replica: 400m
    load:
      cpu: {curve: step, initial: 2400m, steps: [{at: 14s, value: 4800m}, {at: 26s, value: 7200m}]}
      memory: 600Mi
    autoscale:
      min-replicas: 6
      max-replicas: 30
      cpu-utilization: 80
      weights: {aws-us-east-1: 1, gcp-europe-west1: 1, azure-westeurope: 1}
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          policies: [{type: Percent, value: 900, periodSeconds: 15}]
)";

TEST(E2eExecCredentialsTest, ClustersReachedThroughExecPluginsScaleAcrossTokenExpiry) {
  E2eFleet fleet(kScenario, "exec-credentials");
  const std::vector<std::string> clusters = {kAws, kGcp, kAzure};
  ASSERT_TRUE(fleet.waitUntilSteady(kApi, 6, seconds(30)));
  std::set<std::string> statesSeen;
  // Every cluster is written after the second step (at 26 s, after two rotations), and its
  // replicas come up. The exact split of 17 or 18 depends on the measured load.
  const auto scaledAfterSecondStep = [&] {
    for (const auto& cluster : clusters) statesSeen.insert(fleet.clusterState(cluster));
    const sim::Timeline timeline = fleet.simulator().timeline();
    for (const auto& cluster : clusters) {
      if (actionsSince(timeline, kApi, cluster, 26).empty()) return false;
      if (fleet.desired(kApi, cluster) < 5 ||
          fleet.ready(kApi, cluster) != fleet.desired(kApi, cluster)) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(testing::waitFor(scaledAfterSecondStep, seconds(60)))
      << describeActions(fleet.simulator().timeline(), kApi, 0);
  EXPECT_EQ(statesSeen, (std::set<std::string>{"healthy"}))
      << "a cluster looked unreachable while its credentials changed";

  const auto azure = fleet.simulator().authCounters(kAzure);
  ASSERT_TRUE(azure.has_value());
  EXPECT_GE(azure->tokenRotations, 2u) << "the last step came after two rotations";
  EXPECT_LE(azure->revokedTokenRequests, azure->tokenRotations)
      << "the aggregator re-runs the plugin at expiry, not on every refused request";
  for (const auto& cluster : {kAws, kGcp}) {
    EXPECT_EQ(fleet.simulator().authCounters(cluster)->unauthorizedRequests, 0u) << cluster;
  }

  // Every cluster was written to by the aggregator's identity: a token for two, the
  // certificate's common name for the third.
  const sim::Timeline timeline = fleet.simulator().timeline();
  for (const auto& cluster : clusters) {
    const auto actions = actionsSince(timeline, kApi, cluster, 0);
    ASSERT_GE(actions.size(), 2u) << cluster << "\n" << describeActions(timeline, kApi, 0);
    for (const auto& action : actions) EXPECT_EQ(action.user, kServiceAccount) << cluster;
  }
}

}  // namespace
}  // namespace fleetscale::e2e
