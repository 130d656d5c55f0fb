#include "fleetscale/agent/batch_fan_out.h"

#include <gtest/gtest.h>

#include "fleetscale/agent/sqlite_spool.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::agent {
namespace {

std::vector<std::uint64_t> sequences(const std::vector<QueuedBatch>& batches) {
  std::vector<std::uint64_t> out;
  for (const auto& batch : batches) out.push_back(batch.sequence);
  return out;
}

void appendBatches(BatchQueue& queue, int count) {
  for (int i = 0; i < count; ++i) queue.append(v1::SampleBatch{});
}

using Sequences = std::vector<std::uint64_t>;

TEST(BatchFanOutTest, EveryAggregatorReadsTheSameFramesUnderOneSequence) {
  MemoryBatchQueue queue(10);
  BatchFanOut fanOut(queue, 2);
  v1::SampleBatch batch;
  batch.add_containers()->set_id("c1");
  queue.append(batch);
  queue.append(batch);
  const auto first = fanOut.cursor(0).after(0, 10);
  const auto second = fanOut.cursor(1).after(0, 10);
  ASSERT_EQ(sequences(first), (Sequences{1, 2}));
  ASSERT_EQ(sequences(second), (Sequences{1, 2}));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(first[i].frame, second[i].frame) << "one encoding, sent to both";
    batch.set_sequence(i + 1);
    EXPECT_EQ(second[i].frame, encodeBatchFrame(batch)) << "stamped with the one sequence";
  }
}

TEST(BatchFanOutTest, ABatchLeavesTheQueueOnceEveryAggregatorAckedIt) {
  MemoryBatchQueue queue(10);
  BatchFanOut fanOut(queue, 2);
  appendBatches(queue, 3);
  fanOut.cursor(0).ack(3);
  EXPECT_EQ(queue.size(), 3u) << "the second aggregator has not acked yet";
  EXPECT_EQ(fanOut.cursor(0).size(), 0u);
  EXPECT_EQ(fanOut.cursor(1).size(), 3u);
  fanOut.cursor(1).ack(1);
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(sequences(fanOut.cursor(1).after(1, 10)), (Sequences{2, 3}));
  fanOut.cursor(1).ack(3);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(BatchFanOutTest, ADownAggregatorHoldsOnlyTheQueueBoundAndDelaysNobody) {
  MemoryBatchQueue queue(5);
  BatchFanOut fanOut(queue, 2);
  for (std::uint64_t sequence = 1; sequence <= 8; ++sequence) {
    queue.append(v1::SampleBatch{});
    // The live aggregator reads each batch as it comes and acks it.
    ASSERT_EQ(sequences(fanOut.cursor(0).after(sequence - 1, 10)), (Sequences{sequence}));
    fanOut.cursor(0).ack(sequence);
  }
  EXPECT_EQ(queue.size(), 5u) << "bounded, not growing with the outage";
  EXPECT_EQ(queue.droppedBatches(), 3u) << "the oldest dropped, counted";
  EXPECT_EQ(fanOut.cursor(0).size(), 0u);
  EXPECT_EQ(fanOut.cursor(1).size(), 5u);
  // Back: it catches up on what the bound kept, then both are level and the queue empties.
  fanOut.cursor(1).ack(0);
  EXPECT_EQ(sequences(fanOut.cursor(1).after(0, 10)), (Sequences{4, 5, 6, 7, 8}));
  fanOut.cursor(1).ack(8);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(BatchFanOutTest, AnAggregatorRememberingMoreMovesNumberingButKeepsTheOthersBacklog) {
  MemoryBatchQueue queue(10);
  BatchFanOut fanOut(queue, 2);
  appendBatches(queue, 3);
  fanOut.cursor(0).ack(500);  // its hello_ack: it knew this agent id up to 500
  EXPECT_EQ(queue.nextSequence(), 501u);
  EXPECT_EQ(sequences(fanOut.cursor(1).after(0, 10)), (Sequences{1, 2, 3}))
      << "the other aggregator still gets batches 1..3";
  EXPECT_EQ(queue.append(v1::SampleBatch{}), 501u);
  EXPECT_EQ(sequences(fanOut.cursor(0).after(500, 10)), (Sequences{501}));
  fanOut.cursor(1).ack(501);
  EXPECT_EQ(sequences(fanOut.cursor(0).after(500, 10)), (Sequences{501}));
  fanOut.cursor(0).ack(501);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(BatchFanOutTest, AnAggregatorThatLostItsStateGetsWhatIsStillQueued) {
  MemoryBatchQueue queue(10);
  BatchFanOut fanOut(queue, 2);
  appendBatches(queue, 4);
  fanOut.cursor(0).ack(2);
  fanOut.cursor(1).ack(2);
  ASSERT_EQ(queue.size(), 2u);
  fanOut.cursor(1).ack(0);  // restarted without its store: its hello_ack says 0
  EXPECT_EQ(fanOut.cursor(1).size(), 2u);
  fanOut.cursor(0).ack(4);
  EXPECT_EQ(queue.size(), 2u) << "kept until the restarted aggregator has them";
  fanOut.cursor(1).ack(4);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(BatchFanOutTest, OneAggregatorReleasesOnItsOwnAck) {
  MemoryBatchQueue queue(10);
  BatchFanOut fanOut(queue, 1);
  appendBatches(queue, 3);
  fanOut.cursor(0).ack(2);
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(fanOut.cursor(0).size(), 1u);
}

TEST(BatchFanOutTest, WithASpoolTheBacklogOfEveryAggregatorSurvivesAnAgentRestart) {
  testing::TempDir dir;
  ManualClock clock;
  {
    auto spool = SqliteSpool::open(dir.file("spool.db"), {}, clock);
    ASSERT_TRUE(spool.ok()) << spool.error().message;
    BatchFanOut fanOut(**spool, 2);
    appendBatches(**spool, 3);
    fanOut.cursor(0).ack(3);  // the standby (second) was down the whole time
  }
  auto spool = SqliteSpool::open(dir.file("spool.db"), {}, clock);
  ASSERT_TRUE(spool.ok()) << spool.error().message;
  BatchFanOut fanOut(**spool, 2);
  fanOut.cursor(0).ack(3);  // hello_acks on reconnect say where each aggregator is
  fanOut.cursor(1).ack(0);
  EXPECT_TRUE(fanOut.cursor(0).after(3, 10).empty());
  EXPECT_EQ(sequences(fanOut.cursor(1).after(0, 10)), (Sequences{1, 2, 3}));
  fanOut.cursor(1).ack(3);
  EXPECT_EQ((*spool)->size(), 0u);
  EXPECT_EQ((*spool)->append(v1::SampleBatch{}), 4u);
}

TEST(BatchQueueCountTest, CountAfterCountsHeldBatchesPastASequence) {
  MemoryBatchQueue queue(10);
  appendBatches(queue, 5);
  queue.ack(2);
  EXPECT_EQ(queue.countAfter(0), 3u);
  EXPECT_EQ(queue.countAfter(3), 2u);
  EXPECT_EQ(queue.countAfter(5), 0u);
  EXPECT_EQ(queue.countAfter(99), 0u);
}

}  // namespace
}  // namespace fleetscale::agent
