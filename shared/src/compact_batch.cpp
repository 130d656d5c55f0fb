#include "fleetscale/shared/compact_batch.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <functional>
#include <optional>
#include <queue>

#include "fleetscale/shared/batch_ranges.h"
#include "wire_format.h"

namespace fleetscale {
namespace {

using wire::appendBytesField;
using wire::appendTag;
using wire::appendVarint;
using wire::kLengthDelimited;
using wire::kVarint;
using wire::WireReader;

// Envelope and SampleBatch field numbers of the shapes this file writes and reads.
constexpr std::uint32_t kEnvelopeBatch = 3;
constexpr std::uint32_t kEnvelopeCompactBatch = 6;
constexpr std::uint32_t kEnvelopeZstd = 7;
constexpr std::uint32_t kBatchContainers = 4;
constexpr std::uint32_t kBatchDefinitions = 8;
constexpr std::uint32_t kBatchSamples = 9;

// How a row encodes one figure (docs/protocol.md, "Compact rows").
enum class Encoding {
  kCount,          // uint64: zigzag varint of the wrapping difference from the previous value
  kScaled,         // double, usually an integer number of 1/scale units: see encodeScaled
  kOptionalCount,  // optional uint64: 0 absent, or 1 then a kCount delta
};

struct Field {
  Encoding encoding;
  double ContainerMetrics::*real = nullptr;
  std::uint64_t ContainerMetrics::*count = nullptr;
  std::optional<std::uint64_t> ContainerMetrics::*optionalCount = nullptr;
  double scale = 1;
};

// A row's mask has one bit per field, in this order: the figures that change every tick of a
// busy container come first, so that their mask fits one varint byte.
constexpr double kMicro = 1e6;  // rates and cores: the agent rounds them to millionths
constexpr std::array<Field, 17> kFields{{
    {Encoding::kScaled, &ContainerMetrics::cpuCores, nullptr, nullptr, kMicro},
    {Encoding::kScaled, &ContainerMetrics::cpuUserCores, nullptr, nullptr, kMicro},
    {Encoding::kScaled, &ContainerMetrics::cpuSystemCores, nullptr, nullptr, kMicro},
    {Encoding::kCount, nullptr, &ContainerMetrics::cpuUsageNsTotal},
    {Encoding::kCount, nullptr, &ContainerMetrics::memoryUsageBytes},
    {Encoding::kCount, nullptr, &ContainerMetrics::memoryWorkingSetBytes},
    {Encoding::kCount, nullptr, &ContainerMetrics::memoryRssBytes},
    {Encoding::kScaled, &ContainerMetrics::cpuThrottledPeriodsPerSecond, nullptr, nullptr, kMicro},
    {Encoding::kScaled, &ContainerMetrics::cpuThrottledSecondsPerSecond, nullptr, nullptr, kMicro},
    {Encoding::kScaled, &ContainerMetrics::cpuPressureSomeTotalUs},  // whole microseconds
    {Encoding::kScaled, &ContainerMetrics::cpuPressureFullTotalUs},
    {Encoding::kScaled, &ContainerMetrics::memoryPressureSomeTotalUs},
    {Encoding::kScaled, &ContainerMetrics::memoryPressureFullTotalUs},
    {Encoding::kScaled, &ContainerMetrics::cpuLimitCores, nullptr, nullptr, kMicro},
    {Encoding::kCount, nullptr, &ContainerMetrics::cpuWeight},
    {Encoding::kOptionalCount, nullptr, nullptr, &ContainerMetrics::memoryLimitBytes},
    {Encoding::kCount, nullptr, &ContainerMetrics::oomKillsTotal},
}};
constexpr std::uint64_t kAllFields = (1ull << kFields.size()) - 1;

// Scaled values stay where a double holds every integer exactly.
constexpr std::int64_t kMaxScaled = std::int64_t{1} << 53;

bool sameBits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

double unscale(std::int64_t units, double scale) { return static_cast<double>(units) / scale; }

// `value` as a whole number of 1/scale units when that number gives back exactly `value`.
std::optional<std::int64_t> scaledUnits(double value, double scale) {
  const double units = value * scale;
  if (!(std::fabs(units) < static_cast<double>(kMaxScaled))) return std::nullopt;
  const auto rounded = static_cast<std::int64_t>(std::nearbyint(units));
  if (!sameBits(unscale(rounded, scale), value)) return std::nullopt;
  return rounded;
}

bool unchanged(const Field& field, const ContainerMetrics& a, const ContainerMetrics& b) {
  switch (field.encoding) {
    case Encoding::kScaled:
      return sameBits(a.*field.real, b.*field.real);
    case Encoding::kCount:
      return a.*field.count == b.*field.count;
    case Encoding::kOptionalCount:
      return a.*field.optionalCount == b.*field.optionalCount;
  }
  return false;
}

// What both ends remember of a container between its rows: its last figures, and for each scaled
// field the units of the last value sent as units (deltas count from there).
struct Baseline {
  ContainerMetrics last;
  std::array<std::int64_t, kFields.size()> units{};
};

void appendDelta(std::string& out, std::uint64_t previous, std::uint64_t current) {
  appendVarint(out, wire::zigzag(static_cast<std::int64_t>(current - previous)));
}

// Scaled values: varint 0 = absent; 1 = the raw IEEE-754 bits follow (8 bytes, little-endian);
// 2 + zigzag(units - previous units) otherwise.
void appendScaled(std::string& out, double value, double scale, std::int64_t& previousUnits) {
  if (!isPresent(value)) {
    appendVarint(out, 0);
    return;
  }
  if (auto units = scaledUnits(value, scale)) {
    appendVarint(out, 2 + wire::zigzag(*units - previousUnits));
    previousUnits = *units;
    return;
  }
  appendVarint(out, 1);
  wire::appendFixed64(out, std::bit_cast<std::uint64_t>(value));
}

void appendRow(std::string& out, std::uint32_t index, Baseline& baseline,
               const ContainerMetrics& current) {
  std::uint64_t mask = 0;
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if (!unchanged(kFields[i], baseline.last, current)) mask |= 1ull << i;
  }
  appendVarint(out, index);
  appendVarint(out, mask);
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if ((mask & (1ull << i)) == 0) continue;
    const Field& field = kFields[i];
    switch (field.encoding) {
      case Encoding::kScaled:
        appendScaled(out, current.*field.real, field.scale, baseline.units[i]);
        break;
      case Encoding::kCount:
        appendDelta(out, baseline.last.*field.count, current.*field.count);
        break;
      case Encoding::kOptionalCount: {
        const auto& value = current.*field.optionalCount;
        appendVarint(out, value ? 1 : 0);
        if (value) appendDelta(out, (baseline.last.*field.optionalCount).value_or(0), *value);
        break;
      }
    }
  }
  baseline.last = current;
}

