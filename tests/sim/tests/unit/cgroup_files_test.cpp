#include "fleetscale/sim/cgroup_files.h"

#include <gtest/gtest.h>

#include "fleetscale/agent/cgroup_parsers.h"
#include "fleetscale/agent/container_discovery.h"
#include "fleetscale/agent/mountinfo.h"
#include "fleetscale/agent/node_stats.h"

namespace fleetscale::sim {
namespace {

const std::string kUid = "6f1e7bd3-9c2a-4f5e-8d1b-2a3c4d5e6f70";
const std::string kId = std::string(64, 'a');

TEST(CgroupFilesTest, PathsFollowTheKubeletsDrivers) {
  EXPECT_EQ(containerCgroupPath(CgroupDriver::kSystemd, QosClass::kBurstable, kUid, kId),
            "/kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-pod6f1e7bd3_9c2a_4f5e_8d1b_2a3c4d5e6f70.slice/cri-containerd-" +
                kId + ".scope");
  EXPECT_EQ(
      containerCgroupPath(CgroupDriver::kSystemd, QosClass::kGuaranteed, kUid, kId),
      "/kubepods.slice/kubepods-pod6f1e7bd3_9c2a_4f5e_8d1b_2a3c4d5e6f70.slice/cri-containerd-" +
          kId + ".scope");
  EXPECT_EQ(containerCgroupPath(CgroupDriver::kCgroupfs, QosClass::kBestEffort, kUid, kId),
            "/kubepods/besteffort/pod" + kUid + "/" + kId);
  EXPECT_EQ(containerCgroupPath(CgroupDriver::kCgroupfs, QosClass::kGuaranteed, kUid, kId),
            "/kubepods/pod" + kUid + "/" + kId);
}

TEST(CgroupFilesTest, TheAgentClassifiesEveryPathWithItsPodAndQos) {
  const std::pair<QosClass, std::string> qosNames[] = {{QosClass::kGuaranteed, "Guaranteed"},
                                                       {QosClass::kBurstable, "Burstable"},
                                                       {QosClass::kBestEffort, "BestEffort"}};
  for (CgroupDriver driver : {CgroupDriver::kSystemd, CgroupDriver::kCgroupfs}) {
    for (const auto& [qos, name] : qosNames) {
      const auto found = agent::classifyCgroup(containerCgroupPath(driver, qos, kUid, kId),
                                               agent::DiscoveryOptions{});
      ASSERT_TRUE(found) << toString(driver) << " " << name;
      EXPECT_EQ(found->id, kId);
      EXPECT_EQ(found->podUid, kUid);
      EXPECT_EQ(found->qosClass, name);
    }
  }
}

TEST(CgroupFilesTest, LimitsBecomeTheKubeletsCgroupSettings) {
  const CgroupLimits limits = limitsOf({0.25, 0.5, std::nullopt, 512.0 * 1024 * 1024});
  const auto v2 = v2StaticFiles(limits);
  EXPECT_EQ(v2.at("cpu.max"), "50000 100000\n");
  EXPECT_EQ(v2.at("memory.max"), "536870912\n");
  EXPECT_EQ(cpuSharesOf(0.25), 256u);
  EXPECT_EQ(v2.at("cpu.weight"), "10\n");  // 1 + (256 - 2) * 9999 / 262142
  EXPECT_EQ(agent::sharesToWeight(256), 10u);
  EXPECT_EQ(v2StaticFiles(limitsOf({})).at("cpu.max"), "max 100000\n");
  EXPECT_EQ(cpuSharesOf(0), 2u);
  const auto v1 = v1CpuStaticFiles(limits);
  EXPECT_EQ(v1.at("cpu.cfs_quota_us"), "50000\n");
  EXPECT_EQ(v1.at("cpu.shares"), "256\n");
  EXPECT_EQ(v1MemoryStaticFiles(limitsOf({})).at("memory.limit_in_bytes"), "9223372036854771712\n");
}

TEST(CgroupFilesTest, CountersParseBackWithTheAgentsParsers) {
  ContainerCounters counters;
  counters.cpuNs = 12'345'678'000;
  counters.throttledNs = 2'000'000'000;
  counters.periods = 120;
  counters.throttledPeriods = 30;
  counters.memoryBytes = 300.0 * 1024 * 1024;
  const std::string cpuStat = v2CpuStat(counters);
  EXPECT_TRUE(agent::isWellFormedKeyed(cpuStat));
  EXPECT_EQ(agent::findKeyedValue(cpuStat, "usage_usec"), 12'345'678u);
  EXPECT_EQ(agent::findKeyedValue(cpuStat, "nr_throttled"), 30u);
  EXPECT_EQ(agent::findKeyedValue(cpuStat, "throttled_usec"), 2'000'000u);

  // Working set = current - inactive_file, in both versions.
  const std::string v2Stat = v2MemoryStat(counters.memoryBytes);
  EXPECT_TRUE(agent::isWellFormedKeyed(v2Stat));
  const auto inactive = agent::findKeyedValue(v2Stat, "inactive_file");
  ASSERT_TRUE(inactive);
  EXPECT_EQ(agent::workingSet(v2MemoryCurrent(counters.memoryBytes), *inactive),
            static_cast<std::uint64_t>(counters.memoryBytes));
  const std::string v1Stat = v1MemoryStat(counters.memoryBytes, std::nullopt);
  EXPECT_TRUE(agent::isWellFormedKeyed(v1Stat));
  const auto totalInactive = agent::findKeyedValue(v1Stat, "total_inactive_file");
  ASSERT_TRUE(totalInactive);
  EXPECT_EQ(agent::workingSet(v1MemoryUsage(counters.memoryBytes), *totalInactive),
            static_cast<std::uint64_t>(counters.memoryBytes));
  EXPECT_EQ(agent::findKeyedValue(v1CpuacctStat(counters), "user").value() +
                agent::findKeyedValue(v1CpuacctStat(counters), "system").value(),
            1234u);  // USER_HZ ticks
  EXPECT_TRUE(agent::parsePressure(v2CpuPressure(counters)));
}

TEST(CgroupFilesTest, NodeFilesParseBackWithTheAgentsParsers) {
  auto stat = agent::parseProcStat(procStat(4, 3e9, 5e9, 1'700'000'000));
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->cpuCount, 4);
  EXPECT_EQ(stat->totalTicks, 800u);
  EXPECT_EQ(stat->idleTicks, 500u);
  auto memory =
      agent::parseMemInfo(procMeminfo(16.0 * 1024 * 1024 * 1024, 4.0 * 1024 * 1024 * 1024));
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->totalBytes, 16ull * 1024 * 1024 * 1024);
  EXPECT_EQ(memory->availableBytes, 12ull * 1024 * 1024 * 1024);
  for (int version : {1, 2}) {
    const auto mounts = agent::parseMountInfo(mountinfo(version));
    bool cgroupMount = false;
    for (const auto& mount : mounts) {
      cgroupMount = cgroupMount || mount.fsType == (version == 2 ? "cgroup2" : "cgroup");
    }
    EXPECT_TRUE(cgroupMount) << version;
  }
}

}  // namespace
}  // namespace fleetscale::sim
