// A worker scaled on a queue's length from a real Prometheus (Debian's package): the queue is a
// gauge a test exporter serves, Prometheus scrapes it, the aggregator's poller queries it, and
// the worker stays at zero while the queue is at or below its activation (5), goes to what the
// queue needs above it, and back to zero once the queue has been at or below it for the
// cooldown (5 s).
#include <gtest/gtest.h>

#include <atomic>

#include "e2e_fleet.h"
#include "fleetscale/testing/prometheus.h"
#include "fleetscale/testing/test_http_server.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::e2e {
namespace {

using std::chrono::seconds;

constexpr const char* kWorker = "jobs/worker";

std::string scenario(int prometheusPort) {
  return R"(
name: e2e-external-queue
seed: 7
aggregator:
  prometheus: {url: "http://127.0.0.1:)" +
         std::to_string(prometheusPort) + R"(", interval: 500ms, staleness: 10s}
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    nodes: 2
    node-capacity: {cpu: 8, memory: 32Gi}
    scheduling-delay: 1s
    readiness-delay: 1s
workloads:
  - name: worker
    namespace: jobs
    replicas: {aws-us-east-1: 0}
    resources:
      requests: {cpu: 100m, memory: 64Mi}
    load:
      cpu: 50m
      memory: 32Mi
    autoscale:
      min-replicas: 0
      max-replicas: 10
      cooldown: 5s
      weights: {aws-us-east-1: 1}
      metrics:
        - type: External
          external:
            metric: {name: queue_messages_ready, selector: {matchLabels: {queue: orders}}}
            target: {type: AverageValue, averageValue: "30"}
            activation: "5"
      behavior:
        scaleUp: {stabilizationWindowSeconds: 0}
        # An aggregator holds every scale-down until it has watched the workload for this long.
        scaleDown: {stabilizationWindowSeconds: 5}
)";
}

TEST(E2eExternalMetricsTest, AQueueFromPrometheusScalesAWorkerFromZeroAndBackToZero) {
  if (!testing::PrometheusServer::installed()) GTEST_SKIP() << "prometheus not installed";
  std::atomic<int> queued{0};
  testing::TestHttpServer exporter([&](HttpRequest&) {
    return HttpResponse::text(200,
                              "# TYPE queue_messages_ready gauge\n"
                              "queue_messages_ready{queue=\"orders\"} " +
                                  std::to_string(queued.load()) +
                                  "\nqueue_messages_ready{queue=\"refunds\"} 500\n");
  });
  testing::PrometheusServer prometheus("queues", {"127.0.0.1:" + std::to_string(exporter.port())});
  E2eFleet fleet(scenario(prometheus.port()), "external-queue");

  // Idle: the queue is empty, the worker stays at zero, and the metric is computed.
  ASSERT_TRUE(testing::waitFor(
      [&] {
        const auto status = fleet.workloadStatus(kWorker);
        return status.is_object() && status["metrics"].size() == 1 &&
               status["metrics"][0]["current"].is_number();
      },
      seconds(60)))
      << fleet.workloadStatus(kWorker).dump() << prometheus.errors();
  EXPECT_EQ(fleet.desired(kWorker, kAws), 0);
  // 5 orders: at the activation, not above it; the worker stays idle.
  queued = 5;
  // The metric alone would start one (ceil(5 / 30)); the activation keeps it at zero.
  ASSERT_TRUE(testing::waitFor(
      [&] { return fleet.workloadStatus(kWorker)["metrics"][0]["proposedReplicas"] == 1; },
      seconds(20)))
      << fleet.workloadStatus(kWorker).dump();
  EXPECT_TRUE(holdsFor([&] { return fleet.desired(kWorker, kAws) == 0; }, seconds(2)));

  // 90 orders at 30 per replica: 3 (the refunds queue is not the selector's).
  queued = 90;
  EXPECT_TRUE(testing::waitFor([&] { return fleet.ready(kWorker, kAws) == 3; }, seconds(40)))
      << fleet.workloadStatus(kWorker).dump();
  EXPECT_EQ(fleet.desired(kWorker, kAws), 3);
  const auto metric = fleet.workloadStatus(kWorker)["metrics"][0];
  EXPECT_EQ(metric["source"], "External");
  EXPECT_EQ(metric["current"], 30) << "90 orders over 3 replicas";
  EXPECT_EQ(metric["target"], 30);

  // The queue drains to 2, at or below the activation: after the 5 s cooldown, zero.
  queued = 2;
  EXPECT_TRUE(testing::waitFor([&] { return fleet.desired(kWorker, kAws) == 0; }, seconds(40)))
      << fleet.workloadStatus(kWorker).dump();
  // The stored decision that took it to zero names the cooldown (the status shows the latest
  // decision, already "idle" at zero).
  nlohmann::json decisions;
  const auto toZeroReason = [&] {
    decisions = fleet.get("/api/v1/decisions?namespace=jobs&workload=worker&limit=50");
    std::string reason;
    if (!decisions.is_object()) return reason;
    for (const auto& decision : decisions["items"]) {
      if (decision.value("current_replicas", -1) > 0 && decision.value("desired_replicas", -1) == 0)
        reason = decision.value("reason", "");
    }
    return reason;
  };
  EXPECT_TRUE(testing::waitFor([&] { return !toZeroReason().empty(); }, seconds(10)))
      << decisions.dump();
  EXPECT_NE(toZeroReason().find("idle for the 5 s cooldown"), std::string::npos)
      << decisions.dump();
}

}  // namespace
}  // namespace fleetscale::e2e
