// Needs root: creates a real cgroup on this machine (v1 or v2, whichever has the cpu and memory
// controllers), burns CPU in it under a quota, and checks that `fleetscale-agent --once` reports
// the rate the kernel's own counter shows over the same run.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/cgroup_parsers.h"
#include "fleetscale/agent/cgroup_reader.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::agent {
namespace {

namespace fs = std::filesystem;

std::string randomId() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 64; ++i) id.push_back("0123456789abcdef"[device() % 16]);
  return id;
}

// Creates the container's cgroup in every hierarchy the agent reads, removes it on destruction.
class RealCgroup {
 public:
  RealCgroup(const CgroupLayout& layout, const std::string& relative) : relative_(relative) {
    if (layout.version == CgroupVersion::kV2) {
      // Controllers must be enabled on the way down for cpu.max and memory files to exist.
      testing::writeFile(layout.unified + "/cgroup.subtree_control", "+cpu +memory");
      dirs_.push_back(layout.unified + parent());
      fs::create_directories(dirs_.back());
      std::ofstream(dirs_.back() + "/cgroup.subtree_control") << "+cpu +memory";
      dirs_.push_back(layout.unified + relative);
    } else {
      for (const auto& root : {layout.cpu, layout.cpuacct, layout.memory}) {
        if (root.empty()) continue;
        if (std::find(roots_.begin(), roots_.end(), root) != roots_.end()) continue;  // co-mounted
        roots_.push_back(root);
        dirs_.push_back(root + relative);
      }
    }
    for (const auto& dir : dirs_) fs::create_directories(dir);
  }
  ~RealCgroup() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      ::rmdir(it->c_str());
      ::rmdir(fs::path(*it).parent_path().c_str());
    }
  }
  std::string parent() const { return fs::path(relative_).parent_path().string(); }
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  std::string relative_;
  std::vector<std::string> roots_;
  std::vector<std::string> dirs_;
};

// Joins every directory of the container's cgroup and runs `command` there.
std::string joinAndRun(const RealCgroup& cgroup, const std::string& command) {
  std::string join;
  for (const auto& dir : cgroup.dirs()) {
    if (dir.find(cgroup.parent() + "/docker-") != std::string::npos) {
      join += "echo $$ > " + dir + "/cgroup.procs; ";
    }
  }
  return join + command;
}

// A CPU quota of half a core on the container's cgroup.
void capAtHalfACore(const CgroupLayout& layout, const std::string& relative) {
  if (layout.version == CgroupVersion::kV2) {
    testing::writeFile(layout.unified + relative + "/cpu.max", "50000 100000");
  } else {
    std::ofstream(layout.cpu + relative + "/cpu.cfs_quota_us") << "50000";
  }
}

void liftCpuLimit(const CgroupLayout& layout, const std::string& relative) {
  if (layout.version == CgroupVersion::kV2) {
    testing::writeFile(layout.unified + relative + "/cpu.max", "max 100000");
  } else {
    std::ofstream(layout.cpu + relative + "/cpu.cfs_quota_us") << "-1";
  }
}

std::uint64_t kernelUsageNs(const CgroupLayout& layout, const std::string& relative) {
  if (layout.version == CgroupVersion::kV2) {
    return *findKeyedValue(*readFile(layout.unified + relative + "/cpu.stat"), "usage_usec") * 1000;
  }
  return *parseSingleValue(*readFile(layout.cpuacct + relative + "/cpuacct.usage"));
}

