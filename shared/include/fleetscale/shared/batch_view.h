// A lean, zero-copy decoder for the aggregator's hot path: reads an Envelope{batch} payload
// straight from the protobuf wire format into views that point into the payload, validating as
// it goes (the same rules as validateBatch, plus UTF-8 in every string field, plus the figures'
// ranges of batch_ranges.h). Full protobuf
// parsing costs about 1 us per container-sample, mostly allocating strings we would copy again;
// this decoder allocates nothing once its vectors have grown.
//
// It accepts a subset of what protobuf accepts: a non-repeated message or string field that
// occurs twice (protobuf would merge the messages, and check every string before keeping the
// last), groups, and known field numbers with the wrong wire type are rejected as undecodable. No
// conforming encoder produces them. Everything this decoder accepts, protobuf parses to the same
// values (the fuzz target checks that).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale {

// Absent optional doubles are NaN: validation guarantees that present values are finite.
inline constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
inline bool isPresent(double value) { return !std::isnan(value); }

// What the kubelet (or container engine) says about a container; views into the payload.
struct ContainerMetadataView {
  std::string_view pod, podUid, namespaceName, container, workloadKind, workload, podPhase,
      qosClass, image;
  double cpuRequestCores = kAbsent;
  double cpuLimitCores = kAbsent;
  std::optional<std::uint64_t> memoryRequestBytes;
  std::optional<std::uint64_t> memoryLimitBytes;
  std::optional<bool> ready;
  std::uint32_t restartCount = 0;
  std::int64_t startTimeUnixMs = 0;
  std::int64_t podReadyTimeUnixMs = 0;
  std::int64_t deletionUnixMs = 0;  // 0: the pod is not being deleted
};

// One container's figures for one tick (ContainerSample fields 10..33). Plain values, so the
// aggregator can keep them per container without conversion.
struct ContainerMetrics {
  double cpuCores = kAbsent;
  double cpuUserCores = kAbsent;
  double cpuSystemCores = kAbsent;
  double cpuThrottledPeriodsPerSecond = kAbsent;
  double cpuThrottledSecondsPerSecond = kAbsent;
  double cpuLimitCores = kAbsent;
  double cpuPressureSomeTotalUs = kAbsent;
  double cpuPressureFullTotalUs = kAbsent;
  double memoryPressureSomeTotalUs = kAbsent;
  double memoryPressureFullTotalUs = kAbsent;
  std::uint64_t cpuUsageNsTotal = 0;
  std::uint64_t cpuWeight = 0;
  std::uint64_t memoryUsageBytes = 0;
  std::uint64_t memoryWorkingSetBytes = 0;
  std::uint64_t memoryRssBytes = 0;
  std::uint64_t oomKillsTotal = 0;
  std::optional<std::uint64_t> memoryLimitBytes;
};

struct ContainerSampleView {
  std::string_view id, cgroup, runtime;
  std::string_view metadataBytes;  // the serialized ContainerMetadata, "" when absent
  ContainerMetadataView metadata;  // decoded from metadataBytes once `complete`
  ContainerMetrics metrics;
  // Strings checked (UTF-8) and metadata decoded. False only after a kDeferred decode, until
  // completeSample() runs.
  bool complete = false;
};

struct NodeTotalsView {
  double cpuCapacityCores = 0;
  double cpuUsageCores = kAbsent;
  double cpuAllocatableCores = 0;
  std::uint64_t memoryCapacityBytes = 0;
  std::uint64_t memoryUsageBytes = 0;
  std::uint64_t memoryAllocatableBytes = 0;
};

// A series a pod serves (SampleBatch.pod_metrics); views into the payload.
struct PodSeriesView {
  std::string_view name;
  std::vector<std::string_view> labels;  // name, value, name, value, ...: names sorted, unique
  double value = 0;                      // finite
};

struct PodMetricsView {
  std::string_view podUid;
  std::int64_t scrapedUnixMs = 0;
  std::vector<PodSeriesView> series;
  std::size_t seriesCount = 0;  // series[0, seriesCount) are this pod's
};

// A decoded batch. Views are valid while the payload it was decoded from is alive. Reuse one
// per connection: decoding clears it but keeps the capacity of `containers`.
struct BatchView {
  std::uint64_t sequence = 0;
  std::int64_t timestampUnixMs = 0;
  double intervalSeconds = 0;
  NodeTotalsView node;
  std::vector<ContainerSampleView> containers;
  std::size_t containerCount = 0;  // containers[0, containerCount) are this batch's
  // Pods in phase Pending with no container started (SampleBatch.pending_pods), decoded at once.
  std::vector<ContainerMetadataView> pendingPods;
  std::size_t pendingPodCount = 0;  // pendingPods[0, pendingPodCount) are this batch's
  // Pods' own series (SampleBatch.pod_metrics), decoded and checked at once.
  std::vector<PodMetricsView> podMetrics;
  std::size_t podMetricsCount = 0;  // podMetrics[0, podMetricsCount) are this batch's
  // Protocol version 2 (Envelope.compact_batch): the containers arrive as definitions and compact
  // samples, and `containers` is empty until a CompactBatchDecoder expands them.
  bool compact = false;
  std::vector<std::string_view> definitions;  // serialized ContainerDefinition messages
  std::size_t definitionCount = 0;            // definitions[0, definitionCount) are this batch's
  std::string_view compactSamples;

  const ContainerSampleView* begin() const { return containers.data(); }
  const ContainerSampleView* end() const { return containers.data() + containerCount; }
};

enum class BatchDecodeStatus {
  kOk,
  kNotABatch,    // a well-formed envelope whose body is not a batch: decode it with protobuf
  kUndecodable,  // not protobuf, truncated, or a shape this decoder rejects
  kInvalid,      // decodes, but breaks the validation rules (sequence 0, NaN, ...)
  kOutOfRange,   // decodes and is valid, but a figure lies outside its range (batch_ranges.h)
};

struct BatchDecodeResult {
  BatchDecodeStatus status = BatchDecodeStatus::kOk;
  std::string error;  // set unless kOk
  bool ok() const { return status == BatchDecodeStatus::kOk; }
};

// kNow checks every string and decodes every container's metadata while decoding. kDeferred
// leaves both to completeSample(), for a caller that already holds most containers' identity
// and metadata bytes from the previous tick (already checked) and only needs the changed ones:
// structure, sizes and figures are still checked at once.
enum class StringChecks { kNow, kDeferred };

// Decodes one frame payload (a serialized Envelope) expected to hold a SampleBatch, in its
// version 1 (Envelope.batch) or version 2 (Envelope.compact_batch, sets `compact`) form.
BatchDecodeResult decodeBatchEnvelope(std::string_view payload, BatchView& out,
                                      StringChecks checks = StringChecks::kNow);

// The rules a sample's figures and identity sizes must meet however they were encoded (an id,
// bounded identity strings, finite non-negative CPU and pressure figures).
BatchDecodeResult checkSampleFigures(const ContainerSampleView& sample);

// Finishes a sample decoded with kDeferred: checks its strings and decodes its metadata. A
// failure makes the whole batch invalid or undecodable, as its status says.
BatchDecodeResult completeSample(ContainerSampleView& sample);

// True when `text` is well-formed UTF-8 (what protobuf requires of proto3 string fields).
bool isValidUtf8(std::string_view text);

}  // namespace fleetscale
