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
       true, "containerd", uid, "Burstable"},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidUnderscored +
           ".slice/crio-" + kId + ".scope",
       true, "cri-o", uid, "BestEffort"},
      {"/kubepods.slice/kubepods-pod" + uidUnderscored + ".slice/docker-" + kId + ".scope", true,
       "docker", uid, "Guaranteed"},
      {"/kubepods.slice/kubepods-pod" + uidUnderscored + ".slice/cri-containerd-" + kId + ".scope",
       true, "containerd", uid, "Guaranteed"},
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidUnderscored +
           ".slice/crio-conmon-" + kId + ".scope",
       false, "", "", ""},
      // cgroupfs driver: the path does not name the runtime, except CRI-O's
      {"/kubepods/burstable/pod" + uid + "/" + kId, true, "cri", uid, "Burstable"},
      {"/kubepods/besteffort/pod" + uid + "/" + kId, true, "cri", uid, "BestEffort"},
      {"/kubepods/pod" + uid + "/" + kId, true, "cri", uid, "Guaranteed"},
      {"/kubepods/burstable/pod" + uid + "/crio-" + kId, true, "cri-o", uid, "Burstable"},
      {"/kubepods/burstable/pod" + uid + "/crio-conmon-" + kId, false, "", "", ""},
      // non-default kubelet cgroup root (--cgroup-root=/kubelet.slice, /kubelet, /custom/k8s)
      {"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
       "kubelet-kubepods-burstable-pod" +
           uidUnderscored + ".slice/cri-containerd-" + kId + ".scope",
       true, "containerd", uid, "Burstable"},
      {"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + uidUnderscored +
           ".slice/crio-" + kId + ".scope",
       true, "cri-o", uid, "Guaranteed"},
      {"/custom.slice/kubepods.slice/kubepods-pod" + uidUnderscored + ".slice/cri-containerd-" +
           kId + ".scope",
       true, "containerd", uid, "Guaranteed"},
      {"/kubelet/kubepods/besteffort/pod" + uid + "/" + kId, true, "cri", uid, "BestEffort"},
      {"/custom/k8s/kubepods/pod" + uid + "/" + kId, true, "cri", uid, "Guaranteed"},
      // static pods have a hash for a uid
      {"/kubepods/burstable/pod38d78cbd438e068d417c11c848b26f09/" + kId, true, "cri",
       "38d78cbd438e068d417c11c848b26f09", "Burstable"},
      // VMs
      {"/system.slice/docker-" + kId + ".scope", true, "docker", "", ""},
      {"/docker/" + kId, true, "docker", "", ""},
      {"/machine.slice/libpod-" + kId + ".scope", true, "podman", "", ""},
      {"/machine.slice/libpod-conmon-" + kId + ".scope", false, "", "", ""},
      {"/libpod_parent/libpod-" + kId, true, "podman", "", ""},
      {"/some/other/" + kId, true, "unknown", "", ""},
      // not containers
      {"/kubepods.slice", false, "", "", ""},
      {"/kubepods.slice/kubepods-burstable.slice", false, "", "", ""},
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidUnderscored +
           ".slice",
       false, "", "", ""},
      {"/system.slice/sshd.service", false, "", "", ""},
      {"/user.slice/user-0.slice/session-1.scope", false, "", "", ""},
      {"/docker-abc.scope", false, "", "", ""},
      {"/docker-" + kId.substr(0, 63) + ".scope", false, "", "", ""},
      {"/docker-" + kId + "0.scope", false, "", "", ""},
      {"/cri-containerd-" + std::string(64, 'G') + ".scope", false, "", "", ""},
      {"/" + kId.substr(0, 63), false, "", "", ""},
      {"/", false, "", "", ""},
      {"", false, "", "", ""},
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
  auto templated = classifyCgroup("/system.slice/system-getty.slice/getty@tty1.service", options);
  ASSERT_TRUE(templated) << "template instances live in a nested slice";
  EXPECT_EQ(templated->id, "getty@tty1.service");
  EXPECT_FALSE(classifyCgroup("/system.slice/.service", options));
  EXPECT_FALSE(classifyCgroup("/system.slice", options));
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