TEST(RealCgroupTest, OnceReportsTheKernelsCpuRateWithin15Percent) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  auto layout = detectLayout("/proc/self/mountinfo", "/sys/fs/cgroup", "/");
  if (!layout) GTEST_SKIP() << "no usable cgroup hierarchy: " << layout.error().message;
  if (layout->version == CgroupVersion::kV1 && (layout->cpu.empty() || layout->cpuacct.empty())) {
    GTEST_SKIP() << "cgroup v1 without cpu and cpuacct controllers";
  }

  const std::string id = randomId();
  const std::string relative =
      "/fleetscale-test-" + std::to_string(::getpid()) + ".slice/docker-" + id + ".scope";
  RealCgroup cgroup(*layout, relative);
  // Half a core: the rate stays steady even when other tests compete for the CPUs.
  capAtHalfACore(*layout, relative);
  testing::Process burner("/bin/sh", {"-c", joinAndRun(cgroup, "while :; do :; done")});
  ASSERT_TRUE(testing::waitFor([&] { return kernelUsageNs(*layout, relative) > 50'000'000; }))
      << "burner never ran in the cgroup: " << burner.errors();

  const std::uint64_t before = kernelUsageNs(*layout, relative);
  const auto start = std::chrono::steady_clock::now();
  auto result = testing::runCommand(testing::binaryPath("fleetscale-agent"),
                                    {"--once", "--interval", "2s", "--node", "root-test"});
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::uint64_t after = kernelUsageNs(*layout, relative);
  burner.stop(SIGKILL);
  ASSERT_EQ(result.status, 0) << result.errors;

  const double kernelCores = static_cast<double>(after - before) / 1e9 / elapsed;
  auto json = nlohmann::json::parse(result.output);
  const nlohmann::json* found = nullptr;
  for (const auto& container : json["containers"]) {
    if (container["id"] == id) found = &container;
  }
  ASSERT_NE(found, nullptr) << "agent did not find the container: " << result.output;
  EXPECT_EQ((*found)["runtime"], "docker");
  ASSERT_TRUE((*found)["cpu_cores"].is_number());
  const double agentCores = (*found)["cpu_cores"].get<double>();
  EXPECT_GT(kernelCores, 0.2) << "the burner must really have run";
  EXPECT_NEAR(agentCores, kernelCores, 0.15 * kernelCores)
      << "agent " << agentCores << " cores, kernel " << kernelCores << " cores";
  EXPECT_NEAR((*found)["cpu_limit_cores"].get<double>(), 0.5, 1e-9);
  EXPECT_LE((*found)["memory_working_set_bytes"].get<std::uint64_t>(),
            (*found)["memory_usage_bytes"].get<std::uint64_t>());
}

