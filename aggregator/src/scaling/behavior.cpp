#include "fleetscale/aggregator/scaling/behavior.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fleetscale::aggregator::scaling {
namespace {

constexpr std::int32_t kScaleUpLimitMinimumPods = 4;
constexpr std::int32_t kScaleUpLimitPercent = 100;
constexpr std::int32_t kScaleUpPeriodSeconds = 15;
constexpr std::int32_t kScaleDownLimitPercent = 100;
constexpr std::int32_t kScaleDownPeriodSeconds = 15;
constexpr double kLegacyScaleUpLimitFactor = 2.0;
constexpr double kLegacyScaleUpLimitMinimum = 4.0;

std::chrono::seconds seconds(std::int32_t value) { return std::chrono::seconds(value); }

ResolvedRules resolve(const std::optional<ScalingRules>& rules, ResolvedRules defaults) {
  if (!rules) return defaults;
  if (rules->stabilizationWindowSeconds) {
    defaults.stabilizationWindowSeconds = *rules->stabilizationWindowSeconds;
  }
  if (rules->selectPolicy) defaults.selectPolicy = *rules->selectPolicy;
  if (rules->policies) defaults.policies = *rules->policies;
  if (rules->tolerance) defaults.tolerance = *rules->tolerance;
  return defaults;
}

std::int32_t longestPolicyPeriod(const ResolvedRules& rules) {
  std::int32_t longest = 0;
  for (const auto& policy : rules.policies) longest = std::max(longest, policy.periodSeconds);
  return longest;
}

std::int32_t saturate(double value) {
  if (value >= static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
    return std::numeric_limits<std::int32_t>::max();
  }
  if (value <= static_cast<double>(std::numeric_limits<std::int32_t>::min())) {
    return std::numeric_limits<std::int32_t>::min();
  }
  return static_cast<std::int32_t>(value);
}

void recordEvent(std::vector<ScaleEvent>& events, std::int32_t change, std::int32_t longestPeriod,
                 WallTime now) {
  const WallTime cutoff = now - seconds(longestPeriod);
  // Mark events outside every policy's period as reusable, then overwrite the last one of them.
  std::optional<std::size_t> reusable;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].at < cutoff) events[i].outdated = true;
    if (events[i].outdated) reusable = i;
  }
  const ScaleEvent event{change, now, false};
  if (reusable) {
    events[*reusable] = event;
  } else {
    events.push_back(event);
  }
}

}  // namespace

ResolvedRules resolveScaleUpRules(const std::optional<ScalingRules>& rules,
                                  double defaultTolerance) {
  ResolvedRules defaults;
  defaults.stabilizationWindowSeconds = 0;
  defaults.selectPolicy = SelectPolicy::kMax;
  defaults.policies = {{PolicyType::kPods, kScaleUpLimitMinimumPods, kScaleUpPeriodSeconds},
                       {PolicyType::kPercent, kScaleUpLimitPercent, kScaleUpPeriodSeconds}};
  defaults.tolerance = defaultTolerance;
  return resolve(rules, defaults);
}

ResolvedRules resolveScaleDownRules(const std::optional<ScalingRules>& rules,
                                    std::int32_t downscaleStabilizationSeconds,
                                    double defaultTolerance) {
  ResolvedRules defaults;
  defaults.stabilizationWindowSeconds = downscaleStabilizationSeconds;
  defaults.selectPolicy = SelectPolicy::kMax;
  defaults.policies = {{PolicyType::kPercent, kScaleDownLimitPercent, kScaleDownPeriodSeconds}};
  defaults.tolerance = defaultTolerance;
  return resolve(rules, defaults);
}

std::int32_t stabilizeRecommendation(std::vector<TimestampedRecommendation>& recommendations,
                                     std::int32_t desired, WallTime now,
                                     std::int32_t downscaleStabilizationSeconds) {
  std::int32_t highest = desired;
  std::optional<std::size_t> oldSample;
  const WallTime cutoff = now - seconds(downscaleStabilizationSeconds);
  for (std::size_t i = 0; i < recommendations.size(); ++i) {
    if (recommendations[i].at < cutoff) {
      oldSample = i;
    } else if (recommendations[i].replicas > highest) {
      highest = recommendations[i].replicas;
    }
  }
  if (oldSample) {
    recommendations[*oldSample] = {desired, now};
  } else {
    recommendations.push_back({desired, now});
  }
  return highest;
}

