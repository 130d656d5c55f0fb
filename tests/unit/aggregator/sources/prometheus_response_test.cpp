// Prometheus' instant-query answers as its HTTP API gives them (bodies copied from Prometheus
// 2.x), and the bodies a broken or hostile peer could send.
#include "fleetscale/aggregator/sources/prometheus_response.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::sources {
namespace {

TEST(PrometheusResponseTest, VectorSeriesWithTheirLabelsAndValues) {
  const auto samples = parsePrometheusQueryResponse(R"({"status":"success","data":{
    "resultType":"vector","result":[
      {"metric":{"__name__":"queue_messages_ready","queue":"orders"},"value":[1750000000.5,"300"]},
      {"metric":{"queue":"refunds"},"value":[1750000000.5,"4.25"]},
      {"metric":{"queue":"dead"},"value":[1750000000.5,"NaN"]},
      {"metric":{"queue":"inf"},"value":[1750000000.5,"+Inf"]}]}})");
  ASSERT_TRUE(samples.ok()) << samples.error().message;
  ASSERT_EQ(samples->size(), 2u) << "NaN and infinite values are no value";
  EXPECT_EQ((*samples)[0].labels.at("queue"), "orders");
  EXPECT_EQ((*samples)[0].labels.at("__name__"), "queue_messages_ready");
  EXPECT_EQ((*samples)[0].value, 300);
  EXPECT_EQ((*samples)[0].timestamp, WallTime(std::chrono::milliseconds(1'750'000'000'500)));
  EXPECT_EQ((*samples)[1].value, 4.25);
}

TEST(PrometheusResponseTest, AScalarIsOneSeriesWithoutLabels) {
  const auto samples = parsePrometheusQueryResponse(
      R"({"status":"success","data":{"resultType":"scalar","result":[1750000000,"42"]}})");
  ASSERT_TRUE(samples.ok()) << samples.error().message;
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_TRUE((*samples)[0].labels.empty());
  EXPECT_EQ((*samples)[0].value, 42);
}

TEST(PrometheusResponseTest, AnEmptyVectorIsNoSeriesNotAnError) {
  const auto samples = parsePrometheusQueryResponse(
      R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(samples.ok());
  EXPECT_TRUE(samples->empty());
}

TEST(PrometheusResponseTest, ErrorsSayWhatIsWrong) {
  struct Case {
    std::string body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"})",
       "bad_data: 1:5: parse error: unexpected"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
       "the query gives a matrix, not an instant vector or a scalar"},
      {"<html>502 Bad Gateway</html>", "the answer is not a JSON object"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})",
       "a sample is not [time, \"value\"]"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"lots"]}]}})",
       "a sample's value is not a number"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"2"]}]}})",
       "label a is not a string"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1e300,"2"]}]}})",
       "a sample's time is absurd"},
      // Year 2526: beyond what a nanosecond clock holds (found by the fuzzer).
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[17550000000.5,"2"]}]}})",
       "a sample's time is absurd"},
      {R"({"status":"partial"})", "neither success nor error"},
      // A proxy's or another server's JSON error page: other types where strings belong.
      {R"({"status":404,"error":"Not Found"})", "neither success nor error"},
      {R"({"status":"success","data":{"resultType":7,"result":[]}})", "result of no type"},
      {R"({"status":"success","data":[1]})", "the answer has no data"},
  };
  for (const auto& c : cases) {
    const auto samples = parsePrometheusQueryResponse(c.body);
    ASSERT_FALSE(samples.ok()) << c.body;
    EXPECT_NE(samples.error().message.find(c.expected), std::string::npos)
        << "got: " << samples.error().message << "\nwanted: " << c.expected;
  }
}

TEST(PrometheusResponseTest, TooManySeriesIsAnError) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (std::size_t i = 0; i <= kMaxPromSeries; ++i) {
    body += (i ? "," : "") + std::string(R"({"metric":{},"value":[1,"1"]})");
  }
  body += "]}}";
  const auto samples = parsePrometheusQueryResponse(body);
  ASSERT_FALSE(samples.ok());
  EXPECT_NE(samples.error().message.find("more than 10000"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::aggregator::sources
