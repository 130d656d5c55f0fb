#include "fleetscale/shared/protocol.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fleetscale/shared/framing.h"

namespace fleetscale {
namespace {

v1::SampleBatch validBatch() {
  v1::SampleBatch batch;
  batch.set_sequence(1);
  auto* container = batch.add_containers();
  container->set_id(std::string(64, 'a'));
  container->set_cpu_cores(0.5);
  return batch;
}

TEST(ProtocolTest, EnvelopeRoundTripsThroughAFrame) {
  v1::Envelope envelope;
  *envelope.mutable_batch() = validBatch();
  const std::string frame = encodeEnvelopeFrame(envelope);
  FrameDecoder decoder;
  decoder.feed(frame);
  auto payload = decoder.next();
  ASSERT_TRUE(payload.ok() && payload->has_value());
  auto decoded = decodeEnvelope(**payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->batch().containers(0).cpu_cores(), 0.5);
  EXPECT_EQ(envelopeKind(*decoded), "batch");
}

TEST(ProtocolTest, GarbageIsNotAnEnvelope) {
  EXPECT_FALSE(decodeEnvelope("\xff\xff\xff\xff\xff\xff").ok());
  EXPECT_FALSE(decodeEnvelope("").ok()) << "an envelope without body is rejected";
}

TEST(ProtocolTest, HelloNeedsAgentIdAndNode) {
  v1::Hello hello;
  hello.set_agent_id("a1");
  EXPECT_FALSE(validateHello(hello).ok());
  hello.set_node("n1");
  EXPECT_TRUE(validateHello(hello).ok());
  hello.set_cluster(std::string(kMaxIdentifierBytes + 1, 'c'));
  EXPECT_FALSE(validateHello(hello).ok());
}

TEST(ProtocolTest, BatchValidation) {
  EXPECT_TRUE(validateBatch(validBatch()).ok());

  auto zeroSequence = validBatch();
  zeroSequence.set_sequence(0);
  EXPECT_FALSE(validateBatch(zeroSequence).ok());

  auto noId = validBatch();
  noId.mutable_containers(0)->clear_id();
  EXPECT_FALSE(validateBatch(noId).ok());

  auto negative = validBatch();
  negative.mutable_containers(0)->set_cpu_cores(-1);
  EXPECT_FALSE(validateBatch(negative).ok());

  auto nan = validBatch();
  nan.mutable_containers(0)->set_cpu_cores(std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(validateBatch(nan).ok());

  auto infiniteNode = validBatch();
  infiniteNode.mutable_node()->set_cpu_usage_cores(std::numeric_limits<double>::infinity());
  EXPECT_FALSE(validateBatch(infiniteNode).ok());

  auto tooMany = validBatch();
  for (int i = 0; i < kMaxContainersPerBatch; ++i) tooMany.add_containers()->set_id("x");
  EXPECT_FALSE(validateBatch(tooMany).ok());
}

}  // namespace
}  // namespace fleetscale
