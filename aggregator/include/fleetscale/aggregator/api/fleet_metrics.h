// The fleet's gauges on /metrics (docs/metrics.md): per cluster, workload and node from the
// latest snapshot and the live node list, per container only when asked for (high cardinality).
// Computed at each scrape.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/aggregator/state/snapshot_holder.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// Thread-safe; the fleet, the snapshots and the clock must outlive it.
class FleetMetrics final : public prometheus::Collectable {
 public:
  FleetMetrics(const FleetState& fleet, const SnapshotHolder& snapshots, const Clock& clock,
               bool perContainerSeries);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const FleetState& fleet_;
  const SnapshotHolder& snapshots_;
  const Clock& clock_;
  bool perContainerSeries_;
};

}  // namespace fleetscale::aggregator
