// What a connection speaks after its hello, and the per-connection decoding that goes with it.
#include "fleetscale/aggregator/ingest/batch_stream.h"

#include <gtest/gtest.h>

#include <string>

namespace fleetscale::aggregator {
namespace {

v1::Hello offering(std::uint32_t maxVersion, const std::string& compression) {
  v1::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_max_protocol_version(maxVersion);
  hello.set_compression(compression);
  return hello;
}

TEST(NegotiateWireProtocolTest, VersionTwoOnlyWhenBothOfferItAndZstdOnlyThere) {
  struct Case {
    std::uint32_t helloMax;
    std::string compression;
    std::uint32_t aggregatorMax;
    std::uint32_t version;
    bool zstd;
  };
  for (const auto& c : std::vector<Case>{
           {0, "", 2, 1, false},      // an agent that predates version 2
           {0, "zstd", 2, 1, false},  // compression is version 2's
           {1, "zstd", 2, 1, false},
           {2, "", 2, 2, false},
           {2, "zstd", 2, 2, true},
           {2, "gzip", 2, 2, false},  // a kind this aggregator does not know: none
           {2, "ZSTD", 2, 2, false},
           {3, "zstd", 2, 2, true},   // a newer agent gets what this aggregator speaks
           {2, "zstd", 1, 1, false},  // held at 1 for a staged rollout
       }) {
    const WireProtocol protocol =
        negotiateWireProtocol(offering(c.helloMax, c.compression), c.aggregatorMax);
    EXPECT_EQ(protocol.version, c.version)
        << c.helloMax << " " << c.compression << " " << c.aggregatorMax;
    EXPECT_EQ(protocol.zstd, c.zstd)
        << c.helloMax << " " << c.compression << " " << c.aggregatorMax;
  }
}

std::string batchPayload(std::uint64_t sequence) {
  v1::Envelope envelope;
  envelope.mutable_batch()->set_sequence(sequence);
  auto* container = envelope.mutable_batch()->add_containers();
  container->set_id("c");
  container->set_memory_usage_bytes(1 << 20);
  return envelope.SerializeAsString();
}

TEST(BatchStreamTest, VersionOneTakesBatchesAsTheyAreAndNoCompression) {
  BatchStream stream({1, false}, 1 << 20);
  CompactBatchEncoder encoder;
  ZstdCompressor compressor(1);
  const std::string compact = *encoder.encode(batchPayload(1));
  const std::string zipped = compressor.wrap(std::string(4096, 'a'));
  EXPECT_EQ(*stream.unwrap(zipped), zipped) << "left for decoding to refuse";

  BatchView view;
  ASSERT_TRUE(decodeBatchEnvelope(batchPayload(1), view).ok());
  EXPECT_TRUE(stream.admit(view).ok());
  ASSERT_TRUE(decodeBatchEnvelope(compact, view).ok());
  EXPECT_EQ(stream.admit(view).status, BatchDecodeStatus::kInvalid);
}

TEST(BatchStreamTest, VersionTwoExpandsCompactBatchesAndUnwrapsWithinTheFrameLimit) {
  BatchStream stream({2, true}, 1024);
  CompactBatchEncoder encoder;
  ZstdCompressor compressor(1);
  BatchView view;
  for (std::uint64_t sequence = 1; sequence <= 2; ++sequence) {
    const std::string frame = compressor.wrap(*encoder.encode(batchPayload(sequence)));
    auto payload = stream.unwrap(frame);
    ASSERT_TRUE(payload.ok()) << payload.error().message;
    ASSERT_TRUE(decodeBatchEnvelope(*payload, view).ok());
    ASSERT_TRUE(stream.admit(view).ok());
    ASSERT_EQ(view.containerCount, 1u);
    EXPECT_EQ(view.containers[0].id, "c");
    EXPECT_EQ(view.containers[0].metrics.memoryUsageBytes, 1u << 20);
  }
  ASSERT_TRUE(decodeBatchEnvelope(batchPayload(3), view).ok());
  EXPECT_EQ(stream.admit(view).status, BatchDecodeStatus::kInvalid) << "a version 1 batch";

  const auto refused = stream.unwrap(compressor.wrap(std::string(1025, 'a')));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("frame limit"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::aggregator
