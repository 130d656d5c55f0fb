#include "fleetscale/agent/sampler.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::agent {
namespace {

using std::chrono::seconds;

const std::string kA = std::string(64, 'a');
const std::string kB = std::string(64, 'b');
const std::string kPathA = "/system.slice/docker-" + kA + ".scope";
const std::string kPathB = "/system.slice/docker-" + kB + ".scope";

class SamplerTest : public ::testing::Test {
 protected:
  Sampler makeSampler() {
    CgroupLayout layout{CgroupVersion::kV2, root_.path(), "", "", ""};
    SamplerOptions options;
    options.rediscoverEvery = seconds(5);
    options.hostRoot = root_.path() + "/host";  // no /proc here: node totals stay empty
    return Sampler(layout, makeCgroupReader(layout), options, clock_);
  }
  void write(const std::string& path, std::uint64_t cpuNs, std::uint64_t memory = 1000) {
    testing::writeV2Container(root_.path(), path, {cpuNs, memory, 100, 500});
  }
  const v1::ContainerSample* find(const v1::SampleBatch& batch, const std::string& id) {
    for (const auto& c : batch.containers()) {
      if (c.id() == id) return &c;
    }
    return nullptr;
  }

  testing::TempDir root_;
  ManualClock clock_;
};

TEST_F(SamplerTest, FirstTickHasNoRateSecondTickHasTheRate) {
  write(kPathA, 1'000'000'000);
  auto sampler = makeSampler();
  auto first = sampler.sample();
  ASSERT_EQ(first.containers_size(), 1);
  EXPECT_FALSE(first.containers(0).has_cpu_cores());
  EXPECT_EQ(first.containers(0).memory_working_set_bytes(), 900u);
  EXPECT_EQ(first.containers(0).runtime(), "docker");

  write(kPathA, 1'500'000'000);  // +0.5 s of CPU
  clock_.advance(seconds(1));
  auto second = sampler.sample();
  ASSERT_EQ(second.containers_size(), 1);
  ASSERT_TRUE(second.containers(0).has_cpu_cores());
  EXPECT_NEAR(second.containers(0).cpu_cores(), 0.5, 1e-9);
  EXPECT_NEAR(second.containers(0).cpu_user_cores(), 0.375, 1e-3);
}

TEST_F(SamplerTest, CounterResetStartsANewBaselineWithoutNegativeRate) {
  write(kPathA, 5'000'000'000);
  auto sampler = makeSampler();
  (void)sampler.sample();
  write(kPathA, 1'000'000'000);  // went backwards: the cgroup was recreated
  clock_.advance(seconds(1));
  auto reset = sampler.sample();
  EXPECT_FALSE(reset.containers(0).has_cpu_cores());
  write(kPathA, 1'200'000'000);
  clock_.advance(seconds(1));
  auto after = sampler.sample();
  EXPECT_NEAR(after.containers(0).cpu_cores(), 0.2, 1e-9);
}

TEST_F(SamplerTest, NewContainerAppearsAtRediscoveryWithFreshBaseline) {
  write(kPathA, 0);
  auto sampler = makeSampler();
  EXPECT_EQ(sampler.sample().containers_size(), 1);
  write(kPathB, 9'000'000'000);
  clock_.advance(seconds(1));
  EXPECT_EQ(sampler.sample().containers_size(), 1) << "not rediscovered yet";
  clock_.advance(seconds(5));
  auto batch = sampler.sample();
  ASSERT_EQ(batch.containers_size(), 2);
  ASSERT_NE(find(batch, kB), nullptr);
  EXPECT_FALSE(find(batch, kB)->has_cpu_cores()) << "no rate on a new container's first tick";
  EXPECT_TRUE(find(batch, kA)->has_cpu_cores());
}

TEST_F(SamplerTest, VanishedContainerIsDroppedAndCounted) {
  write(kPathA, 0);
  write(kPathB, 0);
  auto sampler = makeSampler();
  EXPECT_EQ(sampler.sample().containers_size(), 2);
  std::filesystem::remove_all(root_.path() + kPathB);
  clock_.advance(seconds(1));
  auto batch = sampler.sample();
  EXPECT_EQ(batch.containers_size(), 1);
  EXPECT_EQ(sampler.counters().vanishedContainers, 1u);
  EXPECT_EQ(sampler.counters().containersTracked, 1u);
}

TEST_F(SamplerTest, NodeTotalsFromProc) {
  testing::writeFile(root_.path() + "/host/proc/stat",
                     "cpu 100 0 0 100 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n");
  testing::writeFile(root_.path() + "/host/proc/meminfo",
                     "MemTotal: 1000 kB\nMemAvailable: 400 kB\n");
  auto sampler = makeSampler();
  auto first = sampler.sample();
  EXPECT_EQ(first.node().cpu_capacity_cores(), 2.0);
  EXPECT_FALSE(first.node().has_cpu_usage_cores());
  EXPECT_EQ(first.node().memory_usage_bytes(), 600u * 1024);
  testing::writeFile(root_.path() + "/host/proc/stat",
                     "cpu 250 0 0 150 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n");
  clock_.advance(seconds(1));
  auto second = sampler.sample();
  ASSERT_TRUE(second.node().has_cpu_usage_cores());
  EXPECT_NEAR(second.node().cpu_usage_cores(), 1.5, 1e-9) << "150 busy of 200 ticks on 2 CPUs";
}

}  // namespace
}  // namespace fleetscale::agent
