// The aggregator's scaling view in `fleetscale-sim status` and `make demo`.
#include "fleetscale/sim/status_view.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

TEST(StatusViewTest, ScalingStatusShowsHealthDrainsPlacementAndReasons) {
  const auto status = nlohmann::json::parse(R"({
    "role": "leader",
    "clusters": [
      {"name": "aws-us-east-1", "state": "failed", "apiReachable": false, "draining": false},
      {"name": "gcp-europe-west1", "state": "healthy", "apiReachable": true, "draining": true}],
    "workloads": [
      {"namespace": "shop", "name": "checkout", "desiredReplicas": 10, "error": "",
       "reason": "no change: 10 replicas", "notes": ["aws-us-east-1 failed: its share moved"],
       "clusters": {"aws-us-east-1": {"desired": 0, "current": 5, "ready": 0},
                    "gcp-europe-west1": {"desired": 10, "current": 10, "ready": 7}}}]})");
  const std::string text = renderScalingStatus(status);
  EXPECT_NE(text.find("aws-us-east-1     failed   unreachable  no"), std::string::npos) << text;
  EXPECT_NE(text.find("gcp-europe-west1  healthy  reachable    yes"), std::string::npos) << text;
  EXPECT_NE(text.find("shop/checkout  10"), std::string::npos) << text;
  EXPECT_NE(text.find("aws-us-east-1 0/5/0, gcp-europe-west1 10/10/7"), std::string::npos) << text;
  EXPECT_NE(text.find("no change: 10 replicas; aws-us-east-1 failed: its share moved"),
            std::string::npos)
      << text;
  EXPECT_EQ(renderScalingStatus(nullptr), "");
  EXPECT_EQ(renderScalingStatus(nlohmann::json::parse(R"({"clusters": [], "workloads": []})")), "");
}

}  // namespace
}  // namespace fleetscale::sim
