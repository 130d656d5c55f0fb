#include "fleetscale/agent/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
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
  SamplerOptions options() {
    SamplerOptions options;
    options.rediscoverEvery = seconds(5);
    options.limitsEvery = seconds(5);
    options.hostRoot = root_.path() + "/host";  // no /proc here: node totals stay empty
    return options;
  }
  Sampler makeSampler(SamplerOptions samplerOptions, const MetadataStore* metadata = nullptr) {
    CgroupLayout layout{CgroupVersion::kV2, root_.path(), "", "", ""};
    return Sampler(layout, makeCgroupReader(layout), std::move(samplerOptions), clock_, metadata);
  }
  Sampler makeSampler() { return makeSampler(options()); }
  void write(const std::string& path, std::uint64_t cpuNs, std::uint64_t memory = 1000,
             std::uint64_t inactiveFile = 100) {
    testing::writeV2Container(root_.path(), path, {cpuNs, memory, inactiveFile, 500});
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

TEST_F(SamplerTest, RatesAreWholeMillionthsOfACore) {
  write(kPathA, 1'000'000'000);
  auto sampler = makeSampler();
  (void)sampler.sample();
  write(kPathA, 2'000'000'000);  // one CPU second in three seconds: 0.3333333... cores
  clock_.advance(seconds(3));
  auto second = sampler.sample();
  ASSERT_TRUE(second.containers(0).has_cpu_cores());
  // Exactly the double that version 2's whole millionths give back, not a near value.
  EXPECT_EQ(second.containers(0).cpu_cores(), 333333 / 1e6);
  const double user = second.containers(0).cpu_user_cores();
  EXPECT_EQ(user, std::round(user * 1e6) / 1e6);
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

TEST(MemoryStatScheduleTest, DueOnFirstReadOnDriftAndAtMaxAge) {
  const MemoryStatSchedule schedule{seconds(10), 1000};
  const SteadyTime t0{std::chrono::hours(1)};
  struct Case {
    std::optional<SteadyTime> lastRead;
    std::uint64_t usageThen, usageNow;
    SteadyTime now;
    bool due;
  };
  const Case cases[] = {
      {std::nullopt, 0, 5000, t0, true},         // never read
      {t0, 5000, 5000, t0 + seconds(1), false},  // quiet
      {t0, 5000, 6000, t0 + seconds(1), false},  // drift exactly at the threshold
      {t0, 5000, 6001, t0 + seconds(1), true},   // grew past it
      {t0, 5000, 3999, t0 + seconds(1), true},   // shrank past it
      {t0, 5000, 5000, t0 + seconds(9), false},
      {t0, 5000, 5000, t0 + seconds(10), true},  // max age
  };
  for (const auto& c : cases) {
    EXPECT_EQ(memoryStatDue(schedule, c.lastRead, c.usageThen, c.usageNow, c.now), c.due)
        << c.usageThen << " -> " << c.usageNow;
  }
  EXPECT_TRUE(memoryStatDue({std::chrono::nanoseconds(0), 1000}, t0, 5000, 5000, t0))
      << "max age 0: every tick";
}

TEST_F(SamplerTest, MemoryStatIsReadWhenUsageMovesAndWorkingSetStaysExact) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  write(kPathA, 0, 100 * kMiB, 30 * kMiB);
  auto sampler = makeSampler();
  auto first = sampler.sample();
  EXPECT_EQ(sampler.counters().memoryStatReads, 1u);
  EXPECT_EQ(first.containers(0).memory_working_set_bytes(), 70 * kMiB);

  clock_.advance(seconds(1));
  auto quiet = sampler.sample();
  EXPECT_EQ(sampler.counters().memoryStatReads, 1u) << "usage did not move: no re-read";
  EXPECT_EQ(quiet.containers(0).memory_working_set_bytes(), 70 * kMiB);

  // A file read adds 50 MiB of page cache: usage and inactive_file grow together. Working set
  // must not jump, which needs the fresh inactive_file.
  write(kPathA, 0, 150 * kMiB, 80 * kMiB);
  clock_.advance(seconds(1));
  auto cached = sampler.sample();
  EXPECT_EQ(sampler.counters().memoryStatReads, 2u);
  EXPECT_EQ(cached.containers(0).memory_usage_bytes(), 150 * kMiB);
  EXPECT_EQ(cached.containers(0).memory_working_set_bytes(), 70 * kMiB);

  // Pages move from the inactive to the active list without changing usage: seen at max age.
  write(kPathA, 0, 150 * kMiB, 20 * kMiB);
  clock_.advance(seconds(1));
  EXPECT_EQ(sampler.sample().containers(0).memory_working_set_bytes(), 70 * kMiB);
  clock_.advance(seconds(10));
  EXPECT_EQ(sampler.sample().containers(0).memory_working_set_bytes(), 130 * kMiB);
  EXPECT_EQ(sampler.counters().memoryStatReads, 3u);
}

TEST_F(SamplerTest, MemoryStatEveryTickWhenMaxAgeIsZero) {
  write(kPathA, 0);
  auto samplerOptions = options();
  samplerOptions.memoryStat.maxAge = std::chrono::nanoseconds(0);
  auto sampler = makeSampler(samplerOptions);
  for (int i = 0; i < 3; ++i) {
    (void)sampler.sample();
    clock_.advance(seconds(1));
  }
  EXPECT_EQ(sampler.counters().memoryStatReads, 3u);
}

TEST_F(SamplerTest, WorkingSetIsFlooredAtZero) {
  write(kPathA, 0, 100, 400);
  auto sampler = makeSampler();
  EXPECT_EQ(sampler.sample().containers(0).memory_working_set_bytes(), 0u);
}

TEST_F(SamplerTest, LimitsAreReReadOnTheirOwnSchedule) {
  write(kPathA, 0);
  testing::writeFile(root_.path() + kPathA + "/cpu.max", "50000 100000\n");
  auto sampler = makeSampler();
  EXPECT_DOUBLE_EQ(sampler.sample().containers(0).cpu_limit_cores(), 0.5);
  testing::writeFile(root_.path() + kPathA + "/cpu.max", "200000 100000\n");  // resized
  clock_.advance(seconds(1));
  EXPECT_DOUBLE_EQ(sampler.sample().containers(0).cpu_limit_cores(), 0.5) << "not due yet";
  clock_.advance(seconds(5));
  EXPECT_DOUBLE_EQ(sampler.sample().containers(0).cpu_limit_cores(), 2.0);
}

TEST_F(SamplerTest, MalformedFileIsCountedAndTheContainerKept) {
  write(kPathA, 0);
  write(kPathB, 0);
  testing::writeFile(root_.path() + kPathB + "/memory.current", "garbage\n");
  auto sampler = makeSampler();
  auto batch = sampler.sample();
  ASSERT_EQ(batch.containers_size(), 1);
  EXPECT_EQ(batch.containers(0).id(), kA);
  EXPECT_EQ(sampler.counters().readErrors, 1u);
  EXPECT_EQ(sampler.counters().containersTracked, 2u);
  write(kPathB, 0);  // repaired: sampled again
  clock_.advance(seconds(1));
  EXPECT_EQ(sampler.sample().containers_size(), 2);
}

TEST_F(SamplerTest, MetadataLabelsContainersByIdAndPodUid) {
  const std::string uid = "0c6f1f9a-1f2b-4c3d-8e9f-0a1b2c3d4e5f";
  const std::string pod = "/kubepods/burstable/pod" + uid + "/";
  write(pod + kA, 0);
  write(pod + kB, 0);  // the pod's sandbox: not listed by the kubelet
  MetadataStore store(clock_);
  MetadataSnapshot snapshot;
  KnownContainer known;
  known.runtime = "containerd";
  known.metadata.set_pod("web-7d4b9c-x2x");
  known.metadata.set_pod_uid(uid);
  known.metadata.set_namespace_("shop");
  known.metadata.set_container("web");
  known.metadata.set_workload_kind("Deployment");
  known.metadata.set_workload("web");
  known.metadata.set_cpu_request_cores(0.25);
  snapshot.containers[kA] = known;
  v1::ContainerMetadata podLevel;
  podLevel.set_pod("web-7d4b9c-x2x");
  podLevel.set_pod_uid(uid);
  podLevel.set_namespace_("shop");
  snapshot.pods[uid] = podLevel;

  auto sampler = makeSampler(options(), &store);
  auto before = sampler.sample();
  EXPECT_EQ(sampler.counters().containersWithoutMetadata, 2u) << "nothing published yet";
  ASSERT_NE(find(before, kA), nullptr);
  EXPECT_EQ(find(before, kA)->metadata().pod_uid(), uid) << "from the cgroup path";
  EXPECT_EQ(find(before, kA)->metadata().qos_class(), "Burstable");
  EXPECT_EQ(find(before, kA)->runtime(), "cri");

  store.publish(snapshot);
  clock_.advance(seconds(1));
  auto batch = sampler.sample();
  const auto* a = find(batch, kA);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->runtime(), "containerd") << "the kubelet names the runtime cgroupfs hides";
  EXPECT_EQ(a->metadata().pod(), "web-7d4b9c-x2x");
  EXPECT_EQ(a->metadata().container(), "web");
  EXPECT_EQ(a->metadata().workload(), "web");
  EXPECT_DOUBLE_EQ(a->metadata().cpu_request_cores(), 0.25);
  EXPECT_EQ(a->metadata().qos_class(), "Burstable") << "kept from the cgroup when unknown";
  const auto* sandbox = find(batch, kB);
  ASSERT_NE(sandbox, nullptr);
  EXPECT_EQ(sandbox->metadata().pod(), "web-7d4b9c-x2x");
  EXPECT_EQ(sandbox->metadata().container(), "");
  EXPECT_EQ(sampler.counters().containersWithoutMetadata, 1u);
}

TEST_F(SamplerTest, PendingPodsGoIntoTheBatchWhileTheMetadataIsFresh) {
  const std::string uid = "1d7e2e9b-2f3c-4d4e-9f0a-1b2c3d4e5f60";
  MetadataStore store(clock_);
  MetadataSnapshot snapshot;
  v1::ContainerMetadata pending;
  pending.set_pod("web-7d4b9c-p3n");
  pending.set_pod_uid(uid);
  pending.set_namespace_("shop");
  pending.set_workload_kind("Deployment");
  pending.set_workload("web");
  pending.set_pod_phase("Pending");
  pending.set_cpu_request_cores(0.25);
  snapshot.pendingPods.push_back(pending);
  snapshot.pods[uid] = pending;
  store.publish(snapshot);

  auto options = this->options();
  options.pendingPodsMaxAge = seconds(15);
  auto sampler = makeSampler(options, &store);
  auto batch = sampler.sample();
  EXPECT_EQ(batch.containers_size(), 0);
  ASSERT_EQ(batch.pending_pods_size(), 1);
  EXPECT_EQ(batch.pending_pods(0).pod(), "web-7d4b9c-p3n");
  EXPECT_EQ(batch.pending_pods(0).workload(), "web");

  // Its sandbox's cgroup appears while the image is pulled: the pod stays listed, so the
  // aggregator keeps its requests.
  write("/kubepods/burstable/pod" + uid + "/" + kA, 0);
  clock_.advance(seconds(5));
  batch = sampler.sample();
  ASSERT_EQ(batch.containers_size(), 1);
  EXPECT_EQ(batch.containers(0).metadata().pod_phase(), "Pending");
  EXPECT_EQ(batch.pending_pods_size(), 1);

  // The kubelet stops answering: an old list would keep a deleted pod alive.
  clock_.advance(seconds(11));
  batch = sampler.sample();
  EXPECT_EQ(batch.pending_pods_size(), 0);
}

}  // namespace
}  // namespace fleetscale::agent
