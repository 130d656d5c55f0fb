#include "fleetscale/agent/engine_containers.h"

#include <gtest/gtest.h>

namespace fleetscale::agent {
namespace {

// The shape of GET /containers/json from Docker Engine API v1.43 (abridged from the API
// reference's example; SYNTHETIC values).
constexpr const char* kContainers = R"json([
  {"Id": "8dfafdbc3a40000000000000000000000000000000000000000000000000000a",
   "Names": ["/checkout"], "Image": "shop/checkout:1.4", "ImageID": "sha256:1",
   "Command": "run", "Created": 1714557600,
   "Ports": [{"PrivatePort": 8080, "Type": "tcp"}],
   "Labels": {"fleetscale.io/workload": "checkout", "com.example.vendor": "Acme"},
   "State": "running", "Status": "Up 2 hours",
   "HostConfig": {"NetworkMode": "default"},
   "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
   "Mounts": []},
  {"Id": "9cd87474be90000000000000000000000000000000000000000000000000000b",
   "Names": ["/adoring_euler", "/alias"], "Image": "redis:7", "Created": 1714557000,
   "Labels": {}, "State": "running"},
  {"Names": ["/no-id"]},
  {"Id": "c", "Names": "not-an-array", "Labels": [], "Created": "yesterday"}
])json";

TEST(EngineContainersTest, IndexesDockerAnswerById) {
  auto snapshot = parseEngineContainerList(kContainers, "docker");
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  ASSERT_EQ(snapshot->containers.size(), 3u);
  EXPECT_EQ(snapshot->skippedEntries, 1u);
  const auto& checkout =
      snapshot->containers.at("8dfafdbc3a40000000000000000000000000000000000000000000000000000a");
  EXPECT_EQ(checkout.runtime, "docker");
  EXPECT_EQ(checkout.metadata.container(), "checkout");
  EXPECT_EQ(checkout.metadata.image(), "shop/checkout:1.4");
  EXPECT_EQ(checkout.metadata.workload(), "checkout") << "from the fleetscale.io/workload label";
  EXPECT_EQ(checkout.metadata.workload_kind(), "");
  EXPECT_EQ(checkout.metadata.start_time_unix_ms(), 1714557600000);
  const auto& redis =
      snapshot->containers.at("9cd87474be90000000000000000000000000000000000000000000000000000b");
  EXPECT_EQ(redis.metadata.container(), "adoring_euler");
  EXPECT_EQ(redis.metadata.workload(), "");
  const auto& odd = snapshot->containers.at("c");
  EXPECT_EQ(odd.metadata.container(), "");
  EXPECT_EQ(odd.metadata.start_time_unix_ms(), 0);
}

TEST(EngineContainersTest, BadAnswersAreErrors) {
  EXPECT_FALSE(parseEngineContainerList("", "docker").ok());
  EXPECT_FALSE(parseEngineContainerList(R"({"message": "page not found"})", "docker").ok());
  EXPECT_FALSE(parseEngineContainerList("[{", "podman").ok());
  auto empty = parseEngineContainerList("[]", "podman");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->containers.empty());
}

}  // namespace
}  // namespace fleetscale::agent
