// Right-sizing recommendations (docs/api.md, docs/rightsizing.md):
//   GET /api/v1/recommendations   per container: current requests and limits, the recommended
//                                 ones, bounds, confidence, reason (?namespace= ?workload=), and
//                                 what they would save across the fleet, and what applying them
//                                 did per cluster (in-place, recreate)
// and their gauges on /metrics (docs/metrics.md).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleetscale/aggregator/control/rightsizing_applier.h"
#include "fleetscale/aggregator/control/rightsizing_feed.h"
#include "fleetscale/shared/http_server.h"

namespace fleetscale::aggregator {

// The answer's body for the containers of `set` in `namespaceName` and `workload` ("" = any).
// `applied`: what the applier last did per workload and cluster (each container of a workload
// shows its workload's), when there is one.
nlohmann::json recommendationsJson(const RecommendationSet& set, const std::string& namespaceName,
                                   const std::string& workload,
                                   const ApplyStatusMap* applied = nullptr);

// `feed` (and `applier`, when given) must outlive the router. Handlers are thread-safe.
void addRightsizingRoutes(HttpRouter& router, const RightsizingFeed& feed,
                          const RightsizingApplier* applier = nullptr);

// Per container (workload x container name: the cardinality of the fleet's container specs, not
// of its replicas): the recommended and the current figures, the confidence, OOM kills; the
// fleet's savings; the recommender's size. Thread-safe; `feed` must outlive it.
class RecommendationMetrics final : public prometheus::Collectable {
 public:
  explicit RecommendationMetrics(const RightsizingFeed& feed) : feed_(feed) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const RightsizingFeed& feed_;
};

}  // namespace fleetscale::aggregator
