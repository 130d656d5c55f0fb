#include "fleetscale/shared/batch_view.h"

#include <bit>
#include <cstring>
#include <initializer_list>

#include "fleetscale/shared/batch_ranges.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/text.h"
#include "wire_format.h"

namespace fleetscale {
namespace {

using wire::kFixed64;
using wire::kLengthDelimited;
using wire::kVarint;
using wire::WireReader;

// Outcome of decoding one message; `error` empty means success.
struct Failure {
  BatchDecodeStatus status = BatchDecodeStatus::kOk;
  std::string error;
  explicit operator bool() const { return status != BatchDecodeStatus::kOk; }
};

Failure undecodable(std::string message) {
  return Failure{BatchDecodeStatus::kUndecodable, std::move(message)};
}
Failure invalid(std::string message) {
  return Failure{BatchDecodeStatus::kInvalid, std::move(message)};
}
Failure outOfRange(std::string message) {
  return Failure{BatchDecodeStatus::kOutOfRange, std::move(message)};
}

// Field readers: check the wire type, then read. They return false on a malformed field.
// NaN on the wire is noted in `sawNaN`: NaN is how absent figures are held, so a NaN that was
// sent must be refused, not mistaken for absence.
bool readDouble(WireReader& in, std::uint32_t wireType, double& out, bool& sawNaN) {
  std::uint64_t raw = 0;
  if (wireType != kFixed64 || !in.fixed64(raw)) return false;
  out = std::bit_cast<double>(raw);
  if (std::isnan(out)) sawNaN = true;
  return true;
}

bool readUint64(WireReader& in, std::uint32_t wireType, std::uint64_t& out) {
  return wireType == kVarint && in.varint(out);
}

bool readInt64(WireReader& in, std::uint32_t wireType, std::int64_t& out) {
  std::uint64_t raw = 0;
  if (!readUint64(in, wireType, raw)) return false;
  out = static_cast<std::int64_t>(raw);
  return true;
}

// UTF-8 is checked apart (completeContainer), so strings unchanged since the last tick need not be.
bool readString(WireReader& in, std::uint32_t wireType, std::string_view& out) {
  return wireType == kLengthDelimited && in.bytes(out);
}

bool finiteNonNegative(double value) {
  return !isPresent(value) || (std::isfinite(value) && value >= 0);
}

bool identifierFits(std::string_view value) { return value.size() <= kMaxIdentifierBytes; }

// Protobuf checks every occurrence of a string field for UTF-8 and keeps the last; this decoder
// checks only the value it keeps, so it refuses a string field that occurs twice (no encoder
// writes one). `known` has a bit per string field number of the message.
bool firstOccurrence(std::uint32_t field, std::uint32_t wireType, std::uint64_t known,
                     std::uint64_t& seen) {
  if (wireType != kLengthDelimited || field >= 64 || (known & (1ull << field)) == 0) return true;
  if ((seen & (1ull << field)) != 0) return false;
  seen |= 1ull << field;
  return true;
}

constexpr std::uint64_t fieldBits(std::initializer_list<int> fields) {
  std::uint64_t bits = 0;
  for (int field : fields) bits |= 1ull << field;
  return bits;
}

constexpr std::uint64_t kMetadataStringFields = fieldBits({1, 2, 3, 4, 5, 6, 14, 15, 16});
constexpr std::uint64_t kContainerStringFields = fieldBits({1, 2, 3});

std::string tooLong(std::string_view what) {
  return std::string(what) + " longer than " + std::to_string(kMaxIdentifierBytes) + " bytes";
}

Failure decodeMetadata(std::string_view bytes, ContainerMetadataView& out) {
  out = ContainerMetadataView{};
  std::uint64_t seenStrings = 0;
  bool sawNaN = false;
  WireReader in(bytes);
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("metadata: bad tag");
    if (!firstOccurrence(field, wireType, kMetadataStringFields, seenStrings)) {
      return undecodable("metadata: field " + std::to_string(field) + " occurs twice");
    }
    bool ok = true;
    std::uint64_t number = 0;
    switch (field) {
      case 1:
        ok = readString(in, wireType, out.pod);
        break;
      case 2:
        ok = readString(in, wireType, out.podUid);
        break;
      case 3:
        ok = readString(in, wireType, out.namespaceName);
        break;
      case 4:
        ok = readString(in, wireType, out.container);
        break;
      case 5:
        ok = readString(in, wireType, out.workloadKind);
        break;
      case 6:
        ok = readString(in, wireType, out.workload);
        break;
      case 7:
        ok = readDouble(in, wireType, out.cpuRequestCores, sawNaN);
        break;
      case 8:
        ok = readUint64(in, wireType, number);
        out.memoryRequestBytes = number;
        break;
      case 9:
        ok = readDouble(in, wireType, out.cpuLimitCores, sawNaN);
        break;
      case 10:
        ok = readUint64(in, wireType, number);
        out.memoryLimitBytes = number;
        break;
      case 11:
        ok = readUint64(in, wireType, number);
        out.ready = number != 0;
        break;
      case 12:
        ok = readUint64(in, wireType, number);
        out.restartCount = static_cast<std::uint32_t>(number);
        break;
      case 13:
        ok = readInt64(in, wireType, out.startTimeUnixMs);
        break;
      case 14:
        ok = readString(in, wireType, out.podPhase);
        break;
      case 15:
        ok = readString(in, wireType, out.qosClass);
        break;
      case 16:
        ok = readString(in, wireType, out.image);
        break;
      case 17:
        ok = readInt64(in, wireType, out.podReadyTimeUnixMs);
        break;
      case 18:
        ok = readInt64(in, wireType, out.deletionUnixMs);
        break;
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("metadata: field " + std::to_string(field) + " is malformed");
  }
  if (sawNaN) return invalid("metadata: a figure is NaN");
  for (std::string_view text :
       {out.pod, out.podUid, out.namespaceName, out.container, out.workloadKind, out.workload,
        out.podPhase, out.qosClass, out.image}) {
    if (!isValidUtf8(text)) return undecodable("metadata: string field is not UTF-8");
    if (!identifierFits(text)) return invalid(tooLong("metadata field"));
  }
  if (!finiteNonNegative(out.cpuRequestCores) || !finiteNonNegative(out.cpuLimitCores)) {
    return invalid("metadata: CPU figure is negative or not finite");
  }
  if (auto bad = checkMetadataRanges(out)) return outOfRange(std::move(bad->message));
  return {};
}

// The string checks and metadata decoding that StringChecks::kDeferred postpones.
Failure completeContainer(ContainerSampleView& out) {
  if (!isValidUtf8(out.id) || !isValidUtf8(out.cgroup) || !isValidUtf8(out.runtime)) {
    return undecodable("container: string field is not UTF-8");
  }
  if (Failure failure = decodeMetadata(out.metadataBytes, out.metadata)) {
    failure.error = "container " + std::string(out.id.substr(0, 64)) + ": " + failure.error;
    return failure;
  }
  out.complete = true;
  return {};
}

// The rules every sample meets whatever its encoding: an id, bounded identity strings, finite
// non-negative CPU and pressure figures. A sent NaN is refused before (it would read as absent).
Failure checkFigures(const ContainerSampleView& out) {
  if (out.id.empty()) return invalid("container id empty");
  if (!identifierFits(out.id) || !identifierFits(out.cgroup) || !identifierFits(out.runtime)) {
    return invalid(tooLong("container id, cgroup or runtime"));
  }
  const ContainerMetrics& m = out.metrics;
  for (double value :
       {m.cpuCores, m.cpuUserCores, m.cpuSystemCores, m.cpuThrottledPeriodsPerSecond,
        m.cpuThrottledSecondsPerSecond, m.cpuLimitCores, m.cpuPressureSomeTotalUs,
        m.cpuPressureFullTotalUs, m.memoryPressureSomeTotalUs, m.memoryPressureFullTotalUs}) {
    if (!finiteNonNegative(value)) {
      return invalid("container " + std::string(out.id.substr(0, 64)) +
                     ": CPU or pressure figure is negative or not finite");
    }
  }
  return {};
}

Failure decodeContainer(std::string_view bytes, ContainerSampleView& out, StringChecks checks) {
  out.id = out.cgroup = out.runtime = out.metadataBytes = {};
  out.metrics = ContainerMetrics{};
  out.complete = false;
  bool sawMetadata = false;
  std::uint64_t seenStrings = 0;
  bool sawNaN = false;
  WireReader in(bytes);
  auto& m = out.metrics;
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("container: bad tag");
    if (!firstOccurrence(field, wireType, kContainerStringFields, seenStrings)) {
      return undecodable("container: field " + std::to_string(field) + " occurs twice");
    }
    bool ok = true;
    std::uint64_t number = 0;
    switch (field) {
      case 1:
        ok = readString(in, wireType, out.id);
        break;
      case 2:
        ok = readString(in, wireType, out.cgroup);
        break;
      case 3:
        ok = readString(in, wireType, out.runtime);
        break;
      case 4:
        if (sawMetadata) return undecodable("container: metadata occurs twice");
        sawMetadata = true;
        ok = wireType == kLengthDelimited && in.bytes(out.metadataBytes);
        break;
      case 10:
        ok = readDouble(in, wireType, m.cpuCores, sawNaN);
        break;
      case 11:
        ok = readDouble(in, wireType, m.cpuUserCores, sawNaN);
        break;
      case 12:
        ok = readDouble(in, wireType, m.cpuSystemCores, sawNaN);
        break;
      case 13:
        ok = readUint64(in, wireType, m.cpuUsageNsTotal);
        break;
      case 14:
        ok = readDouble(in, wireType, m.cpuThrottledPeriodsPerSecond, sawNaN);
        break;
      case 15:
        ok = readDouble(in, wireType, m.cpuThrottledSecondsPerSecond, sawNaN);
        break;
      case 16:
        ok = readDouble(in, wireType, m.cpuLimitCores, sawNaN);
        break;
      case 17:
        ok = readUint64(in, wireType, m.cpuWeight);
        break;
      case 20:
        ok = readUint64(in, wireType, m.memoryUsageBytes);
        break;
      case 21:
        ok = readUint64(in, wireType, m.memoryWorkingSetBytes);
        break;
      case 22:
        ok = readUint64(in, wireType, m.memoryRssBytes);
        break;
      case 23:
        ok = readUint64(in, wireType, number);
        m.memoryLimitBytes = number;
        break;
      case 24:
        ok = readUint64(in, wireType, m.oomKillsTotal);
        break;
      case 30:
        ok = readDouble(in, wireType, m.cpuPressureSomeTotalUs, sawNaN);
        break;
      case 31:
        ok = readDouble(in, wireType, m.cpuPressureFullTotalUs, sawNaN);
        break;
      case 32:
        ok = readDouble(in, wireType, m.memoryPressureSomeTotalUs, sawNaN);
        break;
      case 33:
        ok = readDouble(in, wireType, m.memoryPressureFullTotalUs, sawNaN);
        break;
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("container: field " + std::to_string(field) + " is malformed");
  }
  if (sawNaN && !out.id.empty()) {
    return invalid("container " + std::string(out.id.substr(0, 64)) + ": a figure is NaN");
  }
  if (Failure failure = checkFigures(out)) return failure;
  return checks == StringChecks::kNow ? completeContainer(out) : Failure{};
}

Failure decodeNode(std::string_view bytes, NodeTotalsView& out) {
  out = NodeTotalsView{};
  bool sawNaN = false;
  WireReader in(bytes);
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("node: bad tag");
    bool ok = true;
    switch (field) {
      case 1:
        ok = readDouble(in, wireType, out.cpuCapacityCores, sawNaN);
        break;
      case 2:
        ok = readUint64(in, wireType, out.memoryCapacityBytes);
        break;
      case 3:
        ok = readDouble(in, wireType, out.cpuUsageCores, sawNaN);
        break;
      case 4:
        ok = readUint64(in, wireType, out.memoryUsageBytes);
        break;
      case 5:
        ok = readDouble(in, wireType, out.cpuAllocatableCores, sawNaN);
        break;
      case 6:
        ok = readUint64(in, wireType, out.memoryAllocatableBytes);
        break;
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("node: field " + std::to_string(field) + " is malformed");
  }
  if (sawNaN) return invalid("node: a figure is NaN");
  return {};
}

// A pod series' strings are few and change every tick, so they are checked at once.
Failure decodePodSeries(std::string_view bytes, PodSeriesView& out) {
  out.name = {};
  out.labels.clear();
  out.value = 0;
  bool sawName = false;
  WireReader in(bytes);
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("series: bad tag");
    bool ok = true;
    bool sawNaN = false;
    switch (field) {
      case 1:
        if (sawName) return undecodable("series: name occurs twice");
        sawName = true;
        ok = readString(in, wireType, out.name);
        break;
      case 2: {
        std::string_view label;
        ok = readString(in, wireType, label);
        if (ok && out.labels.size() >= static_cast<std::size_t>(kMaxLabelsPerSeries)) {
          return invalid("series: more than " + std::to_string(kMaxLabelsPerSeries / 2) +
                         " labels");
        }
        if (ok) out.labels.push_back(label);
        break;
      }
      case 3:
        ok = readDouble(in, wireType, out.value, sawNaN);
        if (sawNaN) return invalid("series: value is NaN");
        break;
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("series: field " + std::to_string(field) + " is malformed");
  }
  // Not UTF-8 is undecodable, as for protobuf, which refuses such a string field.
  if (!isValidUtf8(out.name)) return undecodable("series: name is not UTF-8");
  if (out.name.empty() || !identifierFits(out.name))
    return invalid("series: name empty or too long");
  if (!std::isfinite(out.value)) return invalid("series " + std::string(out.name) + ": value");
  if (out.labels.size() % 2 != 0) {
    return invalid("series " + std::string(out.name) + ": a label without a value");
  }
  for (std::size_t i = 0; i < out.labels.size(); ++i) {
    if (!isValidUtf8(out.labels[i])) return undecodable("series: label is not UTF-8");
    if (!identifierFits(out.labels[i])) {
      return invalid("series " + std::string(out.name) + ": label too long");
    }
    if (i % 2 == 0 && i >= 2 && !(out.labels[i - 2] < out.labels[i])) {
      return invalid("series " + std::string(out.name) + ": label names not sorted and unique");
    }
  }
  return {};
}

Failure decodePodMetrics(std::string_view bytes, PodMetricsView& out) {
  out.podUid = {};
  out.scrapedUnixMs = 0;
  out.seriesCount = 0;
  bool sawUid = false;
  WireReader in(bytes);
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("pod metrics: bad tag");
    bool ok = true;
    switch (field) {
      case 1:
        if (sawUid) return undecodable("pod metrics: pod_uid occurs twice");
        sawUid = true;
        ok = readString(in, wireType, out.podUid);
        break;
      case 2:
        ok = readInt64(in, wireType, out.scrapedUnixMs);
        break;
      case 3: {
        std::string_view nested;
        if (wireType != kLengthDelimited || !in.bytes(nested)) {
          return undecodable("pod metrics: bad series");
        }
        if (out.seriesCount >= static_cast<std::size_t>(kMaxSeriesPerPod)) {
          return invalid("pod metrics: more than " + std::to_string(kMaxSeriesPerPod) + " series");
        }
        if (out.series.size() == out.seriesCount) out.series.emplace_back();
        if (Failure failure = decodePodSeries(nested, out.series[out.seriesCount])) {
          return failure;
        }
        ++out.seriesCount;
        break;
      }
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("pod metrics: field " + std::to_string(field) + " is malformed");
  }
  if (!isValidUtf8(out.podUid)) return undecodable("pod metrics: pod_uid is not UTF-8");
  if (out.scrapedUnixMs < 0 || out.scrapedUnixMs > kMaxUnixMs) {
    return outOfRange("pod metrics: scraped_unix_ms " + std::to_string(out.scrapedUnixMs));
  }
  if (out.podUid.empty() || !identifierFits(out.podUid)) {
    return invalid("pod metrics: pod_uid empty or too long");
  }
  return {};
}

Failure decodeBatch(std::string_view bytes, BatchView& out, StringChecks checks) {
  out.sequence = 0;
  out.timestampUnixMs = 0;
  out.intervalSeconds = 0;
  out.node = NodeTotalsView{};
  out.containerCount = 0;
  out.pendingPodCount = 0;
  out.podMetricsCount = 0;
  out.definitionCount = 0;
  out.compactSamples = {};
  bool sawNode = false;
  bool sawSamples = false;
  bool sawNaN = false;
  WireReader in(bytes);
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return undecodable("batch: bad tag");
    bool ok = true;
    std::string_view nested;
    switch (field) {
      case 1:
        ok = readUint64(in, wireType, out.sequence);
        break;
      case 2:
        ok = readInt64(in, wireType, out.timestampUnixMs);
        break;
      case 3:
        if (sawNode) return undecodable("batch: node occurs twice");
        sawNode = true;
        if (wireType != kLengthDelimited || !in.bytes(nested))
          return undecodable("batch: bad node");
        if (Failure failure = decodeNode(nested, out.node)) return failure;
        break;
      case 4: {
        if (wireType != kLengthDelimited || !in.bytes(nested)) {
          return undecodable("batch: bad container");
        }
        if (out.containerCount >= static_cast<std::size_t>(kMaxContainersPerBatch)) {
          return invalid("batch: more than " + std::to_string(kMaxContainersPerBatch) +
                         " containers");
        }
        if (out.containers.size() == out.containerCount) out.containers.emplace_back();
        if (Failure failure = decodeContainer(nested, out.containers[out.containerCount], checks)) {
          failure.error = "batch: " + failure.error;
          return failure;
        }
        ++out.containerCount;
        break;
      }
      case 5:
        ok = readDouble(in, wireType, out.intervalSeconds, sawNaN);
        break;
      case 6: {
        if (wireType != kLengthDelimited || !in.bytes(nested)) {
          return undecodable("batch: bad pending pod");
        }
        if (out.pendingPodCount >= static_cast<std::size_t>(kMaxPendingPodsPerBatch)) {
          return invalid("batch: more than " + std::to_string(kMaxPendingPodsPerBatch) +
                         " pending pods");
        }
        if (out.pendingPods.size() == out.pendingPodCount) out.pendingPods.emplace_back();
        if (Failure failure = decodeMetadata(nested, out.pendingPods[out.pendingPodCount])) {
          failure.error = "batch: pending pod: " + failure.error;
          return failure;
        }
        ++out.pendingPodCount;
        break;
      }
      case 7: {
        if (wireType != kLengthDelimited || !in.bytes(nested)) {
          return undecodable("batch: bad pod metrics");
        }
        if (out.podMetricsCount >= static_cast<std::size_t>(kMaxScrapedPodsPerBatch)) {
          return invalid("batch: more than " + std::to_string(kMaxScrapedPodsPerBatch) +
                         " pods with metrics");
        }
        if (out.podMetrics.size() == out.podMetricsCount) out.podMetrics.emplace_back();
        if (Failure failure = decodePodMetrics(nested, out.podMetrics[out.podMetricsCount])) {
          failure.error = "batch: " + failure.error;
          return failure;
        }
        ++out.podMetricsCount;
        break;
      }
      case 8:
        if (!out.compact) return invalid("batch: definitions outside a compact batch");
        if (wireType != kLengthDelimited || !in.bytes(nested)) {
          return undecodable("batch: bad definition");
        }
        if (out.definitionCount >= static_cast<std::size_t>(kMaxContainersPerBatch)) {
          return invalid("batch: more than " + std::to_string(kMaxContainersPerBatch) +
                         " definitions");
        }
        if (out.definitions.size() == out.definitionCount) out.definitions.emplace_back();
        out.definitions[out.definitionCount++] = nested;
        break;
      case 9:
        if (!out.compact) return invalid("batch: compact samples outside a compact batch");
        if (sawSamples) return undecodable("batch: samples occur twice");
        sawSamples = true;
        ok = wireType == kLengthDelimited && in.bytes(out.compactSamples);
        break;
      default:
        ok = in.skip(wireType);
        break;
    }
    if (!ok) return undecodable("batch: field " + std::to_string(field) + " is malformed");
  }
  if (out.compact && out.containerCount > 0) {
    return invalid("batch: a compact batch sends containers as definitions and samples");
  }
  if (out.sequence == 0) return invalid("batch: sequence must start at 1");
  if (sawNaN) return invalid("batch: interval is NaN");
  const auto& n = out.node;
  if (!finiteNonNegative(n.cpuUsageCores) || !finiteNonNegative(n.cpuCapacityCores) ||
      !finiteNonNegative(n.cpuAllocatableCores) || !finiteNonNegative(out.intervalSeconds)) {
    return invalid("batch: node figure or interval is negative or not finite");
  }
  if (auto bad = checkBatchRanges(out)) return outOfRange("batch: " + bad->message);
  return {};
}

}  // namespace

