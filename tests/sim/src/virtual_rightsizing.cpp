#include "fleetscale/sim/virtual_rightsizing.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <unordered_map>
#include <vector>

#include "fleetscale/aggregator/control/rightsizing_feed.h"
#include "fleetscale/aggregator/policy/horizontal_vertical.h"
#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/rightsizing/resize_plan.h"

namespace fleetscale::sim {
namespace {

namespace agg = fleetscale::aggregator;
namespace rs = fleetscale::aggregator::rightsizing;

// How often recommendations are applied: the feed publishes every 10 s.
constexpr double kApplyEverySeconds = 10;
// VPA: the recommender samples once a minute (metrics-server); its updater evicts a pod off the
// target by more than 10% only once it has run 12 h, at once when outside the bounds; the
// admission controller gives a new pod the target (here: a pod that started within a minute is
// resized in place, as if it had been created with the target). At most a quarter of a
// workload's replicas are evicted per round (VPA's default eviction tolerance is half).
constexpr double kVpaSampleEverySeconds = 60;
constexpr double kVpaMinPodAgeSeconds = 12 * 3600;
constexpr double kVpaAdmissionSeconds = 60;
constexpr double kVpaChangeToEvict = 0.10;
constexpr double kVpaEvictionBudget = 0.25;

std::string workloadName(const std::string& namespaceName, const std::string& name) {
  return namespaceName + "/" + name;
}

rs::RecommenderSettings settingsFor(RightsizingBaseline baseline) {
  rs::RecommenderSettings settings;
  if (baseline == RightsizingBaseline::kVpa) {
    settings.minCpuCores = 0.025;
    settings.minMemoryBytes = 250 * rs::kMebibyte;
  }
  return settings;
}

double relativeChange(std::optional<double> current, double target) {
  if (!current || *current <= 0) return 1;
  return std::abs(target - *current) / *current;
}

// The resources a recommendation gives a container that now has `current`.
ContainerResources recommended(const ContainerResources& current,
                               const rs::ContainerRecommendation& recommendation) {
  ContainerResources out = current;
  const auto take = [](const rs::ResourceRecommendation& r, std::optional<double>& request,
                       std::optional<double>& limit) {
    if (!r.controlled || !isPresent(r.target)) return;
    request = r.target;
    if (isPresent(r.limit)) {
      limit = std::max(r.limit, r.target);
    } else if (limit) {
      limit = std::max(*limit, r.target);
    }
  };
  take(recommendation.cpu, out.cpuRequest, out.cpuLimit);
  take(recommendation.memory, out.memoryRequest, out.memoryLimit);
  return out;
}

// VPA's updater: a request off the target by more than 10%.
bool offTarget(const ContainerResources& current, const ContainerResources& next) {
  const auto off = [](std::optional<double> now, std::optional<double> wanted) {
    return wanted && relativeChange(now, *wanted) > kVpaChangeToEvict;
  };
  return off(current.cpuRequest, next.cpuRequest) || off(current.memoryRequest, next.memoryRequest);
}

// VPA's updater: outside [lower, upper] of a controlled resource.
bool outsideBounds(const ContainerResources& current,
                   const rs::ContainerRecommendation& recommendation) {
  const auto outside = [](const rs::ResourceRecommendation& r, std::optional<double> request) {
    if (!r.controlled || !request) return false;
    if (isPresent(r.lowerBound) && *request < r.lowerBound) return true;
    return isPresent(r.upperBound) && *request > r.upperBound;
  };
  return outside(recommendation.cpu, current.cpuRequest) ||
         outside(recommendation.memory, current.memoryRequest);
}

rs::ContainerResources toProduct(const std::string& name, const ContainerResources& r) {
  return {name, r.cpuRequest.value_or(kAbsent), r.cpuLimit.value_or(kAbsent),
          r.memoryRequest.value_or(kAbsent), r.memoryLimit.value_or(kAbsent)};
}

ContainerResources fromProduct(const rs::ContainerResources& r) {
  const auto figure = [](double value) {
    return isPresent(value) ? std::optional<double>(value) : std::nullopt;
  };
  return {figure(r.cpuRequest), figure(r.cpuLimit), figure(r.memoryRequest), figure(r.memoryLimit)};
}

// A simulated pod as the applier reads it from the API server (rs::parsePods).
rs::PodView podViewOf(const PodState& pod, SimTime t) {
  rs::PodView view;
  view.name = pod.name;
  view.running = pod.started(t);  // phase Running, in a crash back-off too
  view.ready = pod.ready(t);
  view.spec = {toProduct(pod.container.name, pod.container.resources)};
  view.status = {toProduct(pod.container.name, pod.actual)};
  view.generation = pod.generation;
  view.observedGeneration = pod.resize.observedGeneration;
  view.resizeInProgress = pod.resize.actuateAt.has_value();
  if (pod.resize.pending == ResizePending::kDeferred) view.pendingReason = "Deferred";
  if (pod.resize.pending == ResizePending::kInfeasible) view.pendingReason = "Infeasible";
  view.resizeMessage = pod.resize.pendingMessage;
  return view;
}

nlohmann::json resizeBody(const PodState& pod, const ContainerResources& resources,
                          const ResizePolicy& policy) {
  return {
      {"spec",
       {{"containers", nlohmann::json::array({{{"name", pod.container.name},
                                               {"resources", resourcesJson(resources)},
                                               {"resizePolicy", resizePolicyJson(policy)}}})}}}};
}

}  // namespace

std::string_view toString(RightsizingBaseline baseline) {
  switch (baseline) {
    case RightsizingBaseline::kOriginal:
      return "original";
    case RightsizingBaseline::kVpa:
      return "vpa";
    case RightsizingBaseline::kFleetscale:
      return "fleetscale";
  }
  return "original";
}

std::optional<RightsizingBaseline> parseRightsizingBaseline(std::string_view text) {
  for (const auto baseline : {RightsizingBaseline::kOriginal, RightsizingBaseline::kVpa,
                              RightsizingBaseline::kFleetscale}) {
    if (text == toString(baseline)) return baseline;
  }
  return std::nullopt;
}

double SlackIntegrals::cpuSlack() const {
  return requestedCpuCoreSeconds > 0
             ? std::max(0.0, 1 - usedCpuCoreSeconds / requestedCpuCoreSeconds)
             : 0.0;
}

double SlackIntegrals::memorySlack() const {
  return requestedMemoryByteSeconds > 0
             ? std::max(0.0, 1 - usedMemoryByteSeconds / requestedMemoryByteSeconds)
             : 0.0;
}

struct VirtualRightsizing::Impl {
  agg::PolicyHolder policy;
  std::unique_ptr<agg::RightsizingFeed> feed;
  std::map<std::string, rs::RightsizingPolicy> byWorkload;  // as applied, by "namespace/name"
  std::map<std::string, std::string> containerOf;           // the workload's container name
  std::optional<SimTime> lastObserved;
  std::optional<SimTime> lastApplied;
  // What has been counted of a pod's cumulative restarts and OOM kills, by pod uid.
  struct Counted {
    std::uint64_t restarts = 0;
    std::uint64_t repeatedKills = 0;  // OOM kills after its first
  };
  std::unordered_map<std::string, Counted> counted;
};

VirtualRightsizing::VirtualRightsizing(const Scenario& scenario,
                                       const agg::PolicyConfig* horizontal,
                                       RightsizingBaseline baseline)
    : impl_(std::make_unique<Impl>()), baseline_(baseline) {
  agg::PolicyConfig config = horizontal != nullptr ? *horizontal : agg::PolicyConfig{};
  for (const auto& spec : scenario.workloads) {
    const std::string kind(toString(spec.kind));
    auto found = std::find_if(config.workloads.begin(), config.workloads.end(), [&](const auto& w) {
      return w.namespaceName == spec.namespaceName && w.name == spec.name;
    });
    if (found == config.workloads.end()) {
      agg::WorkloadConfig added;
      added.namespaceName = spec.namespaceName;
      added.name = spec.name;
      added.kind = kind;
      config.workloads.push_back(std::move(added));
      found = std::prev(config.workloads.end());
    }
    // The scenario's own right-sizing settings (band, budget, bounds), in the mode asked for.
    rs::RightsizingPolicy wanted = found->rightsizing;
    wanted.mode = baseline == RightsizingBaseline::kOriginal ? rs::Mode::kRecommend
                  : baseline == RightsizingBaseline::kVpa    ? rs::Mode::kRecreate
                                                             : rs::Mode::kInPlace;
    // The same rule for VPA as for ours, so that only the vertical side differs (VPA itself
    // warns against scaling on CPU or memory utilization next to it).
    auto combined = agg::combineHorizontalVertical(found->policy, wanted);
    found->rightsizing = combined ? *combined : rs::RightsizingPolicy{};
    const std::string name = workloadName(spec.namespaceName, spec.name);
    impl_->byWorkload[name] = found->rightsizing;
    impl_->containerOf[name] = spec.containerName.empty() ? spec.name : spec.containerName;
  }
  impl_->policy.set(std::move(config));
  impl_->feed = std::make_unique<agg::RightsizingFeed>(
      nullptr, impl_->policy, agg::RightsizingFeedOptions{}, settingsFor(baseline));
}

VirtualRightsizing::~VirtualRightsizing() = default;

void VirtualRightsizing::observe(const agg::FleetSnapshot& snapshot, SimTime t) {
  if (baseline_ == RightsizingBaseline::kVpa && impl_->lastObserved &&
      t - *impl_->lastObserved < fromSeconds(kVpaSampleEverySeconds)) {
    return;
  }
  impl_->lastObserved = t;
  impl_->feed->observe(snapshot);
}

void VirtualRightsizing::apply(FleetModel& model, SimTime t) {
  if (baseline_ == RightsizingBaseline::kOriginal) return;
  if (impl_->lastApplied && t - *impl_->lastApplied < fromSeconds(kApplyEverySeconds)) return;
  impl_->lastApplied = t;
  const auto set = impl_->feed->current();
  for (const auto& recommendation : set->containers) {
    const std::string name =
        workloadName(recommendation.workload.namespaceName, recommendation.workload.name);
    const auto policy = impl_->byWorkload.find(name);
    if (policy == impl_->byWorkload.end() || impl_->containerOf[name] != recommendation.container)
      continue;
    if (!rs::applies(policy->second.mode)) continue;
    for (auto& cluster : model.clusters()) {
      if (!cluster.alive()) continue;
      if (baseline_ == RightsizingBaseline::kVpa) {
        evictLikeVpa(cluster, recommendation, t);
      } else {
        resizeInPlace(cluster, recommendation, policy->second, t);
      }
    }
  }
}

void VirtualRightsizing::resizeInPlace(ClusterModel& cluster,
                                       const rs::ContainerRecommendation& recommendation,
                                       const rs::RightsizingPolicy& policy, SimTime t) {
  std::vector<rs::PodView> pods;
  for (const auto& pod : cluster.pods()) {
    if (pod.namespaceName == recommendation.workload.namespaceName &&
        pod.workload == recommendation.workload.name) {
      pods.push_back(podViewOf(pod, t));
    }
  }
  // The applier's own plan: its hysteresis, budget and QoS rule, not a model of them.
  const auto plan = rs::planResizes(pods, std::span(&recommendation, 1), policy);
  for (const auto& resize : plan.resizes) {
    const PodState* pod = cluster.findPod(recommendation.workload.namespaceName, resize.pod);
    if (pod == nullptr || resize.containers.empty()) continue;
    const ContainerResources next = fromProduct(resize.containers.front());
    const ApiResult result = cluster.resizePod(pod->namespaceName, pod->name,
                                               resizeBody(*pod, next, pod->container.resizePolicy));
    ++(result.ok() ? counts_.resizes : counts_.refused);
  }
}

void VirtualRightsizing::evictLikeVpa(ClusterModel& cluster,
                                      const rs::ContainerRecommendation& recommendation,
                                      SimTime t) {
  int running = 0;
  std::vector<const PodState*> candidates;
  for (const auto& pod : cluster.pods()) {
    if (pod.namespaceName != recommendation.workload.namespaceName ||
        pod.workload != recommendation.workload.name || !pod.started(t)) {
      continue;
    }
    ++running;
    if (pod.resize.actuateAt || pod.resize.pending != ResizePending::kNone) continue;
    candidates.push_back(&pod);
  }
  int budget = std::max(1, static_cast<int>(running * kVpaEvictionBudget));
  for (const PodState* pod : candidates) {
    if (budget == 0) break;
    const ContainerResources next = recommended(pod->container.resources, recommendation);
    if (next == pod->container.resources) continue;
    const double age = pod->runningAt ? toSeconds(t - *pod->runningAt) : 0;
    const bool admitted = pod->restartCount == 0 && age < kVpaAdmissionSeconds;
    bool evict = false;
    if (!admitted) {
      const bool stale = age >= kVpaMinPodAgeSeconds && offTarget(pod->container.resources, next);
      if (!outsideBounds(pod->container.resources, recommendation) && !stale) continue;
      evict = true;
    }
    // An eviction: the pod starts again with the target.
    const ResizePolicy policy =
        evict ? ResizePolicy{true, true, true} : pod->container.resizePolicy;
    const ApiResult result =
        cluster.resizePod(pod->namespaceName, pod->name, resizeBody(*pod, next, policy));
    if (!result.ok()) {
      ++counts_.refused;
      continue;
    }
    ++counts_.resizes;
    if (evict) ++counts_.evictions;
    --budget;
  }
}

void VirtualRightsizing::meter(const FleetModel& model, SimTime t, SimTime dt) {
  const double seconds = toSeconds(dt);
  for (const auto& cluster : model.clusters()) {
    for (const auto& pod : cluster.pods()) {
      if (pod.isSystem()) continue;
      if (pod.restartCount > 0) {  // most pods never restart: no lookup for them
        Impl::Counted& seen = impl_->counted[pod.uid];
        // Adds what a cumulative figure grew by since it was last counted.
        const auto countGrowth = [](std::uint64_t now, std::uint64_t& counted,
                                    std::uint64_t& total) {
          if (now <= counted) return;
          total += now - counted;
          counted = now;
        };
        countGrowth(static_cast<std::uint64_t>(pod.restartCount), seen.restarts, counts_.restarts);
        // Killed again (so restarted at least once): the start after a kill still had too
        // little memory.
        if (pod.counters.oomKills > 1) {
          countGrowth(pod.counters.oomKills - 1, seen.repeatedKills, counts_.repeatedOomKills);
        }
      }
      if (!cluster.alive() || !pod.running(t)) continue;
      SlackIntegrals& workload = byWorkload_[workloadName(pod.namespaceName, pod.workload)];
      for (SlackIntegrals* sums : {&workload, &total_}) {
        sums->requestedCpuCoreSeconds += requestedCores(pod.actual) * seconds;
        sums->usedCpuCoreSeconds += pod.counters.cpuCores * seconds;
        sums->requestedMemoryByteSeconds += requestedBytes(pod.actual) * seconds;
        sums->usedMemoryByteSeconds += pod.counters.memoryBytes * seconds;
      }
    }
  }
}

nlohmann::json VirtualRightsizing::reportJson(const Timeline& timeline) const {
  const auto slack = [](const SlackIntegrals& s) {
    return nlohmann::json{{"cpu_slack_mean", s.cpuSlack()},
                          {"memory_slack_mean", s.memorySlack()},
                          {"requested_cpu_core_seconds", s.requestedCpuCoreSeconds},
                          {"used_cpu_core_seconds", s.usedCpuCoreSeconds},
                          {"requested_memory_byte_seconds", s.requestedMemoryByteSeconds},
                          {"used_memory_byte_seconds", s.usedMemoryByteSeconds}};
  };
  nlohmann::json out = slack(total_);
  out["baseline"] = std::string(toString(baseline_));
  out["resizes"] = counts_.resizes;
  out["resizes_refused"] = counts_.refused;
  out["evictions"] = counts_.evictions;
  out["restarts"] = counts_.restarts;
  out["oom_kills_repeated"] = counts_.repeatedOomKills;
  std::uint64_t oomKills = 0;
  int looping = 0;
  nlohmann::json workloads = nlohmann::json::object();
  for (const auto& [name, containerName] : impl_->containerOf) {
    const auto sums = byWorkload_.find(name);
    nlohmann::json entry = slack(sums != byWorkload_.end() ? sums->second : SlackIntegrals{});
    const auto policy = impl_->byWorkload.find(name);
    if (policy != impl_->byWorkload.end()) {
      entry["mode"] = std::string(rs::toString(policy->second.mode));
      entry["controls_cpu"] = policy->second.controlsCpu;
      entry["controls_memory"] = policy->second.controlsMemory;
    }
    if (!timeline.samples.empty()) {
      const auto& last = timeline.samples.back().workloads;
      if (const auto it = last.find(name); it != last.end()) {
        entry["oom_kills"] = it->second.oomKills;
        entry["crash_looping_at_end"] = it->second.crashLooping;
        oomKills += it->second.oomKills;
        looping += it->second.crashLooping;
      }
    }
    workloads[name] = std::move(entry);
  }
  out["oom_kills"] = oomKills;
  out["crash_looping_at_end"] = looping;
  out["oom_loop_at_end"] = looping > 0;
  out["workloads"] = std::move(workloads);
  return out;
}

}  // namespace fleetscale::sim