struct StringHash {
  using is_transparent = void;  // NOLINT(readability-identifier-naming): the standard's name
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Encoder

struct CompactBatchEncoder::State {
  struct Entry {
    std::string id, cgroup, runtime, metadata;
    Baseline baseline;
    std::uint64_t seen = 0;  // the batch that last named it
    bool inUse = false;
    bool byId = false;  // reachable through `byId` (a second sample of one id in a batch is not)
  };
  std::vector<Entry> entries;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> byId;
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>> freeIndices;
  std::uint64_t generation = 0;
  BatchView view;
  std::string definitions, rows, batch;

  std::uint32_t allocate() {
    if (!freeIndices.empty()) {
      const std::uint32_t index = freeIndices.top();
      freeIndices.pop();
      return index;
    }
    entries.emplace_back();
    return static_cast<std::uint32_t>(entries.size() - 1);
  }

  void define(std::uint32_t index, const ContainerSampleView& sample) {
    Entry& entry = entries[index];
    entry.id.assign(sample.id);
    entry.cgroup.assign(sample.cgroup);
    entry.runtime.assign(sample.runtime);
    entry.metadata.assign(sample.metadataBytes);
    entry.baseline = Baseline{};
    entry.inUse = true;
    std::string& out = definitions;
    appendTag(out, kBatchDefinitions, kLengthDelimited);
    std::string body;
    appendTag(body, 1, kVarint);
    appendVarint(body, index);
    if (!sample.id.empty()) appendBytesField(body, 2, sample.id);
    if (!sample.cgroup.empty()) appendBytesField(body, 3, sample.cgroup);
    if (!sample.runtime.empty()) appendBytesField(body, 4, sample.runtime);
    if (!sample.metadataBytes.empty()) appendBytesField(body, 5, sample.metadataBytes);
    appendVarint(out, body.size());
    out.append(body);
  }

