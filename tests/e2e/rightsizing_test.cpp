// Right-sizing applied on the simulated fleet (docs/rightsizing.md, "Applying"): over-sized CPU
// requests resized in place through pods/{name}/resize, with no restart and no ready replica
// lost; a cluster whose RBAC refuses the resize (fault resize-forbidden) and one without the
// subresource (resize-unsupported, as before Kubernetes 1.33) are reported, and neither stops the
// cluster that can.
#include <gtest/gtest.h>

#include "e2e_fleet.h"
#include "fleetscale/testing/wait.h"
#include "rightsizing_e2e.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

constexpr const char* kAzure = "azure-westeurope";
constexpr const char* kWeb = "shop/web";

// 100m of CPU per replica against a 1-core request: the recommendation is a fraction of it.
std::string scenario() {
  return rightsizingScenario(
      {.name = "e2e-rightsizing",
       .clusters = {kAwsCluster, "{name: gcp-europe-west1, cloud: gcp, region: europe-west1}",
                    "{name: azure-westeurope, cloud: azure, region: westeurope}"},
       .replicas = "{aws-us-east-1: 2, gcp-europe-west1: 2, azure-westeurope: 2}",
       .cpuLoad = "600m",
       .fixedReplicas = 6,
       .rightsizing = "mode: in-place"});
}

TEST(E2eRightsizingTest, OverSizedRequestsAreResizedInPlaceAndRefusalsAreReported) {
  E2eFleet fleet(scenario(), "rightsizing");
  fleet.inject(sim::FaultKind::kResizeForbidden, kGcp);
  fleet.inject(sim::FaultKind::kResizeUnsupported, kAzure);  // as an API server before v1.33
  ASSERT_TRUE(testing::waitFor(
      [&] { return fleet.ready(kWeb, kAws) == 2 && fleet.ready(kWeb, kGcp) == 2; }, seconds(10)));
  const double steadyFrom = fleet.now();

  // The first recommendations are published after 10 s; a resize takes ~0.5 s per pod.
  ASSERT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kAws) == "applied"; }, seconds(30)))
      << fleet.get("/api/v1/recommendations").dump();
  EXPECT_LT(recommendedCpu(fleet, kWeb), 0.5) << fleet.get("/api/v1/recommendations").dump();

  // The agents show the new limit (the cgroup, read every tick) within two ticks, and the new
  // request (the pod spec, read every --metadata-interval) soon after.
  const auto limitBelow = [&](double cores) {
    const auto containers = containersIn(fleet, kWeb, kAws);
    if (containers.size() != 2) return false;
    for (const auto& c : containers) {
      if (!c["cpu_limit_cores"].is_number() || c["cpu_limit_cores"].get<double>() >= cores) {
        return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(testing::waitFor([&] { return limitBelow(1); }, seconds(2)))
      << nlohmann::json(containersIn(fleet, kWeb, kAws)).dump();
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return allRequest(
            containersIn(fleet, kWeb, kAws), [](double cores) { return cores < 0.5; }, 2);
      },
      seconds(3)))
      << nlohmann::json(containersIn(fleet, kWeb, kAws)).dump();
  for (const auto& c : containersIn(fleet, kWeb, kAws)) {
    EXPECT_EQ(c.value("restart_count", -1), 0) << c.dump();  // in place: nothing restarted
    EXPECT_NEAR(c["cpu_limit_cores"].get<double>(), 2 * c["cpu_request_cores"].get<double>(),
                0.0011)
        << c.dump();
  }
  EXPECT_EQ(capacityDips(fleet.simulator().timeline(), kWeb, steadyFrom, 6), "");

  // The refusals: reported per cluster, their pods untouched.
  EXPECT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kGcp) == "forbidden"; }, seconds(5)))
      << applyIn(fleet, kWeb, kGcp).dump();
  EXPECT_TRUE(
      testing::waitFor([&] { return resultIn(fleet, kWeb, kAzure) == "unsupported"; }, seconds(5)))
      << applyIn(fleet, kWeb, kAzure).dump();
  EXPECT_NE(applyIn(fleet, kWeb, kGcp).value("message", "").find("pods/resize"), std::string::npos)
      << applyIn(fleet, kWeb, kGcp).dump();
  EXPECT_TRUE(allRequest(
      containersIn(fleet, kWeb, kGcp), [](double cores) { return cores == 1; }, 2));
  EXPECT_TRUE(allRequest(
      containersIn(fleet, kWeb, kAzure), [](double cores) { return cores == 1; }, 2));
  const auto events = fleet.get("/api/v1/events?kind=rightsizing&cluster=" + std::string(kGcp));
  ASSERT_TRUE(events.is_object()) << events.dump();
  ASSERT_FALSE(events["items"].empty()) << events.dump();
  EXPECT_NE(events["items"][0]["message"].get<std::string>().find("forbidden"), std::string::npos)
      << events.dump();
}

}  // namespace
}  // namespace fleetscale::e2e
