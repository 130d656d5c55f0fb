// Batches waiting for the aggregator's ack. Each batch gets the agent's next sequence number
// when appended; an ack for sequence N releases every batch up to N.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::agent {

struct QueuedBatch {
  std::uint64_t sequence = 0;
  std::string frame;  // the encoded frame (length prefix + Envelope{batch}), ready to write
};

// The frame of Envelope{batch} (length prefix + Envelope), serialized straight from the batch
// without copying it into an Envelope first.
std::string encodeBatchFrame(const v1::SampleBatch& batch);

// Sequences stay at or below this: spools (SQLite INTEGER) and aggregators keep them signed. An
// aggregator that names a higher one in an ack is not believed.
inline constexpr std::uint64_t kMaxSequence = INT64_MAX;

// A new sequence epoch (Hello.sequence_epoch): random, in [1, 2^63 - 1].
std::uint64_t randomSequenceEpoch();

// What a StreamClient reads batches from and reports acks to: a BatchQueue for one aggregator,
// or one aggregator's cursor on a shared queue (BatchFanOut).
// Thread-safety: implementations are used from one thread (the agent's I/O thread).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Up to `max` batches with sequence > `afterSequence`, oldest first (possibly fewer, to bound
  // the bytes handed out at once).
  virtual std::vector<QueuedBatch> after(std::uint64_t afterSequence, std::size_t max) = 0;
  // The aggregator holds every batch with sequence <= `sequence` (from its ack or hello_ack).
  virtual void ack(std::uint64_t sequence) = 0;
  // Batches this source would still hand out to its aggregator.
  virtual std::size_t size() const = 0;
  // The sequence space the batches are numbered in (sent in every hello; never 0): a spool keeps
  // its own, a memory queue takes a new one with every agent process.
  virtual std::uint64_t sequenceEpoch() const = 0;
  // Starts a new sequence space: an aggregator that keeps sequences per epoch remembers more of
  // this one than the agent numbered (a cloned VM's spool, a restored one, a peer that used the
  // agent's id), so the agent's batches would be taken for duplicates. Numbering carries on.
  virtual void renewSequenceEpoch() = 0;
  // The sequence the next appended batch gets.
  virtual std::uint64_t nextSequence() const = 0;
};

// Thread-safety: implementations are used from one thread (the agent's I/O thread).
class BatchQueue : public BatchSource {
 public:
  // Stamps the batch with the next sequence number, encodes and keeps the encoding. Returns the
  // sequence. The batch stays with the caller, who may Clear() and reuse it: the agent refills
  // one batch every tick, so its memory is allocated once.
  virtual std::uint64_t append(v1::SampleBatch& batch) = 0;
  std::uint64_t append(v1::SampleBatch&& batch) { return append(batch); }
  // Releases every batch with sequence <= `sequence`, and continueAfter(sequence).
  void ack(std::uint64_t sequence) override = 0;
  // If `sequence` is at or beyond the next one (an aggregator that predates sequence epochs and
  // remembers more than this queue does), numbering continues after it, so new batches are never
  // mistaken for duplicates. Releases nothing. A sequence above kMaxSequence is ignored.
  virtual void continueAfter(std::uint64_t sequence) = 0;
  // How many held batches have a sequence > `sequence`.
  virtual std::size_t countAfter(std::uint64_t sequence) const = 0;
  virtual std::uint64_t bytes() const = 0;  // encoded frames held
  virtual std::uint64_t droppedBatches() const = 0;
};

// Bounded in memory; when full the oldest batch is dropped (counted), so a long outage costs the
// oldest data, never the agent's memory. Lost when the agent stops; see SqliteSpool for batches
// that survive a restart.
class MemoryBatchQueue final : public BatchQueue {
 public:
  explicit MemoryBatchQueue(std::size_t capacity, std::uint64_t firstSequence = 1);

  using BatchQueue::append;
  std::uint64_t append(v1::SampleBatch& batch) override;
  std::vector<QueuedBatch> after(std::uint64_t afterSequence, std::size_t max) override;
  void ack(std::uint64_t sequence) override;
  void continueAfter(std::uint64_t sequence) override;
  std::size_t countAfter(std::uint64_t sequence) const override;
  std::size_t size() const override { return batches_.size(); }
  std::uint64_t bytes() const override { return bytes_; }
  std::uint64_t droppedBatches() const override { return dropped_; }
  std::uint64_t nextSequence() const override { return nextSequence_; }
  std::uint64_t sequenceEpoch() const override { return epoch_; }
  void renewSequenceEpoch() override { epoch_ = randomSequenceEpoch(); }

 private:
  void dropFront();

  std::size_t capacity_;
  std::uint64_t nextSequence_;
  std::uint64_t epoch_ = randomSequenceEpoch();
  std::deque<QueuedBatch> batches_;
  std::uint64_t bytes_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace fleetscale::agent
