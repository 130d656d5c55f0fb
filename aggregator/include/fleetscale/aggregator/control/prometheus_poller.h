// Asks the policy's Prometheus every Object and External metric's PromQL query, every
// `prometheus.interval`, each within `prometheus.timeout`, and keeps the answers for the scaling
// loop (metric_values.h turns them into a workload's values). A Prometheus that fails or hangs
// costs each query at most its timeout, on this thread only: decisions go on with the last
// answers until they are `prometheus.staleness` old, and then those metrics are invalid, which
// blocks scale-down but not scale-up on the other metrics (the HPA's rule). Failures are counted
// in /metrics and logged at most once a minute.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fleetscale/aggregator/policy/policy_holder.h"
#include "fleetscale/aggregator/sources/metric_values.h"
#include "fleetscale/shared/http_client.h"
#include "fleetscale/shared/log_throttle.h"

namespace fleetscale::aggregator {

class PrometheusPoller final : public sources::MetricValueSource {
 public:
  PrometheusPoller(PolicyHolder& policy, const Clock& clock);
  ~PrometheusPoller() override;
  PrometheusPoller(const PrometheusPoller&) = delete;
  PrometheusPoller& operator=(const PrometheusPoller&) = delete;

  void start();
  void stop();
  // Every query of the current policy once, one after the other (the thread's round; tests).
  void pollOnce();

  void fill(const WorkloadConfig& workload, WallTime now,
            scaling::WorkloadObservation& observation) const override;
  std::vector<prometheus::MetricFamily> collectMetrics() const;

 private:
  Result<std::vector<sources::PromSample>> ask(const PrometheusConfig& config,
                                               const std::string& query);
  HttpClient& clientFor(const PrometheusConfig& config);

  PolicyHolder& policy_;
  const Clock& clock_;
  // The poller thread's own: the client for the TLS settings it was made with.
  std::unique_ptr<HttpClient> client_;
  PrometheusConfig clientConfig_;
  LogThrottle failureLog_;

  mutable std::mutex mutex_;
  sources::QueryAnswers answers_;
  std::uint64_t answered_ = 0;
  std::uint64_t failed_ = 0;
  double querySeconds_ = 0;

  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// /metrics' series of a poller.
class PrometheusPollerMetrics final : public prometheus::Collectable {
 public:
  explicit PrometheusPollerMetrics(const PrometheusPoller& poller) : poller_(poller) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return poller_.collectMetrics();
  }

 private:
  const PrometheusPoller& poller_;
};

}  // namespace fleetscale::aggregator
