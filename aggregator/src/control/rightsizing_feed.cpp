#include "fleetscale/aggregator/control/rightsizing_feed.h"

#include <string_view>
#include <utility>

#include "fleetscale/shared/logging.h"

namespace fleetscale::aggregator {

rightsizing::ContainerUsage usageOf(const PodSample& pod, const ContainerFigures& figures) {
  rightsizing::ContainerUsage usage;
  usage.cluster = pod.cluster;
  usage.pod = pod.pod;
  usage.container = figures.name;
  usage.cpuUsageCores = figures.cpuUsageCores;
  usage.cpuUnmetDemandCores = figures.cpuUnmetDemandCores;
  usage.cpuRequestCores = figures.cpuRequestCores;
  usage.memoryWorkingSetBytes = figures.memoryUsageBytes;  // the working set (rollup.h)
  usage.memoryRequestBytes = figures.memoryRequestBytes;
  usage.cpuLimitCores = figures.cpuLimitCores;
  usage.memoryLimitBytes = figures.memoryLimitBytes;
  usage.oomKillsTotal = figures.oomKillsTotal;
  usage.restartCount = figures.restartCount;
  return usage;
}

FleetSavings fleetSavings(const RecommendationSet& set) {
  FleetSavings out;
  for (const auto& container : set.containers) {
    const auto replicas = set.replicas.find(container.workload);
    const double count = replicas == set.replicas.end() ? 0 : replicas->second;
    const auto add = [count](const rightsizing::ResourceRecommendation& r, double& requested,
                             double& recommended) {
      if (!r.controlled || !isPresent(r.currentRequest) || !isPresent(r.target)) return;
      requested += count * r.currentRequest;
      recommended += count * r.target;
    };
    add(container.cpu, out.requestedCpuCores, out.recommendedCpuCores);
    add(container.memory, out.requestedMemoryBytes, out.recommendedMemoryBytes);
  }
  return out;
}

RightsizingFeed::RightsizingFeed(Store* store, const PolicyHolder& policy,
                                 RightsizingFeedOptions options,
                                 rightsizing::RecommenderSettings settings)
    : store_(store),
      policy_(policy),
      options_(options),
      recommender_(settings),
      published_(std::make_shared<const RecommendationSet>()) {}

Result<std::size_t> RightsizingFeed::restore() {
  if (store_ == nullptr) return std::size_t{0};
  auto rows = store_->loadRecommenderState();
  if (!rows) return rows.error();
  std::vector<rightsizing::Recommender::Stored> stored;
  stored.reserve(rows->size());
  for (auto& row : *rows) {
    stored.push_back({std::move(row.workload), std::move(row.container), std::move(row.state)});
  }
  std::lock_guard lock(mutex_);
  const std::size_t restored = recommender_.restore(stored);
  if (restored < stored.size()) {
    componentLogger("aggregator.rightsizing")
        ->warn("{} of {} stored container states were unreadable (another format): started over",
               stored.size() - restored, stored.size());
  }
  return restored;
}

void RightsizingFeed::observe(const FleetSnapshot& snapshot) {
  const WallTime now = snapshot.takenAt;
  {
    std::lock_guard lock(mutex_);
    for (const auto& workload : snapshot.workloads) {
      workloadUsage_.clear();
      for (const auto& pod : workload.pods) {
        // A stale or late node's pods repeat figures already counted; a pending pod has none.
        if (pod.stale || pod.late || pod.pending) continue;
        for (const auto& figures : pod.byContainer) {
          if (figures.name.empty()) continue;  // no metadata: not one of the spec's containers
          workloadUsage_.push_back(usageOf(pod, figures));
        }
      }
      if (workloadUsage_.empty()) continue;
      recommender_.observeWorkload(workload.key, workloadUsage_, now);
      replicas_[workload.key] = workload.total.replicasSeen;
    }
    if (now - lastForget_ >= options_.forgetInterval) {
      lastForget_ = now;
      recommender_.forget(now);
      std::erase_if(replicas_,
                    [&](const auto& item) { return snapshot.find(item.first) == nullptr; });
    }
  }
  if (now - lastPublish_ >= options_.publishInterval) publish(now);
  if (now - lastSave_ >= options_.saveInterval) save(now);
}

void RightsizingFeed::publish(WallTime now) {
  const auto policy = policy_.get();
  // The policy's workloads by namespace and name, once per publish: a workload's lookup is then
  // a map search, not a walk over the file's workloads.
  std::map<std::pair<std::string_view, std::string_view>, const rightsizing::RightsizingPolicy*>
      named;
  if (policy) {
    for (const auto& workload : policy->workloads) {
      named.emplace(
          std::pair<std::string_view, std::string_view>(workload.namespaceName, workload.name),
          &workload.rightsizing);
    }
  }
  auto set = std::make_shared<RecommendationSet>();
  set->computedAt = now;
  {
    std::lock_guard lock(mutex_);
    lastPublish_ = now;
    set->containers = recommender_.recommendations(
        [&named](const WorkloadKey& key) -> std::optional<rightsizing::RightsizingPolicy> {
          const auto it = named.find({key.namespaceName, key.name});
          return it == named.end() ? rightsizing::RightsizingPolicy{} : *it->second;
        },
        now);
    set->replicas = replicas_;
  }
  std::lock_guard lock(publishedMutex_);
  published_ = std::move(set);
}

void RightsizingFeed::save(WallTime now) {
  std::vector<RecommenderStateRow> rows;
  {
    std::lock_guard lock(mutex_);
    lastSave_ = now;
    if (store_ == nullptr) return;
    for (auto& stored : recommender_.save()) {
      rows.push_back({std::move(stored.workload), std::move(stored.container), toUnixMillis(now),
                      std::move(stored.state)});
    }
  }
  if (!rows.empty()) store_->recordRecommenderState(std::move(rows));
}

std::shared_ptr<const RecommendationSet> RightsizingFeed::current() const {
  std::lock_guard lock(publishedMutex_);
  return published_;
}

RightsizingFeed::Size RightsizingFeed::size() const {
  std::lock_guard lock(mutex_);
  return {recommender_.aggregateCount(), recommender_.instanceCount(), recommender_.bytesHeld()};
}

}  // namespace fleetscale::aggregator
