// Right-sizing through the pod template on the simulated fleet (docs/rightsizing.md, "Applying"):
// mode `recreate` patches the Deployment's template (a rolling update that never drops a ready
// replica), and mode `in-place` falls back to it when a node can never fit a resize
// (PodResizePending Infeasible) if the policy says `fallback: recreate`, or reports it and leaves
// the workload alone with `fallback: none`, while another cluster resizes in place all the same.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "e2e_fleet.h"
#include "fleetscale/testing/wait.h"
#include "rightsizing_e2e.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

constexpr const char* kWeb = "shop/web";
constexpr const char* kTemplate = "/namespaces/shop/deployments/web";

// The newest rightsizing event of shop/web in a cluster with this mode and result (null when
// none).
nlohmann::json rightsizingEvent(const E2eFleet& fleet, const std::string& cluster,
                                const std::string& mode, const std::string& result) {
  const auto events = fleet.get("/api/v1/events?kind=rightsizing&cluster=" + cluster);
  if (!events.is_object()) return nullptr;
  for (const auto& event : events["items"]) {
    if (event["details"].value("mode", "") == mode &&
        event["details"].value("result", "") == result) {
      return event;
    }
  }
  return nullptr;
}

// 100m of CPU per replica against a 1-core request: the recommendation is a fraction of it.
std::string recreateScenario() {
  return rightsizingScenario({.name = "e2e-rightsizing-recreate",
                              .seed = 43,
                              .nodes = 2,
                              .clusters = {kAwsCluster},
                              .replicas = "3",
                              .cpuLoad = "300m",
                              .fixedReplicas = 3,
                              .rightsizing = "mode: recreate"});
}

TEST(E2eRightsizingFallbackTest, RecreatePatchesThePodTemplateAndRollsWithoutLosingAReplica) {
  E2eFleet fleet(recreateScenario(), "rightsizing-recreate");
  ASSERT_TRUE(testing::waitFor([&] { return fleet.ready(kWeb, kAws) == 3; }, seconds(10)));
  const double steadyFrom = fleet.now();
  std::set<std::string> before;
  ASSERT_TRUE(
      testing::waitFor([&] { return containersIn(fleet, kWeb, kAws).size() == 3; }, seconds(10)));
  for (const auto& c : containersIn(fleet, kWeb, kAws)) before.insert(c.value("id", ""));

  // The first recommendations are published after 10 s; the template is written at once.
  ASSERT_TRUE(testing::waitFor([&] { return !patchesEndingWith(fleet, kAws, kTemplate).empty(); },
                               seconds(30)))
      << fleet.get("/api/v1/recommendations").dump();
  const double target = recommendedCpu(fleet, kWeb);
  EXPECT_LT(target, 0.5);
  const auto written = templateCpuRequest(fleet, kWeb, kAws);
  ASSERT_TRUE(written.has_value());
  // Written at the recommendation of that moment (rounded up to a millicore); a later one moves
  // less than minChange (10%) or it would be written again.
  EXPECT_NEAR(*written, target, 0.1 * target + 0.001);
  EXPECT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kAws) == "applied"; }, seconds(5)))
      << applyIn(fleet, kWeb, kAws).dump();
  EXPECT_EQ(applyIn(fleet, kWeb, kAws).value("mode", ""), "recreate")
      << applyIn(fleet, kWeb, kAws).dump();

  // The rolling update: three new pods with the template's request, as the agents see them (the
  // request from the pod spec every --metadata-interval), none of the old containers left.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return allRequest(
            containersIn(fleet, kWeb, kAws),
            [&](double cores) { return std::abs(cores - *written) < 0.0005; }, 3);
      },
      seconds(15)))
      << nlohmann::json(containersIn(fleet, kWeb, kAws)).dump() << "\n"
      << describe(podsIn(fleet, kWeb, kAws));
  for (const auto& c : containersIn(fleet, kWeb, kAws)) {
    EXPECT_FALSE(before.contains(c.value("id", ""))) << "not recreated: " << c.dump();
    EXPECT_NEAR(c["cpu_limit_cores"].get<double>(), 2 * *written, 0.0011) << c.dump();
  }
  // maxSurge 1, maxUnavailable 0: never fewer than 3 ready replicas, nor less ready capacity
  // than the demand.
  EXPECT_EQ(capacityDips(fleet.simulator().timeline(), kWeb, steadyFrom, 3), "");

  // Written once, through the template only; counted once.
  EXPECT_EQ(patchesEndingWith(fleet, kAws, kTemplate).size(), 1u);
  EXPECT_TRUE(patchesEndingWith(fleet, kAws, "/resize").empty());
  EXPECT_EQ(appliesTotal(fleet, kWeb, kAws, "recreate", "applied"), 1.0);
  EXPECT_EQ(appliesTotal(fleet, kWeb, kAws, "in-place", "applied"), std::nullopt);
}

