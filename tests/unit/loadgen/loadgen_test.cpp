// The load generator's hand-stamped frames are the real protocol: protobuf reads them back.
#include "loadgen.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fleetscale::loadgen
