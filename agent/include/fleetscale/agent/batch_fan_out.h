// Every batch to every aggregator, from one queue. With several aggregators (an active one and
// warm standbys) each reads the same batches through its own cursor: one sequence numbering for
// the agent, each batch stamped and encoded once, and the frames stored once whatever the number
// of aggregators. A batch leaves the queue when every aggregator has acknowledged it.
//
// An aggregator that is down or slow does not hold the others back: each cursor moves on its own
// acks. It holds the queue instead, up to the queue's own limits (--queue-capacity, and the
// spool's byte and age limits); past them the oldest batches are dropped, counted by the queue,
// and that aggregator misses them. So the memory (or spool) an agent needs does not grow with
// the number of aggregators, and a lagging aggregator costs what a single aggregator's outage
// always cost.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fleetscale/agent/batch_queue.h"

namespace fleetscale::agent {

// Thread-safety: one thread (the agent's I/O thread), like the queue and the stream clients.
class BatchFanOut {
 public:
  // `queue` must outlive this; `aggregators` cursors (at least one).
  BatchFanOut(BatchQueue& queue, std::size_t aggregators);
  BatchFanOut(const BatchFanOut&) = delete;
  BatchFanOut& operator=(const BatchFanOut&) = delete;

  // What aggregator `index`'s StreamClient reads from and reports its acks to. Its size() is the
  // number of queued batches that aggregator has not acknowledged.
  BatchSource& cursor(std::size_t index) { return *cursors_.at(index); }
  const BatchSource& cursor(std::size_t index) const { return *cursors_.at(index); }
  std::size_t aggregators() const { return cursors_.size(); }

 private:
  class Cursor final : public BatchSource {
   public:
    explicit Cursor(BatchFanOut& owner) : owner_(owner) {}
    std::vector<QueuedBatch> after(std::uint64_t afterSequence, std::size_t max) override;
    // The aggregator's position, as it last said: a hello_ack may name a lower sequence than
    // earlier acks (an aggregator that lost its state), and it then gets what is still queued.
    void ack(std::uint64_t sequence) override;
    std::size_t size() const override;
    // The queue's: one numbering, so one sequence space, for every aggregator.
    std::uint64_t sequenceEpoch() const override { return owner_.queue_.sequenceEpoch(); }
    void renewSequenceEpoch() override { owner_.queue_.renewSequenceEpoch(); }
    std::uint64_t nextSequence() const override { return owner_.queue_.nextSequence(); }
    std::uint64_t acked() const { return acked_; }

   private:
    BatchFanOut& owner_;
    std::uint64_t acked_ = 0;  // 0: not heard from yet, so everything is kept for it
  };

  void acked(std::uint64_t sequence);

  BatchQueue& queue_;
  std::vector<std::unique_ptr<Cursor>> cursors_;
};

}  // namespace fleetscale::agent
