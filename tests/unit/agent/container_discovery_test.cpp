#include "fleetscale/agent/container_discovery.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::agent {
namespace {

const std::string kId = "2d1e7cf3b0f4a1b7a8c79e1c3f5a9b6d4e2c8f0a1b3d5e7f9a0c2e4f6a8b0c1d";

struct Case {
  std::string path;
  bool isContainer;
  std::string runtime;
  std::string podUid;
  std::string qos;
};

TEST(ContainerDiscoveryTest, ClassifiesEveryKnownLayout) {
  const std::string uid = "0c6f1f9a-1f2b-4c3d-8e9f-0a1b2c3d4e5f";
  const std::string uidUnderscored = "0c6f1f9a_1f2b_4c3d_8e9f_0a1b2c3d4e5f";
  const std::vector<Case> cases = {
      // systemd driver, all QoS classes, all runtimes
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidUnderscored +
           ".slice/cri-containerd-" + kId + ".scope",
       true, "containerd", uid, "burstable"},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidUnderscored +
           ".slice/crio-" + kId + ".scope",
       true, "cri-o", uid, "besteffort"},
      {"/kubepods.slice/kubepods-pod" + uidUnderscored + ".slice/docker-" + kId + ".scope", true,
       "docker", uid, "guaranteed"},
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidUnderscored +
           ".slice/crio-conmon-" + kId + ".scope",
       false, "", "", ""},
      // cgroupfs driver
      {"/kubepods/burstable/pod" + uid + "/" + kId, true, "cri", uid, "burstable"},
      {"/kubepods/besteffort/pod" + uid + "/" + kId, true, "cri", uid, "besteffort"},
      {"/kubepods/pod" + uid + "/" + kId, true, "cri", uid, "guaranteed"},
      // non-default kubelet cgroup root
      {"/custom.slice/kubepods.slice/kubepods-pod" + uidUnderscored + ".slice/cri-containerd-" +
           kId + ".scope",
       true, "containerd", uid, "guaranteed"},
      {"/k8s/kubepods/burstable/pod" + uid + "/" + kId, true, "cri", uid, "burstable"},
      // VMs
      {"/system.slice/docker-" + kId + ".scope", true, "docker", "", ""},
      {"/docker/" + kId, true, "docker", "", ""},
      {"/machine.slice/libpod-" + kId + ".scope", true, "podman", "", ""},
      {"/machine.slice/libpod-conmon-" + kId + ".scope", false, "", "", ""},
      // not containers
      {"/kubepods.slice", false, "", "", ""},
      {"/kubepods.slice/kubepods-burstable.slice", false, "", "", ""},
      {"/system.slice/sshd.service", false, "", "", ""},
      {"/user.slice/user-0.slice/session-1.scope", false, "", "", ""},
      {"/docker-abc.scope", false, "", "", ""},
      {"/" + kId.substr(0, 63), false, "", "", ""},
      {"/", false, "", "", ""},
  };
  for (const auto& c : cases) {
    const auto result = classifyCgroup(c.path, DiscoveryOptions{});
    ASSERT_EQ(result.has_value(), c.isContainer) << c.path;
    if (!result) continue;
    EXPECT_EQ(result->id, kId) << c.path;
    EXPECT_EQ(result->runtime, c.runtime) << c.path;
    EXPECT_EQ(result->podUid, c.podUid) << c.path;
    EXPECT_EQ(result->qosClass, c.qos) << c.path;
    EXPECT_EQ(result->cgroup, c.path);
  }
}

TEST(ContainerDiscoveryTest, SystemdServicesOnlyWhenEnabled) {
  DiscoveryOptions options;
  EXPECT_FALSE(classifyCgroup("/system.slice/nginx.service", options));
  options.includeSystemdServices = true;
  auto service = classifyCgroup("/system.slice/nginx.service", options);
  ASSERT_TRUE(service);
  EXPECT_EQ(service->id, "nginx.service");
  EXPECT_EQ(service->runtime, "systemd");
  EXPECT_FALSE(classifyCgroup("/user.slice/foo.service", options));
}

TEST(ContainerDiscoveryTest, WalksATreeWithoutDescendingIntoContainers) {
  testing::TempDir root;
  namespace fs = std::filesystem;
  const std::string other = std::string(64, 'b');
  fs::create_directories(root.path() + "/kubepods/burstable/podu1/" + kId + "/nested/" + other);
  fs::create_directories(root.path() + "/system.slice/docker-" + other + ".scope");
  fs::create_directories(root.path() + "/user.slice/user-0.slice");
  testing::writeFile(root.file("cgroup.procs"), "");
  const auto found = discoverContainers(root.path(), DiscoveryOptions{});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].cgroup, "/kubepods/burstable/podu1/" + kId);
  EXPECT_EQ(found[1].id, other);
}

TEST(ContainerDiscoveryTest, MissingRootFindsNothing) {
  EXPECT_TRUE(discoverContainers("/nonexistent/cgroup", DiscoveryOptions{}).empty());
}

}  // namespace
}  // namespace fleetscale::agent
