// Values of Object and External metrics, from PromQL queries: which query each metric runs, and
// how their answers become the series and object values of a workload's observation. Pure; the
// poller (prometheus_poller.h) asks Prometheus and keeps the answers.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/scaling/decision.h"
#include "fleetscale/aggregator/sources/prometheus_response.h"

namespace fleetscale::aggregator::sources {

// A query's latest outcome: the series of its last success and when it came, and the reason of
// a failure since ("" when the last attempt succeeded).
struct QueryAnswer {
  std::vector<PromSample> samples;
  std::optional<WallTime> answeredAt;
  std::string error;
};
using QueryAnswers = std::map<std::string, QueryAnswer>;  // by query text

// The PromQL an Object or External metric runs: its `query`; else, for an External metric its
// name, for an Object metric its name narrowed to the object as prometheus-adapter labels
// series (`requests_per_second{namespace="shop",ingress="main"}`).
std::string queryFor(const scaling::MetricTarget& metric, std::string_view namespaceName);

// Every query the policy's Object and External metrics run.
std::set<std::string> queriesOf(const PolicyConfig& policy);

// Adds the workload's Object and External metric values to `observation` from the answers no
// older than `staleness`; a metric without one gets the reason in observation.sourceErrors.
void addMetricValues(const WorkloadConfig& workload, const QueryAnswers& answers,
                     std::chrono::milliseconds staleness, WallTime now,
                     scaling::WorkloadObservation& observation);

// Where the scaling loop gets Object and External metric values (an interface at the edge).
class MetricValueSource {
 public:
  virtual ~MetricValueSource() = default;
  virtual void fill(const WorkloadConfig& workload, WallTime now,
                    scaling::WorkloadObservation& observation) const = 0;
};

}  // namespace fleetscale::aggregator::sources
