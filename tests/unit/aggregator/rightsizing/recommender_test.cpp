#include "fleetscale/aggregator/rightsizing/recommender.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>

namespace fleetscale::aggregator::rightsizing {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr double kMi = kMebibyte;
const WorkloadKey kWeb{"shop", "Deployment", "web"};
const WallTime kStart{seconds(1'700'006'400)};  // a midnight UTC: intervals start here

ContainerUsage usage(std::string_view pod, std::string_view container, double cpu, double memory) {
  ContainerUsage u;
  u.cluster = "aws";
  u.pod = pod;
  u.container = container;
  u.cpuUsageCores = cpu;
  u.cpuRequestCores = 0.5;
  u.cpuLimitCores = 1.0;
  u.memoryWorkingSetBytes = memory;
  u.memoryRequestBytes = 256 * kMi;
  u.memoryLimitBytes = 512 * kMi;
  u.oomKillsTotal = 0;
  u.restartCount = 0;
  return u;
}

// Feeds `count` one-second ticks from `from`, each the figures `at(second)` gives.
template <typename F>
void feed(Recommender& recommender, WallTime from, int count, F at) {
  for (int second = 0; second < count; ++second) {
    recommender.observe(kWeb, at(second), from + seconds(second));
  }
}

ContainerRecommendation only(const Recommender& recommender, WallTime now,
                             RightsizingPolicy policy = {}) {
  const auto all = recommender.recommendations([&](const WorkloadKey&) { return policy; }, now);
  EXPECT_EQ(all.size(), 1U);
  return all.empty() ? ContainerRecommendation{} : all.front();
}

TEST(RecommenderTest, CpuTargetIsTheP90PlusFifteenPercent) {
  Recommender recommender;
  // A day at 0.2 cores with one second in ten at 0.4: P90 is 0.2, P95 is 0.4.
  feed(recommender, kStart, 86400,
       [](int s) { return usage("web-1", "app", s % 10 == 0 ? 0.4 : 0.2, 100 * kMi); });
  const auto r = only(recommender, kStart + hours(24));
  EXPECT_NEAR(r.cpu.target, 0.2 * 1.15, 0.2 * 1.15 * 0.05);
  EXPECT_GE(r.cpu.target, 0.2 * 1.15);
  EXPECT_NEAR(r.confidence, 1.0, 0.01);
  // The upper bound: P95 (0.4) + 15% times VPA's (1 + 1/confidence) = 2.
  EXPECT_NEAR(r.cpu.upperBound, 0.4 * 1.15 * 2, 0.4 * 1.15 * 2 * 0.06);
  EXPECT_LT(r.cpu.lowerBound, r.cpu.target);
  EXPECT_DOUBLE_EQ(r.cpu.currentRequest, 0.5);
  EXPECT_DOUBLE_EQ(r.cpu.currentLimit, 1.0);
  // The limit keeps the 1:2 ratio.
  EXPECT_DOUBLE_EQ(r.cpu.limit, r.cpu.target * 2);
  EXPECT_NE(r.reason.find("cpu: p90"), std::string::npos) << r.reason;
}

TEST(RecommenderTest, ThrottledDemandCountsAsCpuWanted) {
  Recommender recommender;
  feed(recommender, kStart, 3600, [](int) {
    auto u = usage("web-1", "app", 1.0, 100 * kMi);
    u.cpuUnmetDemandCores = 0.5;  // capped at its limit, wanting half a core more
    return u;
  });
  EXPECT_GE(only(recommender, kStart + hours(1)).cpu.target, 1.5 * 1.15);
}

TEST(RecommenderTest, ConfidenceGrowsWithHistoryAndReplicasOnlyAddSamples) {
  Recommender recommender;
  // Four replicas for six hours: 4 x 21600 samples, but only a quarter day of span.
  for (int s = 0; s < 21600; s += 1) {
    for (const char* pod : {"web-1", "web-2", "web-3", "web-4"}) {
      recommender.observe(kWeb, usage(pod, "app", 0.1, 50 * kMi), kStart + seconds(s));
    }
  }
  const auto r = only(recommender, kStart + hours(6));
  EXPECT_NEAR(r.confidence, 0.25, 0.01);
  EXPECT_EQ(r.samples, 4U * 21600U);
  // Short history: a wide upper bound, (1 + 1/0.25) = 5 times.
  EXPECT_GT(r.cpu.upperBound, r.cpu.target * 4.5);
}

TEST(RecommenderTest, MemoryTargetIsTheHighestIntervalPeakInTheWindow) {
  Recommender recommender;
  // Day 1 peaks at 300Mi for one second, day 2 at 200Mi.
  feed(recommender, kStart, 7200,
       [](int s) { return usage("web-1", "app", 0.1, s == 5000 ? 300 * kMi : 150 * kMi); });
  feed(recommender, kStart + hours(24), 7200,
       [](int) { return usage("web-1", "app", 0.1, 200 * kMi); });
  auto r = only(recommender, kStart + hours(26));
  EXPECT_DOUBLE_EQ(r.memory.target, 300 * kMi * 1.15);
  EXPECT_DOUBLE_EQ(r.memory.limit, r.memory.target * 2);  // 256Mi:512Mi
  // Eight days after day 1, its peak has left the window; day 2's has not.
  r = only(recommender, kStart + hours(24 * 8 + 1));
  EXPECT_DOUBLE_EQ(r.memory.target, 200 * kMi * 1.15);
  r = only(recommender, kStart + hours(24 * 9 + 1));
  EXPECT_TRUE(std::isnan(r.memory.target)) << r.reason;
}

struct OomCase {
  const char* name;
  double limitBytes;    // NaN: no limit
  double requestBytes;  // NaN: no request
  double expectedFloor;
};

TEST(RecommenderTest, AnOomKillRaisesTheMemoryAtOnceOverTheMemoryAtTheKill) {
  const OomCase cases[] = {
      // max(+20%, +100Mi): 512Mi -> 614.4Mi (20% is more), 256Mi -> 356Mi (100Mi is more).
      {"at its limit, +20%", 512 * kMi, 256 * kMi, 512 * kMi * 1.2},
      {"at a small limit, +100Mi", 256 * kMi, 128 * kMi, 356 * kMi},
      {"no limit: over the request", kAbsent, 400 * kMi, 500 * kMi},
      {"nothing known: over the working set", kAbsent, kAbsent, 150 * kMi},
  };
  for (const auto& c : cases) {
    Recommender recommender;
    feed(recommender, kStart, 600, [&](int s) {
      auto u = usage("web-1", "app", 0.1, 50 * kMi);
      u.memoryLimitBytes = c.limitBytes;
      u.memoryRequestBytes = c.requestBytes;
      u.oomKillsTotal = s < 300 ? 0 : 1;
      return u;
    });
    const auto r = only(recommender, kStart + seconds(600));
    EXPECT_NEAR(r.memory.target, c.expectedFloor, 1) << c.name << ": " << r.reason;
    EXPECT_EQ(r.oomKills, 1U) << c.name;
    EXPECT_GE(r.memory.lowerBound, c.expectedFloor - 1) << c.name;
    EXPECT_NE(r.reason.find("OOM kill"), std::string::npos) << c.name << ": " << r.reason;
  }
}

TEST(RecommenderTest, RepeatedKillsAtOneLimitDoNotRatchetTheFigureUp) {
  // kubernetes/autoscaler #9521: each kill bumps over the memory at the kill, not over the last
  // bump, so a container killed again and again at the same limit keeps one figure.
  Recommender recommender;
  std::uint64_t kills = 0;
  feed(recommender, kStart, 3600, [&](int s) {
    if (s % 300 == 299) ++kills;
    auto u = usage("web-1", "app", 0.1, 500 * kMi);
    u.oomKillsTotal = kills;
    return u;
  });
  const auto r = only(recommender, kStart + hours(1));
  EXPECT_EQ(r.oomKills, 12U);
  EXPECT_NEAR(r.memory.target, 512 * kMi * 1.2, 1);
  // Once the limit is raised to that figure and it is killed there too, the next is over it.
  feed(recommender, kStart + hours(1), 600, [&](int s) {
    auto u = usage("web-1", "app", 0.1, 600 * kMi);
    u.memoryLimitBytes = 614.4 * kMi;
    u.oomKillsTotal = s < 300 ? kills : kills + 1;
    return u;
  });
  EXPECT_NEAR(only(recommender, kStart + hours(2)).memory.target, 614.4 * kMi * 1.2, 1);
}

TEST(RecommenderTest, APodKilledFromItsFirstStartGetsARecommendation) {
  // kubernetes/autoscaler #4981: a container that never lives long enough for a peak to count.
  // Each restart is a new cgroup whose counter starts at 0 (a new baseline, not a kill), and
  // either its counter is seen rising or it restarts with its working set at the limit.
  Recommender recommender;
  for (std::uint32_t restart = 0; restart < 4; ++restart) {
    const WallTime at = kStart + seconds(10 * restart);
    auto u = usage("web-1", "app", kAbsent, 500 * kMi);  // no CPU figure yet
    u.cpuUsageCores = kAbsent;
    u.restartCount = restart;
    u.oomKillsTotal = 0;
    recommender.observe(kWeb, u, at);
    if (restart % 2 == 0) {  // the agent read the counter before the cgroup went
      u.oomKillsTotal = 1;
      recommender.observe(kWeb, u, at + seconds(1));
    }
  }
  const auto r = only(recommender, kStart + seconds(60));
  // The kills of starts 0 and 2 counted, that of start 1 inferred from its restart at the limit
  // (the restart after a counted kill is that kill, not another); start 3 is still running.
  EXPECT_EQ(r.oomKills, 3U) << r.reason;
  EXPECT_NEAR(r.memory.target, 512 * kMi * 1.2, 1) << r.reason;
  EXPECT_TRUE(std::isnan(r.cpu.target));
  EXPECT_NE(r.reason.find("cpu: no samples yet"), std::string::npos) << r.reason;
}

TEST(RecommenderTest, ARestartWellBelowTheLimitIsNoOomKill) {
  Recommender recommender;
  feed(recommender, kStart, 20, [](int s) {
    auto u = usage("web-1", "app", 0.1, 100 * kMi);
    u.restartCount = s < 10 ? 0 : 1;
    return u;
  });
  const auto r = only(recommender, kStart + seconds(20));
  EXPECT_EQ(r.oomKills, 0U);
  EXPECT_DOUBLE_EQ(r.memory.target, 100 * kMi * 1.15);
}

TEST(RecommenderTest, TheFirstSightOfACounterIsABaselineNotAKill) {
  // After an aggregator restart every instance is new; kills counted before are in the store.
  Recommender recommender;
  feed(recommender, kStart, 10, [](int) {
    auto u = usage("web-1", "app", 0.1, 100 * kMi);
    u.oomKillsTotal = 3;
    u.restartCount = 3;
    return u;
  });
  EXPECT_EQ(only(recommender, kStart + seconds(10)).oomKills, 0U);
}

TEST(RecommenderTest, AnOomKillIsRememberedForTheWholeWindow) {
  Recommender recommender;
  feed(recommender, kStart, 2, [](int s) {
    auto u = usage("web-1", "app", 0.1, 100 * kMi);
    u.oomKillsTotal = s;
    return u;
  });
  // Seven days of small usage later the floor is still there; after the window it is gone.
  for (int day = 1; day <= 9; ++day) {
    recommender.observe(kWeb, usage("web-1", "app", 0.1, 100 * kMi), kStart + hours(24 * day));
    const auto r = only(recommender, kStart + hours(24 * day));
    if (day < 8) {
      EXPECT_NEAR(r.memory.target, 512 * kMi * 1.2, 1) << day;
    } else {
      EXPECT_DOUBLE_EQ(r.memory.target, 100 * kMi * 1.15) << day;
    }
  }
}

TEST(RecommenderTest, SidecarsHaveTheirOwnFigures) {
  Recommender recommender;
  feed(recommender, kStart, 600, [](int) { return usage("web-1", "app", 1.0, 400 * kMi); });
  feed(recommender, kStart, 600, [](int) { return usage("web-1", "proxy", 0.02, 30 * kMi); });
  const auto all = recommender.recommendations(
      [](const WorkloadKey&) { return RightsizingPolicy{}; }, kStart + seconds(600));
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].container, "app");
  EXPECT_EQ(all[1].container, "proxy");
  EXPECT_GE(all[0].cpu.target, 1.15);
  EXPECT_LT(all[1].cpu.target, 0.03);
  EXPECT_DOUBLE_EQ(all[1].memory.target, 30 * kMi * 1.15);
}

struct PolicyCase {
  const char* name;
  RightsizingPolicy policy;
  double cpuTarget, cpuLimit, memoryTarget, memoryLimit;  // NaN: absent
};

TEST(RecommenderTest, PolicyBoundsResourcesAndLimits) {
  // 0.2 cores (target 0.23) and 100Mi (target 115Mi) under a 0.5/1.0 cores, 256/512Mi spec.
  const double cpu = 0.2 * 1.15;
  const double memory = 100 * kMi * 1.15;
  auto policy = [](auto edit) {
    RightsizingPolicy p;
    edit(p);
    return p;
  };
  const PolicyCase cases[] = {
      {"defaults keep the ratio", {}, cpu, cpu * 2, memory, memory * 2},
      {"minAllowed raises", policy([](auto& p) {
         p.minAllowed = {0.3, 200 * kMi};
       }),
       0.3, 0.6, 200 * kMi, 400 * kMi},
      {"maxAllowed caps", policy([](auto& p) {
         p.maxAllowed = {0.1, 64 * kMi};
       }),
       0.1, 0.2, 64 * kMi, 128 * kMi},
      {"memory only", policy([](auto& p) { p.controlsCpu = false; }), 0.5, 1.0, memory, memory * 2},
      {"cpu only", policy([](auto& p) { p.controlsMemory = false; }), cpu, cpu * 2, 256 * kMi,
       512 * kMi},
      {"limits unchanged", policy([](auto& p) { p.limits = LimitsMode::kUnchanged; }), cpu, 1.0,
       memory, 512 * kMi},
      {"limits at a ratio", policy([](auto& p) {
         p.limits = LimitsMode::kRatio;
         p.limitRatio = {3.0, 1.0};
       }),
       cpu, cpu * 3, memory, memory},
  };
  for (const auto& c : cases) {
    Recommender recommender;
    feed(recommender, kStart, 600, [](int) { return usage("web-1", "app", 0.2, 100 * kMi); });
    const auto r = only(recommender, kStart + seconds(600), c.policy);
    EXPECT_NEAR(r.cpu.target, c.cpuTarget, c.cpuTarget * 0.05) << c.name;
    EXPECT_NEAR(r.cpu.limit, c.cpuLimit, c.cpuLimit * 0.05) << c.name;
    EXPECT_NEAR(r.memory.target, c.memoryTarget, 1) << c.name;
    EXPECT_NEAR(r.memory.limit, c.memoryLimit, 1) << c.name;
  }
}

TEST(RecommenderTest, LimitsFollowTheRequestAsConfigured) {
  struct Case {
    const char* name;
    double request, limit;
    LimitsMode mode;
    double ratio, expected;
  };
  const Case cases[] = {
      {"keep 1:2", 1, 2, LimitsMode::kKeepRatio, kAbsent, 6},
      {"no limit stays none", 1, kAbsent, LimitsMode::kKeepRatio, kAbsent, kAbsent},
      {"no request: the limit is the request", kAbsent, 2, LimitsMode::kKeepRatio, kAbsent, 3},
      {"unchanged", 1, 2, LimitsMode::kUnchanged, kAbsent, 3},
      {"unchanged, raised to the request", 1, 2, LimitsMode::kUnchanged, kAbsent, 3},
      {"ratio 1.5", 1, 2, LimitsMode::kRatio, 1.5, 4.5},
      {"ratio below 1 is 1", 1, 2, LimitsMode::kRatio, 0.5, 3},
      {"ratio without a figure keeps the ratio", 1, 4, LimitsMode::kRatio, kAbsent, 12},
  };
  for (const auto& c : cases) {
    const double got = recommendedLimit(3, c.request, c.limit, c.mode, c.ratio);
    if (std::isnan(c.expected)) {
      EXPECT_TRUE(std::isnan(got)) << c.name;
    } else {
      EXPECT_DOUBLE_EQ(got, c.expected) << c.name;
    }
  }
}

TEST(RecommenderTest, ModeOffLeavesAWorkloadOutAndUnappliedModesSaySo) {
  Recommender recommender;
  feed(recommender, kStart, 60, [](int) { return usage("web-1", "app", 0.2, 100 * kMi); });
  RightsizingPolicy off;
  off.mode = Mode::kOff;
  EXPECT_TRUE(recommender.recommendations([&](const WorkloadKey&) { return off; }, kStart).empty());
  EXPECT_TRUE(
      recommender.recommendations([](const WorkloadKey&) { return std::nullopt; }, kStart).empty());
  RightsizingPolicy inPlace;
  inPlace.mode = Mode::kInPlace;
  const auto r = only(recommender, kStart + seconds(60), inPlace);
  EXPECT_EQ(r.mode, Mode::kInPlace);
  EXPECT_EQ(r.reason.find("not applied"), std::string::npos) << r.reason;
}

TEST(RecommenderTest, TheStoredStateGivesTheSameRecommendation) {
  Recommender recommender;
  feed(recommender, kStart, 7200, [](int s) {
    auto u =
        usage(s % 2 == 0 ? "web-1" : "web-2", "app", 0.1 + (s % 13) / 50.0, (100 + s % 50) * kMi);
    u.oomKillsTotal = s < 5000 ? 0 : 1;
    return u;
  });
  feed(recommender, kStart, 100, [](int) { return usage("web-1", "proxy", 0.01, 20 * kMi); });
  const WallTime now = kStart + hours(3);
  const auto saved = recommender.save();
  ASSERT_EQ(saved.size(), 2U);
  for (const auto& stored : saved) EXPECT_LT(stored.state.size(), 600U) << stored.container;

  Recommender restored;
  EXPECT_EQ(restored.restore(saved), 2U);
  const auto policy = [](const WorkloadKey&) { return RightsizingPolicy{}; };
  const auto before = recommender.recommendations(policy, now);
  const auto after = restored.recommendations(policy, now);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].container, before[i].container);
    EXPECT_DOUBLE_EQ(after[i].cpu.target, before[i].cpu.target);
    EXPECT_DOUBLE_EQ(after[i].cpu.upperBound, before[i].cpu.upperBound);
    EXPECT_DOUBLE_EQ(after[i].memory.target, before[i].memory.target);
    EXPECT_DOUBLE_EQ(after[i].memory.limit, before[i].memory.limit);
    EXPECT_EQ(after[i].oomKills, before[i].oomKills);
    EXPECT_EQ(after[i].reason, before[i].reason);
  }
  // A malformed or other-version state is skipped.
  auto broken = saved;
  broken[0].state[0] = 9;
  broken[1].state.pop_back();
  EXPECT_EQ(Recommender().restore(broken), 0U);
}

