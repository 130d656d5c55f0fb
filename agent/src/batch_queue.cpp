#include "fleetscale/agent/batch_queue.h"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <random>

#include "fleetscale/shared/framing.h"

namespace fleetscale::agent {

std::string encodeBatchFrame(const v1::SampleBatch& batch) {
  using google::protobuf::io::CodedOutputStream;
  // An Envelope holding only its `batch` field (number 3, length-delimited) is serialized as
  // that field's tag, the batch's length and the batch's own bytes.
  constexpr std::uint8_t kBatchTag = (3 << 3) | 2;
  const std::size_t batchBytes = batch.ByteSizeLong();
  const std::size_t payload = 1 + CodedOutputStream::VarintSize64(batchBytes) + batchBytes;
  std::string frame(kFrameHeaderBytes + payload, '\0');
  auto* out = reinterpret_cast<std::uint8_t*>(frame.data());
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) {
    out[i] = static_cast<std::uint8_t>(payload >> (8 * (kFrameHeaderBytes - 1 - i)));
  }
  out += kFrameHeaderBytes;
  *out++ = kBatchTag;
  out = CodedOutputStream::WriteVarint64ToArray(batchBytes, out);
  batch.SerializeWithCachedSizesToArray(out);
  return frame;
}

std::uint64_t randomSequenceEpoch() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> pick(1, kMaxSequence);
  return pick(device);
}

MemoryBatchQueue::MemoryBatchQueue(std::size_t capacity, std::uint64_t firstSequence)
    : capacity_(capacity == 0 ? 1 : capacity), nextSequence_(firstSequence) {}

void MemoryBatchQueue::dropFront() {
  bytes_ -= batches_.front().frame.size();
  batches_.pop_front();
}

std::uint64_t MemoryBatchQueue::append(v1::SampleBatch& batch) {
  const std::uint64_t sequence = nextSequence_++;
  batch.set_sequence(sequence);
  if (batches_.size() >= capacity_) {
    dropFront();
    ++dropped_;
  }
  batches_.push_back(QueuedBatch{sequence, encodeBatchFrame(batch)});
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
  continueAfter(sequence);
  while (!batches_.empty() && batches_.front().sequence <= sequence) dropFront();
}

void MemoryBatchQueue::continueAfter(std::uint64_t sequence) {
  if (sequence >= kMaxSequence) return;
  nextSequence_ = std::max(nextSequence_, sequence + 1);
}

std::size_t MemoryBatchQueue::countAfter(std::uint64_t sequence) const {
  const auto first =
      std::partition_point(batches_.begin(), batches_.end(),
                           [&](const QueuedBatch& b) { return b.sequence <= sequence; });
  return static_cast<std::size_t>(batches_.end() - first);
}

}  // namespace fleetscale::agent
