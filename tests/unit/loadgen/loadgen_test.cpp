// The load generator's hand-stamped frames are the real protocol: protobuf reads them back.
#include "loadgen.h"

#include <gtest/gtest.h>

#include <set>

#include "fleetscale/shared/batch_view.h"
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

}  // namespace
}  // namespace fleetscale::loadgen
