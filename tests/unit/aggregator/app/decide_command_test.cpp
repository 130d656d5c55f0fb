#include "fleetscale/aggregator/app/decide_command.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

TEST(DecideCommandTest, SnapshotDecidesLikeTheHpa) {
  std::ostringstream out, err;
  const int code = runDecideCommand(testing::fixturePath("decide/scale-up.json"), "", out, err);
  ASSERT_EQ(code, 0) << err.str();
  const auto result = json::parse(out.str());
  const auto& decision = result["decision"];
  // (450 + 500 + 550) / 1500 = 100% of requests against a 50% target: ratio 2 -> 6 replicas.
  EXPECT_EQ(decision["metricDesiredReplicas"], 6);
  EXPECT_EQ(decision["desiredReplicas"], 6);
  EXPECT_EQ(decision["metrics"][0]["utilizationPercent"], 100);
  EXPECT_EQ(decision["reason"], "scale up from 3 to 6");
  ASSERT_EQ(decision["demand"].size(), 2u);
  EXPECT_EQ(decision["demand"][0]["cluster"], "aws-us-east-1");
  EXPECT_NEAR(decision["demand"][0]["cpuShare"].get<double>(), 950.0 / 1500.0, 1e-9);
  EXPECT_NEAR(decision["demand"][1]["cpuUsageCores"].get<double>(), 0.55, 1e-9);
  EXPECT_EQ(result["history"]["recommendations"].size(), 2u)
      << "this decision's recommendation recorded";
}

// docs/decide.md's second example: a container's CPU, a Pods metric and an External queue.
TEST(DecideCommandTest, TheDocumentedCustomMetricsSnapshotDecidesAsDescribed) {
  std::ostringstream out, err;
  ASSERT_EQ(runDecideCommand(testing::fixturePath("decide/custom-metrics.json"), "", out, err), 0)
      << err.str();
  const auto decision = json::parse(out.str())["decision"];
  const auto& metrics = decision["metrics"];
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0]["utilizationPercent"], 85) << "the app container alone";
  EXPECT_EQ(metrics[0]["replicas"], 3);
  EXPECT_EQ(metrics[0]["target"]["container"], "app");
  EXPECT_EQ(metrics[1]["averageValueMilli"], 5000);
  EXPECT_EQ(metrics[1]["replicas"], 2);
  EXPECT_EQ(metrics[2]["valueMilli"], 300'000) << "only the orders queue's series";
  EXPECT_EQ(metrics[2]["replicas"], 10);
  EXPECT_EQ(metrics[2]["target"]["selector"]["matchLabels"]["queue"], "orders");
  EXPECT_EQ(decision["metricDesiredReplicas"], 10);
  EXPECT_EQ(decision["desiredReplicas"], 4) << "the legacy scale-up limit: max(2 x 2, 4)";

  // The same snapshot must match docs/decide.md, which users copy.
  const auto doc = readFile(testing::fixturePath("../../docs/decide.md"));
  ASSERT_TRUE(doc);
  const auto fixture = readFile(testing::fixturePath("decide/custom-metrics.json"));
  ASSERT_TRUE(fixture);
  EXPECT_NE(doc->find(*fixture), std::string::npos)
      << "tests/fixtures/decide/custom-metrics.json differs from docs/decide.md's example";
}

TEST(DecideCommandTest, ConfigFileProvidesThePolicy) {
  testing::TempDir dir;
  testing::writeFile(
      dir.file("policy.yaml"),
      "workloads:\n  - namespace: shop\n    name: web\n    maxReplicas: 4\n    metrics:\n"
      "      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, "
      "averageUtilization: 50}}\n");
  std::ostringstream out, err;
  ASSERT_EQ(runDecideCommand(testing::fixturePath("decide/scale-up.json"), dir.file("policy.yaml"),
                             out, err),
            0)
      << err.str();
  const auto decision = json::parse(out.str())["decision"];
  EXPECT_EQ(decision["desiredReplicas"], 4) << "maxReplicas from the config file";
  EXPECT_EQ(decision["steps"].back()["detail"].get<std::string>().substr(0, 15), "TooManyReplicas");
}

TEST(DecideCommandTest, DecideSubcommandOfTheRealBinary) {
  auto result =
      testing::runCommand(testing::binaryPath("fleetscale-aggregator"),
                          {"decide", "--input", testing::fixturePath("decide/scale-up.json")});
  ASSERT_EQ(result.status, 0) << result.errors;
  EXPECT_EQ(json::parse(result.output)["decision"]["desiredReplicas"], 6);
  auto missing = testing::runCommand(testing::binaryPath("fleetscale-aggregator"), {"decide"});
  EXPECT_EQ(missing.status, 2);
}

}  // namespace
}  // namespace fleetscale::aggregator
