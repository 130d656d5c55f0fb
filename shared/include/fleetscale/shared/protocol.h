// Protocol v1 messages on top of framing: encode/decode of Envelope and validation of what an
// untrusted peer sent. See docs/protocol.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"
#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale {

inline constexpr std::uint32_t kProtocolVersion = 1;

// Limits on what one batch may hold; beyond them the batch is rejected as malformed.
inline constexpr int kMaxContainersPerBatch = 20000;
// A kubelet runs at most a few hundred pods (110 by default); far more pending ones is not a node.
inline constexpr int kMaxPendingPodsPerBatch = 5000;
inline constexpr std::size_t kMaxIdentifierBytes = 512;
// Pods with scraped series per batch, and series per pod: the agent's own caps are lower
// (--scrape-max-series); these only bound what an aggregator decodes.
inline constexpr int kMaxScrapedPodsPerBatch = 5000;
inline constexpr int kMaxSeriesPerPod = 10000;
// A series' label list holds names and values alternately.
inline constexpr int kMaxLabelsPerSeries = 64;
// The largest frame the aggregator reads before a connection's Hello was accepted: a Hello holds
// a handful of identifiers, and an unidentified peer must not make the aggregator buffer more.
inline constexpr std::uint32_t kMaxHelloFrameBytes = 16 * 1024;

// Serializes an envelope and wraps it in a frame (length prefix + payload).
std::string encodeEnvelopeFrame(const v1::Envelope& envelope);

// Parses one frame payload. Fails on bytes that are not an Envelope or an Envelope without body.
Result<v1::Envelope> decodeEnvelope(std::string_view payload);

// Checks a Hello for required identity fields and sane sizes.
Status validateHello(const v1::Hello& hello);

// Checks a batch for sequence > 0, bounded sizes, non-empty container ids, finite non-negative
// rates, and every figure within its range (batch_ranges.h). A batch that fails is dropped and the
// connection closed: an agent that sends one is broken and retrying the same bytes cannot help.
Status validateBatch(const v1::SampleBatch& batch);

// The Envelope body's name ("hello", "batch", ...), for log lines and metric labels.
std::string_view envelopeKind(const v1::Envelope& envelope);

}  // namespace fleetscale
