// sendWithRetries, the retry loop every actuator sends through, over a scripted HTTP client
// (a persistent failure is scripted once per attempt: a request too many would be an error):
// transport errors, 5xx and 429 retried with capped, fully jittered exponential backoff (the
// sleeper records each wait), other 4xx answered at once, and the fencing check before every
// attempt. And the error names the metrics use as labels.
#include "fleetscale/aggregator/actuation/actuator.h"

#include <gtest/gtest.h>

#include <deque>

#include "fleetscale/testing/scripted_http_client.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;

using Script = std::deque<Result<HttpClientResponse>>;
using ScriptedHttp = testing::ScriptedHttpClient;

HttpClientResponse answer(long status, std::string body = "") {
  return HttpClientResponse{status, std::move(body), {}};
}

// The same answer `times` times.
Script repeated(int times, const Result<HttpClientResponse>& reply) {
  return Script(static_cast<std::size_t>(times), reply);
}

struct RecordingSleeper {
  std::vector<milliseconds> waits;
  Sleeper sleeper() {
    return [this](milliseconds wait) { waits.push_back(wait); };
  }
};

RetryPolicy retries(int maxAttempts, milliseconds initial = milliseconds(100),
                    milliseconds max = milliseconds(1000)) {
  RetryPolicy policy;
  policy.maxAttempts = maxAttempts;
  policy.initialBackoff = initial;
  policy.maxBackoff = max;
  return policy;
}

HttpClientRequest putScale() {
  HttpClientRequest request;
  request.method = "PUT";
  request.url = "https://api.test/apis/apps/v1/namespaces/shop/deployments/web/scale";
  request.totalTimeout = milliseconds(3000);
  return request;
}

constexpr const char* kWhat = "PUT Deployment shop/web scale at https://api.test";

TEST(SendWithRetriesTest, RetriesTransportErrorsServerErrorsAndTooManyRequestsThenSucceeds) {
  ScriptedHttp http({Error{"connect: connection refused"}, answer(503), answer(429),
                     answer(200, R"({"spec":{"replicas":4}})")});
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome = sendWithRetries(http, putScale(), retries(4), sleeps.sleeper(), kWhat, body);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.attempts, 4);
  EXPECT_EQ(body, R"({"spec":{"replicas":4}})");
  EXPECT_EQ(http.requests.size(), 4u);
  for (const auto& request : http.requests) EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(sleeps.waits.size(), 3u) << "one wait between each two attempts";
}

TEST(SendWithRetriesTest, PersistentServerErrorGivesUpAfterMaxAttemptsWithItsMessage) {
  ScriptedHttp http(
      repeated(3, answer(500, R"({"kind":"Status","message":"etcdserver: leader changed"})")));
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome = sendWithRetries(http, putScale(), retries(3), sleeps.sleeper(), kWhat, body);
  EXPECT_EQ(outcome.error, ActuationError::kServerError);
  EXPECT_EQ(outcome.attempts, 3);
  EXPECT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(sleeps.waits.size(), 2u) << "no wait after the last attempt";
  EXPECT_EQ(outcome.message, std::string(kWhat) + ": HTTP 500: etcdserver: leader changed");
}

TEST(SendWithRetriesTest, PersistentTransportErrorNamesWhatFailed) {
  ScriptedHttp http(repeated(2, Error{"timed out after 3000 ms"}));
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome = sendWithRetries(http, putScale(), retries(2), sleeps.sleeper(), kWhat, body);
  EXPECT_EQ(outcome.error, ActuationError::kTransport);
  EXPECT_EQ(outcome.attempts, 2);
  EXPECT_EQ(outcome.message, std::string(kWhat) + ": timed out after 3000 ms");
}

TEST(SendWithRetriesTest, TooManyRequestsIsRetriedLikeAServerError) {
  ScriptedHttp http(repeated(3, answer(429, "slow down")));
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome = sendWithRetries(http, putScale(), retries(3), sleeps.sleeper(), kWhat, body);
  EXPECT_EQ(outcome.error, ActuationError::kServerError);
  EXPECT_EQ(outcome.attempts, 3);
  EXPECT_NE(outcome.message.find("HTTP 429: slow down"), std::string::npos) << outcome.message;
}

// Backoff before attempt n+1 is uniform in [0, min(initial x 2^(n-1), max)]: over many runs
// every wait stays under its cap, and the waits reach well into it (full jitter, not a fixed
// fraction).
TEST(SendWithRetriesTest, BackoffDoublesUpToTheMaximumWithFullJitter) {
  const std::vector<milliseconds> caps{milliseconds(100), milliseconds(200), milliseconds(250),
                                       milliseconds(250)};
  std::vector<milliseconds> longest(caps.size(), milliseconds(0));
  for (int run = 0; run < 200; ++run) {
    ScriptedHttp http(repeated(5, answer(503)));
    RecordingSleeper sleeps;
    std::string body;
    sendWithRetries(http, putScale(), retries(5, milliseconds(100), milliseconds(250)),
                    sleeps.sleeper(), kWhat, body);
    ASSERT_EQ(sleeps.waits.size(), caps.size());
    for (std::size_t i = 0; i < caps.size(); ++i) {
      ASSERT_GE(sleeps.waits[i], milliseconds(0));
      ASSERT_LE(sleeps.waits[i], caps[i]) << "wait " << i << " of run " << run;
      longest[i] = std::max(longest[i], sleeps.waits[i]);
    }
  }
  for (std::size_t i = 0; i < caps.size(); ++i) {
    EXPECT_GT(longest[i], caps[i] / 2) << "wait " << i << " never used the upper half";
  }
}

