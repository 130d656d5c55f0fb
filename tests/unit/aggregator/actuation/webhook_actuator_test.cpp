// The webhook actuator with the real libcurl client against a real loopback HTTP server
// (testing::TestHttpServer): the JSON body and headers a VM fleet's webhook receives, the count
// it reports back, retries on 5xx, no retry on 4xx (401: a rejected token), the request
// timeout, a fenced write that never leaves the aggregator, and a webhook that cannot be asked
// for the current count.
#include "fleetscale/aggregator/actuation/webhook_actuator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/etcd.h"
#include "fleetscale/testing/test_http_server.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// What the webhook received; answers with the statuses given, in order (then the last again).
class Webhook {
 public:
  explicit Webhook(std::vector<HttpResponse> answers, HttpServerOptions options = {})
      : answers_(std::move(answers)),
        server_(
            [this](HttpRequest& request) {
              std::lock_guard lock(mutex_);
              received_.push_back(request);
              const std::size_t i = std::min(received_.size(), answers_.size()) - 1;
              return answers_[i];
            },
            std::move(options)) {}

  std::string url() const { return server_.url("/scale"); }
  std::vector<HttpRequest> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  std::mutex mutex_;
  std::vector<HttpResponse> answers_;
  std::vector<HttpRequest> received_;
  testing::TestHttpServer server_;  // last: stops before what its handler uses goes away
};

WebhookActuatorOptions optionsFor(const std::string& url, const std::string& token = "") {
  WebhookActuatorOptions options;
  options.url = url;
  options.bearerToken = token;
  options.cluster = "onprem-vms";
  options.requestTimeout = milliseconds(2000);
  options.retry.maxAttempts = 3;
  options.retry.initialBackoff = milliseconds(10);
  options.retry.maxBackoff = milliseconds(10);
  return options;
}

struct RecordingSleeper {
  std::vector<milliseconds> waits;
  Sleeper sleeper() {
    return [this](milliseconds wait) { waits.push_back(wait); };
  }
};

ScaleRequest scaleApi(int replicas, std::uint64_t term = 0) {
  return ScaleRequest{
      WorkloadKey{"shop", "Deployment", "api"}, replicas, "d-42", "cpu at 90%", term, {}};
}

TEST(WebhookActuatorTest, PostsTheDesiredCountAndReadsTheReportedOne) {
  Webhook webhook({HttpResponse::json(200, R"({"currentReplicas": 3})")});
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(),
                           optionsFor(webhook.url(), "hook-secret"));
  const auto outcome = actuator.setScale(scaleApi(5, 9));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_EQ(outcome.status.specReplicas, 5);
  EXPECT_EQ(outcome.status.statusReplicas, 3);

  const auto received = webhook.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].path, "/scale");
  EXPECT_EQ(received[0].header("authorization"), "Bearer hook-secret");
  EXPECT_EQ(received[0].header("content-type"), "application/json");
  const json body = json::parse(received[0].body);
  EXPECT_EQ(body, (json{{"cluster", "onprem-vms"},
                        {"namespace", "shop"},
                        {"kind", "Deployment"},
                        {"name", "api"},
                        {"desiredReplicas", 5},
                        {"decisionId", "d-42"},
                        {"reason", "cpu at 90%"},
                        {"fencingToken", 9}}));
}

TEST(WebhookActuatorTest, WithoutATokenNoAuthorizationAndAnyAnswerBodyIsAccepted) {
  Webhook webhook({HttpResponse::text(204, "")});
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), optionsFor(webhook.url()));
  const auto outcome = actuator.setScale(scaleApi(2));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.status.specReplicas, 2);
  EXPECT_EQ(outcome.status.statusReplicas, 0) << "nothing reported";
  ASSERT_EQ(webhook.received().size(), 1u);
  EXPECT_EQ(webhook.received()[0].header("authorization"), "");

  // A count that is not an integer is not a count.
  Webhook odd({HttpResponse::json(200, R"({"currentReplicas": "three"})")});
  WebhookActuator second(std::make_unique<CurlHttpClient>(), optionsFor(odd.url()));
  const auto oddOutcome = second.setScale(scaleApi(2));
  ASSERT_TRUE(oddOutcome.ok()) << oddOutcome.message;
  EXPECT_EQ(oddOutcome.status.statusReplicas, 0);
}