// shop/web in two clusters, throttled at its 1-core limit under 3 cores of demand per replica:
// the recommendation (about 3.5 cores: P90 + 15% of 3) fits aws's 16-core nodes but no 2-core node
// of gcp, so gcp's kubelet answers the first resize Infeasible.
std::string infeasibleScenario(const std::string& fallback) {
  RightsizingScenario scenario = throttledWebScenario();
  scenario.name = "e2e-rightsizing-fallback-" + fallback;
  scenario.seed = 47;
  scenario.clusters = {kAwsCluster,
                       "{name: gcp-europe-west1, cloud: gcp, region: europe-west1, "
                       "node-capacity: {cpu: 2, memory: 8Gi}}"};
  scenario.rightsizing = "mode: in-place, fallback: " + fallback;
  return rightsizingScenario(scenario);
}

// Both clusters' replicas ready, and the time the fleet was so (simulator seconds).
double waitForTwoClusters(E2eFleet& fleet) {
  EXPECT_TRUE(testing::waitFor(
      [&] { return fleet.ready(kWeb, kAws) == 2 && fleet.ready(kWeb, kGcp) == 2; }, seconds(10)));
  return fleet.now();
}

// aws resizes both of its pods in place to the recommendation, its template untouched.
void expectResizedInPlace(E2eFleet& fleet) {
  ASSERT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kAws) == "applied"; }, seconds(10)))
      << applyIn(fleet, kWeb, kAws).dump();
  EXPECT_EQ(applyIn(fleet, kWeb, kAws).value("mode", ""), "in-place");
  const double target = recommendedCpu(fleet, kWeb);
  EXPECT_GT(target, 2) << "the recommendation must not fit gcp's 2-core nodes";
  const auto pods = podsIn(fleet, kWeb, kAws);
  ASSERT_EQ(pods.size(), 2u) << describe(pods);
  for (const auto& pod : pods) {
    ASSERT_TRUE(pod.cpuRequest.has_value()) << describe(pods);
    EXPECT_NEAR(*pod.cpuRequest, target, 0.1 * target) << describe(pods);
  }
  EXPECT_EQ(templateCpuRequest(fleet, kWeb, kAws), 0.5);
  EXPECT_TRUE(patchesEndingWith(fleet, kAws, kTemplate).empty());
  EXPECT_EQ(appliesTotal(fleet, kWeb, kAws, "in-place", "applied"), 2.0);
}

// The gcp pod whose resize the kubelet refused for good: at least one Infeasible, none resized.
void expectInfeasibleInGcp(E2eFleet& fleet) {
  const auto pods = podsIn(fleet, kWeb, kGcp);
  int infeasible = 0;
  for (const auto& pod : pods) infeasible += pod.resizePending == "Infeasible" ? 1 : 0;
  EXPECT_GE(infeasible, 1) << describe(pods);
  // Events reach the store through its writer thread.
  nlohmann::json event;
  ASSERT_TRUE(testing::waitFor(
      [&] {
        event = rightsizingEvent(fleet, kGcp, "in-place", "infeasible");
        return event.is_object();
      },
      seconds(3)))
      << fleet.get("/api/v1/events?kind=rightsizing").dump();
  EXPECT_NE(event.value("message", "").find("enough capacity"), std::string::npos) << event.dump();
  EXPECT_EQ(appliesTotal(fleet, kWeb, kGcp, "in-place", "infeasible"), 1.0);
}

