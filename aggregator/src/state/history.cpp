#include "fleetscale/aggregator/state/history.h"

#include <algorithm>

namespace fleetscale::aggregator {

RollupDownsampler::RollupDownsampler(std::chrono::milliseconds bucket)
    : bucketMs_(std::max<std::int64_t>(1, bucket.count())) {}

std::vector<RollupRow> RollupDownsampler::add(const FleetSnapshot& snapshot) {
  const std::int64_t now = toUnixMillis(snapshot.takenAt);
  const std::int64_t bucket = now - (now % bucketMs_);
  std::vector<RollupRow> finished;
  if (currentBucket_ >= 0 && bucket != currentBucket_) finished = drain();
  currentBucket_ = bucket;
  for (const auto& workload : snapshot.workloads) {
    for (const auto& c : workload.clusters) {
      if (c.replicasSeen == 0) continue;  // only stale pods: nothing to average
      Sum& sum = sums_[{workload.key, c.cluster}];
      ++sum.ticks;
      sum.replicasSeen += c.replicasSeen;
      sum.replicasReady += c.replicasReady;
      sum.cpuUsage += c.cpuUsageCores;
      sum.cpuUnmetDemand += c.cpuUnmetDemandCores;
      sum.cpuRequest += c.cpuRequestCores;
      sum.memoryUsage += c.memoryUsageBytes;
      sum.memoryRequest += c.memoryRequestBytes;
      if (isPresent(c.cpuUtilization))
        sum.cpuUtilization += c.cpuUtilization, ++sum.cpuUtilizationTicks;
      if (isPresent(c.memoryUtilization)) {
        sum.memoryUtilization += c.memoryUtilization, ++sum.memoryUtilizationTicks;
      }
      if (isPresent(c.loadShare)) sum.loadShare += c.loadShare, ++sum.loadShareTicks;
    }
  }
  return finished;
}

std::vector<RollupRow> RollupDownsampler::drain() {
  std::vector<RollupRow> rows;
  rows.reserve(sums_.size());
  auto average = [](double total, int count) {
    return count > 0 ? total / static_cast<double>(count) : kAbsent;
  };
  for (const auto& [key, sum] : sums_) {
    RollupRow row;
    row.bucketStartUnixMs = currentBucket_;
    row.workload = key.first;
    row.cluster = key.second;
    row.ticks = sum.ticks;
    row.replicasSeen = average(sum.replicasSeen, sum.ticks);
    row.replicasReady = average(sum.replicasReady, sum.ticks);
    row.cpuUsageCores = average(sum.cpuUsage, sum.ticks);
    row.cpuUnmetDemandCores = average(sum.cpuUnmetDemand, sum.ticks);
    row.cpuRequestCores = average(sum.cpuRequest, sum.ticks);
    row.memoryUsageBytes = average(sum.memoryUsage, sum.ticks);
    row.memoryRequestBytes = average(sum.memoryRequest, sum.ticks);
    row.cpuUtilization = average(sum.cpuUtilization, sum.cpuUtilizationTicks);
    row.memoryUtilization = average(sum.memoryUtilization, sum.memoryUtilizationTicks);
    row.loadShare = average(sum.loadShare, sum.loadShareTicks);
    rows.push_back(std::move(row));
  }
  sums_.clear();
  return rows;
}

WorkloadHistory::WorkloadHistory(std::chrono::milliseconds window, std::size_t maxRows)
    : windowMs_(window.count()), maxRows_(std::max<std::size_t>(1, maxRows)) {}

WorkloadHistory::Point WorkloadHistory::toPoint(const RollupRow& row) {
  return Point{row.bucketStartUnixMs,  row.ticks,
               row.replicasSeen,       row.replicasReady,
               row.cpuUsageCores,      row.cpuUnmetDemandCores,
               row.cpuRequestCores,    row.memoryUsageBytes,
               row.memoryRequestBytes, row.cpuUtilization,
               row.memoryUtilization,  row.loadShare};
}

RollupRow WorkloadHistory::toRow(const Point& point, const WorkloadKey& key,
                                 const std::string& cluster) {
  RollupRow row;
  row.bucketStartUnixMs = point.bucketStartUnixMs;
  row.workload = key;
  row.cluster = cluster;
  row.ticks = point.ticks;
  row.replicasSeen = point.replicasSeen;
  row.replicasReady = point.replicasReady;
  row.cpuUsageCores = point.cpuUsageCores;
  row.cpuUnmetDemandCores = point.cpuUnmetDemandCores;
  row.cpuRequestCores = point.cpuRequestCores;
  row.memoryUsageBytes = point.memoryUsageBytes;
  row.memoryRequestBytes = point.memoryRequestBytes;
  row.cpuUtilization = point.cpuUtilization;
  row.memoryUtilization = point.memoryUtilization;
  row.loadShare = point.loadShare;
  return row;
}

void WorkloadHistory::add(const std::vector<RollupRow>& rows) {
  std::lock_guard lock(mutex_);
  std::int64_t newest = 0;
  for (const auto& row : rows) {
    auto& series = rows_[row.workload][row.cluster];
    if (!series.empty() && series.back().bucketStartUnixMs >= row.bucketStartUnixMs) {
      if (series.back().bucketStartUnixMs == row.bucketStartUnixMs) series.back() = toPoint(row);
      continue;  // older than what is held: the store has it
    }
    series.push_back(toPoint(row));
    ++rowsPerBucket_[row.bucketStartUnixMs];
    ++rowCount_;
    newest = std::max(newest, row.bucketStartUnixMs);
  }
  std::int64_t cutoff = newest - windowMs_;
  // Over budget: the oldest whole buckets go, down to nine tenths so it is not every add.
  if (rowCount_ > maxRows_) {
    std::size_t kept = rowCount_;
    for (const auto& [bucket, count] : rowsPerBucket_) {
      if (kept <= maxRows_ - maxRows_ / 10) break;
      kept -= count;
      cutoff = std::max(cutoff, bucket + 1);
    }
  }
  if (!rowsPerBucket_.empty() && rowsPerBucket_.begin()->first < cutoff) dropBefore(cutoff);
}

void WorkloadHistory::dropBefore(std::int64_t cutoff) {
  for (auto workload = rows_.begin(); workload != rows_.end();) {
    for (auto cluster = workload->second.begin(); cluster != workload->second.end();) {
      auto& series = cluster->second;
      while (!series.empty() && series.front().bucketStartUnixMs < cutoff) {
        series.pop_front();
        --rowCount_;
      }
      cluster = series.empty() ? workload->second.erase(cluster) : std::next(cluster);
    }
    workload = workload->second.empty() ? rows_.erase(workload) : std::next(workload);
  }
  rowsPerBucket_.erase(rowsPerBucket_.begin(), rowsPerBucket_.lower_bound(cutoff));
}

std::vector<RollupRow> WorkloadHistory::get(const WorkloadKey& key,
                                            std::int64_t sinceUnixMs) const {
  std::lock_guard lock(mutex_);
  std::vector<RollupRow> out;
  auto it = rows_.find(key);
  if (it == rows_.end()) return out;
  for (const auto& [cluster, series] : it->second) {
    for (const auto& point : series) {
      if (point.bucketStartUnixMs >= sinceUnixMs) out.push_back(toRow(point, key, cluster));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const RollupRow& a, const RollupRow& b) {
    return a.bucketStartUnixMs < b.bucketStartUnixMs;
  });
  return out;
}

std::size_t WorkloadHistory::size() const {
  std::lock_guard lock(mutex_);
  return rowCount_;
}

}  // namespace fleetscale::aggregator
