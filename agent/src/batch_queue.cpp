#include "fleetscale/agent/batch_queue.h"

#include <algorithm>

#include "fleetscale/shared/protocol.h"

namespace fleetscale::agent {

MemoryBatchQueue::MemoryBatchQueue(std::size_t capacity, std::uint64_t firstSequence)
    : capacity_(capacity == 0 ? 1 : capacity), nextSequence_(firstSequence) {}

void MemoryBatchQueue::dropFront() {
  bytes_ -= batches_.front().frame.size();
  batches_.pop_front();
}

std::uint64_t MemoryBatchQueue::append(v1::SampleBatch batch) {
  const std::uint64_t sequence = nextSequence_++;
  batch.set_sequence(sequence);
  v1::Envelope envelope;
  *envelope.mutable_batch() = std::move(batch);
  if (batches_.size() >= capacity_) {
    dropFront();
    ++dropped_;
  }
  batches_.push_back(QueuedBatch{sequence, encodeEnvelopeFrame(envelope)});
  bytes_ += batches_.back().frame.size();
  return sequence;
}

std::vector<QueuedBatch> MemoryBatchQueue::after(std::uint64_t afterSequence, std::size_t max) {
  std::vector<QueuedBatch> out;
  for (const auto& batch : batches_) {
    if (out.size() >= max) break;
    if (batch.sequence > afterSequence) out.push_back(batch);
  }
  return out;
}

void MemoryBatchQueue::ack(std::uint64_t sequence) {
  nextSequence_ = std::max(nextSequence_, sequence + 1);
  while (!batches_.empty() && batches_.front().sequence <= sequence) dropFront();
}

}  // namespace fleetscale::agent
