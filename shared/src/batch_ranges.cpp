#include "fleetscale/shared/batch_ranges.h"

#include <cstdio>
#include <tuple>
#include <utility>

namespace fleetscale {
namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", value);
  return text;
}

RangeViolation violation(std::string field, const std::string& value, const std::string& bound) {
  std::string message = field + " " + value + " is out of range (at most " + bound + ")";
  return RangeViolation{std::move(field), std::move(message)};
}

// Absent figures (NaN) pass; validation elsewhere already refused negative and infinite ones,
// but a range check must hold on its own, so it refuses them too.
bool fits(double value, double max) { return !isPresent(value) || (value >= 0 && value <= max); }

std::optional<RangeViolation> checkDouble(const char* prefix, const char* field, double value,
                                          double max) {
  if (fits(value, max)) return std::nullopt;
  return violation(std::string(prefix) + field, number(value), number(max));
}

std::optional<RangeViolation> checkUint(const char* prefix, const char* field, std::uint64_t value,
                                        std::uint64_t max) {
  if (value <= max) return std::nullopt;
  return violation(std::string(prefix) + field, std::to_string(value), std::to_string(max));
}

std::optional<RangeViolation> checkTime(const char* field, std::int64_t value) {
  if (value >= 0 && value <= kMaxUnixMs) return std::nullopt;
  return RangeViolation{field, std::string(field) + " " + std::to_string(value) +
                                   " is out of range (0 to " + std::to_string(kMaxUnixMs) + ")"};
}

std::optional<RangeViolation> checkContainer(const ContainerMetrics& m) {
  for (const auto& [field, value, max] :
       {std::tuple{"cpu_cores", m.cpuCores, kMaxCores},
        std::tuple{"cpu_user_cores", m.cpuUserCores, kMaxCores},
        std::tuple{"cpu_system_cores", m.cpuSystemCores, kMaxCores},
        std::tuple{"cpu_throttled_periods_per_second", m.cpuThrottledPeriodsPerSecond,
                   kMaxThrottledPeriodsPerSecond},
        std::tuple{"cpu_throttled_seconds_per_second", m.cpuThrottledSecondsPerSecond, kMaxCores},
        std::tuple{"cpu_limit_cores", m.cpuLimitCores, kMaxLimitCores},
        std::tuple{"cpu_pressure_some_total_us", m.cpuPressureSomeTotalUs, kMaxPressureTotalUs},
        std::tuple{"cpu_pressure_full_total_us", m.cpuPressureFullTotalUs, kMaxPressureTotalUs},
        std::tuple{"memory_pressure_some_total_us", m.memoryPressureSomeTotalUs,
                   kMaxPressureTotalUs},
        std::tuple{"memory_pressure_full_total_us", m.memoryPressureFullTotalUs,
                   kMaxPressureTotalUs}}) {
    if (auto bad = checkDouble("", field, value, max)) return bad;
  }
  for (const auto& [field, value, max] :
       {std::tuple{"cpu_weight", m.cpuWeight, kMaxCpuWeight},
        std::tuple{"memory_usage_bytes", m.memoryUsageBytes, kMaxMemoryBytes},
        std::tuple{"memory_working_set_bytes", m.memoryWorkingSetBytes, kMaxMemoryBytes},
        std::tuple{"memory_rss_bytes", m.memoryRssBytes, kMaxMemoryBytes},
        std::tuple{"memory_limit_bytes", m.memoryLimitBytes.value_or(0), kMaxMemoryLimitBytes}}) {
    if (auto bad = checkUint("", field, value, max)) return bad;
  }
  return std::nullopt;
}

}  // namespace

std::optional<RangeViolation> checkBatchRanges(const BatchView& batch) {
  if (auto bad = checkTime("timestamp_unix_ms", batch.timestampUnixMs)) return bad;
  const double minInterval = std::chrono::duration<double>(kMinBatchInterval).count();
  const double maxInterval = std::chrono::duration<double>(kMaxBatchInterval).count();
  if (batch.intervalSeconds != 0 &&
      !(batch.intervalSeconds >= minInterval && batch.intervalSeconds <= maxInterval)) {
    return RangeViolation{"interval_seconds", "interval_seconds " + number(batch.intervalSeconds) +
                                                  " is out of range (0 for unknown, or " +
                                                  number(minInterval) + " to " +
                                                  number(maxInterval) + ")"};
  }
  const auto& n = batch.node;
  for (const auto& [field, value] : {std::pair{"cpu_capacity_cores", n.cpuCapacityCores},
                                     std::pair{"cpu_usage_cores", n.cpuUsageCores},
                                     std::pair{"cpu_allocatable_cores", n.cpuAllocatableCores}}) {
    if (auto bad = checkDouble("node.", field, value, kMaxCores)) return bad;
  }
  for (const auto& [field, value] :
       {std::pair{"memory_capacity_bytes", n.memoryCapacityBytes},
        std::pair{"memory_usage_bytes", n.memoryUsageBytes},
        std::pair{"memory_allocatable_bytes", n.memoryAllocatableBytes}}) {
    if (auto bad = checkUint("node.", field, value, kMaxMemoryBytes)) return bad;
  }
  for (const auto& container : batch) {
    if (auto bad = checkContainer(container.metrics)) {
      bad->message = "container " + std::string(container.id.substr(0, 64)) + ": " + bad->message;
      return bad;
    }
  }
  return std::nullopt;
}

std::optional<RangeViolation> checkMetadataRanges(const ContainerMetadataView& m) {
  if (auto bad = checkDouble("metadata.", "cpu_request_cores", m.cpuRequestCores, kMaxCores)) {
    return bad;
  }
  if (auto bad = checkDouble("metadata.", "cpu_limit_cores", m.cpuLimitCores, kMaxLimitCores)) {
    return bad;
  }
  for (const auto& [field, value] :
       {std::pair{"memory_request_bytes", m.memoryRequestBytes.value_or(0)},
        std::pair{"memory_limit_bytes", m.memoryLimitBytes.value_or(0)}}) {
    if (auto bad = checkUint("metadata.", field, value, kMaxMemoryLimitBytes)) return bad;
  }
  if (auto bad = checkTime("metadata.start_time_unix_ms", m.startTimeUnixMs)) return bad;
  if (auto bad = checkTime("metadata.pod_ready_time_unix_ms", m.podReadyTimeUnixMs)) return bad;
  if (auto bad = checkTime("metadata.deletion_unix_ms", m.deletionUnixMs)) return bad;
  return std::nullopt;
}

}  // namespace fleetscale