bool isValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // ASCII fast path, eight bytes at a time.
    if (end - p >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const std::size_t length = utf8SequenceLength(p, end);
    if (length == 0) return false;
    p += length;
  }
  return true;
}

BatchDecodeResult checkSampleFigures(const ContainerSampleView& sample) {
  Failure failure = checkFigures(sample);
  return {failure.status, std::move(failure.error)};
}

BatchDecodeResult completeSample(ContainerSampleView& sample) {
  if (sample.complete) return {};
  Failure failure = completeContainer(sample);
  return {failure.status, std::move(failure.error)};
}

BatchDecodeResult decodeBatchEnvelope(std::string_view payload, BatchView& out,
                                      StringChecks checks) {
  WireReader in(payload);
  bool sawBatch = false;
  while (!in.done()) {
    std::uint32_t field = 0, wireType = 0;
    if (!in.tag(field, wireType)) return {BatchDecodeStatus::kUndecodable, "envelope: bad tag"};
    if (field >= 1 && field <= 7 && field != 3 && field != 6) {
      // Another body (hello, ack, a compressed envelope...): the caller decodes it and decides.
      return {BatchDecodeStatus::kNotABatch, "envelope does not hold a batch"};
    }
    if (field != 3 && field != 6) {
      if (!in.skip(wireType)) return {BatchDecodeStatus::kUndecodable, "envelope: bad field"};
      continue;
    }
    std::string_view bytes;
    if (sawBatch || wireType != kLengthDelimited || !in.bytes(bytes)) {
      return {BatchDecodeStatus::kUndecodable, "envelope: malformed or repeated batch"};
    }
    sawBatch = true;
    out.compact = field == 6;
    if (Failure failure = decodeBatch(bytes, out, checks))
      return {failure.status, std::move(failure.error)};
  }
  if (!sawBatch) return {BatchDecodeStatus::kUndecodable, "envelope has no body"};
  return {};
}

}  // namespace fleetscale
