#include "fleetscale/shared/metric_family.h"

#include <cmath>

namespace fleetscale {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily gaugeFamily(std::string name, std::string help) {
  return MetricFamily{std::move(name), std::move(help), MetricType::Gauge, {}};
}

MetricFamily counterFamily(std::string name, std::string help) {
  return MetricFamily{std::move(name), std::move(help), MetricType::Counter, {}};
}

void addSample(MetricFamily& family, MetricLabels labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

void addPresentSample(MetricFamily& family, MetricLabels labels, double value) {
  if (std::isnan(value)) return;
  addSample(family, std::move(labels), value);
}

const std::vector<double>& latencyBuckets() {
  static const std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5,   1,      2.5,   5,    10,    30,   60};
  return buckets;
}

}  // namespace fleetscale