TEST(E2eRightsizingFallbackTest, InfeasibleInPlaceResizeFallsBackToRecreate) {
  E2eFleet fleet(infeasibleScenario("recreate"), "rightsizing-fallback-recreate");
  const double steadyFrom = waitForTwoClusters(fleet);

  ASSERT_TRUE(testing::waitFor([&] { return !patchesEndingWith(fleet, kGcp, kTemplate).empty(); },
                               seconds(30)))
      << fleet.get("/api/v1/recommendations").dump() << "\n"
      << describe(podsIn(fleet, kWeb, kGcp));
  expectInfeasibleInGcp(fleet);
  EXPECT_TRUE(testing::waitFor(
      [&] {
        const auto apply = applyIn(fleet, kWeb, kGcp);
        return apply.is_object() && apply.value("mode", "") == "recreate" &&
               apply.value("result", "") == "applied";
      },
      seconds(5)))
      << applyIn(fleet, kWeb, kGcp).dump();
  const auto written = templateCpuRequest(fleet, kWeb, kGcp);
  ASSERT_TRUE(written.has_value());
  const double target = recommendedCpu(fleet, kWeb);
  EXPECT_NEAR(*written, target, 0.1 * target);
  EXPECT_EQ(appliesTotal(fleet, kWeb, kGcp, "recreate", "applied"), 1.0);
  EXPECT_TRUE(testing::waitFor(
      [&] { return rightsizingEvent(fleet, kGcp, "recreate", "applied").is_object(); },
      seconds(3)));

  // The rolling update has begun: a pod of the new template, which no 2-core node fits either
  // (so it waits for a bigger one, as a cluster autoscaler would add); the old pods stay ready.
  EXPECT_TRUE(testing::waitFor(
      [&] {
        for (const auto& pod : podsIn(fleet, kWeb, kGcp)) {
          if (pod.cpuRequest == written && pod.node.empty()) return true;
        }
        return false;
      },
      seconds(5)))
      << describe(podsIn(fleet, kWeb, kGcp));

  expectResizedInPlace(fleet);
  // Written once: the next passes find the template at the recommendation.
  EXPECT_TRUE(holdsFor([&] { return patchesEndingWith(fleet, kGcp, kTemplate).size() == 1; },
                       std::chrono::seconds(3)));
  EXPECT_EQ(capacityDips(fleet.simulator().timeline(), kWeb, steadyFrom, 4), "");
}

TEST(E2eRightsizingFallbackTest, InfeasibleInPlaceResizeWithoutFallbackIsReportedAndLeftAlone) {
  E2eFleet fleet(infeasibleScenario("none"), "rightsizing-fallback-none");
  waitForTwoClusters(fleet);

  ASSERT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kGcp) == "infeasible"; }, seconds(30)))
      << fleet.get("/api/v1/recommendations").dump() << "\n"
      << describe(podsIn(fleet, kWeb, kGcp));
  const auto apply = applyIn(fleet, kWeb, kGcp);
  EXPECT_EQ(apply.value("mode", ""), "in-place") << apply.dump();
  EXPECT_NE(apply.value("message", "").find("enough capacity"), std::string::npos) << apply.dump();
  EXPECT_NE(apply.value("message", "").find("fallback: none"), std::string::npos) << apply.dump();
  expectInfeasibleInGcp(fleet);

  // The other cluster is resized all the same.
  expectResizedInPlace(fleet);

  // Nothing more is done in gcp over the next passes (every 2 s): one resize sent, the template
  // as it was, no recreate.
  EXPECT_TRUE(holdsFor(
      [&] {
        return templateCpuRequest(fleet, kWeb, kGcp) == 0.5 &&
               patchesEndingWith(fleet, kGcp, kTemplate).empty() &&
               patchesEndingWith(fleet, kGcp, "/resize").size() == 1 &&
               resultIn(fleet, kWeb, kGcp) == "infeasible";
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(appliesTotal(fleet, kWeb, kGcp, "recreate", "applied"), std::nullopt);
}

}  // namespace
}  // namespace fleetscale::e2e
