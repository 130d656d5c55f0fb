// In-place resize and OOM kills in the running simulator, seen as the aggregator and the agents
// see them: pods/{name}/resize over HTTPS with the aggregator's credentials, the kubelet's pod
// list and the node's cgroup files, and the resize faults injected through the control API.
#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace testsupport;

constexpr double kMi = 1024.0 * 1024;

class SimResizeTest : public ::testing::Test {
 protected:
  void start(int cgroupVersion, std::optional<double> memoryPerReplicaMi = std::nullopt) {
    Scenario scenario;
    scenario.name = "resize";
    scenario.clusters = {cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, cgroupVersion)};
    scenario.clusters[0].resizeDelaySeconds = 0.2;
    WorkloadSpec checkout = workload("checkout", {{"aws-us-east-1", 1}}, 0.8);
    if (memoryPerReplicaMi) {
      checkout.memoryPerReplica = LoadCurve::constant(*memoryPerReplicaMi * kMi);
    }
    scenario.workloads = {checkout};
    simulator_ = std::make_unique<FleetSimulator>(scenario, options(state_.path()), clock_);
    ASSERT_TRUE(simulator_->start());
    aws_ = simulator_->findEndpoints("aws-us-east-1");
    ASSERT_NE(aws_, nullptr);
    controller_ = token(*aws_, "controller");
    const auto pods = httpsGet(*aws_, aws_->apiUrl + "/api/v1/namespaces/shop/pods", controller_);
    ASSERT_EQ(pods.status, 200) << pods.body;
    const json pod = json::parse(pods.body)["items"][0];
    pod_ = pod["metadata"]["name"].get<std::string>();
    containerId_ = pod["status"]["containerStatuses"][0]["containerID"].get<std::string>().substr(
        std::string("containerd://").size());
  }
  void TearDown() override {
    if (simulator_) simulator_->stop();
  }

  HttpClientResponse resize(const std::string& patch) {
    return httpsRequest(*aws_, "PATCH",
                        aws_->apiUrl + "/api/v1/namespaces/shop/pods/" + pod_ + "/resize",
                        controller_, patch, "application/strategic-merge-patch+json");
  }
  // The pod as the node's kubelet lists it.
  json kubeletPod() {
    const auto response =
        httpsGet(*aws_, aws_->nodes[0].kubeletUrl + "/pods", token(*aws_, "agent"));
    const json list = json::parse(response.body, nullptr, false);
    if (list.is_discarded()) return json();
    for (const auto& pod : list["items"]) {
      if (pod["metadata"]["name"] == pod_) return pod;
    }
    return json();
  }
  // A file of the container's cgroup on the node (v1: in the controller's hierarchy).
  std::string cgroupFile(const std::string& hierarchy, const std::string& name) {
    namespace fs = std::filesystem;
    const fs::path root = aws_->nodes[0].hostRoot + "/sys/fs/cgroup" + hierarchy;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory() &&
          it->path().filename().string().find(containerId_) != std::string::npos) {
        auto text = readFile((it->path() / name).string());
        return text ? *text : "";
      }
    }
    return "";
  }
  long control(const std::string& body) {
    CurlHttpClient client;
    HttpClientRequest request;
    request.method = "POST";
    request.url = "http://127.0.0.1:" + std::to_string(simulator_->controlPort()) + "/v1/faults";
    request.body = body;
    request.headers.emplace_back("Content-Type", "application/json");
    auto response = client.send(request);
    return response ? response->status : 0L;
  }

  SystemClock clock_;
  testing::TempDir state_{"sim-resize"};
  std::unique_ptr<FleetSimulator> simulator_;
  const ClusterEndpoints* aws_ = nullptr;
  std::string controller_;
  std::string pod_;
  std::string containerId_;
};

TEST_F(SimResizeTest, ResizedLimitsReachTheKubeletAndTheCgroupTree) {
  start(2);
  EXPECT_EQ(cgroupFile("", "cpu.max"), "100000 100000\n");
  const auto answer = resize(
      R"({"spec":{"containers":[{"name":"checkout","resources":{"requests":{"cpu":"300m"},"limits":{"cpu":"600m","memory":"768Mi"}}}]}})");
  ASSERT_EQ(answer.status, 200) << answer.body;
  // The kubelet's list shows the new spec at once, then the applied resources, no restart.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const json pod = kubeletPod();
        return !pod.is_null() &&
               pod["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"] == "600m";
      },
      seconds(10), milliseconds(50)));
  const json pod = kubeletPod();
  EXPECT_EQ(pod["spec"]["containers"][0]["resources"]["limits"]["memory"], "768Mi");
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["restartCount"], 0);
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["containerID"], "containerd://" + containerId_);
  // The files the agent reads follow within a tick.
  ASSERT_TRUE(testing::waitFor([&] { return cgroupFile("", "cpu.max") == "60000 100000\n"; },
                               seconds(2), milliseconds(20)))
      << cgroupFile("", "cpu.max");
  EXPECT_EQ(cgroupFile("", "memory.max"), std::to_string(768 * 1024 * 1024) + "\n");

  // RBAC denies the subresource; then an API server that lacks it; heal undoes both.
  EXPECT_EQ(control(R"({"fault": "resize-forbidden", "cluster": "aws-us-east-1"})"), 200);
  const std::string patch =
      R"({"spec":{"containers":[{"name":"checkout","resources":{"limits":{"cpu":"700m"}}}]}})";
  EXPECT_EQ(resize(patch).status, 403);
  EXPECT_EQ(control(R"({"fault": "resize-unsupported", "cluster": "aws-us-east-1"})"), 200);
  EXPECT_EQ(resize(patch).status, 404);
  EXPECT_EQ(control(R"({"fault": "heal", "cluster": "aws-us-east-1"})"), 200);
  EXPECT_EQ(resize(patch).status, 200);
}

TEST_F(SimResizeTest, AnOomLoopShowsInTheKubeletAndTheCgroupAndEndsWithALargerLimit) {
  start(1, 600.0);  // 600 MiB wanted under a 512 MiB limit: killed at every start
  auto oomKills = [&] {
    const std::string text = cgroupFile("/memory", "memory.oom_control");
    const auto at = text.find("oom_kill ");
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + 9));
  };
  ASSERT_TRUE(testing::waitFor([&] { return oomKills() >= 2; }, seconds(5), milliseconds(50)));
  json pod = kubeletPod();
  const json& status = pod["status"]["containerStatuses"][0];
  EXPECT_GE(status["restartCount"].get<int>(), 2);
  EXPECT_EQ(status["lastState"]["terminated"]["reason"], "OOMKilled");
  EXPECT_EQ(status["state"]["waiting"]["reason"], "CrashLoopBackOff");

  // A larger limit, applied to the waiting container: after the back-off it stays up.
  const auto answer = resize(
      R"({"spec":{"containers":[{"name":"checkout","resources":{"limits":{"memory":"1Gi"}}}]}})");
  ASSERT_EQ(answer.status, 200) << answer.body;
  const int killed = oomKills();
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const json now = kubeletPod();
        return !now.is_null() && now["status"]["containerStatuses"][0]["ready"] == true;
      },
      seconds(20), milliseconds(100)));
  EXPECT_EQ(oomKills(), killed);
  EXPECT_EQ(cgroupFile("/memory", "memory.limit_in_bytes"),
            std::to_string(1024 * 1024 * 1024) + "\n");
}

}  // namespace
}  // namespace fleetscale::sim
