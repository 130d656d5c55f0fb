// What a pod's scrape becomes on the wire (v1::PodMetrics): gauges as served, counters as rates
// per second against the same pod's previous scrape. Pure: the caller owns the clock and the
// network (pod_scraper.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fleetscale/agent/exposition.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::agent {

// A counter's rate is sent under this name: `_total` replaced by `_per_second`, or
// `_per_second` appended (prometheus-adapter's default naming), so a policy names the rate.
std::string rateName(const std::string& counterName);

struct PodSeriesResult {
  v1::PodMetrics metrics;
  std::size_t dropped = 0;  // series beyond the cap, not sent
};

// Not thread-safe: the scraper's thread owns it.
class PodSeriesBuilder {
 public:
  explicit PodSeriesBuilder(std::size_t maxSeriesPerPod) : maxSeries_(maxSeriesPerPod) {}

  // The series of one scrape of pod `podUid` at `at`, the first maxSeriesPerPod of them in the
  // exposition's order. Counters need the pod's previous scrape: on a
  // pod's first scrape, and for a counter that went down (the pod restarted), there is no rate
  // yet and the counter is left out. Histograms and summaries are left out (their _sum and
  // _count are not what an HPA Pods metric averages); untyped series count as gauges, as
  // Prometheus treats them. Non-finite values are left out.
  PodSeriesResult build(const std::string& podUid, const Exposition& exposition, WallTime at);

  // Drops the counters kept for pods not in `live` (gone, or no longer opted in).
  void retain(const std::set<std::string>& live);

 private:
  struct Previous {
    WallTime at;
    std::map<std::string, double> counters;  // by series key (name and labels)
  };
  std::size_t maxSeries_;
  std::map<std::string, Previous> previous_;  // by pod uid
};

}  // namespace fleetscale::agent
