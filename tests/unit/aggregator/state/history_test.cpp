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

}  // namespace
}  // namespace fleetscale::aggregator
