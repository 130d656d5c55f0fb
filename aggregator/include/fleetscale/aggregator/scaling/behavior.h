// HPA scaling behavior (autoscaling/v2 HorizontalPodAutoscalerBehavior) and the normalization
// of a metric-desired replica count: stabilization windows, rate policies, min/max clamps and,
// without behavior, the legacy scale-up limit. Follows horizontal.go (normalizeDesiredReplicas,
// normalizeDesiredReplicasWithBehaviors, stabilizeRecommendation(WithBehaviors),
// convertDesiredReplicasWith(Rules|BehaviorRate), calculateScale(Up|Down)Limit...,
// storeScaleEvent) and the API defaults (GenerateHPAScaleUpRules/ScaleDownRules).
// Pure functions over an explicit history, so time can be simulated and history persisted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator::scaling {

enum class PolicyType { kPods, kPercent };
enum class SelectPolicy { kMax, kMin, kDisabled };

struct ScalingPolicy {
  PolicyType type = PolicyType::kPods;
  std::int32_t value = 0;
  std::int32_t periodSeconds = 0;
};

// One direction's rules; unset fields take the Kubernetes defaults.
struct ScalingRules {
  std::optional<std::int32_t> stabilizationWindowSeconds;
  std::optional<SelectPolicy> selectPolicy;
  std::optional<std::vector<ScalingPolicy>> policies;
  std::optional<double> tolerance;  // per-direction tolerance (KEP-4951)
};

struct Behavior {
  std::optional<ScalingRules> scaleUp;
  std::optional<ScalingRules> scaleDown;
};

// Rules with every field set. Scale up: window 0 s, Max of {4 pods, 100%} per 15 s. Scale down:
// window = `downscaleStabilizationSeconds` (the controller's flag, default 300 s), Max of
// {100%} per 15 s. Tolerances default to `defaultTolerance`.
struct ResolvedRules {
  std::int32_t stabilizationWindowSeconds = 0;
  SelectPolicy selectPolicy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;
  double tolerance = 0.1;
};
ResolvedRules resolveScaleUpRules(const std::optional<ScalingRules>& rules,
                                  double defaultTolerance);
ResolvedRules resolveScaleDownRules(const std::optional<ScalingRules>& rules,
                                    std::int32_t downscaleStabilizationSeconds,
                                    double defaultTolerance);

struct TimestampedRecommendation {
  std::int32_t replicas = 0;
  WallTime at{};
};

struct ScaleEvent {
  std::int32_t replicaChange = 0;  // always positive; direction is which list holds it
  WallTime at{};
  bool outdated = false;
};

// What the controller remembers per workload between decisions.
struct ScalingHistory {
  std::vector<TimestampedRecommendation> recommendations;
  std::vector<ScaleEvent> scaleUpEvents;
  std::vector<ScaleEvent> scaleDownEvents;
  // Scale to zero: when an Object or External metric was last above its activation.
  std::optional<WallTime> lastActive;
};

// A clamp or limit's outcome: the replica count, and the HPA condition reason that names it
// (DesiredWithinRange, TooFewReplicas, TooManyReplicas, ScaleUpLimit, ScaleDownLimit).
struct Limited {
  std::int32_t replicas = 0;
  std::string reason;
  std::string message;
};

// Without behavior: the highest recommendation within the downscale window (recording this one).
std::int32_t stabilizeRecommendation(std::vector<TimestampedRecommendation>& recommendations,
                                     std::int32_t desired, WallTime now,
                                     std::int32_t downscaleStabilizationSeconds);

// Without behavior: min/max and the legacy scale-up limit max(2 x current, 4).
Limited convertDesiredReplicasWithRules(std::int32_t current, std::int32_t desired,
                                        std::int32_t minReplicas, std::int32_t maxReplicas);

// With behavior: bring the recommendation inside [lowest within the up window, highest within
// the down window], recording this one. Returns the stabilized count and a reason
// (ScaleUpStabilized / ScaleDownStabilized when it changed anything, else "").
struct Stabilized {
  std::int32_t replicas = 0;
  std::string reason;
};
Stabilized stabilizeRecommendationWithBehaviors(
    std::vector<TimestampedRecommendation>& recommendations, std::int32_t current,
    std::int32_t desired, std::int32_t upWindowSeconds, std::int32_t downWindowSeconds,
    WallTime now);

// Replicas added (or removed) by events newer than `periodSeconds` ago.
std::int32_t replicasChangePerPeriod(std::int32_t periodSeconds,
                                     const std::vector<ScaleEvent>& events, WallTime now);

std::int32_t scaleUpLimit(std::int32_t current, const std::vector<ScaleEvent>& upEvents,
                          const std::vector<ScaleEvent>& downEvents, const ResolvedRules& rules,
                          WallTime now);
std::int32_t scaleDownLimit(std::int32_t current, const std::vector<ScaleEvent>& upEvents,
                            const std::vector<ScaleEvent>& downEvents, const ResolvedRules& rules,
                            WallTime now);

// With behavior: rate policies and min/max.
Limited convertDesiredReplicasWithBehaviorRate(std::int32_t current, std::int32_t desired,
                                               std::int32_t minReplicas, std::int32_t maxReplicas,
                                               const ResolvedRules& up, const ResolvedRules& down,
                                               const ScalingHistory& history, WallTime now);

// Records a scale that happened (call after the write succeeded). Only with behavior, as the
// HPA: events older than the longest policy period are reused in place.
void storeScaleEvent(const std::optional<Behavior>& behavior, const ResolvedRules& up,
                     const ResolvedRules& down, ScalingHistory& history, std::int32_t previous,
                     std::int32_t next, WallTime now);

}  // namespace fleetscale::aggregator::scaling
