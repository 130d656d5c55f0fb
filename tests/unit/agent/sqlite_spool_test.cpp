#include "fleetscale/agent/sqlite_spool.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/sqlite.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::agent {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

v1::SampleBatch batchWithContainers(int containers) {
  v1::SampleBatch batch;
  for (int i = 0; i < containers; ++i) {
    auto* sample = batch.add_containers();
    sample->set_id(std::string(64, static_cast<char>('a' + i % 6)));
    sample->set_cgroup("/kubepods/pod/" + std::to_string(i));
  }
  return batch;
}

std::uint64_t decodedSequence(const QueuedBatch& queued) {
  FrameDecoder decoder;
  decoder.feed(queued.frame);
  auto frame = decoder.next();
  EXPECT_TRUE(frame.ok() && frame->has_value());
  auto envelope = decodeEnvelope(**frame);
  EXPECT_TRUE(envelope.ok());
  return envelope->batch().sequence();
}

class SqliteSpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteSpool> open(SpoolLimits limits = {}) {
    auto spool = SqliteSpool::open(dir_.file("spool.db"), limits, clock_);
    EXPECT_TRUE(spool.ok()) << spool.error().message;
    return spool.ok() ? std::move(*spool) : nullptr;
  }

  testing::TempDir dir_;
  ManualClock clock_;
};

TEST_F(SqliteSpoolTest, AppendsInSequenceAndReplaysInOrder) {
  auto spool = open();
  EXPECT_EQ(spool->append(batchWithContainers(1)), 1u);
  EXPECT_EQ(spool->append(batchWithContainers(2)), 2u);
  EXPECT_EQ(spool->append(batchWithContainers(3)), 3u);
  auto all = spool->after(0, 10);
  ASSERT_EQ(all.size(), 3u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].sequence, i + 1);
    EXPECT_EQ(decodedSequence(all[i]), i + 1) << "the frame carries its sequence";
  }
  EXPECT_EQ(spool->after(1, 1).front().sequence, 2u);
  EXPECT_EQ(spool->bytes(), all[0].frame.size() + all[1].frame.size() + all[2].frame.size());
  spool->ack(2);
  EXPECT_EQ(spool->size(), 1u);
  EXPECT_EQ(spool->after(0, 10).front().sequence, 3u);
  EXPECT_EQ(spool->bytes(), all[2].frame.size());
}

TEST_F(SqliteSpoolTest, SurvivesARestartWithIdentityAndSequence) {
  {
    auto spool = open();
    EXPECT_EQ(spool->agentId(), "") << "a new spool";
    ASSERT_TRUE(spool->setAgentId("node-a-1234").ok());
    for (int i = 0; i < 5; ++i) spool->append(batchWithContainers(1));
    spool->ack(3);
  }
  auto reopened = open();
  EXPECT_EQ(reopened->agentId(), "node-a-1234");
  EXPECT_EQ(reopened->size(), 2u);
  auto pending = reopened->after(0, 10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].sequence, 4u);
  EXPECT_EQ(pending[1].sequence, 5u);
  EXPECT_EQ(reopened->append(batchWithContainers(1)), 6u) << "the sequence continues";
  EXPECT_EQ(reopened->bytes(), pending[0].frame.size() + pending[1].frame.size() +
                                   reopened->after(5, 1).front().frame.size());
}

TEST_F(SqliteSpoolTest, SequenceContinuesAfterEverythingWasAcked) {
  {
    auto spool = open();
    for (int i = 0; i < 4; ++i) spool->append(batchWithContainers(1));
    spool->ack(4);
    EXPECT_EQ(spool->size(), 0u);
  }
  EXPECT_EQ(open()->append(batchWithContainers(1)), 5u) << "never reused, even when empty";
}

TEST_F(SqliteSpoolTest, AckBeyondNextSequenceIsRememberedAcrossRestarts) {
  {
    auto spool = open();
    spool->append(batchWithContainers(1));
    spool->ack(900);
  }
  EXPECT_EQ(open()->append(batchWithContainers(1)), 901u);
}

TEST_F(SqliteSpoolTest, KeepsItsSequenceEpochAcrossRestartsUntilRenewed) {
  std::uint64_t epoch = 0;
  {
    auto spool = open();
    epoch = spool->sequenceEpoch();
    EXPECT_GE(epoch, 1u);
    spool->append(batchWithContainers(1));
  }
  std::uint64_t renewed = 0;
  {
    auto spool = open();
    EXPECT_EQ(spool->sequenceEpoch(), epoch) << "a restarted agent continues its space";
    spool->renewSequenceEpoch();
    renewed = spool->sequenceEpoch();
    EXPECT_NE(renewed, epoch);
    EXPECT_EQ(spool->append(batchWithContainers(1)), 2u) << "numbering carries on";
  }
  EXPECT_EQ(open()->sequenceEpoch(), renewed);
}