// Issue 14: a replica at its CPU limit reports usage = limit, which hides what it wants. Two
// busy threads capped at half a core want two cores; the throttling-aware estimate (usage plus
// throttled seconds per second, aggregator/state/rollup.h) must see about that much.
TEST(RealCgroupTest, ThrottlingAwareDemandOfACappedTwoThreadBurnerIsAboutTwoCores) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  auto layout = detectLayout("/proc/self/mountinfo", "/sys/fs/cgroup", "/");
  if (!layout) GTEST_SKIP() << "no usable cgroup hierarchy: " << layout.error().message;
  if (layout->version == CgroupVersion::kV1 && (layout->cpu.empty() || layout->cpuacct.empty())) {
    GTEST_SKIP() << "cgroup v1 without cpu and cpuacct controllers";
  }
  const std::string id = randomId();
  const std::string relative =
      "/fleetscale-test-" + std::to_string(::getpid()) + ".slice/docker-" + id + ".scope";
  RealCgroup cgroup(*layout, relative);
  capAtHalfACore(*layout, relative);
  testing::Process burner(
      "/bin/sh", {"-c", joinAndRun(cgroup, "while :; do :; done & while :; do :; done; wait")});
  ASSERT_TRUE(testing::waitFor([&] { return kernelUsageNs(*layout, relative) > 100'000'000; }))
      << "burner never ran in the cgroup: " << burner.errors();

  auto result = testing::runCommand(testing::binaryPath("fleetscale-agent"),
                                    {"--once", "--interval", "2s", "--node", "root-test"});
  // The demand to compare with: what the two threads use with the limit lifted, on this machine
  // as loaded as it is now (two CPUs to themselves make it 2 cores; tests running beside take
  // some).
  liftCpuLimit(*layout, relative);
  const auto uncappedFrom = std::chrono::steady_clock::now();
  const std::uint64_t uncappedFromNs = kernelUsageNs(*layout, relative);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the measurement window, not a wait
  const double demand =
      static_cast<double>(kernelUsageNs(*layout, relative) - uncappedFromNs) / 1e9 /
      std::chrono::duration<double>(std::chrono::steady_clock::now() - uncappedFrom).count();
  burner.stop(SIGKILL);
  // The backgrounded loop outlives its shell: kill whatever is left in the cgroup, or it burns on
  // (and the cgroup cannot be removed).
  const std::string procs = cgroup.dirs().back() + "/cgroup.procs";
  ASSERT_TRUE(testing::waitFor([&] {
    auto pids = readFile(procs);
    if (!pids.ok()) return true;
    for (const auto& pid : splitFields(*pids, "\n")) {
      if (!trim(pid).empty()) ::kill(std::stoi(std::string(trim(pid))), SIGKILL);
    }
    return trim(*pids).empty();
  })) << "the burner's processes would not die";
  ASSERT_EQ(result.status, 0) << result.errors;
  auto json = nlohmann::json::parse(result.output);
  const nlohmann::json* found = nullptr;
  for (const auto& container : json["containers"]) {
    if (container["id"] == id) found = &container;
  }
  ASSERT_NE(found, nullptr) << "agent did not find the container: " << result.output;
  const double usage = (*found)["cpu_cores"].get<double>();
  ASSERT_TRUE((*found).contains("cpu_throttled_seconds_per_second")) << found->dump();
  const double throttled = (*found)["cpu_throttled_seconds_per_second"].get<double>();
  const double limit = (*found)["cpu_limit_cores"].get<double>();
  const double estimate = aggregator::estimateCpuDemandCores(usage, throttled, limit);
  EXPECT_NEAR(usage, 0.5, 0.1) << "usage hides the demand at the limit";
  // Exact while both threads have a CPU of their own (an idle machine of two: about 2 cores); an
  // upper bound when other work shares the CPUs, since throttled time runs while they would
  // have waited anyway: never far below what they got uncapped, never above their 2 threads.
  const std::string figures = "usage " + std::to_string(usage) + " + throttled " +
                              std::to_string(throttled) + " = " + std::to_string(estimate) +
                              " cores; uncapped the threads used " + std::to_string(demand);
  EXPECT_GE(estimate, 0.8 * demand) << figures;
  EXPECT_LE(estimate, 1.2 * 2) << figures;
}

struct RealLayout {
  CgroupLayout layout;
  std::string skipReason;
};

RealLayout realLayout() {
  if (::geteuid() != 0) return {{}, "needs root to create cgroups"};
  auto layout = detectLayout("/proc/self/mountinfo", "/sys/fs/cgroup", "/");
  if (!layout) return {{}, "no usable cgroup hierarchy: " + layout.error().message};
  if (layout->version == CgroupVersion::kV1 &&
      (layout->cpu.empty() || layout->cpuacct.empty() || layout->memory.empty())) {
    return {{}, "cgroup v1 without cpu, cpuacct and memory controllers"};
  }
  return {*layout, ""};
}

