#include "fleetscale/aggregator/sources/metric_values.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace fleetscale::aggregator::sources {
namespace {

using scaling::MetricSource;

bool fromOutside(const scaling::MetricTarget& metric) {
  return metric.source == MetricSource::kObject || metric.source == MetricSource::kExternal;
}

// A PromQL string literal.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Milli-units, held within int64 as the HPA's quantities are.
std::int64_t milliOf(double value) {
  constexpr double kMax = static_cast<double>(std::numeric_limits<std::int64_t>::max());
  const double milli = std::round(value * 1000.0);
  if (milli >= kMax) return std::numeric_limits<std::int64_t>::max();
  if (milli <= -kMax) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(milli);
}

std::string secondsText(std::chrono::milliseconds age) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
}

}  // namespace

std::string queryFor(const scaling::MetricTarget& metric, std::string_view namespaceName) {
  if (!metric.query.empty()) return metric.query;
  if (metric.source != MetricSource::kObject) return metric.metricName;
  return metric.metricName + "{namespace=" + quoted(namespaceName) + "," +
         lowercase(metric.describedObject.kind) + "=" + quoted(metric.describedObject.name) + "}";
}

std::set<std::string> queriesOf(const PolicyConfig& policy) {
  std::set<std::string> queries;
  for (const auto& workload : policy.workloads) {
    for (const auto& metric : workload.policy.metrics) {
      if (fromOutside(metric)) queries.insert(queryFor(metric, workload.namespaceName));
    }
  }
  return queries;
}

void addMetricValues(const WorkloadConfig& workload, const QueryAnswers& answers,
                     std::chrono::milliseconds staleness, WallTime now,
                     scaling::WorkloadObservation& observation) {
  // Two metrics reading one query (a queue's series, two selectors) add its series once: the
  // decision sums the series a selector matches, and twice would double them.
  std::set<std::string> added;
  for (const auto& metric : workload.policy.metrics) {
    if (!fromOutside(metric)) continue;
    const std::string query = queryFor(metric, workload.namespaceName);
    const auto answer = answers.find(query);
    std::string problem;
    if (answer == answers.end() || (!answer->second.answeredAt && answer->second.error.empty())) {
      problem = "query " + query + ": no answer from Prometheus yet";
    } else if (!answer->second.answeredAt) {
      problem = "query " + query + ": " + answer->second.error;
    } else if (now - *answer->second.answeredAt > staleness) {
      problem = "query " + query + ": last answered " +
                secondsText(std::chrono::duration_cast<std::chrono::milliseconds>(
                    now - *answer->second.answeredAt)) +
                " ago" + (answer->second.error.empty() ? "" : " (" + answer->second.error + ")");
    }
    if (!problem.empty()) {
      observation.sourceErrors[metric.label()] = problem;
      continue;
    }
    const std::string key = std::string(scaling::metricSourceName(metric.source)) + "\n" +
                            metric.describedObject.describe() + "\n" + metric.metricName + "\n" +
                            query;
    if (!added.insert(key).second) continue;
    for (const auto& sample : answer->second.samples) {
      const auto at = *answer->second.answeredAt;
      if (metric.source == MetricSource::kExternal) {
        observation.externalMetrics.push_back(scaling::ExternalMetricSeries{
            metric.metricName, sample.labels, milliOf(sample.value), at});
      } else {
        observation.objectMetrics.push_back(scaling::ObjectMetricValue{
            metric.describedObject, metric.metricName, sample.labels, milliOf(sample.value), at});
      }
    }
  }
}

}  // namespace fleetscale::aggregator::sources
