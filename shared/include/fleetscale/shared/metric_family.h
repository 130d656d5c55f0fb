// Metric families computed at scrape time (gauges from a snapshot, counters a component keeps
// itself), served next to prometheus-cpp's registered metrics. Pure helpers; no registry.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace fleetscale {

using MetricLabels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily gaugeFamily(std::string name, std::string help);
prometheus::MetricFamily counterFamily(std::string name, std::string help);

// Appends one sample to a counter or gauge family.
void addSample(prometheus::MetricFamily& family, MetricLabels labels, double value);

// Appends a gauge sample unless `value` is absent (NaN): an absent figure is an absent series,
// not a NaN sample.
void addPresentSample(prometheus::MetricFamily& family, MetricLabels labels, double value);

// Histogram buckets (seconds) for the latencies the daemons measure: 1 ms to 60 s.
const std::vector<double>& latencyBuckets();

}  // namespace fleetscale
