// The load generator's hand-stamped frames are the real protocol: protobuf reads them back.
#include "loadgen.h"

#include <gtest/gtest.h>

#include <set>

#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"

namespace fleetscale::loadgen {
namespace {

TEST(LoadgenTest, StampedFramesDecodeWithProtobufAndTheLeanDecoder) {
  LoadgenOptions options;
  options.containers = 3;
  options.workloads = 2;
  const auto tmpl = makeTemplate(options, 7, 1);
  EXPECT_EQ(tmpl.containerCount, 3u);
  for (std::uint64_t sequence : {1ull, 300ull, 1ull << 40}) {
    const std::string frame = framePrefix(tmpl, sequence, 1'700'000'000'123, 0.5) + tmpl.containers;
    FrameDecoder decoder;
    decoder.feed(frame);
    auto payload = decoder.next();
    ASSERT_TRUE(payload.ok() && payload->has_value());
    EXPECT_EQ(decoder.bufferedBytes(), 0u) << "the length prefix covers the frame exactly";
    auto envelope = decodeEnvelope(**payload);
    ASSERT_TRUE(envelope.ok() && envelope->has_batch());
    const auto& batch = envelope->batch();
    EXPECT_TRUE(validateBatch(batch).ok());
    EXPECT_EQ(batch.sequence(), sequence);
    EXPECT_EQ(batch.timestamp_unix_ms(), 1'700'000'000'123);
    EXPECT_EQ(batch.interval_seconds(), 0.5);
    EXPECT_EQ(batch.node().cpu_capacity_cores(), 16);
    ASSERT_EQ(batch.containers_size(), 3);
    EXPECT_EQ(batch.containers(0).id().size(), 64u);
    EXPECT_EQ(batch.containers(0).metadata().workload_kind(), "Deployment");
    EXPECT_TRUE(batch.containers(0).metadata().ready());
    BatchView view;
    EXPECT_TRUE(decodeBatchEnvelope(**payload, view).ok());
  }
}

// Decodes `tmpl` stamped with `sequence` the way the aggregator does.
v1::SampleBatch decodeStamped(const BatchTemplate& tmpl, std::uint64_t sequence) {
  const std::string frame = framePrefix(tmpl, sequence, 1'700'000'000'000, 1.0) + tmpl.containers;
  FrameDecoder decoder;
  decoder.feed(frame);
  auto payload = decoder.next();
  EXPECT_TRUE(payload.ok() && payload->has_value());
  if (!payload.ok() || !payload->has_value()) return {};
  EXPECT_EQ(decoder.bufferedBytes(), 0u);
  BatchView view;
  EXPECT_TRUE(decodeBatchEnvelope(**payload, view).ok());
  auto envelope = decodeEnvelope(**payload);
  EXPECT_TRUE(envelope.ok() && envelope->has_batch());
  if (!envelope.ok()) return {};
  EXPECT_TRUE(validateBatch(envelope->batch()).ok());
  return envelope->batch();
}

TEST(LoadgenTest, AgentContainersStartAsMakeTemplateBuildsThem) {
  LoadgenOptions options;
  options.containers = 4;
  const AgentContainers containers(options, 3);
  for (int variant = 0; variant < 2; ++variant) {
    const auto expected = makeTemplate(options, 3, variant);
    EXPECT_EQ(containers.templateFor(variant)->node, expected.node);
    EXPECT_EQ(containers.templateFor(variant)->containers, expected.containers);
    EXPECT_EQ(containers.templateFor(variant)->containerCount, 4u);
  }
}

TEST(LoadgenTest, ReplacedContainersGetNewIdsAndTheFramesStillDecode) {
  LoadgenOptions options;
  options.containers = 20;
  options.workloads = 5;
  options.jobShare = 0.5;
  AgentContainers containers(options, 1);
  const auto before = containers.templateFor(0);
  std::set<std::string> oldIds, oldUids;
  const auto first = decodeStamped(*before, 1);
  for (const auto& c : first.containers()) {
    oldIds.insert(c.id());
    oldUids.insert(c.metadata().pod_uid());
  }
  ASSERT_EQ(oldIds.size(), 20u);

  ChurnIds ids;
  std::mt19937 random(42);
  std::size_t jobs = 0;
  for (int round = 0; round < 10; ++round) jobs += containers.replace(20, random, ids);
  EXPECT_GT(jobs, 0u);
  EXPECT_LT(jobs, 200u);
  EXPECT_EQ(ids.nextSeed.load(), (1ull << 50) + 200) << "one new seed per new container";
  EXPECT_EQ(ids.nextJob.load(), static_cast<std::int64_t>(jobs));

  EXPECT_EQ(before->containerCount, 20u) << "a template already stamped does not change";
  EXPECT_EQ(before->containers, makeTemplate(options, 1, 0).containers);
  for (int variant = 0; variant < 2; ++variant) {
    const auto& after = containers.templateFor(variant);
    ASSERT_NE(after, before);
    EXPECT_EQ(after->containerCount, 20u);
    const auto batch = decodeStamped(*after, 7 + variant);
    EXPECT_EQ(batch.sequence(), 7u + variant);
    ASSERT_EQ(batch.containers_size(), 20);
    std::set<std::string> newIds;
    int jobPods = 0, replaced = 0;
    for (const auto& c : batch.containers()) {
      EXPECT_EQ(c.id().size(), 64u);
      newIds.insert(c.id());
      replaced += oldIds.count(c.id()) == 0 ? 1 : 0;
      EXPECT_EQ(oldUids.count(c.metadata().pod_uid()), oldIds.count(c.id()));
      EXPECT_NE(c.cgroup().find(c.id()), std::string::npos);
      if (c.metadata().workload_kind() == "Job") {
        ++jobPods;
        EXPECT_EQ(c.metadata().workload().rfind("job-", 0), 0u) << c.metadata().workload();
        EXPECT_EQ(c.metadata().pod().rfind(c.metadata().workload() + "-", 0), 0u);
      } else {
        EXPECT_EQ(c.metadata().workload_kind(), "Deployment");
        EXPECT_EQ(c.metadata().workload().rfind("svc-", 0), 0u);
      }
    }
    EXPECT_EQ(newIds.size(), 20u) << "ids stay unique within the node";
    // 200 picks among 20 containers: every one was replaced (a miss has odds of about 1e-9).
    EXPECT_EQ(replaced, 20);
    EXPECT_GT(jobPods, 0);
    EXPECT_EQ(containers.containers()[0].job >= 0,
              batch.containers(0).metadata().workload_kind() == "Job");
  }
}

// The payload of one frame (the length prefix stripped).
std::string onlyPayload(const std::string& frames) {
  FrameDecoder decoder;
  decoder.feed(frames);
  auto payload = decoder.next();
  EXPECT_TRUE(payload.ok() && payload->has_value());
  EXPECT_EQ(decoder.bufferedBytes(), 0u) << "one frame";
  return payload.ok() && payload->has_value() ? **payload : std::string();
}

TEST(LoadgenProtocolTest, Protocol1SaysHelloAsBeforeAndProtocol2OffersCompactBatches) {
  LoadgenOptions options;
  v1::Hello old;
  offerProtocol(options, old);
  EXPECT_EQ(old.protocol_version(), 1u);
  EXPECT_EQ(old.max_protocol_version(), 0u);
  EXPECT_EQ(old.compression(), "");
  options.protocol = 2;
  v1::Hello offer;
  offerProtocol(options, offer);
  EXPECT_EQ(offer.protocol_version(), 1u) << "so that an aggregator predating version 2 accepts";
  EXPECT_EQ(offer.max_protocol_version(), 2u);
  EXPECT_EQ(offer.compression(), "zstd");
  options.compress = false;
  v1::Hello plain;
  offerProtocol(options, plain);
  EXPECT_EQ(plain.compression(), "");
}

TEST(LoadgenProtocolTest, OnlyAnAnswerOf2MakesAConnectionCompact) {
  LoadgenOptions options;
  v1::HelloAck two;
  two.set_protocol_version(2);
  v1::HelloAck one;
  one.set_protocol_version(1);
  EXPECT_EQ(negotiateConnection(options, two), nullptr) << "protocol 1 did not offer it";
  options.protocol = 2;
  EXPECT_EQ(negotiateConnection(options, one), nullptr) << "an aggregator predating version 2";
  EXPECT_NE(negotiateConnection(options, two), nullptr);
}

// Every batch a connection sends expands, with a decoder that saw the connection's frames from
// the start, to exactly the version 1 batch stamped; the figures move between batches, so
// the rows after the first are deltas; a new connection starts from an empty table.
TEST(LoadgenProtocolTest, CompactFramesExpandToTheStampedBatchesOnEveryConnection) {
  LoadgenOptions options;
  options.containers = 50;
  options.protocol = 2;
  AgentContainers containers(options, 3);
  for (bool compress : {false, true}) {
    for (int connection = 0; connection < 2; ++connection) {
      CompactConnection encoding(compress);
      ZstdDecompressor decompressor;
      CompactBatchDecoder decoder;  // the aggregator's table for this connection
      std::size_t v1Bytes = 0;
      std::size_t compactBytes = 0;
      for (std::uint64_t sequence = 1; sequence <= 4; ++sequence) {
        const auto& tmpl = *containers.templateFor(static_cast<int>(sequence % 2));
        const std::string prefix = framePrefix(tmpl, sequence, 1'700'000'000'000, 1.0);
        const std::string v1 = onlyPayload(prefix + tmpl.containers);
        std::string frames;
        ASSERT_TRUE(encoding.append(frames, prefix, tmpl.containers).ok());
        const std::string wire = onlyPayload(frames);
        auto inner = decompressor.unwrap(wire, kDefaultMaxFrameBytes);
        ASSERT_TRUE(inner.ok()) << inner.error().message;
        if (compress && sequence == 1) {
          EXPECT_NE(std::string(*inner), wire) << "the first batch, all definitions, compresses";
        }
        const std::string compact(*inner);
        BatchView actual;
        ASSERT_TRUE(decodeBatchEnvelope(compact, actual, StringChecks::kDeferred).ok());
        ASSERT_TRUE(actual.compact);
        auto expanded = decoder.expand(actual);
        ASSERT_TRUE(expanded.ok()) << expanded.error;
        BatchView expected;
        ASSERT_TRUE(decodeBatchEnvelope(v1, expected, StringChecks::kDeferred).ok());
        EXPECT_EQ(actual.sequence, sequence);
        ASSERT_EQ(actual.containerCount, expected.containerCount);
        for (std::size_t i = 0; i < expected.containerCount; ++i) {
          EXPECT_EQ(actual.containers[i].id, expected.containers[i].id);
          EXPECT_EQ(actual.containers[i].metadataBytes, expected.containers[i].metadataBytes);
          EXPECT_EQ(actual.containers[i].metrics.cpuCores, expected.containers[i].metrics.cpuCores);
          EXPECT_EQ(actual.containers[i].metrics.memoryWorkingSetBytes,
                    expected.containers[i].metrics.memoryWorkingSetBytes);
        }
        if (sequence > 1) {
          v1Bytes += v1.size();
          compactBytes += wire.size();
        }
      }
      EXPECT_LT(compactBytes * 4, v1Bytes) << "later batches carry deltas, not identities";
    }
  }
}

}  // namespace
}  // namespace fleetscale::loadgen
