#include "fleetscale/shared/compact_batch.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <bit>
#include <cmath>
#include <random>

#include "fleetscale/shared/protocol.h"

namespace fleetscale {
namespace {

std::string payloadOf(const v1::SampleBatch& batch) {
  v1::Envelope envelope;
  *envelope.mutable_batch() = batch;
  return envelope.SerializeAsString();
}

v1::ContainerSample& addContainer(v1::SampleBatch& batch, int n) {
  auto* c = batch.add_containers();
  char id[65];
  std::snprintf(id, sizeof id, "%064x", n * 7919);
  c->set_id(id);
  c->set_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                std::to_string(n) + ".slice/cri-containerd-" + c->id() + ".scope");
  c->set_runtime("containerd");
  auto* m = c->mutable_metadata();
  m->set_pod("web-7d9f8-" + std::to_string(n));
  m->set_pod_uid("uid-" + std::to_string(n));
  m->set_namespace_("shop");
  m->set_container("web");
  m->set_workload_kind("Deployment");
  m->set_workload("web");
  m->set_cpu_request_cores(0.25);
  m->set_memory_request_bytes(256 << 20);
  m->set_ready(true);
  m->set_pod_phase("Running");
  m->set_image("registry.example.com/shop/web:1.4.2");
  c->set_cpu_weight(100);
  c->set_memory_limit_bytes(512 << 20);
  return *c;
}

// A batch's figures for tick `tick`: every figure moves, some by amounts that are not whole
// millionths (raw doubles on the wire).
v1::SampleBatch tickBatch(std::uint64_t tick, int containers) {
  v1::SampleBatch batch;
  batch.set_sequence(tick);
  batch.set_timestamp_unix_ms(1'700'000'000'000 + static_cast<std::int64_t>(tick) * 1000);
  batch.set_interval_seconds(1);
  batch.mutable_node()->set_cpu_capacity_cores(16);
  batch.mutable_node()->set_memory_usage_bytes(8ull << 30);
  for (int n = 0; n < containers; ++n) {
    auto& c = addContainer(batch, n);
    if (tick > 1) {
      c.set_cpu_cores(std::round((0.2 + 0.01 * ((tick * 7 + n) % 13)) * 1e6) / 1e6);
      c.set_cpu_user_cores(0.1 + 1.0 / (3.0 + tick));  // not a whole number of millionths
      c.set_cpu_system_cores(0.0);
    }
    c.set_cpu_usage_ns_total(1'000'000'000ull * tick + n);
    c.set_memory_usage_bytes((100ull << 20) + 4096 * ((tick + n) % 5));
    c.set_memory_working_set_bytes((90ull << 20) + 4096 * ((tick * n) % 3));
    if (n % 3 == 0) c.set_cpu_pressure_some_total_us(static_cast<double>(1000 * tick));
  }
  return batch;
}

void expectSameSample(const ContainerSampleView& expected, const ContainerSampleView& actual) {
  EXPECT_EQ(expected.id, actual.id);
  EXPECT_EQ(expected.cgroup, actual.cgroup);
  EXPECT_EQ(expected.runtime, actual.runtime);
  EXPECT_EQ(expected.metadataBytes, actual.metadataBytes);
  const ContainerMetrics& a = expected.metrics;
  const ContainerMetrics& b = actual.metrics;
  auto bits = [](double value) { return std::bit_cast<std::uint64_t>(value); };
  for (auto member :
       {&ContainerMetrics::cpuCores, &ContainerMetrics::cpuUserCores,
        &ContainerMetrics::cpuSystemCores, &ContainerMetrics::cpuThrottledPeriodsPerSecond,
        &ContainerMetrics::cpuThrottledSecondsPerSecond, &ContainerMetrics::cpuLimitCores,
        &ContainerMetrics::cpuPressureSomeTotalUs, &ContainerMetrics::cpuPressureFullTotalUs,
        &ContainerMetrics::memoryPressureSomeTotalUs,
        &ContainerMetrics::memoryPressureFullTotalUs}) {
    EXPECT_EQ(bits(a.*member), bits(b.*member)) << expected.id;
  }
  for (auto member : {&ContainerMetrics::cpuUsageNsTotal, &ContainerMetrics::cpuWeight,
                      &ContainerMetrics::memoryUsageBytes, &ContainerMetrics::memoryWorkingSetBytes,
                      &ContainerMetrics::memoryRssBytes, &ContainerMetrics::oomKillsTotal}) {
    EXPECT_EQ(a.*member, b.*member) << expected.id;
  }
  EXPECT_EQ(a.memoryLimitBytes, b.memoryLimitBytes);
}

// Sends `payload` through the encoder and decoder and checks the decoder gives what a version 1
// decode of the same payload gives.
void expectRoundTrip(CompactBatchEncoder& encoder, CompactBatchDecoder& decoder,
                     const std::string& payload) {
  BatchView expected;
  ASSERT_TRUE(decodeBatchEnvelope(payload, expected, StringChecks::kDeferred).ok());
  auto compact = encoder.encode(payload);
  ASSERT_TRUE(compact.ok()) << compact.error().message;
  BatchView actual;
  auto decoded = decodeBatchEnvelope(*compact, actual, StringChecks::kDeferred);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  ASSERT_TRUE(actual.compact);
  auto expanded = decoder.expand(actual);
  ASSERT_TRUE(expanded.ok()) << expanded.error;
  EXPECT_EQ(expected.sequence, actual.sequence);
  EXPECT_EQ(expected.timestampUnixMs, actual.timestampUnixMs);
  EXPECT_EQ(expected.intervalSeconds, actual.intervalSeconds);
  EXPECT_EQ(expected.node.memoryUsageBytes, actual.node.memoryUsageBytes);
  EXPECT_EQ(expected.pendingPodCount, actual.pendingPodCount);
  EXPECT_EQ(expected.podMetricsCount, actual.podMetricsCount);
  ASSERT_EQ(expected.containerCount, actual.containerCount);
  for (std::size_t i = 0; i < expected.containerCount; ++i) {
    expectSameSample(expected.containers[i], actual.containers[i]);
    ASSERT_TRUE(completeSample(actual.containers[i]).ok());
  }
  EXPECT_EQ(encoder.knownContainers(), decoder.knownContainers());
}

TEST(CompactBatchTest, GivesWhatVersionOneGivesTickAfterTick) {
  CompactBatchEncoder encoder;
  CompactBatchDecoder decoder;
  for (std::uint64_t tick = 1; tick <= 20; ++tick) {
    SCOPED_TRACE(tick);
    expectRoundTrip(encoder, decoder, payloadOf(tickBatch(tick, 30)));
  }
}

TEST(CompactBatchTest, FollowsContainersComingGoingAndChanging) {
  CompactBatchEncoder encoder;
  CompactBatchDecoder decoder;
  std::mt19937 random(7);
  std::vector<int> present{0, 1, 2, 3, 4, 5};
  int next = 6;
  for (std::uint64_t tick = 1; tick <= 60; ++tick) {
    SCOPED_TRACE(tick);
    if (tick % 3 == 0)
      present.erase(present.begin() + static_cast<long>(random() % present.size()));
    if (tick % 2 == 0) present.push_back(next++);
    std::shuffle(present.begin(), present.end(), random);
    v1::SampleBatch batch = tickBatch(tick, 0);
    for (int n : present) {
      auto& c = addContainer(batch, n);
      c.set_cpu_cores(0.001 * static_cast<double>(random() % 1000));
      c.set_memory_usage_bytes(random());
      if (random() % 4 == 0) c.mutable_metadata()->set_ready(false);  // metadata changes
      if (random() % 5 == 0) c.clear_memory_limit_bytes();
      if (random() % 7 == 0) c.set_cpu_limit_cores(1.0 / 3.0);
    }
    expectRoundTrip(encoder, decoder, payloadOf(batch));
  }
  EXPECT_EQ(decoder.knownContainers(), present.size());  // both ends forget the gone ones
}

TEST(CompactBatchTest, KeepsTheBatchsOtherFields) {
  v1::SampleBatch batch = tickBatch(3, 2);
  auto* pending = batch.add_pending_pods();
  pending->set_pod("web-new");
  pending->set_pod_uid("uid-new");
  pending->set_workload("web");
  auto* pod = batch.add_pod_metrics();
  pod->set_pod_uid("uid-1");
  pod->set_scraped_unix_ms(1'700'000'000'000);
  auto* series = pod->add_series();
  series->set_name("http_requests_per_second");
  series->set_value(12.5);
  CompactBatchEncoder encoder;
  CompactBatchDecoder decoder;
  expectRoundTrip(encoder, decoder, payloadOf(batch));
}

TEST(CompactBatchTest, ASecondSampleOfOneIdIsLeftForTheFoldToRefuse) {
  v1::SampleBatch batch = tickBatch(2, 1);
  *batch.add_containers() = batch.containers(0);
  CompactBatchEncoder encoder;
  CompactBatchDecoder decoder;
  expectRoundTrip(encoder, decoder, payloadOf(batch));
  expectRoundTrip(encoder, decoder, payloadOf(tickBatch(3, 1)));
}

TEST(CompactBatchTest, SteadyStateCostsAFewBytesPerContainer) {
  CompactBatchEncoder encoder;
  const std::size_t first = encoder.encode(payloadOf(tickBatch(1, 100)))->size();
  ASSERT_TRUE(encoder.encode(payloadOf(tickBatch(2, 100))).ok());
  v1::SampleBatch unchanged = tickBatch(2, 100);
  unchanged.set_sequence(3);
  const std::size_t same = encoder.encode(payloadOf(unchanged))->size();
  EXPECT_GT(first, 100u * 250);     // identity and metadata once
  EXPECT_LT(same, 100u * 3 + 100);  // index and an empty mask per container, and the batch
}

// What a restarted aggregator (a fresh decoder) makes of an encoder that carries on: it refuses
// the deltas, instead of adding them to a baseline it does not have.
TEST(CompactBatchTest, AFreshDecoderRefusesRowsItHasNoDefinitionFor) {
  CompactBatchEncoder encoder;
  CompactBatchDecoder before;
  BatchView view;
  auto first = encoder.encode(payloadOf(tickBatch(1, 3)));
  ASSERT_TRUE(decodeBatchEnvelope(*first, view).ok());
  ASSERT_TRUE(before.expand(view).ok());
  auto second = encoder.encode(payloadOf(tickBatch(2, 3)));
  CompactBatchDecoder restarted;
  ASSERT_TRUE(decodeBatchEnvelope(*second, view).ok());
  const auto result = restarted.expand(view);
  EXPECT_EQ(result.status, BatchDecodeStatus::kInvalid);
  EXPECT_NE(result.error.find("not defined"), std::string::npos) << result.error;
}

// A hand-made compact batch: `definitions` then `samples`.
std::string compactPayload(const std::vector<std::string>& definitions, const std::string& rows) {
  v1::Envelope envelope;
  auto* batch = envelope.mutable_compact_batch();
  batch->set_sequence(1);
  for (const auto& bytes : definitions) batch->add_definitions()->ParseFromString(bytes);
  batch->set_samples(rows);
  return envelope.SerializeAsString();
}

std::string definition(std::uint32_t index, const std::string& id) {
  v1::ContainerDefinition d;
  d.set_index(index);
  d.set_id(id);
  return d.SerializeAsString();
}

BatchDecodeResult expandPayload(CompactBatchDecoder& decoder, const std::string& payload) {
  BatchView view;
  auto decoded = decodeBatchEnvelope(payload, view);
  if (!decoded.ok()) return decoded;
  return decoder.expand(view);
}

TEST(CompactBatchTest, RefusesMalformedTables) {
  struct Case {
    const char* name;
    std::vector<std::string> definitions;
    std::string rows;
    const char* error;
  };
  const std::string nan =
      std::string("\x00\x01\x01", 3) + std::string("\x00\x00\x00\x00\x00\x00\xf8\x7f", 8);
  const std::vector<Case> cases{
      {"undefined", {}, std::string("\x00\x00", 2), "not defined"},
      {"two rows", {definition(0, "a")}, std::string("\x00\x00\x00\x00", 4), "two rows"},
      {"unused",
       {definition(0, "a"), definition(1, "b")},
       std::string("\x00\x00", 2),
       "without a row"},
      {"skips", {definition(2, "a")}, std::string("\x02\x00", 2), "skips"},
      {"twice", {definition(0, "a"), definition(0, "b")}, std::string("\x00\x00", 2), "twice"},
      {"unknown figure", {definition(0, "a")}, std::string("\x00\x80\x80\x10", 4), "unknown"},
      {"truncated", {definition(0, "a")}, std::string("\x00\x01", 2), "truncated"},
      {"nan", {definition(0, "a")}, nan, "NaN"},
      {"no id", {definition(0, "")}, std::string("\x00\x00", 2), "id empty"},
      {"negative", {definition(0, "a")}, std::string("\x00\x01\x03", 3), "negative"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CompactBatchDecoder decoder;
    const auto result = expandPayload(decoder, compactPayload(c.definitions, c.rows));
    EXPECT_FALSE(result.ok());
    EXPECT_NE(result.error.find(c.error), std::string::npos) << result.error;
  }
}

TEST(CompactBatchTest, VersionsDoNotMix) {
  CompactBatchDecoder decoder;
  BatchView view;
  ASSERT_TRUE(decodeBatchEnvelope(payloadOf(tickBatch(1, 1)), view).ok());
  EXPECT_FALSE(decoder.expand(view).ok());

  v1::Envelope envelope;
  *envelope.mutable_batch() = tickBatch(1, 1);
  envelope.mutable_batch()->set_samples("x");
  EXPECT_EQ(decodeBatchEnvelope(envelope.SerializeAsString(), view).status,
            BatchDecodeStatus::kInvalid);

  CompactBatchEncoder encoder;
  auto compact = encoder.encode(payloadOf(tickBatch(1, 1)));
  EXPECT_FALSE(encoder.encode(*compact).ok());
}

TEST(CompactBatchTest, ZstdWrapsOnlyWhenItPaysAndUnwrapsWithinTheLimit) {
  CompactBatchEncoder encoder;
  const std::string compact = *encoder.encode(payloadOf(tickBatch(1, 50)));
  ZstdCompressor compressor(3);
  const std::string wrapped = compressor.wrap(compact);
  EXPECT_LT(wrapped.size(), compact.size() / 3);  // 50 near-identical definitions
  ZstdDecompressor decompressor;
  auto unwrapped = decompressor.unwrap(wrapped, 1 << 20);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.error().message;
  EXPECT_EQ(*unwrapped, compact);
  EXPECT_EQ(*decompressor.unwrap(compact, 1 << 20), compact);  // not wrapped: as it is

  const auto tooBig = decompressor.unwrap(wrapped, compact.size() - 1);
  ASSERT_FALSE(tooBig.ok());
  EXPECT_NE(tooBig.error().message.find("frame limit"), std::string::npos);

  const std::string tiny = "\x08\x01";
  EXPECT_EQ(compressor.wrap(tiny), tiny);

  v1::Envelope garbage;
  garbage.set_zstd_envelope("not zstd at all");
  EXPECT_FALSE(decompressor.unwrap(garbage.SerializeAsString(), 1 << 20).ok());

  // A frame that does not state its size is refused before anything is decompressed.
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0);
  std::string unsized(ZSTD_compressBound(compact.size()), '\0');
  ZSTD_outBuffer out{unsized.data(), unsized.size(), 0};
  ZSTD_inBuffer in{compact.data(), compact.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(context, &out, &in, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(context);
  unsized.resize(out.pos);
  v1::Envelope streamed;
  streamed.set_zstd_envelope(unsized);
  const auto refused = decompressor.unwrap(streamed.SerializeAsString(), 1 << 20);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("states no size"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale
