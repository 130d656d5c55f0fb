// Workload history: per-tick rollups averaged into 10 s buckets for the store, and the recent
// buckets kept in memory (restored from the store at startup) for decision logic and the API.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "fleetscale/aggregator/state/rollup.h"

namespace fleetscale::aggregator {

inline constexpr std::chrono::milliseconds kRollupBucket{10'000};

// Averages every workload's per-cluster rollup over fixed buckets. Pure; not thread-safe.
class RollupDownsampler {
 public:
  explicit RollupDownsampler(std::chrono::milliseconds bucket = kRollupBucket);

  // Adds one snapshot. Returns the rows of every bucket that ended before the snapshot's own.
  std::vector<RollupRow> add(const FleetSnapshot& snapshot);
  // Returns the partial bucket in progress (at shutdown) and starts afresh.
  std::vector<RollupRow> drain();

 private:
  struct Sum {
    int ticks = 0;
    double replicasSeen = 0, replicasReady = 0, cpuUsage = 0, cpuUnmetDemand = 0, cpuRequest = 0,
           memoryUsage = 0, memoryRequest = 0;
    double cpuUtilization = 0, memoryUtilization = 0, loadShare = 0;
    int cpuUtilizationTicks = 0, memoryUtilizationTicks = 0, loadShareTicks = 0;
  };
  std::int64_t bucketMs_;
  std::int64_t currentBucket_ = -1;
  std::map<std::pair<WorkloadKey, std::string>, Sum> sums_;
};

// Rows held in memory at most, whatever the window: beyond it the oldest buckets go first (about
// 90 bytes a row, so some 90 MB). 15 minutes of 10 s buckets for 3,700 workloads in 3 clusters.
inline constexpr std::size_t kDefaultHistoryMaxRows = 1'000'000;

// The most recent buckets per workload and cluster, within a time window and a row budget. A
// workload that stops reporting leaves with its last bucket. Thread-safe.
class WorkloadHistory {
 public:
  explicit WorkloadHistory(std::chrono::milliseconds window,
                           std::size_t maxRows = kDefaultHistoryMaxRows);

  // Appends rows (in time order per workload and cluster) and drops what fell out of the window
  // or, over the row budget, the oldest buckets.
  void add(const std::vector<RollupRow>& rows);
  // A workload's rows since `sinceUnixMs`, every cluster, oldest first.
  std::vector<RollupRow> get(const WorkloadKey& key, std::int64_t sinceUnixMs) const;
  std::size_t size() const;

 private:
  // A row without its names, which the maps hold once per series.
  struct Point {
    std::int64_t bucketStartUnixMs = 0;
    int ticks = 0;
    double replicasSeen = 0, replicasReady = 0, cpuUsageCores = 0, cpuUnmetDemandCores = 0,
           cpuRequestCores = 0, memoryUsageBytes = 0, memoryRequestBytes = 0, cpuUtilization = 0,
           memoryUtilization = 0, loadShare = 0;
  };
  static Point toPoint(const RollupRow& row);
  static RollupRow toRow(const Point& point, const WorkloadKey& key, const std::string& cluster);
  // Drops every point older than `cutoff`. Under the lock.
  void dropBefore(std::int64_t cutoff);

  std::int64_t windowMs_;
  std::size_t maxRows_;
  mutable std::mutex mutex_;
  std::map<WorkloadKey, std::map<std::string, std::deque<Point>>> rows_;
  std::map<std::int64_t, std::size_t> rowsPerBucket_;  // what the budget evicts by
  std::size_t rowCount_ = 0;
};

}  // namespace fleetscale::aggregator