Limited convertDesiredReplicasWithRules(std::int32_t current, std::int32_t desired,
                                        std::int32_t minReplicas, std::int32_t maxReplicas) {
  // Do not scale up too much at once: a bogus usage report must not multiply the replicas.
  const auto limit = static_cast<std::int32_t>(
      std::max(kLegacyScaleUpLimitFactor * current, kLegacyScaleUpLimitMinimum));
  Limited upper;
  if (maxReplicas > limit) {
    upper = {limit, "ScaleUpLimit",
             "the desired replica count is increasing faster than the maximum scale rate"};
  } else {
    upper = {maxReplicas, "TooManyReplicas",
             "the desired replica count is more than the maximum replica count"};
  }
  if (desired < minReplicas) {
    return {minReplicas, "TooFewReplicas",
            "the desired replica count is less than the minimum replica count"};
  }
  if (desired > upper.replicas) return upper;
  return {desired, "DesiredWithinRange", "the desired count is within the acceptable range"};
}

Stabilized stabilizeRecommendationWithBehaviors(
    std::vector<TimestampedRecommendation>& recommendations, std::int32_t current,
    std::int32_t desired, std::int32_t upWindowSeconds, std::int32_t downWindowSeconds,
    WallTime now) {
  std::int32_t upRecommendation = desired;
  std::int32_t downRecommendation = desired;
  const WallTime upCutoff = now - seconds(upWindowSeconds);
  const WallTime downCutoff = now - seconds(downWindowSeconds);
  std::optional<std::size_t> oldSample;
  for (std::size_t i = 0; i < recommendations.size(); ++i) {
    const auto& rec = recommendations[i];
    if (rec.at > upCutoff) upRecommendation = std::min(rec.replicas, upRecommendation);
    if (rec.at > downCutoff) downRecommendation = std::max(rec.replicas, downRecommendation);
    if (rec.at < upCutoff && rec.at < downCutoff) oldSample = i;
  }
  // Never go past the lowest recent recommendation on the way up, nor below the highest recent
  // one on the way down.
  std::int32_t recommendation = current;
  if (recommendation < upRecommendation) recommendation = upRecommendation;
  if (recommendation > downRecommendation) recommendation = downRecommendation;
  if (oldSample) {
    recommendations[*oldSample] = {desired, now};
  } else {
    recommendations.push_back({desired, now});
  }
  Stabilized result{recommendation, ""};
  if (recommendation != desired) {
    result.reason = desired >= current ? "ScaleUpStabilized" : "ScaleDownStabilized";
  }
  return result;
}

std::int32_t replicasChangePerPeriod(std::int32_t periodSeconds,
                                     const std::vector<ScaleEvent>& events, WallTime now) {
  const WallTime cutoff = now - seconds(periodSeconds);
  std::int32_t replicas = 0;
  for (const auto& event : events) {
    if (event.at > cutoff) replicas += event.replicaChange;
  }
  return replicas;
}

std::int32_t scaleUpLimit(std::int32_t current, const std::vector<ScaleEvent>& upEvents,
                          const std::vector<ScaleEvent>& downEvents, const ResolvedRules& rules,
                          WallTime now) {
  if (rules.selectPolicy == SelectPolicy::kDisabled) return current;
  // For scaling up, the Min policy is the smallest increase; Max the largest.
  const bool pickMin = rules.selectPolicy == SelectPolicy::kMin;
  std::int32_t result =
      pickMin ? std::numeric_limits<std::int32_t>::max() : std::numeric_limits<std::int32_t>::min();
  for (const auto& policy : rules.policies) {
    const std::int32_t added = replicasChangePerPeriod(policy.periodSeconds, upEvents, now);
    const std::int32_t deleted = replicasChangePerPeriod(policy.periodSeconds, downEvents, now);
    const std::int32_t periodStart = current - added + deleted;
    std::int32_t proposed = 0;
    if (policy.type == PolicyType::kPods) {
      proposed = periodStart + policy.value;
    } else {
      // Rounded up: otherwise a small percentage of a small count would never add a pod.
      proposed = saturate(std::ceil(static_cast<double>(periodStart) *
                                    (1.0 + static_cast<double>(policy.value) / 100.0)));
    }
    result = pickMin ? std::min(result, proposed) : std::max(result, proposed);
  }
  return result;
}

