#include "fleetscale/aggregator/state/history.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

const WorkloadKey kWeb{"shop", "Deployment", "web"};

FleetSnapshot snapshotAt(std::int64_t unixMs, double cpu, int replicas, double utilization) {
  FleetSnapshot s;
  s.takenAt = WallTime{std::chrono::milliseconds(unixMs)};
  WorkloadSnapshot w;
  w.key = kWeb;
  WorkloadRollup r;
  r.cluster = "aws";
  r.replicasSeen = replicas;
  r.replicasReady = replicas;
  r.cpuUsageCores = cpu;
  r.cpuRequestCores = replicas;
  r.cpuUtilization = utilization;
  r.loadShare = 1;
  w.clusters.push_back(r);
  s.workloads.push_back(w);
  return s;
}

TEST(RollupDownsamplerTest, AveragesEachTenSecondBucket) {
  RollupDownsampler downsampler;
  EXPECT_TRUE(downsampler.add(snapshotAt(100'000, 1.0, 2, 0.5)).empty());
  EXPECT_TRUE(downsampler.add(snapshotAt(105'000, 3.0, 4, kAbsent)).empty());
  EXPECT_TRUE(downsampler.add(snapshotAt(109'999, 2.0, 3, 1.0)).empty());
  const auto rows = downsampler.add(snapshotAt(110'000, 8.0, 8, 1.0));
  ASSERT_EQ(rows.size(), 1u);
  const auto& row = rows[0];
  EXPECT_EQ(row.bucketStartUnixMs, 100'000);
  EXPECT_EQ(row.workload, kWeb);
  EXPECT_EQ(row.cluster, "aws");
  EXPECT_EQ(row.ticks, 3);
  EXPECT_DOUBLE_EQ(row.cpuUsageCores, 2.0);
  EXPECT_DOUBLE_EQ(row.replicasSeen, 3.0);
  EXPECT_DOUBLE_EQ(row.cpuUtilization, 0.75) << "averaged over the ticks that had it";
  const auto rest = downsampler.drain();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].bucketStartUnixMs, 110'000);
  EXPECT_DOUBLE_EQ(rest[0].cpuUsageCores, 8.0);
  EXPECT_TRUE(downsampler.drain().empty());
}

RollupRow row(std::int64_t bucket, std::string cluster = "aws") {
  RollupRow r;
  r.bucketStartUnixMs = bucket;
  r.workload = kWeb;
  r.cluster = std::move(cluster);
  r.cpuUsageCores = static_cast<double>(bucket) / 1000;
  return r;
}

TEST(WorkloadHistoryTest, KeepsTheWindowAndReturnsOldestFirst) {
  WorkloadHistory history(std::chrono::seconds(30));
  history.add({row(0), row(10'000), row(10'000, "gcp")});
  history.add({row(20'000), row(30'000), row(40'000)});
  const auto all = history.get(kWeb, 0);
  ASSERT_EQ(all.size(), 5u) << "buckets older than 30 s before the newest are gone";
  EXPECT_EQ(all.front().bucketStartUnixMs, 10'000);
  EXPECT_EQ(all.back().bucketStartUnixMs, 40'000);
  EXPECT_EQ(history.get(kWeb, 30'000).size(), 2u);
  EXPECT_TRUE(history.get(WorkloadKey{"shop", "Deployment", "other"}, 0).empty());
  history.add({row(40'000)});  // a bucket rewritten (after a restart) replaces, not duplicates
  EXPECT_EQ(history.size(), 5u);
}

TEST(WorkloadHistoryTest, KeepsEveryFigureOfARow) {
  WorkloadHistory history(std::chrono::minutes(15));
  RollupRow full = row(10'000, "gcp");
  full.ticks = 7;
  full.replicasSeen = 3.5;
  full.replicasReady = 3;
  full.cpuRequestCores = 1.75;
  full.cpuUnmetDemandCores = 0.4;
  full.memoryUsageBytes = 1e9;
  full.memoryRequestBytes = 2e9;
  full.cpuUtilization = 0.6;
  full.memoryUtilization = kAbsent;
  full.loadShare = 0.25;
  history.add({full});
  const auto held = history.get(kWeb, 0);
  ASSERT_EQ(held.size(), 1u);
  const RollupRow& got = held[0];
  EXPECT_EQ(got.workload, kWeb);
  EXPECT_EQ(got.cluster, "gcp");
  EXPECT_EQ(got.bucketStartUnixMs, 10'000);
  EXPECT_EQ(got.ticks, 7);
  EXPECT_DOUBLE_EQ(got.replicasSeen, 3.5);
  EXPECT_DOUBLE_EQ(got.replicasReady, 3);
  EXPECT_DOUBLE_EQ(got.cpuUsageCores, full.cpuUsageCores);
  EXPECT_DOUBLE_EQ(got.cpuRequestCores, 1.75);
  EXPECT_DOUBLE_EQ(got.cpuUnmetDemandCores, 0.4);
  EXPECT_DOUBLE_EQ(got.memoryUsageBytes, 1e9);
  EXPECT_DOUBLE_EQ(got.memoryRequestBytes, 2e9);
  EXPECT_DOUBLE_EQ(got.cpuUtilization, 0.6);
  EXPECT_FALSE(isPresent(got.memoryUtilization));
  EXPECT_DOUBLE_EQ(got.loadShare, 0.25);
}

// CronJob-style names: each run a new workload, each reporting for a bucket or two. Within the
// window the row budget bounds what is held, oldest buckets first.
TEST(WorkloadHistoryTest, ARowBudgetDropsTheOldestBucketsFirst) {
  WorkloadHistory history(std::chrono::hours(24), 1000);
  for (std::int64_t bucket = 0; bucket < 300; ++bucket) {
    std::vector<RollupRow> rows;
    for (int job = 0; job < 10; ++job) {
      RollupRow r = row(bucket * 10'000);
      r.workload.name = "report-" + std::to_string(bucket) + "-" + std::to_string(job);
      rows.push_back(r);
    }
    history.add(rows);
    ASSERT_LE(history.size(), 1000u) << "after bucket " << bucket;
  }
  EXPECT_GE(history.size(), 900u) << "it drops down to nine tenths, not to nothing";
  EXPECT_TRUE(history.get(WorkloadKey{"shop", "Deployment", "report-0-0"}, 0).empty())
      << "the oldest are gone";
  EXPECT_EQ(history.get(WorkloadKey{"shop", "Deployment", "report-299-9"}, 0).size(), 1u)
      << "the newest are kept";
}

}  // namespace
}  // namespace fleetscale::aggregator
