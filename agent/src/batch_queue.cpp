#include "fleetscale/agent/batch_queue.h"

#include "fleetscale/shared/protocol.h"

namespace fleetscale::agent {

MemoryBatchQueue::MemoryBatchQueue(std::size_t capacity, std::uint64_t firstSequence)
    : capacity_(capacity == 0 ? 1 : capacity), nextSequence_(firstSequence) {}

std::uint64_t MemoryBatchQueue::append(v1::SampleBatch batch) {
  const std::uint64_t sequence = nextSequence_++;
  batch.set_sequence(sequence);
  v1::Envelope envelope;
  *envelope.mutable_batch() = std::move(batch);
  if (batches_.size() >= capacity_) {
    batches_.pop_front();
    ++dropped_;
  }
  batches_.push_back(QueuedBatch{sequence, encodeEnvelopeFrame(envelope)});
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
  while (!batches_.empty() && batches_.front().sequence <= sequence) batches_.pop_front();
}

}  // namespace fleetscale::agent
