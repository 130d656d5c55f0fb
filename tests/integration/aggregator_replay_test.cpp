// `fleetscale-aggregator replay` as a process, on an aggregator.db the real store wrote: a load
// step in the recorded rollups becomes a scale-up at the right bucket, in JSON and in text; bad
// input exits 2 with the reason.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

constexpr std::int64_t kStartMs = 1'800'000'000'000;

class AggregatorReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two clusters with two 0.5-core replicas each; 1 core used in total for a minute, then 4.
    SqliteStoreOptions options;
    options.stateDir = dir_.path() + "/state";
    options.rollupRetention = std::chrono::hours(24 * 365 * 100);  // keep the old buckets
    SystemClock clock;
    auto store = SqliteStore::open(options, nullptr, clock);
    ASSERT_TRUE(store.ok()) << store.error().message;
    std::vector<RollupRow> rows;
    for (int bucket = 0; bucket < 12; ++bucket) {
      for (const char* cluster : {"aws-us-east-1", "gcp-europe-west1"}) {
        RollupRow row;
        row.bucketStartUnixMs = kStartMs + bucket * 10'000;
        row.workload = WorkloadKey{"shop", "Deployment", "web"};
        row.cluster = cluster;
        row.replicasSeen = 2;
        row.replicasReady = 2;
        row.cpuUsageCores = bucket < 6 ? 0.5 : 2.0;
        row.cpuRequestCores = 1.0;
        row.memoryUsageBytes = 200e6;
        row.memoryRequestBytes = 512e6;
        row.ticks = 10;
        rows.push_back(row);
      }
    }
    (*store)->recordRollups(rows);
    (*store)->flush();
    auto stored = (*store)->rollups(RollupQuery{});
    ASSERT_TRUE(stored.ok());
    ASSERT_EQ(stored->size(), 24u);
    storePath_ = (*store)->path();

    policy_ = dir_.path() + "/policy.yaml";
    testing::writeFile(policy_,
                       "workloads:\n"
                       "  - namespace: shop\n"
                       "    name: web\n"
                       "    minReplicas: 2\n"
                       "    maxReplicas: 20\n"
                       "    metrics:\n"
                       "      - type: Resource\n"
                       "        resource: {name: cpu, target: {type: Utilization, "
                       "averageUtilization: 50}}\n");
  }

  testing::CommandResult replay(std::vector<std::string> args) {
    args.insert(args.begin(), "replay");
    return testing::runCommand(testing::binaryPath("fleetscale-aggregator"), args);
  }

  testing::TempDir dir_{"aggregator-replay"};
  std::string storePath_;
  std::string policy_;
};