  // The table index of `sample` (defining it when it is new or changed).
  std::uint32_t place(const ContainerSampleView& sample) {
    if (auto found = byId.find(sample.id); found != byId.end()) {
      const std::uint32_t index = found->second;
      Entry& entry = entries[index];
      if (entry.seen != generation) {
        if (entry.cgroup != sample.cgroup || entry.runtime != sample.runtime ||
            entry.metadata != sample.metadataBytes) {
          define(index, sample);
        }
        entry.seen = generation;
        return index;
      }
      // The id's second sample in one batch: the aggregator refuses such a batch, as it would in
      // version 1; it gets a slot of its own so the refusal says the same.
      const std::uint32_t twin = allocate();
      define(twin, sample);
      entries[twin].seen = generation;
      entries[twin].byId = false;
      return twin;
    }
    const std::uint32_t index = allocate();
    define(index, sample);
    entries[index].seen = generation;
    entries[index].byId = true;
    byId.emplace(entries[index].id, index);
    return index;
  }

  // Forgets the containers this batch did not name, as the decoder does.
  void sweep() {
    for (std::uint32_t index = 0; index < entries.size(); ++index) {
      Entry& entry = entries[index];
      if (!entry.inUse || entry.seen == generation) continue;
      if (entry.byId) byId.erase(entry.id);
      entry = Entry{};
      freeIndices.push(index);
    }
  }
};

CompactBatchEncoder::CompactBatchEncoder() : state_(std::make_unique<State>()) {}
CompactBatchEncoder::~CompactBatchEncoder() = default;

std::size_t CompactBatchEncoder::knownContainers() const {
  return static_cast<std::size_t>(std::count_if(state_->entries.begin(), state_->entries.end(),
                                                [](const auto& entry) { return entry.inUse; }));
}

Result<std::string> CompactBatchEncoder::encode(std::string_view v1Payload) {
  State& s = *state_;
  if (auto decoded = decodeBatchEnvelope(v1Payload, s.view, StringChecks::kDeferred);
      !decoded.ok()) {
    return Error{"not a version 1 batch: " + decoded.error};
  }
  if (s.view.compact) return Error{"not a version 1 batch: it is compact already"};
  // The batch's own fields other than its containers are copied as they are.
  std::string_view batchBytes;
  WireReader envelope(v1Payload);
  while (!envelope.done()) {
    std::uint32_t field = 0, wireType = 0;
    std::string_view bytes;
    if (!envelope.tag(field, wireType)) return Error{"not a version 1 batch: bad tag"};
    if (field == kEnvelopeBatch && wireType == kLengthDelimited && envelope.bytes(bytes)) {
      batchBytes = bytes;
    } else if (!envelope.skip(wireType)) {
      return Error{"not a version 1 batch: bad field"};
    }
  }
  s.batch.clear();
  WireReader in(batchBytes);
  while (!in.done()) {
    const char* start = in.position();
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType) || !in.skip(wireType)) {
      return Error{"not a version 1 batch: bad field"};
    }
    if (field != kBatchContainers) s.batch.append(start, in.position());
  }

  ++s.generation;
  s.definitions.clear();
  s.rows.clear();
  for (const ContainerSampleView& sample : s.view) {
    const std::uint32_t index = s.place(sample);
    appendRow(s.rows, index, s.entries[index].baseline, sample.metrics);
  }
  s.sweep();
  s.batch.append(s.definitions);
  appendBytesField(s.batch, kBatchSamples, s.rows);
  std::string payload;
  payload.reserve(s.batch.size() + 8);
  appendBytesField(payload, kEnvelopeCompactBatch, s.batch);
  // A connection's first batch defines every container and is many times the size of the rest:
  // an agent need not keep its room for as long as the connection lives.
  for (std::string* scratch : {&s.definitions, &s.batch}) {
    if (scratch->capacity() > 4 * scratch->size() + 4096) std::string().swap(*scratch);
  }
  return payload;
}

// ---------------------------------------------------------------------------------------------
// Decoder

struct CompactBatchDecoder::State {
  struct Entry {
    std::string id, cgroup, runtime, metadata;
    Baseline baseline;
    std::uint64_t defined = 0;  // the batch that last defined it
    std::uint64_t seen = 0;     // the batch that last named it in a row
    bool inUse = false;
  };
  std::vector<Entry> entries;
  std::size_t inUse = 0;
  std::uint64_t generation = 0;
};

