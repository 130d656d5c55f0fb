// The policy file is operator input read from disk: any bytes must give a config or an error.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = fleetscale::aggregator::parsePolicyConfig(text, "fuzz.yaml");
  // Names reach logs, events, metric labels and terminals: clean text, bounded.
  auto clean = [](const std::string& name) {
    return fleetscale::isValidUtf8(name) && !fleetscale::hasControlCharacters(name) &&
           name.size() <= fleetscale::aggregator::kMaxPolicyNameBytes;
  };
  if (config) {
    for (const auto& cluster : config->clusters) {
      if (!clean(cluster.name) || !clean(cluster.cloud) || !clean(cluster.region)) {
        __builtin_trap();
      }
    }
    for (const auto& workload : config->workloads) {
      if (workload.policy.maxReplicas < workload.policy.minReplicas) __builtin_trap();
      if (workload.policy.metrics.empty()) __builtin_trap();
      bool outsideMetric = false;
      for (const auto& metric : workload.policy.metrics) {
        using fleetscale::aggregator::scaling::MetricSource;
        using fleetscale::aggregator::scaling::TargetType;
        const bool resource = metric.source == MetricSource::kResource ||
                              metric.source == MetricSource::kContainerResource;
        if (!resource && metric.metricName.empty()) __builtin_trap();
        if (metric.source == MetricSource::kContainerResource && metric.container.empty()) {
          __builtin_trap();
        }
        const bool positive =
            metric.type == TargetType::kUtilization    ? metric.averageUtilization > 0
            : metric.type == TargetType::kAverageValue ? metric.averageValueMilli > 0
                                                       : metric.valueMilli > 0;
        if (!positive) __builtin_trap();
        outsideMetric |=
            metric.source == MetricSource::kObject || metric.source == MetricSource::kExternal;
      }
      // minReplicas 0 only with a metric from outside the pods (the HPA's scale-to-zero rule).
      if (workload.policy.minReplicas == 0 && !outsideMetric) __builtin_trap();
      if (!clean(workload.namespaceName) || !clean(workload.name)) __builtin_trap();
      // Durations at most an hour (issue 19: absurd ones were accepted).
      if (workload.policy.downscaleStabilizationSeconds > 3600) __builtin_trap();
      if (workload.policy.calculator.cpuInitializationPeriod > std::chrono::hours(1)) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
