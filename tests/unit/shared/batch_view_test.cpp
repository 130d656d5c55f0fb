#include "fleetscale/shared/batch_view.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "fleetscale/shared/protocol.h"

namespace fleetscale {
namespace {

v1::SampleBatch fullBatch() {
  v1::SampleBatch batch;
  batch.set_sequence(7);
  batch.set_timestamp_unix_ms(1'700'000'000'123);
  batch.set_interval_seconds(0.5);
  auto* node = batch.mutable_node();
  node->set_cpu_capacity_cores(8);
  node->set_cpu_usage_cores(2.5);
  node->set_memory_capacity_bytes(16ull << 30);
  node->set_memory_usage_bytes(4ull << 30);
  node->set_cpu_allocatable_cores(7.5);
  node->set_memory_allocatable_bytes(15ull << 30);
  auto* c = batch.add_containers();
  c->set_id(std::string(64, 'a'));
  c->set_cgroup("/kubepods.slice/x.scope");
  c->set_runtime("containerd");
  c->set_cpu_cores(0.25);
  c->set_cpu_user_cores(0.2);
  c->set_cpu_system_cores(0.05);
  c->set_cpu_usage_ns_total(123456789012);
  c->set_cpu_throttled_periods_per_second(1);
  c->set_cpu_throttled_seconds_per_second(0.01);
  c->set_cpu_limit_cores(2);
  c->set_cpu_weight(100);
  c->set_memory_usage_bytes(300);
  c->set_memory_working_set_bytes(200);
  c->set_memory_rss_bytes(150);
  c->set_memory_limit_bytes(1 << 30);
  c->set_oom_kills_total(2);
  c->set_cpu_pressure_some_total_us(10);
  c->set_memory_pressure_full_total_us(20);
  auto* m = c->mutable_metadata();
  m->set_pod("web-1");
  m->set_pod_uid("uid-1");
  m->set_namespace_("shöp");  // multi-byte UTF-8 is fine
  m->set_container("web");
  m->set_workload_kind("Deployment");
  m->set_workload("web");
  m->set_cpu_request_cores(0.5);
  m->set_memory_request_bytes(256 << 20);
  m->set_ready(false);
  m->set_restart_count(3);
  m->set_start_time_unix_ms(1'699'999'000'005);
  m->set_pod_phase("Running");
  m->set_image("registry/web:1");
  m->set_pod_ready_time_unix_ms(1'700'000'000'000);
  m->set_deletion_unix_ms(1'700'000'030'000);
  batch.add_containers()->set_id("second");  // no metadata, first tick: every optional absent
  return batch;
}

std::string envelopeBytes(const v1::SampleBatch& batch) {
  v1::Envelope envelope;
  *envelope.mutable_batch() = batch;
  return envelope.SerializeAsString();
}

TEST(BatchViewTest, DecodesEveryFieldTheWayProtobufDoes) {
  const std::string payload = envelopeBytes(fullBatch());
  BatchView view;
  const auto result = decodeBatchEnvelope(payload, view);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(view.sequence, 7u);
  EXPECT_EQ(view.timestampUnixMs, 1'700'000'000'123);
  EXPECT_EQ(view.intervalSeconds, 0.5);
  EXPECT_EQ(view.node.cpuCapacityCores, 8);
  EXPECT_EQ(view.node.cpuUsageCores, 2.5);
  EXPECT_EQ(view.node.memoryAllocatableBytes, 15ull << 30);
  ASSERT_EQ(view.containerCount, 2u);
  const auto& c = view.containers[0];
  EXPECT_EQ(c.id, std::string(64, 'a'));
  EXPECT_EQ(c.cgroup, "/kubepods.slice/x.scope");
  EXPECT_EQ(c.metrics.cpuCores, 0.25);
  EXPECT_EQ(c.metrics.cpuUsageNsTotal, 123456789012u);
  EXPECT_EQ(c.metrics.cpuWeight, 100u);
  EXPECT_EQ(c.metrics.memoryWorkingSetBytes, 200u);
  EXPECT_EQ(c.metrics.memoryLimitBytes, 1u << 30);
  EXPECT_EQ(c.metrics.oomKillsTotal, 2u);
  EXPECT_EQ(c.metrics.cpuPressureSomeTotalUs, 10);
  EXPECT_FALSE(isPresent(c.metrics.cpuPressureFullTotalUs));
  EXPECT_EQ(c.metadata.namespaceName, "shöp");
  EXPECT_EQ(c.metadata.workload, "web");
  EXPECT_EQ(c.metadata.cpuRequestCores, 0.5);
  EXPECT_EQ(c.metadata.memoryRequestBytes, 256u << 20);
  EXPECT_EQ(c.metadata.ready, false);
  EXPECT_EQ(c.metadata.restartCount, 3u);
  EXPECT_EQ(c.metadata.startTimeUnixMs, 1'699'999'000'005);
  EXPECT_EQ(c.metadata.image, "registry/web:1");
  EXPECT_EQ(c.metadataBytes, fullBatch().containers(0).metadata().SerializeAsString());
  const auto& bare = view.containers[1];
  EXPECT_EQ(bare.id, "second");
  EXPECT_FALSE(isPresent(bare.metrics.cpuCores));
  EXPECT_FALSE(bare.metrics.memoryLimitBytes.has_value());
  EXPECT_FALSE(bare.metadata.ready.has_value());
  EXPECT_TRUE(bare.metadataBytes.empty());
  EXPECT_EQ(c.metadata.deletionUnixMs, 1'700'000'030'000);
  EXPECT_EQ(view.pendingPodCount, 0u);
}

TEST(BatchViewTest, DecodesPendingPods) {
  v1::SampleBatch batch = fullBatch();
  auto* pending = batch.add_pending_pods();
  pending->set_pod("web-2");
  pending->set_pod_uid("uid-2");
  pending->set_namespace_("shop");
  pending->set_workload_kind("Deployment");
  pending->set_workload("web");
  pending->set_pod_phase("Pending");
  batch.add_pending_pods()->set_pod_uid("uid-3");
  // Views point into the payload: it outlives them.
  const std::string payload = envelopeBytes(batch);
  BatchView view;
  auto result = decodeBatchEnvelope(payload, view);
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_EQ(view.pendingPodCount, 2u);
  EXPECT_EQ(view.pendingPods[0].pod, "web-2");
  EXPECT_EQ(view.pendingPods[0].workload, "web");
  EXPECT_EQ(view.pendingPods[0].podPhase, "Pending");
  EXPECT_EQ(view.pendingPods[1].podUid, "uid-3");
  ASSERT_TRUE(validateBatch(batch).ok());

  // The next batch without them leaves none behind.
  const std::string without = envelopeBytes(fullBatch());
  result = decodeBatchEnvelope(without, view);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(view.pendingPodCount, 0u);

  // A pending pod is held to a container's metadata rules, in both decoders.
  batch.mutable_pending_pods(1)->set_deletion_unix_ms(-1);
  const std::string outOfRange = envelopeBytes(batch);
  result = decodeBatchEnvelope(outOfRange, view);
  EXPECT_EQ(result.status, BatchDecodeStatus::kOutOfRange);
  EXPECT_NE(result.error.find("deletion_unix_ms"), std::string::npos) << result.error;
  EXPECT_FALSE(validateBatch(batch).ok());

  batch.mutable_pending_pods(1)->set_deletion_unix_ms(0);
  for (int i = 0; i < kMaxPendingPodsPerBatch; ++i) batch.add_pending_pods()->set_pod_uid("u");
  const std::string tooMany = envelopeBytes(batch);
  result = decodeBatchEnvelope(tooMany, view);
  EXPECT_EQ(result.status, BatchDecodeStatus::kInvalid);
  EXPECT_NE(result.error.find("pending pods"), std::string::npos) << result.error;
  EXPECT_FALSE(validateBatch(batch).ok());
}

TEST(BatchViewTest, DecodesPodMetrics) {
  v1::SampleBatch batch = fullBatch();
  auto* pod = batch.add_pod_metrics();
  pod->set_pod_uid("uid-1");
  pod->set_scraped_unix_ms(1'700'000'000'100);
  auto* rate = pod->add_series();
  rate->set_name("http_requests_per_second");
  for (const char* label : {"code", "200", "method", "GET"}) rate->add_labels(label);
  rate->set_value(41.5);
  auto* gauge = pod->add_series();
  gauge->set_name("queue");
  gauge->set_value(-2);  // gauges may go below zero
  batch.add_pod_metrics()->set_pod_uid("uid-2");
  const std::string payload = envelopeBytes(batch);
  BatchView view;
  auto result = decodeBatchEnvelope(payload, view);
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_TRUE(validateBatch(batch).ok());
  ASSERT_EQ(view.podMetricsCount, 2u);
  const PodMetricsView& first = view.podMetrics[0];
  EXPECT_EQ(first.podUid, "uid-1");
  EXPECT_EQ(first.scrapedUnixMs, 1'700'000'000'100);
  ASSERT_EQ(first.seriesCount, 2u);
  EXPECT_EQ(first.series[0].name, "http_requests_per_second");
  EXPECT_EQ(first.series[0].labels,
            (std::vector<std::string_view>{"code", "200", "method", "GET"}));
  EXPECT_EQ(first.series[0].value, 41.5);
  EXPECT_EQ(first.series[1].value, -2);
  EXPECT_TRUE(first.series[1].labels.empty());
  EXPECT_EQ(view.podMetrics[1].seriesCount, 0u);

  const std::string without = envelopeBytes(fullBatch());
  ASSERT_TRUE(decodeBatchEnvelope(without, view).ok());
  EXPECT_EQ(view.podMetricsCount, 0u);

  // What both decoders refuse: the lean one with a status, protobuf's path in validateBatch.
  const auto refused = [&](const std::function<void(v1::PodSeries&)>& breakIt,
                           BatchDecodeStatus status, const std::string& why) {
    v1::SampleBatch bad = batch;
    breakIt(*bad.mutable_pod_metrics(0)->mutable_series(0));
    const std::string bytes = envelopeBytes(bad);
    const auto decoded = decodeBatchEnvelope(bytes, view);
    EXPECT_EQ(decoded.status, status) << why << ": " << decoded.error;
    EXPECT_FALSE(validateBatch(bad).ok()) << why;
  };
  refused([](v1::PodSeries& s) { s.set_value(std::nan("")); }, BatchDecodeStatus::kInvalid, "NaN");
  refused([](v1::PodSeries& s) { s.set_value(INFINITY); }, BatchDecodeStatus::kInvalid, "Inf");
  refused([](v1::PodSeries& s) { s.add_labels("odd"); }, BatchDecodeStatus::kInvalid,
          "a label without a value");
  refused([](v1::PodSeries& s) { s.set_labels(2, "a"); }, BatchDecodeStatus::kInvalid,
          "label names out of order");
  refused([](v1::PodSeries& s) { s.set_labels(2, "code"); }, BatchDecodeStatus::kInvalid,
          "a label name twice");
  refused([](v1::PodSeries& s) { s.clear_name(); }, BatchDecodeStatus::kInvalid, "no name");
  refused([](v1::PodSeries& s) { s.set_name(std::string(600, 'x')); }, BatchDecodeStatus::kInvalid,
          "a name too long");
  v1::SampleBatch future = batch;
  future.mutable_pod_metrics(0)->set_scraped_unix_ms(253402300799999 + 1);  // past year 9999
  const std::string futureBytes = envelopeBytes(future);
  EXPECT_EQ(decodeBatchEnvelope(futureBytes, view).status, BatchDecodeStatus::kOutOfRange);
  EXPECT_FALSE(validateBatch(future).ok());
}

TEST(BatchViewTest, ReusesItsContainersAcrossBatches) {
  BatchView view;
  ASSERT_TRUE(decodeBatchEnvelope(envelopeBytes(fullBatch()), view).ok());
  v1::SampleBatch smaller;
  smaller.set_sequence(8);
  smaller.add_containers()->set_id("only");
  const std::string payload = envelopeBytes(smaller);
  ASSERT_TRUE(decodeBatchEnvelope(payload, view).ok());
  EXPECT_EQ(view.containerCount, 1u);
  EXPECT_EQ(view.begin()->id, "only");
  EXPECT_EQ(view.end() - view.begin(), 1);
  EXPECT_FALSE(isPresent(view.containers[0].metrics.cpuCores)) << "no leftovers from before";
}

TEST(BatchViewTest, SkipsUnknownFields) {
  std::string payload = envelopeBytes(fullBatch());
  // Field 99 (varint) and field 100 (length-delimited) at the envelope level, from a newer peer.
  payload += std::string("\x98\x06\x2a", 3) + std::string("\xa2\x06\x03xyz", 6);
  BatchView view;
  EXPECT_TRUE(decodeBatchEnvelope(payload, view).ok());
}

struct RejectCase {
  std::string name;
  std::function<void(v1::SampleBatch&)> mutate;
  BatchDecodeStatus expected;
};

TEST(BatchViewTest, AppliesTheValidationRules) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<RejectCase> cases{
      {"sequence 0", [](auto& b) { b.set_sequence(0); }, BatchDecodeStatus::kInvalid},
      {"empty id", [](auto& b) { b.mutable_containers(1)->set_id(""); },
       BatchDecodeStatus::kInvalid},
      {"long id", [](auto& b) { b.mutable_containers(1)->set_id(std::string(513, 'x')); },
       BatchDecodeStatus::kInvalid},
      {"negative cpu", [](auto& b) { b.mutable_containers(0)->set_cpu_cores(-1); },
       BatchDecodeStatus::kInvalid},
      {"NaN request",
       [nan](auto& b) { b.mutable_containers(0)->mutable_metadata()->set_cpu_request_cores(nan); },
       BatchDecodeStatus::kInvalid},
      {"infinite pressure",
       [](auto& b) {
         b.mutable_containers(0)->set_memory_pressure_some_total_us(
             std::numeric_limits<double>::infinity());
       },
       BatchDecodeStatus::kInvalid},
      {"NaN node", [nan](auto& b) { b.mutable_node()->set_cpu_capacity_cores(nan); },
       BatchDecodeStatus::kInvalid},
      {"long workload",
       [](auto& b) {
         b.mutable_containers(0)->mutable_metadata()->set_workload(std::string(600, 'w'));
       },
       BatchDecodeStatus::kInvalid},
      // Issue 19: figures no machine produces (batch_ranges.h).
      {"1e308 cores", [](auto& b) { b.mutable_containers(0)->set_cpu_cores(1e308); },
       BatchDecodeStatus::kOutOfRange},
      {"2^64-1 bytes", [](auto& b) { b.mutable_node()->set_memory_usage_bytes(~std::uint64_t{0}); },
       BatchDecodeStatus::kOutOfRange},
      {"interval 1e300", [](auto& b) { b.set_interval_seconds(1e300); },
       BatchDecodeStatus::kOutOfRange},
      {"interval 1e9", [](auto& b) { b.set_interval_seconds(1e9); },
       BatchDecodeStatus::kOutOfRange},
      {"negative timestamp", [](auto& b) { b.set_timestamp_unix_ms(-1); },
       BatchDecodeStatus::kOutOfRange},
      {"request 1e308",
       [](auto& b) { b.mutable_containers(0)->mutable_metadata()->set_cpu_request_cores(1e308); },
       BatchDecodeStatus::kOutOfRange},
      {"start time in year -292 million",
       [](auto& b) {
         b.mutable_containers(0)->mutable_metadata()->set_start_time_unix_ms(
             std::numeric_limits<std::int64_t>::min());
       },
       BatchDecodeStatus::kOutOfRange},
  };
  for (const auto& c : cases) {
    auto batch = fullBatch();
    c.mutate(batch);
    BatchView view;
    const auto result = decodeBatchEnvelope(envelopeBytes(batch), view);
    EXPECT_EQ(result.status, c.expected) << c.name << ": " << result.error;
    EXPECT_FALSE(result.error.empty()) << c.name;
    EXPECT_FALSE(validateBatch(batch).ok()) << c.name << ": protobuf validation agrees";
  }
}

TEST(BatchViewTest, RejectsMalformedBytes) {
  const std::string good = envelopeBytes(fullBatch());
  BatchView view;
  EXPECT_EQ(decodeBatchEnvelope(good.substr(0, good.size() - 3), view).status,
            BatchDecodeStatus::kUndecodable)
      << "truncated";
  EXPECT_EQ(decodeBatchEnvelope("", view).status, BatchDecodeStatus::kUndecodable) << "no body";
  EXPECT_EQ(decodeBatchEnvelope(std::string(12, '\xff'), view).status,
            BatchDecodeStatus::kUndecodable);
  // A string field that is not UTF-8 (protobuf refuses it too).
  auto batch = fullBatch();
  batch.mutable_containers(0)->set_runtime(std::string("\xc3\x28", 2));
  std::string bad;
  v1::Envelope envelope;
  *envelope.mutable_batch() = batch;
  envelope.SerializePartialToString(&bad);
  EXPECT_EQ(decodeBatchEnvelope(bad, view).status, BatchDecodeStatus::kUndecodable);
  // The batch field twice (protobuf would merge; no encoder does that).
  EXPECT_EQ(decodeBatchEnvelope(good + good, view).status, BatchDecodeStatus::kUndecodable);
  // A string field twice, the first not UTF-8: protobuf refuses it, so must we (found by the
  // fuzzer; corpus regression-string-field-twice).
  {
    v1::SampleBatch one;
    one.set_sequence(1);
    auto* container = one.add_containers();
    container->set_id("ok");
    std::string containerBytes =
        std::string("\x0a\x02\xc3\x28", 4) + container->SerializeAsString();
    std::string batchBytes = std::string("\x08\x01", 2) + "\x22" +
                             static_cast<char>(containerBytes.size()) + containerBytes;
    std::string envelopeBytes =
        "\x1a" + std::string(1, static_cast<char>(batchBytes.size())) + batchBytes;
    EXPECT_FALSE(decodeEnvelope(envelopeBytes).ok());
    EXPECT_EQ(decodeBatchEnvelope(envelopeBytes, view).status, BatchDecodeStatus::kUndecodable);
  }
  // A group (wire type 3) is refused.
  EXPECT_EQ(decodeBatchEnvelope(good + std::string("\x9b\x06", 2), view).status,
            BatchDecodeStatus::kUndecodable);
}

TEST(BatchViewTest, OtherBodiesAreNotBatches) {
  v1::Envelope hello;
  hello.mutable_hello()->set_agent_id("a");
  BatchView view;
  EXPECT_EQ(decodeBatchEnvelope(hello.SerializeAsString(), view).status,
            BatchDecodeStatus::kNotABatch);
}

TEST(BatchViewTest, Utf8Validation) {
  const std::vector<std::pair<std::string, bool>> cases{
      {"plain ascii text that is long enough", true},
      {"\xc3\xa9", true},           // é
      {"\xe2\x82\xac", true},       // €
      {"\xf0\x9f\x98\x80", true},   // emoji
      {"\xc3", false},              // truncated
      {"\xc0\xaf", false},          // overlong
      {"\xed\xa0\x80", false},      // surrogate
      {"\xf4\x90\x80\x80", false},  // above U+10FFFF
      {"\xff", false},
      {"abcdefgh\x80", false},  // continuation byte after the fast path
  };
  for (const auto& [text, valid] : cases) EXPECT_EQ(isValidUtf8(text), valid) << text.size();
}

}  // namespace
}  // namespace fleetscale