// The kept-open descriptors are what the agent's cost rests on: a pread at offset 0 of a real
// control file must see the kernel's current value every time, and a removed cgroup must read as
// gone, not as an error or stale data.
TEST(RealCgroupTest, KeptOpenFilesFollowTheKernelAndNoticeRemoval) {
  const RealLayout real = realLayout();
  if (!real.skipReason.empty()) GTEST_SKIP() << real.skipReason;
  const std::string relative =
      "/fleetscale-test-" + std::to_string(::getpid()) + ".slice/docker-" + randomId() + ".scope";
  auto cgroup = std::make_unique<RealCgroup>(real.layout, relative);
  auto reader = makeCgroupReader(real.layout);
  ASSERT_EQ(reader->access(), FileAccess::kKeepOpen) << "cgroupfs is recognised";
  auto handle = reader->open(relative);
  auto idle = handle->readCounters();
  ASSERT_TRUE(idle.ok()) << idle.error().message;
  EXPECT_GT(reader->keptDescriptors(), 0u);

  auto burner = std::make_unique<testing::Process>(
      "/bin/sh", std::vector<std::string>{"-c", joinAndRun(*cgroup, "while :; do :; done")});
  std::uint64_t previous = idle->cpuUsageNs;
  for (int reads = 0; reads < 3; ++reads) {
    ASSERT_TRUE(testing::waitFor([&] {
      auto now = handle->readCounters();
      return now.ok() && now->cpuUsageNs > previous + 10'000'000;
    })) << "the same descriptor, re-read with pread, shows the counter moving";
    previous = handle->readCounters()->cpuUsageNs;
  }
  EXPECT_LE(previous, kernelUsageNs(real.layout, relative)) << "a fresh open reads no less";
  burner->stop(SIGKILL);
  burner.reset();
  ASSERT_TRUE(testing::waitFor([&] {
    auto procs = readFile(cgroup->dirs().back() + "/cgroup.procs");
    return procs.ok() && trim(*procs).empty();
  }));
  cgroup.reset();  // rmdir while the handle's descriptors are still open
  auto gone = handle->readCounters();
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ENOENT) << gone.error().message;
}

TEST(RealCgroupTest, MemoryStatThroughKeptFilesMatchesAFreshRead) {
  const RealLayout real = realLayout();
  if (!real.skipReason.empty()) GTEST_SKIP() << real.skipReason;
  const std::string relative =
      "/fleetscale-test-" + std::to_string(::getpid()) + ".slice/docker-" + randomId() + ".scope";
  RealCgroup cgroup(real.layout, relative);
  testing::TempDir dir;
  // Page cache charged to the cgroup (inactive_file), then an idle process holding it.
  testing::Process writer("/bin/sh",
                          {"-c", joinAndRun(cgroup, "dd if=/dev/zero of=" + dir.file("cache") +
                                                        " bs=1M count=16 2>/dev/null; touch " +
                                                        dir.file("done") + "; exec sleep 60")});
  ASSERT_TRUE(testing::waitFor([&] { return std::filesystem::exists(dir.file("done")); }));
  auto reader = makeCgroupReader(real.layout);
  auto handle = reader->open(relative);
  ASSERT_TRUE(handle->readCounters().ok());
  ASSERT_TRUE(handle->readMemoryStat().ok());  // opened; the next reads are preads

  const bool v2 = real.layout.version == CgroupVersion::kV2;
  const std::string memoryDir = (v2 ? real.layout.unified : real.layout.memory) + relative;
  auto counters = handle->readCounters();
  auto memory = handle->readMemoryStat();
  auto freshUsage =
      parseSingleValue(*readFile(memoryDir + (v2 ? "/memory.current" : "/memory.usage_in_bytes")));
  auto freshStat = readFile(memoryDir + "/memory.stat");
  ASSERT_TRUE(counters.ok() && memory.ok() && freshUsage.ok() && freshStat.ok());
  const auto freshInactive =
      findKeyedValue(*freshStat, v2 ? "inactive_file" : "total_inactive_file");
  ASSERT_TRUE(freshInactive);
  EXPECT_GE(*freshInactive, 8u << 20) << "the file's pages are charged here (ext4/xfs /tmp)";
  // The cgroup is idle: the two reads see the same kernel state, give or take a few pages.
  EXPECT_NEAR(static_cast<double>(counters->memoryUsageBytes), static_cast<double>(*freshUsage),
              64 * 4096);
  EXPECT_NEAR(static_cast<double>(memory->inactiveFileBytes), static_cast<double>(*freshInactive),
              64 * 4096);
  writer.stop(SIGKILL);
}

}  // namespace
}  // namespace fleetscale::agent
