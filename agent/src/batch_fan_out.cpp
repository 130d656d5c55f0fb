#include "fleetscale/agent/batch_fan_out.h"

#include <algorithm>

namespace fleetscale::agent {

BatchFanOut::BatchFanOut(BatchQueue& queue, std::size_t aggregators) : queue_(queue) {
  cursors_.reserve(std::max<std::size_t>(aggregators, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(aggregators, 1); ++i) {
    cursors_.push_back(std::make_unique<Cursor>(*this));
  }
}

void BatchFanOut::acked(std::uint64_t sequence) {
  // An aggregator that remembers more than this agent numbered moves numbering past it for all:
  // the others only see a jump in sequence, which they accept.
  queue_.continueAfter(sequence);
  std::uint64_t everyone = cursors_.front()->acked();
  for (const auto& cursor : cursors_) everyone = std::min(everyone, cursor->acked());
  if (everyone > 0) queue_.ack(everyone);
}

std::vector<QueuedBatch> BatchFanOut::Cursor::after(std::uint64_t afterSequence, std::size_t max) {
  return owner_.queue_.after(afterSequence, max);
}

void BatchFanOut::Cursor::ack(std::uint64_t sequence) {
  acked_ = sequence;
  owner_.acked(sequence);
}

std::size_t BatchFanOut::Cursor::size() const { return owner_.queue_.countAfter(acked_); }

}  // namespace fleetscale::agent