TEST_F(SqliteSpoolTest, ASpoolFromBeforeEpochsGetsOneAndKeepsItsSequence) {
  {
    auto db = SqliteDatabase::open(dir_.file("spool.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec(R"sql(
      CREATE TABLE spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE spool_batches (sequence INTEGER PRIMARY KEY, created_unix_ms INTEGER NOT NULL,
                                  frame BLOB NOT NULL);
      INSERT INTO spool_meta VALUES('agent_id', 'node-a-1234'), ('next_sequence', '42');)sql"));
  }
  auto spool = open();
  EXPECT_EQ(spool->agentId(), "node-a-1234");
  EXPECT_GE(spool->sequenceEpoch(), 1u);
  EXPECT_EQ(spool->append(batchWithContainers(1)), 42u);
}

// Issue 19: an aggregator's ack of 2^64-1 wrapped the spool's next sequence to 0, and the next
// appends failed on the UNIQUE sequence of batches still spooled (433 batches lost).
TEST_F(SqliteSpoolTest, AnAckBeyondAnySequenceNeverWrapsTheNumbering) {
  {
    auto spool = open();
    for (int i = 0; i < 3; ++i) spool->append(batchWithContainers(1));
    spool->continueAfter(UINT64_MAX);
    spool->ack(UINT64_MAX);
    EXPECT_EQ(spool->nextSequence(), 4u);
    EXPECT_EQ(spool->append(batchWithContainers(1)), 4u);
    EXPECT_EQ(spool->errors(), 0u);
  }
  auto reopened = open();
  EXPECT_EQ(reopened->append(batchWithContainers(1)), 5u);
  EXPECT_EQ(reopened->errors(), 0u);
}

TEST_F(SqliteSpoolTest, CountLimitDropsOldestFirst) {
  SpoolLimits limits;
  limits.maxBatches = 3;
  auto spool = open(limits);
  for (int i = 0; i < 5; ++i) spool->append(batchWithContainers(1));
  EXPECT_EQ(spool->size(), 3u);
  EXPECT_EQ(spool->droppedBatches(), 2u);
  EXPECT_EQ(spool->after(0, 10).front().sequence, 3u);
}

TEST_F(SqliteSpoolTest, ByteLimitDropsOldestFirstAndKeepsTheNewest) {
  auto probe = open();
  probe->append(batchWithContainers(20));
  const std::uint64_t batchBytes = probe->bytes();
  probe.reset();
  std::filesystem::remove(dir_.file("spool.db"));

  SpoolLimits limits;
  limits.maxBytes = batchBytes * 3 + batchBytes / 2;  // room for three
  auto spool = open(limits);
  for (int i = 0; i < 6; ++i) spool->append(batchWithContainers(20));
  EXPECT_EQ(spool->size(), 3u);
  EXPECT_LE(spool->bytes(), limits.maxBytes);
  EXPECT_EQ(spool->droppedBatches(), 3u);
  EXPECT_EQ(spool->after(0, 10).front().sequence, 4u);

  limits.maxBytes = 10;  // smaller than one batch: only the newest stays
  spool.reset();
  spool = open(limits);
  spool->append(batchWithContainers(20));
  EXPECT_EQ(spool->size(), 1u);
  EXPECT_EQ(spool->after(0, 10).front().sequence, 7u);
}

TEST_F(SqliteSpoolTest, AgeLimitDropsOldBatches) {
  SpoolLimits limits;
  limits.maxAge = std::chrono::duration_cast<seconds>(minutes(10));
  auto spool = open(limits);
  spool->append(batchWithContainers(1));
  clock_.advance(minutes(6));
  spool->append(batchWithContainers(1));
  clock_.advance(minutes(5));  // the first is 11 minutes old now
  spool->append(batchWithContainers(1));
  EXPECT_EQ(spool->size(), 2u);
  EXPECT_EQ(spool->droppedBatches(), 1u);
  EXPECT_EQ(spool->after(0, 10).front().sequence, 2u);
}

TEST_F(SqliteSpoolTest, ReadsAreBoundedInBytes) {
  auto spool = open();
  for (int i = 0; i < 40; ++i) spool->append(batchWithContainers(2000));  // ~150 KB each
  const auto first = spool->after(0, 64);
  EXPECT_LT(first.size(), 40u) << "a backlog is handed out a few MiB at a time";
  EXPECT_GE(first.size(), 1u);
  EXPECT_EQ(spool->after(first.back().sequence, 64).front().sequence, first.back().sequence + 1);
}

TEST_F(SqliteSpoolTest, BrokenFileIsMovedAsideAndAFreshSpoolStarts) {
  testing::writeFile(dir_.file("spool.db"), std::string(8192, 'x'));
  auto spool = open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->movedAside().has_value());
  EXPECT_TRUE(std::filesystem::exists(*spool->movedAside())) << "kept for inspection";
  EXPECT_EQ(spool->append(batchWithContainers(1)), 1u);
}

TEST_F(SqliteSpoolTest, DamagedRowIsDroppedInsteadOfBlockingDelivery) {
  {
    auto spool = open();
    for (int i = 0; i < 3; ++i) spool->append(batchWithContainers(2));
  }
  {
    auto db = SqliteDatabase::open(dir_.file("spool.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        (*db)->exec("UPDATE spool_batches SET frame = x'00000009abcdef' WHERE sequence = 2").ok());
  }
  auto spool = open();
  const auto batches = spool->after(0, 10);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].sequence, 1u);
  EXPECT_EQ(batches[1].sequence, 3u);
  EXPECT_EQ(spool->droppedBatches(), 1u);
  EXPECT_EQ(spool->errors(), 1u);
  EXPECT_EQ(spool->size(), 2u);
}

TEST_F(SqliteSpoolTest, SecondAgentOnTheSameSpoolIsRefused) {
  auto first = open();
  auto second = SqliteSpool::open(dir_.file("spool.db"), {}, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
  first.reset();
  EXPECT_TRUE(SqliteSpool::open(dir_.file("spool.db"), {}, clock_).ok()) << "released on close";
}

TEST_F(SqliteSpoolTest, UncreatableSpoolIsAnError) {
  auto spool = SqliteSpool::open(dir_.file("missing-dir/spool.db"), {}, clock_);
  ASSERT_FALSE(spool.ok());
  EXPECT_NE(spool.error().message.find("missing-dir"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::agent
