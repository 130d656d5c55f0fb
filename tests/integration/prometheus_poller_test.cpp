// The Prometheus poller against a real Prometheus (Debian's package) scraping a test exporter:
// External and Object metrics get Prometheus' values and the decision follows them; a
// Prometheus that goes away makes the metrics stale after `staleness`, and one that hangs costs
// a query no more than its timeout.
#include "fleetscale/aggregator/control/prometheus_poller.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/testing/prometheus.h"
#include "fleetscale/testing/test_http_server.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A listening socket nobody accepts on: connections are made, requests are never answered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string policyText(const std::string& url, const std::string& timing) {
  return "prometheus:\n  url: " + url + "\n" + timing +
         "workloads:\n"
         "  - namespace: jobs\n    name: worker\n    minReplicas: 0\n    maxReplicas: 50\n"
         "    metrics:\n"
         "      - type: External\n"
         "        external:\n"
         "          metric: {name: queue_messages_ready, selector: {matchLabels: {queue: "
         "orders}}}\n"
         "          target: {type: AverageValue, averageValue: \"30\"}\n"
         "      - type: Object\n"
         "        object:\n"
         "          describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: "
         "main}\n"
         "          metric: {name: requests_per_second}\n"
         "          target: {type: Value, value: \"100\"}\n";
}

PolicyConfig policyFor(const std::string& url, const std::string& timing = "") {
  auto config = parsePolicyConfig(policyText(url, timing), "policy.yaml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.ok() ? *config : PolicyConfig{};
}

scaling::Decision decideNow(const PrometheusPoller& poller, const PolicyConfig& policy,
                            std::int32_t current) {
  scaling::WorkloadObservation observation;
  observation.currentReplicas = current;
  poller.fill(policy.workloads.at(0), std::chrono::system_clock::now(), observation);
  scaling::ScalingHistory history;
  return scaling::decide(policy.workloads.at(0).policy, observation, history,
                         std::chrono::system_clock::now());
}

TEST(PrometheusPollerTest, ExternalAndObjectMetricsFollowARealPrometheus) {
  if (!testing::PrometheusServer::installed()) GTEST_SKIP() << "prometheus not installed";
  std::atomic<int> orders{300};
  testing::TestHttpServer exporter([&](HttpRequest&) {
    return HttpResponse::text(
        200,
        "# TYPE queue_messages_ready gauge\n"
        "queue_messages_ready{queue=\"orders\"} " +
            std::to_string(orders.load()) +
            "\n"
            "queue_messages_ready{queue=\"refunds\"} 40\n"
            "# TYPE requests_per_second gauge\n"
            "requests_per_second{namespace=\"jobs\",ingress=\"main\"} 250\n"
            "requests_per_second{namespace=\"jobs\",ingress=\"admin\"} 900\n");
  });
  testing::PrometheusServer prometheus("exporter",
                                       {"127.0.0.1:" + std::to_string(exporter.port())});

  PolicyHolder holder;
  const PolicyConfig policy = policyFor(prometheus.url(), "  staleness: 3s\n");
  holder.set(policy);
  SystemClock clock;
  PrometheusPoller poller(holder, clock);

  // Orders: 300 queued at 30 per pod -> 10 (the refunds queue is not the selector's);
  // the main Ingress: 250 rps against 100 from zero replicas -> ceil(2.5) = 3.
  scaling::Decision decision;
  EXPECT_TRUE(testing::waitFor(
      [&] {
        poller.pollOnce();
        decision = decideNow(poller, policy, 0);
        return decision.metrics.size() == 2 && decision.metrics[0].proposal &&
               decision.metrics[1].proposal;
      },
      seconds(60), milliseconds(200)))
      << (decision.metrics.empty() ? decision.error : decision.metrics[0].error) << "\n"
      << prometheus.errors();
  EXPECT_EQ(decision.metrics[0].proposal->valueMilli, 300'000);
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 10);
  EXPECT_EQ(decision.metrics[1].proposal->valueMilli, 250'000);
  EXPECT_EQ(decision.metrics[1].proposal->replicas, 3);
  EXPECT_EQ(decision.desiredReplicas, 4) << "from zero: the legacy scale-up limit, 4";

  // The queue drains: Prometheus scrapes it, the poller reads it, the proposal follows.
  orders = 60;
  EXPECT_TRUE(testing::waitFor(
      [&] {
        poller.pollOnce();
        decision = decideNow(poller, policy, 10);
        return decision.metrics[0].proposal && decision.metrics[0].proposal->valueMilli == 60'000;
      },
      seconds(30), milliseconds(200)));
  EXPECT_EQ(decision.metrics[0].proposal->replicas, 2);

  // Prometheus goes away: the last answers serve until they are 3 s old, then the metrics
  // have no value and say why.
  prometheus.stop();
  EXPECT_TRUE(testing::waitFor(
      [&] {
        poller.pollOnce();
        decision = decideNow(poller, policy, 10);
        return !decision.metrics[0].proposal;
      },
      seconds(30), milliseconds(200)));
  EXPECT_NE(decision.metrics[0].error.find("query queue_messages_ready: last answered"),
            std::string::npos)
      << decision.metrics[0].error;
  const auto families = poller.collectMetrics();
  ASSERT_FALSE(families.empty());
  EXPECT_EQ(families[0].name, "fleetscale_prometheus_queries_total");
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_GT(families[0].metric[0].counter.value, 0) << "answered";
  EXPECT_GT(families[0].metric[1].counter.value, 0) << "failed";
}

TEST(PrometheusPollerTest, AHangingPrometheusCostsAQueryItsTimeout) {
  SilentListener hanging;
  PolicyHolder holder;
  const PolicyConfig policy =
      policyFor("http://127.0.0.1:" + std::to_string(hanging.port()), "  timeout: 300ms\n");
  holder.set(policy);
  SystemClock clock;
  PrometheusPoller poller(holder, clock);
  const auto began = std::chrono::steady_clock::now();
  poller.pollOnce();  // two queries, each cut at its timeout
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, seconds(2)) << "two queries of at most 300 ms each";
  const auto decision = decideNow(poller, policy, 2);
  ASSERT_FALSE(decision.metrics[0].proposal);
  EXPECT_NE(decision.metrics[0].error.find("query queue_messages_ready: "), std::string::npos)
      << decision.metrics[0].error;
  EXPECT_EQ(decision.metrics[0].error.find("no answer from Prometheus yet"), std::string::npos)
      << "the failure itself is the reason: " << decision.metrics[0].error;
}

TEST(PrometheusPollerTest, WithoutAPrometheusSectionTheMetricsSaySo) {
  PolicyHolder holder;
  auto policy = policyFor("http://127.0.0.1:1");
  policy.prometheus.reset();
  holder.set(policy);
  SystemClock clock;
  PrometheusPoller poller(holder, clock);
  poller.pollOnce();
  const auto decision = decideNow(poller, policy, 2);
  EXPECT_EQ(decision.metrics[1].error,
            "unable to get metric requests_per_second on Ingress/main: no Prometheus to ask: the "
            "policy file has no prometheus section");
}

}  // namespace
}  // namespace fleetscale::aggregator
