// The scaling loop's series on /metrics (docs/metrics.md, "Scaling"): per workload and cluster
// replicas, decisions, scale writes and their durations, cluster health and drains. Computed from
// the loop's state at each scrape.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "fleetscale/aggregator/control/scaling_loop.h"

namespace fleetscale::aggregator {

// Thread-safe; `loop` must outlive it.
class ScalingLoopMetrics final : public prometheus::Collectable {
 public:
  explicit ScalingLoopMetrics(const ScalingLoop& loop) : loop_(loop) {}

  std::vector<prometheus::MetricFamily> Collect() const override { return loop_.collectMetrics(); }

 private:
  const ScalingLoop& loop_;
};

}  // namespace fleetscale::aggregator
