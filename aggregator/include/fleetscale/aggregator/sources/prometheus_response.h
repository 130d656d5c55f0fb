// What Prometheus' HTTP API answers to an instant query (GET /api/v1/query): the series of a
// vector result, or a scalar as one series without labels. Pure; fuzzed, as the answer comes
// from the network.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/scaling/label_selector.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator::sources {

struct PromSample {
  scaling::Labels labels;  // __name__ included when the query kept it
  double value = 0;
  WallTime timestamp{};
};

// More series than this is an error: a query for an autoscaling metric that returns thousands
// of series is a mistake, and its answer would cost every tick.
inline constexpr std::size_t kMaxPromSeries = 10'000;

// The series with a finite value (NaN and infinite ones are left out: they are no value), or
// Prometheus' own error ("bad_data: parse error ...") or what is wrong with the body.
Result<std::vector<PromSample>> parsePrometheusQueryResponse(std::string_view body);

}  // namespace fleetscale::aggregator::sources