TEST(RecommenderTest, ForgetsInstancesAndAggregatesLongGone) {
  Recommender recommender;
  feed(recommender, kStart, 10, [](int) { return usage("web-1", "app", 0.1, 10 * kMi); });
  recommender.observe(kWeb, usage("web-2", "app", 0.1, 10 * kMi), kStart + hours(1));
  EXPECT_EQ(recommender.instanceCount(), 2U);
  recommender.forget(kStart + hours(1));
  EXPECT_EQ(recommender.instanceCount(), 1U);
  EXPECT_EQ(recommender.aggregateCount(), 1U);
  recommender.forget(kStart + hours(24 * 8 + 2));
  EXPECT_EQ(recommender.instanceCount(), 0U);
  EXPECT_EQ(recommender.aggregateCount(), 0U);
}

TEST(RecommenderTest, StateStaysSmallPerContainer) {
  // A day of a container whose usage moves between 0.1 and 0.8 cores: the histogram holds the
  // buckets between (40): the aggregate, its instance and its workload's name stay under 1.5 KB.
  Recommender recommender;
  feed(recommender, kStart, 86400, [](int s) {
    return usage("web-1", "app", 0.1 + 0.7 * ((s * 7919) % 1000) / 1000.0, 100 * kMi);
  });
  EXPECT_LT(recommender.bytesHeld(), 1536U);
}

}  // namespace
}  // namespace fleetscale::aggregator::rightsizing