TEST(WebhookActuatorTest, ServerErrorsAreRetriedWithBackoff) {
  Webhook webhook({HttpResponse::text(503, "busy"), HttpResponse::text(502, "gateway"),
                   HttpResponse::json(200, R"({"currentReplicas": 4})")});
  RecordingSleeper sleeps;
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), optionsFor(webhook.url()),
                           sleeps.sleeper());
  const auto outcome = actuator.setScale(scaleApi(4));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.attempts, 3);
  EXPECT_EQ(outcome.status.statusReplicas, 4);
  EXPECT_EQ(sleeps.waits.size(), 2u);
  const auto received = webhook.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].body, received[2].body) << "the same write each time";
}

TEST(WebhookActuatorTest, ClientErrorIsNotRetriedAndSaysWhichWebhook) {
  Webhook webhook({HttpResponse::text(400, "unknown service shop/api")});
  RecordingSleeper sleeps;
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), optionsFor(webhook.url()),
                           sleeps.sleeper());
  const auto outcome = actuator.setScale(scaleApi(4));
  EXPECT_EQ(outcome.error, ActuationError::kInvalidResponse);
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_TRUE(sleeps.waits.empty());
  EXPECT_EQ(webhook.received().size(), 1u);
  EXPECT_EQ(outcome.message, "webhook " + webhook.url() + ": HTTP 400: unknown service shop/api");
}

TEST(WebhookActuatorTest, ARejectedTokenIsUnauthorizedAndNotRetried) {
  Webhook webhook({HttpResponse::text(401, "bad token")});
  RecordingSleeper sleeps;
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(),
                           optionsFor(webhook.url(), "stale-token"), sleeps.sleeper());
  const auto outcome = actuator.setScale(scaleApi(4));
  EXPECT_EQ(outcome.error, ActuationError::kUnauthorized);
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_TRUE(sleeps.waits.empty());
  EXPECT_EQ(webhook.received().size(), 1u);
}

TEST(WebhookActuatorTest, ASlowWebhookTimesOutAfterTheRequestTimeout) {
  HttpServerOptions slow;
  slow.responseDelay = [] { return milliseconds(5000); };
  Webhook webhook({HttpResponse::json(200, "{}")}, slow);
  auto options = optionsFor(webhook.url());
  options.requestTimeout = milliseconds(200);
  options.retry.maxAttempts = 1;
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), options);
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = actuator.setScale(scaleApi(4));
  EXPECT_EQ(outcome.error, ActuationError::kTransport) << outcome.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(3000))
      << "bounded by the request timeout, not by the webhook";
}

TEST(WebhookActuatorTest, AnUnreachableWebhookIsATransportErrorAfterEveryAttempt) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::unusedLoopbackPort());
  RecordingSleeper sleeps;
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), optionsFor(url), sleeps.sleeper());
  const auto outcome = actuator.setScale(scaleApi(4));
  EXPECT_EQ(outcome.error, ActuationError::kTransport);
  EXPECT_EQ(outcome.attempts, 3);
  EXPECT_EQ(outcome.message.rfind("webhook " + url + ": ", 0), 0u) << outcome.message;
}

TEST(WebhookActuatorTest, AFencedWriteNeverReachesTheWebhook) {
  Webhook webhook({HttpResponse::json(200, "{}")});
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), optionsFor(webhook.url()));
  auto request = scaleApi(4, 3);
  request.stillLeader = [](milliseconds) { return false; };
  const auto outcome = actuator.setScale(request);
  EXPECT_EQ(outcome.error, ActuationError::kFenced);
  EXPECT_TRUE(webhook.received().empty());
}

TEST(WebhookActuatorTest, CannotReadTheCurrentCount) {
  Webhook webhook({HttpResponse::json(200, "{}")});
  WebhookActuator actuator(std::make_unique<CurlHttpClient>(), optionsFor(webhook.url()));
  const auto outcome = actuator.getScale(WorkloadKey{"shop", "Deployment", "api"});
  EXPECT_EQ(outcome.error, ActuationError::kUnsupported);
  EXPECT_NE(outcome.message.find("shop/api"), std::string::npos) << outcome.message;
  EXPECT_TRUE(webhook.received().empty());
}

}  // namespace
}  // namespace fleetscale::aggregator
