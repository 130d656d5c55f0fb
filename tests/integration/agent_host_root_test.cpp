// --host-root: the real fleetscale-agent inside a "container" that mounts the host at a
// directory finds everything under it — mountinfo, the cgroup tree, /proc and the Docker socket.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fake_docker.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale {
namespace {

const std::string kId = "8dfafdbc3a40000000000000000000000000000000000000000000000000000a";

TEST(AgentHostRootTest, EveryHostPathIsReadUnderTheHostRoot) {
  testing::TempDir host;
  // PID 1's mountinfo names the unified hierarchy at /sys/fs/cgroup, as on a v2 host.
  testing::writeFile(host.file("proc/1/mountinfo"),
                     "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - "
                     "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n");
  testing::writeFile(host.file("proc/stat"),
                     "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 1\ncpu1 1\ncpu2 1\ncpu3 1\n");
  testing::writeFile(host.file("proc/meminfo"),
                     "MemTotal:        8000000 kB\nMemAvailable:    6000000 kB\n");
  testing::writeV2Container(host.file("sys/fs/cgroup"), "/system.slice/docker-" + kId + ".scope",
                            {1'000'000, 64 << 20, 0, 0});
  testing::FakeDockerEngine docker(
      host.file("var/run/docker.sock"),
      R"([{"Id":")" + kId +
          R"(","Names":["/checkout"],"Image":"shop/checkout:1.4","Labels":{"fleetscale.io/workload":"checkout"}}])");

  auto result = testing::runCommand(
      testing::binaryPath("fleetscale-agent"),
      {"--once", "--interval", "200ms", "--host-root", host.path(), "--node", "vm-1"});
  ASSERT_EQ(result.status, 0) << result.errors;
  auto json = nlohmann::json::parse(result.output);
  EXPECT_EQ(json["node_cpu_capacity_cores"], 4.0) << "the host's /proc/stat, not this machine's";
  EXPECT_EQ(json["node_memory_capacity_bytes"], 8000000ull * 1024);
  ASSERT_EQ(json["containers"].size(), 1u) << result.output;
  const auto& container = json["containers"][0];
  EXPECT_EQ(container["id"], kId);
  EXPECT_EQ(container["runtime"], "docker");
  EXPECT_EQ(container["container"], "checkout") << "from the host's Docker socket";
  EXPECT_EQ(container["workload"], "checkout") << "the fleetscale.io/workload label";
  EXPECT_GE(docker.requests(), 1);
}

}  // namespace
}  // namespace fleetscale
