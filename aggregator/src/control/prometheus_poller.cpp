#include "fleetscale/aggregator/control/prometheus_poller.h"

#include <algorithm>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/log_throttle.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/metric_family.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

bool sameClient(const PrometheusConfig& a, const PrometheusConfig& b) {
  return a.caFile == b.caFile && a.insecureSkipTlsVerify == b.insecureSkipTlsVerify;
}

// A query's answer is bounded: kMaxPromSeries series of a few labels each.
constexpr std::size_t kMaxAnswerBytes = 8 * 1024 * 1024;

}  // namespace

PrometheusPoller::PrometheusPoller(PolicyHolder& policy, const Clock& clock)
    : policy_(policy), clock_(clock), failureLog_(clock, std::chrono::minutes(1)) {}

PrometheusPoller::~PrometheusPoller() { stop(); }

void PrometheusPoller::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      const auto config = policy_.get()->prometheus;
      lock.unlock();
      if (config) {
        try {
          pollOnce();
        } catch (const std::exception& e) {  // a bug, not an answer: keep polling, say so
          componentLogger("aggregator.prometheus")->error("poll round failed: {}", e.what());
        }
      }
      lock.lock();
      wake_.wait_for(lock, config ? config->interval : std::chrono::milliseconds(1000),
                     [this] { return stopping_; });
    }
  });
}

void PrometheusPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

HttpClient& PrometheusPoller::clientFor(const PrometheusConfig& config) {
  if (!client_ || !sameClient(config, clientConfig_)) {
    TlsClientOptions tls;
    tls.caFile = config.caFile;
    tls.insecureSkipVerify = config.insecureSkipTlsVerify;
    client_ = std::make_unique<CurlHttpClient>(tls);
    clientConfig_ = config;
  }
  return *client_;
}

Result<std::vector<sources::PromSample>> PrometheusPoller::ask(const PrometheusConfig& config,
                                                               const std::string& query) {
  HttpClientRequest request;
  request.url = config.url + "/api/v1/query?query=" + percentEncode(query);
  request.connectTimeout = std::min(config.timeout, std::chrono::milliseconds(2000));
  request.totalTimeout = config.timeout;
  request.maxResponseBytes = kMaxAnswerBytes;
  if (!config.tokenFile.empty()) {
    // Read at every query: a rotated token is used from the next one.
    auto token = readSecretFile(config.tokenFile);
    if (!token) return Error{"tokenFile: " + token.error().message};
    request.headers.emplace_back("Authorization", "Bearer " + *token);
  }
  auto response = clientFor(config).send(request);
  if (!response) return response.error();
  auto samples = sources::parsePrometheusQueryResponse(response->body);
  if (response->status != 200) {
    return Error{"HTTP " + std::to_string(response->status) +
                 (samples ? std::string() : ": " + samples.error().message)};
  }
  return samples;
}

void PrometheusPoller::pollOnce() {
  const auto policy = policy_.get();
  if (!policy->prometheus) return;
  const auto queries = sources::queriesOf(*policy);
  for (const auto& query : queries) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;  // a shutdown waits for one query at most, not the round
    }
    const SteadyTime began = clock_.now();
    auto samples = ask(*policy->prometheus, query);
    const double seconds = std::chrono::duration<double>(clock_.now() - began).count();
    std::lock_guard lock(mutex_);
    querySeconds_ += seconds;
    sources::QueryAnswer& answer = answers_[query];
    if (samples) {
      ++answered_;
      answer.samples = std::move(*samples);
      answer.answeredAt = clock_.wallNow();
      answer.error.clear();
      continue;
    }
    ++failed_;
    answer.error = samples.error().message;
    if (std::uint64_t held = 0; failureLog_.allow(&held)) {
      componentLogger("aggregator.prometheus")
          ->warn("query {} at {}: {} ({} more failures held back)", query, policy->prometheus->url,
                 answer.error, held);
    }
  }
  // Forget the answers of queries the policy no longer runs.
  std::lock_guard lock(mutex_);
  std::erase_if(answers_, [&](const auto& entry) { return !queries.contains(entry.first); });
}

void PrometheusPoller::fill(const WorkloadConfig& workload, WallTime now,
                            scaling::WorkloadObservation& observation) const {
  const auto policy = policy_.get();
  if (!policy->prometheus) {
    for (const auto& metric : workload.policy.metrics) {
      if (metric.source == scaling::MetricSource::kObject ||
          metric.source == scaling::MetricSource::kExternal) {
        observation.sourceErrors[metric.label()] =
            "no Prometheus to ask: the policy file has no prometheus section";
      }
    }
    return;
  }
  std::lock_guard lock(mutex_);
  sources::addMetricValues(workload, answers_, policy->prometheus->staleness, now, observation);
}

std::vector<prometheus::MetricFamily> PrometheusPoller::collectMetrics() const {
  std::lock_guard lock(mutex_);
  auto queries = counterFamily("fleetscale_prometheus_queries_total",
                               "PromQL queries for Object and External metrics, by result");
  addSample(queries, {{"result", "ok"}}, static_cast<double>(answered_));
  addSample(queries, {{"result", "error"}}, static_cast<double>(failed_));
  auto seconds = counterFamily("fleetscale_prometheus_query_seconds_total",
                               "Time spent waiting for those queries' answers");
  addSample(seconds, {}, querySeconds_);
  auto age = gaugeFamily("fleetscale_prometheus_answer_age_seconds",
                         "Per query: seconds since its last successful answer");
  const WallTime now = clock_.wallNow();
  for (const auto& [query, answer] : answers_) {
    if (answer.answeredAt) {
      addSample(age, {{"query", query}},
                std::chrono::duration<double>(now - *answer.answeredAt).count());
    }
  }
  return {std::move(queries), std::move(seconds), std::move(age)};
}

}  // namespace fleetscale::aggregator