namespace {

struct DecodeFailure {
  BatchDecodeStatus status;
  std::string error;
};

DecodeFailure undecodable(std::string message) {
  return {BatchDecodeStatus::kUndecodable, "compact batch: " + std::move(message)};
}
DecodeFailure invalid(std::string message) {
  return {BatchDecodeStatus::kInvalid, "compact batch: " + std::move(message)};
}

struct Definition {
  std::uint64_t index = 0;
  std::string_view id, cgroup, runtime, metadata;
};

std::optional<DecodeFailure> parseDefinition(std::string_view bytes, Definition& out) {
  WireReader in(bytes);
  std::uint32_t seen = 0;
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("definition: bad tag");
    if (field >= 1 && field <= 5) {
      if ((seen & (1u << field)) != 0) return undecodable("definition: a field occurs twice");
      seen |= 1u << field;
    }
    bool ok = true;
    switch (field) {
      case 1:
        ok = wireType == kVarint && in.varint(out.index);
        break;
      case 2:
        ok = wireType == kLengthDelimited && in.bytes(out.id);
        break;
      case 3:
        ok = wireType == kLengthDelimited && in.bytes(out.cgroup);
        break;
      case 4:
        ok = wireType == kLengthDelimited && in.bytes(out.runtime);
        break;
      case 5:
        ok = wireType == kLengthDelimited && in.bytes(out.metadata);
        break;
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("definition: field " + std::to_string(field) + " is malformed");
  }
  if (out.index >= kMaxContainerIndex) {
    return invalid("definition index " + std::to_string(out.index) + " is not below " +
                   std::to_string(kMaxContainerIndex));
  }
  return std::nullopt;
}

std::optional<DecodeFailure> readRowFields(WireReader& in, std::uint64_t mask, Baseline& baseline) {
  ContainerMetrics& m = baseline.last;
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if ((mask & (1ull << i)) == 0) continue;
    const Field& field = kFields[i];
    std::uint64_t raw = 0;
    if (!in.varint(raw)) return undecodable("truncated row");
    switch (field.encoding) {
      case Encoding::kScaled: {
        double& value = m.*field.real;
        if (raw == 0) {
          value = kAbsent;
        } else if (raw == 1) {
          std::uint64_t bits = 0;
          if (!in.fixed64(bits)) return undecodable("truncated row");
          value = std::bit_cast<double>(bits);
          if (std::isnan(value)) return invalid("a figure is NaN");
        } else {
          const std::int64_t delta = wire::unzigzag(raw - 2);
          if (delta > 2 * kMaxScaled || delta < -2 * kMaxScaled)
            return invalid("figure out of range");
          const std::int64_t units = baseline.units[i] + delta;
          if (units > kMaxScaled || units < -kMaxScaled) return invalid("figure out of range");
          baseline.units[i] = units;
          value = unscale(units, field.scale);
        }
        break;
      }
      case Encoding::kCount:
        m.*field.count += static_cast<std::uint64_t>(wire::unzigzag(raw));
        break;
      case Encoding::kOptionalCount: {
        auto& value = m.*field.optionalCount;
        if (raw > 1) return invalid("bad optional figure");
        if (raw == 0) {
          value.reset();
          break;
        }
        std::uint64_t delta = 0;
        if (!in.varint(delta)) return undecodable("truncated row");
        value = value.value_or(0) + static_cast<std::uint64_t>(wire::unzigzag(delta));
        break;
      }
    }
  }
  return std::nullopt;
}

BatchDecodeResult failed(DecodeFailure failure) {
  return {failure.status, std::move(failure.error)};
}

}  // namespace

CompactBatchDecoder::CompactBatchDecoder() : state_(std::make_unique<State>()) {}
CompactBatchDecoder::~CompactBatchDecoder() = default;

std::size_t CompactBatchDecoder::knownContainers() const { return state_->inUse; }