TEST_F(AggregatorReplayTest, ReplaysTheStoresRollupsAndScalesUpAtTheLoadStep) {
  const auto run =
      replay({"--history", storePath_, "--config", policy_, "--workload", "shop/web", "--json"});
  ASSERT_EQ(run.status, 0) << run.errors;
  const json out = json::parse(run.output);
  ASSERT_EQ(out["workloads"].size(), 1u);
  const json& web = out["workloads"][0];
  EXPECT_EQ(web["workload"]["name"], "web");
  EXPECT_EQ(web["capacityPerReplicaCores"], 0.5);
  const json& steps = web["steps"];
  ASSERT_EQ(steps.size(), 12u);
  EXPECT_EQ(steps[0]["time"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(steps[0]["currentReplicas"], 4);  // both clusters' replicas
  for (int i = 0; i < 6; ++i) EXPECT_FALSE(steps[i]["scaled"].get<bool>()) << steps[i].dump();
  // The step at +60 s: 4 cores on 4 x 0.5 requested is 200% against 50%: 16, limited to
  // max(2 x 4, 4) = 8 without behavior.
  EXPECT_EQ(steps[6]["offsetSeconds"], 60.0);
  EXPECT_TRUE(steps[6]["scaled"].get<bool>());
  EXPECT_EQ(steps[6]["desiredReplicas"], 8);
  EXPECT_EQ(steps[6]["reason"].get<std::string>().find("scale up from 4 to 8"), 0u)
      << steps[6]["reason"];
  // +70 s: eight ready at 100% want 16, within max(2 x 8, 4); +80 s: sixteen at 50%, on target.
  EXPECT_EQ(steps[7]["desiredReplicas"], 16);
  EXPECT_FALSE(steps[8]["scaled"].get<bool>()) << steps[8].dump();
  EXPECT_EQ(web["replayed"]["actions"], 2);
  EXPECT_EQ(web["replayed"]["underProvisionedSeconds"], 10.0);
  EXPECT_EQ(web["recorded"]["underProvisionedSeconds"], 60.0);
  EXPECT_EQ(web["recorded"]["actions"], 0);

  // The same as a table for people.
  const auto text = replay({"--history", storePath_, "--config", policy_, "--changes-only"});
  ASSERT_EQ(text.status, 0) << text.errors;
  EXPECT_NE(text.output.find("Deployment shop/web: 12 steps from 2027-01-15T08:00:00.000Z"),
            std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("scale up from 4 to 8"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("time under-provisioned (s)"), std::string::npos) << text.output;
}

// Three days of a daily load at 1-minute samples, with 90 s from asking for a replica to it
// serving: the same policy replayed reactive and predictive. From the second day on the forecast
// asks ahead of each rise, so the fleet is under-provisioned for less time.
TEST_F(AggregatorReplayTest, PredictiveReplayAsksAheadOfTheDailyRise) {
  std::string csv = "time,workload,cluster,replicas,cpu_usage,cpu_request\n";
  for (int minute = 0; minute < 3 * 1440; ++minute) {
    const double phase = 2 * 3.141592653589793 * (minute % 1440) / 1440.0;
    const double cores = 6 - 4 * std::cos(phase);
    csv += std::to_string(minute * 60) + ",shop/web,aws," + std::to_string(cores / 0.5) + "," +
           std::to_string(cores) + "," + std::to_string(cores / 0.5) + "\n";
  }
  testing::writeFile(dir_.path() + "/daily.csv", csv);
  const auto run = [&](const std::string& mode) {
    const auto result =
        replay({"--history", dir_.path() + "/daily.csv", "--config", policy_, "--readiness-delay",
                "90s", "--capacity-per-replica", "500m", "--predictive", mode, "--json"});
    EXPECT_EQ(result.status, 0) << result.errors;
    return json::parse(result.output)["workloads"][0];
  };
  const json reactive = run("off");
  const json predictive = run("on");
  const double reactiveUnder = reactive["replayed"]["underProvisionedSeconds"].get<double>();
  const double predictiveUnder = predictive["replayed"]["underProvisionedSeconds"].get<double>();
  EXPECT_GT(reactiveUnder, 0);
  EXPECT_LT(predictiveUnder, reactiveUnder / 2) << reactiveUnder << " s reactive";
  int raised = 0;
  for (const auto& step : predictive["steps"]) {
    raised += step["reason"].get<std::string>().rfind("forecast", 0) == 0 ? 1 : 0;
  }
  EXPECT_GT(raised, 0) << "some decisions came from the forecast";
  const auto refused = replay(
      {"--history", dir_.path() + "/daily.csv", "--config", policy_, "--predictive", "always"});
  EXPECT_EQ(refused.status, 2);
}

// Issue 14: a history recorded at a CPU limit, replayed both ways. At the target (1 core of 2
// requested), then for a minute the pods use all their 2 cores (the limit) and are throttled
// for 4 more: on usage the policy sees
// 100% of requests, throttling-aware it sees the 6 cores wanted.
TEST_F(AggregatorReplayTest, DemandModeReadsTheRecordedUnmetDemand) {
  std::string csv = "time,workload,replicas,cpu_usage,cpu_request,cpu_unmet_demand\n";
  for (int t = 0; t <= 60; t += 10) {
    csv += std::to_string(t) + (t == 0 ? ",shop/web,4,1,2,0\n" : ",shop/web,4,2,2,4\n");
  }
  testing::writeFile(dir_.path() + "/capped.csv", csv);
  const auto run = [&](const std::string& demand) {
    const auto result = replay({"--history", dir_.path() + "/capped.csv", "--config", policy_,
                                "--demand", demand, "--json"});
    EXPECT_EQ(result.status, 0) << result.errors;
    return json::parse(result.output)["workloads"][0];
  };
  const json usage = run("usage");
  const json demand = run("throttling-aware");
  // At 10 s: 2 cores on 4 x 0.5 is 100% against 50%: 8; 6 cores is 300%: 24, limited to 8.
  // At 20 s, on 8 ready replicas: usage 50% holds; demand 150% wants 24, limited to 16.
  EXPECT_EQ(usage["steps"][2]["desiredReplicas"], 8);
  EXPECT_EQ(demand["steps"][2]["desiredReplicas"], 16);
  EXPECT_EQ(demand["steps"][2]["demandCores"], 6.0);
  EXPECT_LT(demand["replayed"]["shortfallCoreSeconds"].get<double>(),
            usage["replayed"]["shortfallCoreSeconds"].get<double>());
  EXPECT_EQ(replay({"--history", dir_.path() + "/capped.csv", "--config", policy_, "--demand",
                    "everything"})
                .status,
            2);
}

TEST_F(AggregatorReplayTest, BadInputExitsTwoWithTheReason) {
  const std::string csv = dir_.path() + "/history.csv";
  testing::writeFile(csv,
                     "time,workload,replicas,cpu_usage,cpu_request\n0,shop/web,2,1,1\n"
                     "10,shop/web,two,1,1\n");
  const auto garbage = replay({"--history", csv, "--config", policy_});
  EXPECT_EQ(garbage.status, 2);
  EXPECT_NE(garbage.errors.find(csv + ": line 3: replicas: 'two' is not a number or a quantity"),
            std::string::npos)
      << garbage.errors;

  const auto unknown =
      replay({"--history", storePath_, "--config", policy_, "--workload", "shop/api"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.errors.find("the policy file has no workload shop/api"), std::string::npos)
      << unknown.errors;

  const auto missing = replay({"--history", dir_.path() + "/nope.db", "--config", policy_});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.errors.find("nope.db: no such file"), std::string::npos) << missing.errors;
}

}  // namespace
}  // namespace fleetscale::aggregator
