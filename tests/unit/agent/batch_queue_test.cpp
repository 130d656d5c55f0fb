#include "fleetscale/agent/batch_queue.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"

namespace fleetscale::agent {
namespace {

TEST(BatchQueueTest, AssignsSequencesAndEncodesFrames) {
  MemoryBatchQueue queue(10);
  EXPECT_EQ(queue.append(v1::SampleBatch{}), 1u);
  EXPECT_EQ(queue.append(v1::SampleBatch{}), 2u);
  auto batches = queue.after(0, 10);
  ASSERT_EQ(batches.size(), 2u);
  FrameDecoder decoder;
  decoder.feed(batches[1].frame);
  auto frame = decoder.next();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  auto envelope = decodeEnvelope(**frame);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->batch().sequence(), 2u);
}

TEST(BatchQueueTest, AckReleasesUpToTheSequence) {
  MemoryBatchQueue queue(10);
  for (int i = 0; i < 5; ++i) queue.append(v1::SampleBatch{});
  queue.ack(3);
  EXPECT_EQ(queue.size(), 2u);
  auto rest = queue.after(0, 10);
  EXPECT_EQ(rest.front().sequence, 4u);
  EXPECT_EQ(queue.after(4, 10).size(), 1u);
  EXPECT_EQ(queue.after(0, 1).size(), 1u) << "max respected";
}

TEST(BatchQueueTest, FullQueueDropsOldestAndCounts) {
  MemoryBatchQueue queue(3);
  for (int i = 0; i < 5; ++i) queue.append(v1::SampleBatch{});
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.droppedBatches(), 2u);
  EXPECT_EQ(queue.after(0, 10).front().sequence, 3u);
}

TEST(BatchQueueTest, CountsBytesHeld) {
  MemoryBatchQueue queue(10);
  EXPECT_EQ(queue.bytes(), 0u);
  queue.append(v1::SampleBatch{});
  queue.append(v1::SampleBatch{});
  const auto all = queue.after(0, 10);
  EXPECT_EQ(queue.bytes(), all[0].frame.size() + all[1].frame.size());
  queue.ack(2);
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST(BatchQueueTest, AckBeyondTheNextSequenceMovesNumberingPastIt) {
  // An aggregator that remembers sequence 500 for this agent id (the agent lost its state):
  // batches numbered 1, 2, ... would all be dropped as duplicates.
  MemoryBatchQueue queue(10);
  queue.append(v1::SampleBatch{});
  queue.ack(500);
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_EQ(queue.append(v1::SampleBatch{}), 501u);
  queue.ack(3);  // an old ack never moves numbering back
  EXPECT_EQ(queue.nextSequence(), 502u);
}

TEST(BatchQueueTest, EachQueueHasItsOwnSequenceEpochAndRenewingKeepsTheNumbering) {
  MemoryBatchQueue queue(10);
  MemoryBatchQueue other(10);
  const std::uint64_t epoch = queue.sequenceEpoch();
  EXPECT_GE(epoch, 1u);
  EXPECT_LE(epoch, kMaxSequence);
  EXPECT_NE(epoch, other.sequenceEpoch()) << "a new agent process, a new epoch";
  queue.append(v1::SampleBatch{});
  queue.renewSequenceEpoch();
  EXPECT_NE(queue.sequenceEpoch(), epoch);
  EXPECT_EQ(queue.append(v1::SampleBatch{}), 2u) << "numbering carries on";
}

// Issue 19: an ack of 2^64-1 wrapped the counter to 0, so the agent numbered batches 0, 1, ...
// again (and its spool failed on their UNIQUE sequence).
TEST(BatchQueueTest, AnAckBeyondAnySequenceNeverWrapsTheNumbering) {
  MemoryBatchQueue queue(10);
  queue.append(v1::SampleBatch{});
  queue.continueAfter(UINT64_MAX);
  queue.continueAfter(kMaxSequence);
  EXPECT_EQ(queue.nextSequence(), 2u);
  EXPECT_EQ(queue.append(v1::SampleBatch{}), 2u);
}

TEST(BatchQueueTest, BatchFrameIsTheEnvelopeFrame) {
  v1::SampleBatch batch;
  batch.set_sequence(7);
  batch.set_timestamp_unix_ms(1700000000000);
  for (int i = 0; i < 300; ++i) {  // long enough for a multi-byte length
    auto* sample = batch.add_containers();
    sample->set_id(std::string(64, 'a'));
    sample->set_cpu_cores(0.25 * i);
    sample->mutable_metadata()->set_pod("web-" + std::to_string(i));
  }
  v1::Envelope envelope;
  *envelope.mutable_batch() = batch;
  EXPECT_EQ(encodeBatchFrame(batch), encodeEnvelopeFrame(envelope));
  EXPECT_EQ(encodeBatchFrame(v1::SampleBatch{}), encodeEnvelopeFrame([] {
              v1::Envelope empty;
              empty.mutable_batch();
              return empty;
            }()));
}

TEST(BatchQueueTest, TheCallersBatchIsStampedAndKept) {
  MemoryBatchQueue queue(10);
  v1::SampleBatch batch;
  batch.add_containers()->set_id("c1");
  EXPECT_EQ(queue.append(batch), 1u);
  EXPECT_EQ(batch.sequence(), 1u);
  EXPECT_EQ(batch.containers_size(), 1) << "left for the caller to reuse";
}

}  // namespace
}  // namespace fleetscale::agent
