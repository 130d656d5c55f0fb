#include "fleetscale/aggregator/replay/replay_csv.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>

#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

enum Column {
  kTime,
  kWorkload,
  kCluster,
  kReplicas,
  kReady,
  kCpuUsage,
  kCpuRequest,
  kMemoryUsage,
  kMemoryRequest,
  kCpuUnmetDemand,
  kColumnCount
};

constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "time",      "workload",    "cluster",      "replicas",       "ready",
    "cpu_usage", "cpu_request", "memory_usage", "memory_request", "cpu_unmet_demand"};
constexpr std::array<bool, kColumnCount> kRequired = {true, true, false, true,  false,
                                                      true, true, false, false, false};

// CSV fields split on commas, each trimmed. Empty fields are kept (unlike splitFields).
std::vector<std::string_view> splitCsv(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(
        trim(line.substr(start, comma == std::string_view::npos ? line.npos : comma - start)));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

std::string formatNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

Error lineError(int line, const std::string& message) {
  return Error{"line " + std::to_string(line) + ": " + message};
}

Result<WallTime> parseTime(std::string_view text) {
  if (auto seconds = parseDouble(text)) {
    // Seconds since the Unix epoch, or since any origin: only differences matter to a replay.
    const auto time = fromUnixSeconds(*seconds);
    if (!time) return Error{"time " + singleQuoted(text) + " is out of range"};
    return *time;
  }
  auto time = parseRfc3339(text);
  if (!time) {
    return Error{"time " + singleQuoted(text) +
                 " is neither RFC 3339 (2026-11-27T12:00:00Z) nor a number of seconds"};
  }
  return std::chrono::time_point_cast<WallTime::duration>(*time);
}

// A non-negative amount: a plain number or a Kubernetes quantity.
Result<double> parseAmount(std::string_view column, std::string_view text) {
  if (text.empty()) return Error{std::string(column) + " is empty"};
  auto value = parseQuantity(text);
  if (!value || !std::isfinite(*value)) {
    return Error{std::string(column) + ": " + singleQuoted(text) +
                 " is not a number or a quantity (1.5, 500m, 256Mi)"};
  }
  if (*value < 0) return Error{std::string(column) + " is negative: " + singleQuoted(text)};
  return *value;
}

bool validName(std::string_view part) {
  return !part.empty() && part.find_first_of(" \t/") == std::string_view::npos;
}

Status parseWorkload(std::string_view text, ReplaySample& sample) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto slash = text.find('/', start);
    parts.push_back(text.substr(start, slash == text.npos ? text.npos : slash - start));
    if (slash == text.npos) break;
    start = slash + 1;
  }
  const bool shapeOk = (parts.size() == 2 || parts.size() == 3);
  bool namesOk = shapeOk;
  for (auto part : parts) namesOk = namesOk && validName(part);
  if (!namesOk) {
    return Error{"workload " + singleQuoted(text) +
                 " is not namespace/name or namespace/Kind/name"};
  }
  sample.namespaceName = std::string(parts.front());
  sample.name = std::string(parts.back());
  sample.kind = parts.size() == 3 ? std::string(parts[1]) : "";
  return {};
}

// Which column each field of the header is.
Result<std::vector<Column>> parseHeader(std::string_view line, int lineNumber) {
  std::vector<Column> columns;
  std::array<bool, kColumnCount> seen{};
  for (std::string_view field : splitCsv(line)) {
    std::string name(field);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::optional<Column> column;
    for (int i = 0; i < kColumnCount; ++i) {
      if (kColumnNames[static_cast<std::size_t>(i)] == name) column = static_cast<Column>(i);
    }
    if (!column) {
      return lineError(lineNumber,
                       "unknown column " + singleQuoted(field) +
                           " (columns: time, workload, cluster, replicas, ready, cpu_usage, "
                           "cpu_request, memory_usage, memory_request, cpu_unmet_demand)");
    }
    if (seen[*column]) return lineError(lineNumber, "column " + name + " appears twice");
    seen[*column] = true;
    columns.push_back(*column);
  }
  for (int i = 0; i < kColumnCount; ++i) {
    if (kRequired[static_cast<std::size_t>(i)] && !seen[static_cast<std::size_t>(i)]) {
      return lineError(lineNumber, "the header lacks the column " +
                                       std::string(kColumnNames[static_cast<std::size_t>(i)]));
    }
  }
  return columns;
}

}  // namespace

Result<std::vector<ReplaySample>> parseReplayCsv(std::string_view text) {
  std::vector<ReplaySample> samples;
  std::optional<std::vector<Column>> columns;
  // (time, namespace, name, cluster) -> line, to refuse a second row for the same moment.
  std::map<std::tuple<WallTime, std::string, std::string, std::string>, int> seen;
  int lineNumber = 0;
  for (std::string_view raw : splitLines(text)) {
    ++lineNumber;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.find('"') != std::string_view::npos) {
      return lineError(lineNumber, "quoted fields are not supported");
    }
    if (!columns) {
      auto header = parseHeader(line, lineNumber);
      if (!header) return header.error();
      columns = std::move(*header);
      continue;
    }
    const auto fields = splitCsv(line);
    if (fields.size() != columns->size()) {
      return lineError(lineNumber, std::to_string(fields.size()) + " fields, the header has " +
                                       std::to_string(columns->size()));
    }
    ReplaySample sample;
    sample.line = lineNumber;
    bool hasReady = false;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const std::string_view field = fields[i];
      const Column column = (*columns)[i];
      const std::string_view name = kColumnNames[column];
      if (column == kTime) {
        auto time = parseTime(field);
        if (!time) return lineError(lineNumber, time.error().message);
        sample.time = *time;
      } else if (column == kWorkload) {
        if (Status status = parseWorkload(field, sample); !status) {
          return lineError(lineNumber, status.message());
        }
      } else if (column == kCluster) {
        sample.cluster = std::string(field);
      } else {
        auto value = parseAmount(name, field);
        if (!value) return lineError(lineNumber, value.error().message);
        switch (column) {
          case kReplicas:
            sample.replicas = *value;
            break;
          case kReady:
            sample.readyReplicas = *value;
            hasReady = true;
            break;
          case kCpuUsage:
            sample.cpuUsageCores = *value;
            break;
          case kCpuRequest:
            sample.cpuRequestCores = *value;
            break;
          case kMemoryUsage:
            sample.memoryUsageBytes = *value;
            break;
          case kMemoryRequest:
            sample.memoryRequestBytes = *value;
            break;
          case kCpuUnmetDemand:
            sample.cpuUnmetDemandCores = *value;
            break;
          default:
            break;
        }
      }
    }
    if (!hasReady) sample.readyReplicas = sample.replicas;
    if (sample.readyReplicas > sample.replicas) {
      return lineError(lineNumber, "ready (" + formatNumber(sample.readyReplicas) +
                                       ") exceeds replicas (" + formatNumber(sample.replicas) +
                                       ")");
    }
    const auto key =
        std::make_tuple(sample.time, sample.namespaceName, sample.name, sample.cluster);
    if (const auto [it, added] = seen.emplace(key, lineNumber); !added) {
      return lineError(lineNumber, "a second row for " + sample.namespaceName + "/" + sample.name +
                                       (sample.cluster.empty() ? "" : " in " + sample.cluster) +
                                       " at the same time (first on line " +
                                       std::to_string(it->second) + ")");
    }
    samples.push_back(std::move(sample));
  }
  if (!columns) return Error{"no header line (time,workload,replicas,cpu_usage,cpu_request,...)"};
  return samples;
}

}  // namespace fleetscale::aggregator
