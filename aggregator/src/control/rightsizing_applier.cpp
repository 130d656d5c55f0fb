#include "fleetscale/aggregator/control/rightsizing_applier.h"

#include <nlohmann/json.hpp>

#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/metric_family.h"

namespace fleetscale::aggregator {
namespace {

using rightsizing::ApplyState;
using rightsizing::Mode;

constexpr std::string_view kInPlace = "in-place";
constexpr std::string_view kRecreate = "recreate";

// The result a failed request is reported as.
std::string resultOf(const ActuationOutcome& outcome, bool resizing) {
  switch (outcome.error) {
    case ActuationError::kForbidden: {
      // A LimitRange or ResourceQuota refusing the value is a 403 too, but not RBAC's doing.
      const auto admission = rightsizing::admissionRefusal(outcome.message);
      return admission.empty() ? "forbidden" : std::string(admission);
    }
    case ActuationError::kNotFound:
      // No resize subresource (before Kubernetes 1.33); a missing workload is an error.
      return resizing ? "unsupported" : "error";
    case ActuationError::kUnsupported:
      return "unsupported";
    case ActuationError::kRejected:
      return "invalid";
    default:
      return "error";
  }
}

bool isError(std::string_view result) {
  return result == "forbidden" || result == "limit-range" || result == "quota" ||
         result == "unsupported" || result == "invalid" || result == "error";
}

}  // namespace

RightsizingApplier::RightsizingApplier(RecommendationSource recommendations,
                                       const PolicyHolder& policy, ActuatorLookup actuators,
                                       Store* store, const Clock& clock,
                                       RightsizingApplierOptions options)
    : recommendations_(std::move(recommendations)),
      policy_(policy),
      actuators_(std::move(actuators)),
      store_(store),
      clock_(clock),
      options_(options) {}

RightsizingApplier::~RightsizingApplier() { stop(); }

void RightsizingApplier::setLeadership(std::function<bool()> leader) {
  std::lock_guard lock(mutex_);
  leader_ = std::move(leader);
}

void RightsizingApplier::start() {
  {
    std::lock_guard lock(wakeMutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    std::unique_lock lock(wakeMutex_);
    while (!stopping_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
  });
}

void RightsizingApplier::stop() {
  {
    std::lock_guard lock(wakeMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RightsizingApplier::tick() {
  std::function<bool()> leader;
  {
    std::lock_guard lock(mutex_);
    leader = leader_;
  }
  if (leader && !leader()) return;  // a standby: the leader applies
  const auto policy = policy_.get();
  const auto set = recommendations_();
  if (!policy || !set) return;
  const SteadyTime now = clock_.now();
  {
    // A workload no longer applied (a policy reload) shows no stale result.
    std::lock_guard lock(mutex_);
    std::erase_if(status_, [&](const auto& entry) {
      const auto* workload = policy->findWorkload(entry.first.namespaceName, entry.first.name);
      return workload == nullptr || !rightsizing::applies(workload->rightsizing.mode);
    });
  }
  for (const auto& workload : policy->workloads) {
    if (!rightsizing::applies(workload.rightsizing.mode)) continue;
    Target target;
    target.workload = workload.key();
    target.policy = workload.rightsizing;
    for (const auto& recommendation : set->containers) {
      if (recommendation.workload.namespaceName == workload.namespaceName &&
          recommendation.workload.name == workload.name) {
        target.recommendations.push_back(recommendation);
      }
    }
    if (target.recommendations.empty()) continue;  // nothing recommended yet
    std::vector<std::string> clusters;
    for (const auto& placement : workload.clusters) clusters.push_back(placement.name);
    if (clusters.empty()) {
      for (const auto& cluster : policy->clusters) clusters.push_back(cluster.name);
    }
    for (const auto& cluster : clusters) {
      target.cluster = cluster;
      const auto key = std::pair(target.workload, cluster);
      bool fellBack = false;
      {
        std::lock_guard lock(mutex_);
        if (const auto it = retryAt_.find(key); it != retryAt_.end() && now < it->second) continue;
        fellBack = fellBack_.contains(key);
      }
      Actuator* actuator = actuators_(cluster);
      if (actuator == nullptr || !actuator->resizesPods()) {
        report(target, rightsizing::toString(target.policy.mode), "unsupported",
               "the cluster's actuator cannot reach pods (not connected, or a webhook cluster)");
        continue;
      }
      applyIn(target, *actuator, fellBack);
    }
  }
}

void RightsizingApplier::applyIn(const Target& target, Actuator& actuator, bool fellBack) {
  const bool recreating = target.policy.mode == Mode::kRecreate || fellBack;
  const std::string_view mode = recreating ? kRecreate : kInPlace;
  std::string body;
  const auto read = actuator.getWorkload(target.workload, body);
  if (!read.ok()) {
    reportError(target, mode, read, false);
    return;
  }
  auto current = rightsizing::parseWorkloadTemplate(body);
  if (!current) {
    report(target, mode, "error", target.workload.describe() + ": " + current.error().message);
    return;
  }
  if (recreating) {
    recreate(target, actuator, *current);
  } else {
    inPlace(target, actuator, *current);
  }
}

bool RightsizingApplier::recreate(const Target& target, Actuator& actuator,
                                  const rightsizing::WorkloadTemplate& current) {
  bool qosChange = false;
  const auto next =
      rightsizing::podTarget(current.containers, target.recommendations, target.policy, &qosChange);
  if (!next) {
    if (qosChange) {
      report(target, kRecreate, "qos-change",
             "the recommendation would change the pods' QoS class; the template is left alone");
    } else if (const auto refusal = rightsizing::podCreateRefusal(current); !refusal.empty()) {
      // The patch was admitted (a template is no pod), but the rollout's pods are not: the
      // Deployment says so in its ReplicaFailure condition, and nothing moves until the
      // LimitRange or ResourceQuota (or the recommendation) changes. Counted and retried as the
      // same refusal of a resize is.
      count(target, kRecreate, refusal);
      report(target, kRecreate, std::string(refusal),
             "the rolling update stalls: the pod template has the recommended resources, but "
             "its pods cannot be created: " +
                 current.replicaFailure->message);
      return false;
    } else {
      report(target, kRecreate, "applied", "the pod template has the recommended resources");
    }
    return true;
  }
  if (options_.dryRun) {
    report(target, kRecreate, "dry-run",
           "would patch the pod template: " + rightsizing::templatePatch(*next));
    return true;
  }
  const auto written = actuator.patchWorkload(target.workload, rightsizing::templatePatch(*next));
  if (!written.ok()) {
    reportError(target, kRecreate, written, false);
    return false;
  }
  count(target, kRecreate, "applied");
  report(target, kRecreate, "applied",
         "pod template patched (a rolling update): " + rightsizing::templatePatch(*next));
  return true;
}

void RightsizingApplier::inPlace(const Target& target, Actuator& actuator,
                                 const rightsizing::WorkloadTemplate& current) {
  std::string body;
  const auto listed = actuator.listPods(target.workload.namespaceName, current.selector, body);
  if (!listed.ok()) {
    reportError(target, kInPlace, listed, false);
    return;
  }
  auto pods = rightsizing::parsePods(body);
  if (!pods) {
    report(target, kInPlace, "error",
           "pods of " + target.workload.describe() + ": " + pods.error().message);
    return;
  }
  auto plan = rightsizing::planResizes(*pods, target.recommendations, target.policy);
  if (plan.state == ApplyState::kPending && deferredTooLong(target)) {
    plan.state = ApplyState::kInfeasible;
    plan.message +=
        " (deferred for more than " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(options_.deferredFor).count()) +
        " s)";
  }
  if (plan.state == ApplyState::kInfeasible) {
    if (target.policy.fallback == rightsizing::Fallback::kRecreate) {
      // Reported (logged, counted, an event) before the template is patched, so the history
      // says why the workload went over to recreate.
      report(target, kInPlace, "infeasible",
             plan.message + " (fallback: recreate; patching the pod template)");
      {
        std::lock_guard lock(mutex_);
        fellBack_.insert({target.workload, target.cluster});
      }
      recreate(target, actuator, current);
      return;
    }
    report(target, kInPlace, "infeasible",
           plan.message + " (fallback: none; nothing more is done)");
    return;
  }
  for (const auto& resize : plan.resizes) {
    const std::string patch = rightsizing::podResizePatch(resize.containers);
    if (options_.dryRun) {
      report(target, kInPlace, "dry-run", "would resize pod " + resize.pod + ": " + patch);
      return;
    }
    const auto written = actuator.resizePod(target.workload.namespaceName, resize.pod, patch);
    if (!written.ok()) {
      reportError(target, kInPlace, written, true);
      return;
    }
    count(target, kInPlace, "applied");
    componentLogger("aggregator.rightsizing")
        ->info("{} in {}: resized pod {} in place: {}", target.workload.describe(), target.cluster,
               resize.pod, patch);
  }
  std::string message = plan.message;
  if (plan.state == ApplyState::kResizing) {
    message = std::to_string(plan.inFlight + static_cast<int>(plan.resizes.size())) +
              " pod(s) resizing (at most " + std::to_string(plan.budget) + " at once)";
  } else if (plan.state == ApplyState::kApplied) {
    message = "every running pod has the recommended resources";
  }
  report(target, kInPlace, std::string(rightsizing::toString(plan.state)), std::move(message));
}

bool RightsizingApplier::deferredTooLong(const Target& target) const {
  std::lock_guard lock(mutex_);
  const auto workload = status_.find(target.workload);
  if (workload == status_.end()) return false;
  const auto cluster = workload->second.find(target.cluster);
  return cluster != workload->second.end() && cluster->second.result == "pending" &&
         clock_.wallNow() - cluster->second.since > options_.deferredFor;
}

void RightsizingApplier::reportError(const Target& target, std::string_view mode,
                                     const ActuationOutcome& outcome, bool resizing) {
  const std::string result = resultOf(outcome, resizing);
  count(target, mode, result);
  report(target, mode, result, outcome.message);
}

void RightsizingApplier::count(const Target& target, std::string_view mode,
                               std::string_view result) {
  std::lock_guard lock(mutex_);
  counts_[{target.workload, target.cluster, std::string(mode), std::string(result)}] += 1;
}

void RightsizingApplier::report(const Target& target, std::string_view mode, std::string result,
                                std::string message) {
  const WallTime now = clock_.wallNow();
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    const auto key = std::pair(target.workload, target.cluster);
    if (isError(result)) {
      retryAt_[key] = clock_.now() + options_.retryAfterError;
    } else {
      retryAt_.erase(key);
    }
    auto& status = status_[target.workload][target.cluster];
    changed = status.result != result || status.mode != mode;
    if (changed) {
      status.since = now;
      if (result == "pending" || result == "qos-change" || result == "infeasible") {
        counts_[{target.workload, target.cluster, std::string(mode), result}] += 1;
      }
    }
    status.result = result;
    status.mode = std::string(mode);
    status.message = message;
  }
  if (!changed) return;  // once per workload, cluster and cause
  auto log = componentLogger("aggregator.rightsizing");
  if (isError(result) || result == "infeasible") {
    log->warn("{} in {}: right-sizing ({}) {}: {}", target.workload.describe(), target.cluster,
              mode, result, message);
  } else {
    log->info("{} in {}: right-sizing ({}) {}: {}", target.workload.describe(), target.cluster,
              mode, result, message);
  }
  if (store_ == nullptr) return;
  EventRecord event;
  event.timeUnixMs = toUnixMillis(now);
  event.kind = std::string(kEventRightsizing);
  event.cluster = target.cluster;
  event.workload =
      target.workload.namespaceName + "/" + target.workload.kind + "/" + target.workload.name;
  event.message = target.workload.describe() + ": right-sizing (" + std::string(mode) + ") " +
                  result + ": " + message;
  event.details = nlohmann::json{{"mode", mode}, {"result", result}}.dump();
  store_->recordEvent(std::move(event));
}

ApplyStatusMap RightsizingApplier::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::vector<prometheus::MetricFamily> RightsizingApplier::metrics() const {
  auto family = counterFamily(
      "fleetscale_rightsizing_applies_total",
      "Right-sizing writes and outcomes per workload and cluster: result=applied (a pod resized "
      "or a template patched), pending, infeasible, qos-change, forbidden, limit-range, quota, "
      "unsupported, invalid, error");
  std::lock_guard lock(mutex_);
  for (const auto& [key, value] : counts_) {
    const auto& [workload, cluster, mode, result] = key;
    addSample(family,
              {{"namespace", workload.namespaceName},
               {"workload", workload.name},
               {"cluster", cluster},
               {"mode", mode},
               {"result", result}},
              value);
  }
  return {std::move(family)};
}

}  // namespace fleetscale::aggregator
