#include "fleetscale/aggregator/pipeline/predictive.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace fleetscale::aggregator {
namespace {

using std::chrono::seconds;

constexpr std::int64_t kMinuteMs = 60'000;

std::int64_t minuteOf(WallTime time) {
  const std::int64_t ms = toUnixMillis(time);
  return ms >= 0 ? ms / kMinuteMs : (ms - kMinuteMs + 1) / kMinuteMs;
}

// The pods' CPU figures summed (usage or demand, as the policy reads CPU); absent with no pod
// reporting.
std::optional<double> demandCoresOf(const scaling::WorkloadObservation& observation) {
  const auto cpu = observation.metrics.find(scaling::Resource::kCpu);
  if (cpu == observation.metrics.end() || cpu->second.empty()) return std::nullopt;
  double total = 0;
  for (const auto& [pod, metric] : cpu->second) total += static_cast<double>(metric.valueMilli);
  return total / 1000;
}

// One replica's CPU request: the workload's template, else the mean of its pods'.
double requestCoresOf(const scaling::WorkloadObservation& observation,
                      const scaling::PodRequests& perPod) {
  if (perPod.cpuCores > 0) return perPod.cpuCores;
  double total = 0;
  int pods = 0;
  for (const auto& pod : observation.pods) {
    if (pod.cpuRequestMilli && *pod.cpuRequestMilli > 0) {
      total += static_cast<double>(*pod.cpuRequestMilli) / 1000;
      ++pods;
    }
  }
  return pods > 0 ? total / pods : 0;
}

// The replicas `cores` of demand need under the policy's CPU targets; absent without one.
std::optional<std::int32_t> replicasFor(double cores, const scaling::WorkloadPolicy& policy,
                                        double requestCores) {
  std::optional<std::int32_t> out;
  for (const auto& target : policy.metrics) {
    // The forecast is of the whole pods' CPU demand: only pod-level CPU targets translate it.
    if (target.source != scaling::MetricSource::kResource ||
        target.resource != scaling::Resource::kCpu)
      continue;
    double perReplica = 0;
    if (target.type == scaling::TargetType::kUtilization) {
      perReplica = requestCores * target.averageUtilization / 100.0;
    } else {
      perReplica = static_cast<double>(target.averageValueMilli) / 1000;
    }
    if (perReplica <= 0) continue;
    const double needed = std::ceil(cores / perReplica - 1e-9);
    const auto replicas = static_cast<std::int32_t>(std::clamp(
        needed, static_cast<double>(policy.minReplicas), static_cast<double>(policy.maxReplicas)));
    out = out ? std::max(*out, replicas) : replicas;
  }
  return out;
}

// A minute ends: its mean goes to the forecaster.
void addDemand(PredictiveMemory& memory, std::int64_t minute, std::optional<double> demand) {
  if (minute != memory.minute) {
    if (memory.samples > 0) {
      memory.forecaster.addMinute(memory.minute, memory.demandSum / memory.samples);
    }
    memory.minute = minute;
    memory.demandSum = 0;
    memory.samples = 0;
  }
  if (demand) {
    memory.demandSum += *demand;
    ++memory.samples;
  }
}

void chooseLookAhead(const scaling::PredictivePolicy& policy, const PredictiveMemory& memory,
                     ForecastView& view) {
  if (policy.lookAhead) {
    view.lookAhead = *policy.lookAhead;
    view.lookAheadSource = "policy";
  } else if (const auto learned = memory.startup.slowest()) {
    // Whole minutes, rounded up: the forecast's resolution.
    view.lookAhead = std::chrono::ceil<std::chrono::minutes>(*learned);
    view.lookAheadSource = "learned start-up time";
  } else {
    view.lookAhead = scaling::kDefaultLookAhead;
    view.lookAheadSource = "default";
  }
}

}  // namespace

bool forecastHoldsScaleIn(const scaling::WorkloadPolicy& policy, const PredictiveMemory& memory) {
  return policy.predictive.mode == scaling::PredictiveMode::kOn && memory.forecaster.ready() &&
         policy.predictive.downscaleStabilization &&
         policy.predictive.downscaleStabilization->count() < policy.downscaleStabilizationSeconds;
}

std::optional<ForecastView> forecastDemand(const scaling::WorkloadPolicy& policy,
                                           const scaling::WorkloadObservation& observation,
                                           const scaling::PodRequests& perPod, WallTime now,
                                           PredictiveMemory& memory, scaling::Decision& decision) {
  if (policy.predictive.mode == scaling::PredictiveMode::kOff) return std::nullopt;
  ForecastView view;
  view.mode = policy.predictive.mode;
  const auto demand = demandCoresOf(observation);
  if (demand) view.demandCores = *demand;
  const std::int64_t minute = minuteOf(now);
  addDemand(memory, minute, demand);
  chooseLookAhead(policy.predictive, memory, view);
  if (!memory.forecaster.ready()) {
    view.note = "learning the daily shape: a forecast needs a whole day of demand";
    return view;
  }
  // Provision for the highest forecast until the look-ahead ends, from the minute after this one.
  const auto lastMinute = minuteOf(now + view.lookAhead);
  double highest = 0;
  for (std::int64_t m = minute + 1; m <= std::max(minute + 1, lastMinute); ++m) {
    highest = std::max(highest, memory.forecaster.forecast(m).value_or(0));
  }
  view.marginCores = memory.forecaster.margin().value_or(0);
  view.mape = memory.forecaster.meanAbsolutePercentageError();
  view.forecastCores = highest + view.marginCores;
  view.replicas = replicasFor(*view.forecastCores, policy, requestCoresOf(observation, perPod));
  if (!view.replicas) {
    view.note = "no CPU target to turn the forecast into replicas";
    return view;
  }
  if (policy.predictive.mode != scaling::PredictiveMode::kOn || !decision.error.empty()) {
    return view;
  }
  if (*view.replicas <= decision.desiredReplicas) return view;
  char detail[160];
  std::snprintf(detail, sizeof(detail), "%.2f cores forecast within %llds (margin %.2f)",
                *view.forecastCores, static_cast<long long>(view.lookAhead.count()),
                view.marginCores);
  decision.steps.push_back(
      scaling::DecisionStep{"forecast", decision.desiredReplicas, *view.replicas, detail});
  decision.reason = "forecast: " + std::string(detail) + " need " + std::to_string(*view.replicas) +
                    " replicas (reactive: " + std::to_string(decision.desiredReplicas) + ")";
  decision.desiredReplicas = *view.replicas;
  decision.scale = decision.desiredReplicas != decision.currentReplicas;
  view.raised = true;
  return view;
}

std::size_t seedDemandHistory(PredictiveMemory& memory, const std::vector<RollupRow>& rows,
                              WallTime until, scaling::CpuDemand cpuDemand) {
  std::map<std::int64_t, double> perBucket;  // bucket start -> cores over every cluster
  for (const auto& row : rows) {
    perBucket[row.bucketStartUnixMs] +=
        scaling::cpuFigure(cpuDemand, row.cpuUsageCores, row.cpuUnmetDemandCores);
  }
  // Each bucket is one sample of its minute, averaged as the live decisions' samples are; the
  // last minute is handed on by the first live call, as any minute is.
  const std::int64_t untilMinute = minuteOf(until);
  std::size_t minutes = 0;
  for (const auto& [bucket, cores] : perBucket) {
    const std::int64_t minute = minuteOf(fromUnixMillis(bucket));
    if (minute >= untilMinute) break;
    if (minute != memory.minute) ++minutes;
    addDemand(memory, minute, cores);
  }
  return minutes;
}

}  // namespace fleetscale::aggregator