std::int32_t scaleDownLimit(std::int32_t current, const std::vector<ScaleEvent>& upEvents,
                            const std::vector<ScaleEvent>& downEvents, const ResolvedRules& rules,
                            WallTime now) {
  if (rules.selectPolicy == SelectPolicy::kDisabled) return current;
  // For scaling down, the Min policy (smallest change) gives the highest floor.
  const bool pickMin = rules.selectPolicy == SelectPolicy::kMin;
  std::int32_t result =
      pickMin ? std::numeric_limits<std::int32_t>::min() : std::numeric_limits<std::int32_t>::max();
  for (const auto& policy : rules.policies) {
    const std::int32_t added = replicasChangePerPeriod(policy.periodSeconds, upEvents, now);
    const std::int32_t deleted = replicasChangePerPeriod(policy.periodSeconds, downEvents, now);
    const std::int32_t periodStart = current - added + deleted;
    std::int32_t proposed = 0;
    if (policy.type == PolicyType::kPods) {
      proposed = periodStart - policy.value;
    } else {
      proposed = saturate(static_cast<double>(periodStart) *
                          (1.0 - static_cast<double>(policy.value) / 100.0));
    }
    result = pickMin ? std::max(result, proposed) : std::min(result, proposed);
  }
  return result;
}

Limited convertDesiredReplicasWithBehaviorRate(std::int32_t current, std::int32_t desired,
                                               std::int32_t minReplicas, std::int32_t maxReplicas,
                                               const ResolvedRules& up, const ResolvedRules& down,
                                               const ScalingHistory& history, WallTime now) {
  if (desired > current) {
    // Never below current: past events may make the naive limit smaller than what we have.
    const std::int32_t limit = std::max(
        current, scaleUpLimit(current, history.scaleUpEvents, history.scaleDownEvents, up, now));
    Limited upper;
    if (maxReplicas > limit) {
      upper = {limit, "ScaleUpLimit",
               "the desired replica count is increasing faster than the maximum scale rate"};
    } else {
      upper = {maxReplicas, "TooManyReplicas",
               "the desired replica count is more than the maximum replica count"};
    }
    if (desired > upper.replicas) return upper;
  } else if (desired < current) {
    const std::int32_t limit = std::min(
        current,
        scaleDownLimit(current, history.scaleUpEvents, history.scaleDownEvents, down, now));
    Limited lower;
    if (minReplicas < limit) {
      lower = {limit, "ScaleDownLimit",
               "the desired replica count is decreasing faster than the maximum scale rate"};
    } else {
      lower = {minReplicas, "TooFewReplicas",
               "the desired replica count is less than the minimum replica count"};
    }
    if (desired < lower.replicas) return lower;
  }
  return {desired, "DesiredWithinRange", "the desired count is within the acceptable range"};
}

void storeScaleEvent(const std::optional<Behavior>& behavior, const ResolvedRules& up,
                     const ResolvedRules& down, ScalingHistory& history, std::int32_t previous,
                     std::int32_t next, WallTime now) {
  if (!behavior) return;  // without behavior the events are never used
  if (next > previous) {
    recordEvent(history.scaleUpEvents, next - previous, longestPolicyPeriod(up), now);
  } else {
    recordEvent(history.scaleDownEvents, previous - next, longestPolicyPeriod(down), now);
  }
}

}  // namespace fleetscale::aggregator::scaling
