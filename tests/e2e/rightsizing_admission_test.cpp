// Right-sizing against a LimitRange on the simulated fleet (docs/rightsizing.md, "Errors and
// refusals"): in mode `recreate` the template patch is admitted (a template is no pod), but the
// ReplicaSet cannot create the rollout's pods, the Deployment says so in its ReplicaFailure
// condition, and the applier reports `limit-range` there instead of `applied`, counted, while
// another cluster without the LimitRange rolls its pods all the same.
#include <gtest/gtest.h>

#include <string>

#include "e2e_fleet.h"
#include "fleetscale/testing/wait.h"
#include "rightsizing_e2e.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

constexpr const char* kWeb = "shop/web";
constexpr const char* kTemplate = "/namespaces/shop/deployments/web";

// shop/web in two clusters of 16-core nodes at 3 cores of demand per replica against a 1-core
// limit: the recommendation (about 3.5 cores) is above aws's LimitRange maximum of 2 cores per
// container; gcp has none.
std::string limitRangeScenario() {
  RightsizingScenario scenario = throttledWebScenario();
  scenario.name = "e2e-rightsizing-recreate-limit-range";
  scenario.seed = 53;
  scenario.clusters = {
      "{name: aws-us-east-1, cloud: aws, region: us-east-1, limit-ranges: "
      "[{name: bounds, namespace: shop, max: {cpu: \"2\"}}]}",
      "{name: gcp-europe-west1, cloud: gcp, region: europe-west1}"};
  scenario.rightsizing = "mode: recreate";
  return rightsizingScenario(scenario);
}

TEST(E2eRightsizingAdmissionTest, ALimitRangeThatStallsTheRolloutIsReportedNotApplied) {
  E2eFleet fleet(limitRangeScenario(), "rightsizing-recreate-limit-range");
  ASSERT_TRUE(testing::waitFor(
      [&] { return fleet.ready(kWeb, kAws) == 2 && fleet.ready(kWeb, kGcp) == 2; }, seconds(10)));

  // The template is written in both clusters: the LimitRanger does not look at Deployments.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return !patchesEndingWith(fleet, kAws, kTemplate).empty() &&
               !patchesEndingWith(fleet, kGcp, kTemplate).empty();
      },
      seconds(30)))
      << fleet.get("/api/v1/recommendations").dump();
  EXPECT_GT(recommendedCpu(fleet, kWeb), 2) << "the recommendation must be above the LimitRange";
  EXPECT_EQ(patchesEndingWith(fleet, kAws, kTemplate).front().status, 200);

  // aws: the ReplicaSet's pods are refused; the Deployment says so and the applier reports it.
  ASSERT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kAws) == "limit-range"; }, seconds(10)))
      << applyIn(fleet, kWeb, kAws).dump() << "\n"
      << deploymentCondition(fleet, kWeb, kAws, "ReplicaFailure").dump();
  const auto failure = deploymentCondition(fleet, kWeb, kAws, "ReplicaFailure");
  EXPECT_EQ(failure.value("status", ""), "True") << failure.dump();
  EXPECT_EQ(failure.value("reason", ""), "FailedCreate") << failure.dump();
  const auto apply = applyIn(fleet, kWeb, kAws);
  EXPECT_EQ(apply.value("mode", ""), "recreate") << apply.dump();
  const std::string message = apply.value("message", "");
  EXPECT_NE(message.find("rolling update stalls"), std::string::npos) << message;
  EXPECT_NE(message.find("is forbidden: maximum cpu usage per Container is 2, but limit is "),
            std::string::npos)
      << message;
  EXPECT_GE(appliesTotal(fleet, kWeb, kAws, "recreate", "limit-range").value_or(0), 1.0);
  // The old pods keep serving, at their old request; no pod of the new template was made.
  const auto awsPods = podsIn(fleet, kWeb, kAws);
  ASSERT_EQ(awsPods.size(), 2u) << describe(awsPods);
  for (const auto& pod : awsPods) {
    EXPECT_TRUE(pod.ready) << describe(awsPods);
    EXPECT_EQ(pod.cpuRequest, 0.5) << describe(awsPods);
  }

  // gcp rolls onto the recommendation and reports `applied`.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const auto pods = podsIn(fleet, kWeb, kGcp);
        if (pods.size() != 2 || resultIn(fleet, kWeb, kGcp) != "applied") return false;
        for (const auto& pod : pods) {
          if (!pod.ready || pod.cpuRequest.value_or(0) < 2) return false;
        }
        return true;
      },
      seconds(20)))
      << applyIn(fleet, kWeb, kGcp).dump() << "\n"
      << describe(podsIn(fleet, kWeb, kGcp));
  EXPECT_TRUE(deploymentCondition(fleet, kWeb, kGcp, "ReplicaFailure").is_null());
  EXPECT_EQ(appliesTotal(fleet, kWeb, kGcp, "recreate", "limit-range"), std::nullopt);
}

}  // namespace
}  // namespace fleetscale::e2e