struct ClientError {
  long status;
  ActuationError error;
};

class SendWithRetriesClientErrorTest : public ::testing::TestWithParam<ClientError> {};

TEST_P(SendWithRetriesClientErrorTest, IsAnsweredAtOnceWithoutRetry) {
  const auto [status, error] = GetParam();
  ScriptedHttp http({answer(status, R"({"kind":"Status","message":"refused"})"), answer(200)});
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome = sendWithRetries(http, putScale(), retries(4), sleeps.sleeper(), kWhat, body);
  EXPECT_EQ(outcome.error, error) << actuationErrorName(outcome.error);
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_TRUE(sleeps.waits.empty());
  EXPECT_EQ(outcome.message, std::string(kWhat) + ": HTTP " + std::to_string(status) + ": refused");
}

INSTANTIATE_TEST_SUITE_P(FourXx, SendWithRetriesClientErrorTest,
                         ::testing::Values(ClientError{401, ActuationError::kUnauthorized},
                                           ClientError{403, ActuationError::kForbidden},
                                           ClientError{404, ActuationError::kNotFound},
                                           ClientError{409, ActuationError::kConflict},
                                           ClientError{400, ActuationError::kInvalidResponse},
                                           ClientError{422, ActuationError::kRejected}),
                         [](const ::testing::TestParamInfo<ClientError>& test) {
                           return "Http" + std::to_string(test.param.status);
                         });

ScaleRequest fencedRequest(std::function<bool(milliseconds)> stillLeader) {
  ScaleRequest request{WorkloadKey{"shop", "Deployment", "web"}, 4, "d-1", "test", 7, {}};
  request.stillLeader = std::move(stillLeader);
  return request;
}

TEST(SendWithRetriesTest, FencingIsCheckedBeforeEveryAttemptWithTheRequestTimeout) {
  ScriptedHttp http({answer(503), answer(503), answer(200)});
  std::vector<milliseconds> asked;
  const auto fence = fencedRequest([&](milliseconds within) {
    asked.push_back(within);
    return true;
  });
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome =
      sendWithRetries(http, putScale(), retries(4), sleeps.sleeper(), kWhat, body, &fence);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.attempts, 3);
  // Asked once per attempt, for as long as a request may take.
  EXPECT_EQ(asked, std::vector<milliseconds>(3, milliseconds(3000)));
}

TEST(SendWithRetriesTest, LeadershipLostBetweenAttemptsStopsTheRetries) {
  ScriptedHttp http({answer(503), answer(200)});
  int checks = 0;
  const auto fence = fencedRequest([&](milliseconds) { return ++checks == 1; });
  RecordingSleeper sleeps;
  std::string body;
  const auto outcome =
      sendWithRetries(http, putScale(), retries(4), sleeps.sleeper(), kWhat, body, &fence);
  EXPECT_EQ(outcome.error, ActuationError::kFenced);
  EXPECT_EQ(http.requests.size(), 1u) << "the retry was not sent";
  EXPECT_EQ(outcome.attempts, 1) << "attempts counts requests made";
  EXPECT_EQ(outcome.message,
            std::string(kWhat) + ": not sent: this aggregator is no longer the leader of term 7");
}

TEST(SendWithRetriesTest, AStandbyNeverSendsAndAFenceWithoutCheckAlwaysSends) {
  ScriptedHttp http({answer(200)});
  RecordingSleeper sleeps;
  std::string body;
  const auto standby = fencedRequest([](milliseconds) { return false; });
  const auto refused =
      sendWithRetries(http, putScale(), retries(4), sleeps.sleeper(), kWhat, body, &standby);
  EXPECT_EQ(refused.error, ActuationError::kFenced);
  EXPECT_EQ(refused.attempts, 0);
  EXPECT_TRUE(http.requests.empty());

  const auto unchecked = fencedRequest(nullptr);  // without leader election
  EXPECT_TRUE(
      sendWithRetries(http, putScale(), retries(4), sleeps.sleeper(), kWhat, body, &unchecked)
          .ok());
  EXPECT_EQ(http.requests.size(), 1u);
}

TEST(ActuationErrorNameTest, NamesAreTheMetricLabels) {
  EXPECT_EQ(actuationErrorName(ActuationError::kNone), "none");
  EXPECT_EQ(actuationErrorName(ActuationError::kTransport), "transport");
  EXPECT_EQ(actuationErrorName(ActuationError::kServerError), "server_error");
  EXPECT_EQ(actuationErrorName(ActuationError::kConflict), "conflict");
  EXPECT_EQ(actuationErrorName(ActuationError::kUnauthorized), "unauthorized");
  EXPECT_EQ(actuationErrorName(ActuationError::kForbidden), "forbidden");
  EXPECT_EQ(actuationErrorName(ActuationError::kNotFound), "not_found");
  EXPECT_EQ(actuationErrorName(ActuationError::kInvalidResponse), "invalid_response");
  EXPECT_EQ(actuationErrorName(ActuationError::kUnsupported), "unsupported");
  EXPECT_EQ(actuationErrorName(ActuationError::kFenced), "fenced");
}

}  // namespace
}  // namespace fleetscale::aggregator
