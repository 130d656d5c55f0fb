// fleetscalectl's operator commands against the real aggregator: status, drain and undrain with
// the admin token, a drain that survives an aggregator restart, reload, and explain.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleetscale/testing/fleet_processes.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kPolicy = R"(clusters:
  - name: aws
    cloud: aws
    server: http://127.0.0.1:1
  - name: gcp
    cloud: gcp
    server: http://127.0.0.1:1
workloads:
  - namespace: shop
    name: web
    maxReplicas: 10
    clusters: [aws, {name: gcp, weight: 2}]
    metrics:
      - type: Resource
        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
)";

class CtlScalingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeFile(dir_.file("policy.yaml"), kPolicy);
    testing::writeFile(dir_.file("admin-token"), "s3cret-admin\n");
    start();
  }

  void start() {
    aggregator_.reset();
    std::remove(dir_.file("ready.json").c_str());
    aggregator_ = std::make_unique<testing::Process>(
        testing::binaryPath("fleetscale-aggregator"),
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                                 "--http-anonymous-reads", "--state-dir", dir_.file("state"),
                                 "--ready-file", dir_.file("ready.json"), "--policy",
                                 dir_.file("policy.yaml"), "--admin-token-file",
                                 dir_.file("admin-token"), "--threads", "2"});
    const auto ports = testing::waitForReadyFile(dir_.file("ready.json"));
    ASSERT_NE(ports.http, 0) << aggregator_->errors();
    server_ = "http://127.0.0.1:" + std::to_string(ports.http);
  }

  testing::CommandResult ctl(std::vector<std::string> args, bool admin = false) {
    args.insert(args.begin(), {"--server", server_});
    if (admin) args.insert(args.begin(), {"--token", "s3cret-admin"});
    return testing::runCommand(testing::binaryPath("fleetscalectl"), args, seconds(20));
  }

  json statusJson() {
    const auto result = ctl({"-o", "json", "status"});
    EXPECT_EQ(result.status, 0) << result.errors;
    return json::parse(result.output, nullptr, false);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::Process> aggregator_;
  std::string server_;
};

TEST_F(CtlScalingTest, StatusListsClustersAndWorkloadsFromThePolicy) {
  const auto result = ctl({"status"});
  ASSERT_EQ(result.status, 0) << result.errors;
  EXPECT_NE(result.output.find("Aggregator role: leader"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("aws"), std::string::npos);
  EXPECT_NE(result.output.find("gcp"), std::string::npos);
  EXPECT_EQ(result.output.find("Drains:"), std::string::npos) << "no drain yet";
  const json status = statusJson();
  ASSERT_EQ(status["clusters"].size(), 2u);
  EXPECT_FALSE(status["clusters"][0]["apiReachable"].get<bool>()) << "its API refuses connections";
}

TEST_F(CtlScalingTest, DrainNeedsTheAdminTokenShowsProgressAndSurvivesARestart) {
  const auto refused = ctl({"drain", "aws"});
  EXPECT_EQ(refused.status, 3) << refused.output;
  EXPECT_NE(refused.errors.find("--token"), std::string::npos) << refused.errors;
  EXPECT_TRUE(statusJson()["drains"].empty()) << "a refused drain changes nothing";

  const auto unknown = ctl({"drain", "azure"}, true);
  EXPECT_EQ(unknown.status, 4);
  EXPECT_NE(unknown.errors.find("azure"), std::string::npos);

  const auto drained = ctl({"drain", "aws"}, true);
  ASSERT_EQ(drained.status, 0) << drained.errors;
  EXPECT_NE(drained.output.find("aws is draining"), std::string::npos);
  json status = statusJson();
  ASSERT_EQ(status["drains"].size(), 1u);
  EXPECT_EQ(status["drains"][0]["cluster"], "aws");
  EXPECT_NE(ctl({"status"}).output.find("Drains:"), std::string::npos);

  // The drain is stored before the answer: an aggregator killed (SIGKILL) and restarted right
  // after carries on with it.
  start();
  status = statusJson();
  ASSERT_EQ(status["drains"].size(), 1u) << status.dump();
  EXPECT_EQ(status["drains"][0]["cluster"], "aws");

  ASSERT_EQ(ctl({"undrain", "aws"}, true).status, 0);
  EXPECT_TRUE(statusJson()["drains"].empty());
  // Events reach the store in batches: wait for the second one.
  std::string events;
  EXPECT_TRUE(testing::waitFor(
      [&] {
        events = ctl({"-o", "json", "events", "--kind", "cluster_drain"}).output;
        const json parsed = json::parse(events, nullptr, false);
        return parsed.is_object() && parsed["items"].size() == 2u;
      },
      seconds(10)))
      << "drain and undrain recorded: " << events;
}

TEST_F(CtlScalingTest, ReloadAndExplain) {
  EXPECT_EQ(ctl({"reload"}).status, 3);
  const auto reloaded = ctl({"reload"}, true);
  EXPECT_EQ(reloaded.status, 0) << reloaded.errors;
  EXPECT_NE(reloaded.output.find("policy reloaded"), std::string::npos);

  // A bad new policy is refused with its line and field, and the old one is kept.
  testing::writeFile(dir_.file("policy.yaml"), std::string(kPolicy) + "    maxReplica: 3\n");
  const auto rejected = ctl({"reload"}, true);
  EXPECT_EQ(rejected.status, 2);
  EXPECT_NE(rejected.errors.find("maxReplica: unknown field"), std::string::npos)
      << rejected.errors;
  EXPECT_EQ(statusJson()["clusters"].size(), 2u);

  // No pods seen, no decision stored: explain says so rather than printing an empty table.
  const auto nothing = ctl({"explain", "shop/web"});
  EXPECT_EQ(nothing.status, 4);
  EXPECT_NE(nothing.errors.find("no decision recorded for shop/web"), std::string::npos)
      << nothing.errors;
  EXPECT_EQ(ctl({"explain", "web"}).status, 2) << "needs namespace/name";
}

}  // namespace
}  // namespace fleetscale
