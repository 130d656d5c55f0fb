#include "fleetscale/aggregator/pipeline/decision_json.h"

#include <gtest/gtest.h>

#include <sstream>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

TEST(DecisionJsonTest, HistoryRoundTrips) {
  scaling::ScalingHistory history;
  const WallTime t = WallTime(std::chrono::seconds(1'795'780'800));
  history.recommendations = {{3, t}, {5, t + std::chrono::seconds(1)}};
  history.scaleUpEvents = {{2, t, false}};
  history.scaleDownEvents = {{1, t, true}};
  history.lastActive = t + std::chrono::seconds(7);
  auto back = historyFromJson(historyToJson(history));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->recommendations.size(), 2u);
  EXPECT_EQ(back->recommendations[1].replicas, 5);
  EXPECT_EQ(back->recommendations[1].at, t + std::chrono::seconds(1));
  EXPECT_TRUE(back->scaleDownEvents[0].outdated);
  EXPECT_EQ(back->lastActive, t + std::chrono::seconds(7)) << "scale to zero's cooldown survives";
  history.lastActive.reset();
  EXPECT_FALSE(historyFromJson(historyToJson(history))->lastActive);
}

TEST(DecisionJsonTest, BadSnapshotsAreClearErrors) {
  struct Case {
    std::string json;
    std::string expected;
  };
  for (
      const auto& c : std::vector<Case>{
          {"[]", "not a JSON object"},
          {R"({"currentReplicas": 1})", "'now' is required"},
          {R"({"now": "yesterday", "currentReplicas": 1})", "now: time 'yesterday'"},
          {R"({"now": 0, "currentReplicas": "3"})", "'currentReplicas' must be an integer"},
          {R"({"now": 0, "currentReplicas": 1, "pods": [{"phase": "Running"}]})",
           "pods[0]: needs a name"},
          {R"({"now": 0, "currentReplicas": 1, "pods": [{"name": "a", "requests": {"cpu": "fast"}}]})",
           "pods[0].requests.cpu: quantity 'fast'"},
          {R"({"now": 0, "currentReplicas": 1, "pods": [{"name": "a", "phase": "Sleeping"}]})",
           "phase 'Sleeping'"},
          {R"({"now": 0, "currentReplicas": 1, "pods": [{"name": "a", "cluster": 3}]})",
           "a field has the wrong type"},
          {R"({"now": 0, "currentReplicas": 1, "objectMetrics": [{"metric": "q", "value": "1",
              "describedObject": {"kind": "Ingress", "name": "m", "apiVersion": 2}}]})",
           "a field has the wrong type"},
          {R"({"now": 0, "currentReplicas": 1, "policy": {"maxReplicas": 0}})", "maxReplicas"},
      }) {
    auto parsed = parseDecisionSnapshot(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_NE(parsed.error().message.find(c.expected), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace fleetscale::aggregator