BatchDecodeResult CompactBatchDecoder::expand(BatchView& batch) {
  State& s = *state_;
  if (!batch.compact) return failed(invalid("a version 1 batch on a version 2 connection"));
  const std::uint64_t generation = ++s.generation;
  for (std::size_t i = 0; i < batch.definitionCount; ++i) {
    Definition definition;
    if (auto failure = parseDefinition(batch.definitions[i], definition)) {
      return failed(std::move(*failure));
    }
    const auto index = static_cast<std::size_t>(definition.index);
    // The encoder takes the lowest free index, so the table grows one slot at a time and its
    // size follows the containers defined, never a number a peer made up.
    if (index > s.entries.size()) {
      return failed(invalid("definition index " + std::to_string(index) + " skips unused ones"));
    }
    if (index == s.entries.size()) s.entries.emplace_back();
    State::Entry& entry = s.entries[index];
    if (entry.defined == generation) {
      return failed(invalid("index " + std::to_string(index) + " defined twice"));
    }
    if (!entry.inUse) ++s.inUse;
    entry.id.assign(definition.id);
    entry.cgroup.assign(definition.cgroup);
    entry.runtime.assign(definition.runtime);
    entry.metadata.assign(definition.metadata);
    entry.baseline = Baseline{};
    entry.defined = generation;
    entry.inUse = true;
  }

  batch.containerCount = 0;
  WireReader in(batch.compactSamples);
  while (!in.done()) {
    std::uint64_t index = 0, mask = 0;
    if (!in.varint(index) || !in.varint(mask)) return failed(undecodable("truncated row"));
    if (index >= s.entries.size() || !s.entries[index].inUse) {
      return failed(invalid("row for index " + std::to_string(index) + ", which is not defined"));
    }
    if ((mask & ~kAllFields) != 0) return failed(invalid("row with unknown figures"));
    State::Entry& entry = s.entries[index];
    if (entry.seen == generation) {
      return failed(invalid("index " + std::to_string(index) + " has two rows"));
    }
    entry.seen = generation;
    if (batch.containerCount >= static_cast<std::size_t>(kMaxContainersPerBatch)) {
      return failed(invalid("more than " + std::to_string(kMaxContainersPerBatch) + " containers"));
    }
    if (auto failure = readRowFields(in, mask, entry.baseline)) return failed(std::move(*failure));
    if (batch.containers.size() == batch.containerCount) batch.containers.emplace_back();
    ContainerSampleView& sample = batch.containers[batch.containerCount++];
    sample.id = entry.id;
    sample.cgroup = entry.cgroup;
    sample.runtime = entry.runtime;
    sample.metadataBytes = entry.metadata;
    sample.metrics = entry.baseline.last;
    sample.complete = false;
    if (auto checked = checkSampleFigures(sample); !checked.ok()) return checked;
  }
  for (State::Entry& entry : s.entries) {
    if (!entry.inUse || entry.seen == generation) continue;
    if (entry.defined == generation) return failed(invalid("a definition without a row"));
    entry = State::Entry{};  // gone from the node: both ends forget it
    --s.inUse;
  }
  if (auto bad = checkBatchRanges(batch)) {
    return {BatchDecodeStatus::kOutOfRange, "batch: " + bad->message};
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// zstd

namespace {

struct ZstdContexts {
  ZSTD_CCtx* compression = ZSTD_createCCtx();
  ZSTD_DCtx* decompression = ZSTD_createDCtx();
  ZstdContexts() = default;
  ZstdContexts(const ZstdContexts&) = delete;
  ZstdContexts& operator=(const ZstdContexts&) = delete;
  ~ZstdContexts() {
    ZSTD_freeCCtx(compression);
    ZSTD_freeDCtx(decompression);
  }
};

// Compression and decompression finish within one call, so a thread's calls can share contexts.
ZstdContexts& threadContexts() {
  thread_local ZstdContexts contexts;
  return contexts;
}

}  // namespace

std::string ZstdCompressor::wrap(std::string payload) {
  ZSTD_CCtx* context = threadContexts().compression;
  ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level_);
  ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0);
  std::string compressed(ZSTD_compressBound(payload.size()), '\0');
  const std::size_t size =
      ZSTD_compress2(context, compressed.data(), compressed.size(), payload.data(), payload.size());
  if (ZSTD_isError(size) || size + 8 >= payload.size()) return payload;
  compressed.resize(size);
  std::string out;
  out.reserve(size + 8);
  appendBytesField(out, kEnvelopeZstd, compressed);
  return out;
}

Result<std::string_view> ZstdDecompressor::unwrap(std::string_view payload, std::size_t maxBytes) {
  WireReader in(payload);
  std::uint32_t field = 0, wireType = 0;
  std::string_view compressed;
  if (!in.tag(field, wireType) || field != kEnvelopeZstd) return payload;
  if (wireType != kLengthDelimited || !in.bytes(compressed) || !in.done()) {
    return Error{"zstd envelope: malformed, or with other fields"};
  }
  const unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return Error{"zstd envelope: not a zstd frame"};
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) return Error{"zstd envelope: the frame states no size"};
  if (size > maxBytes) {
    return Error{"zstd envelope: " + std::to_string(size) + " bytes decompressed, above the " +
                 std::to_string(maxBytes) + "-byte frame limit"};
  }
  // A connection's first batch (every definition) is far larger than the ones after it: do not
  // keep its room for the connection's lifetime.
  if (buffer_.capacity() > std::max<std::size_t>(4 * size, 16 * 1024)) std::string().swap(buffer_);
  buffer_.resize(static_cast<std::size_t>(size));
  const std::size_t written =
      ZSTD_decompressDCtx(threadContexts().decompression, buffer_.data(), buffer_.size(),
                          compressed.data(), compressed.size());
  if (ZSTD_isError(written)) {
    return Error{std::string("zstd envelope: ") + ZSTD_getErrorName(written)};
  }
  if (written != size) return Error{"zstd envelope: shorter than the frame states"};
  return std::string_view(buffer_);
}

}  // namespace fleetscale
