#include "fleetscale/shared/protocol.h"

#include <cmath>

#include "fleetscale/shared/batch_ranges.h"
#include "fleetscale/shared/framing.h"

namespace fleetscale {
namespace {

bool validIdentifier(const std::string& value, bool required) {
  if (required && value.empty()) return false;
  return value.size() <= kMaxIdentifierBytes;
}

bool validRate(bool present, double value) {
  return !present || (std::isfinite(value) && value >= 0.0);
}

bool validMetadataStrings(const v1::ContainerMetadata& meta) {
  for (const std::string* field :
       {&meta.pod(), &meta.pod_uid(), &meta.namespace_(), &meta.container(), &meta.workload_kind(),
        &meta.workload(), &meta.pod_phase(), &meta.qos_class(), &meta.image()}) {
    if (!validIdentifier(*field, false)) return false;
  }
  return true;
}

Status checkPendingPod(const v1::ContainerMetadata& pod) {
  if (!validMetadataStrings(pod)) return Error{"pending pod: metadata field too long"};
  if (!validRate(pod.has_cpu_request_cores(), pod.cpu_request_cores()) ||
      !validRate(pod.has_cpu_limit_cores(), pod.cpu_limit_cores())) {
    return Error{"pending pod " + pod.pod() + ": CPU figure is negative or not finite"};
  }
  return {};
}

Status checkPodMetrics(const v1::PodMetrics& pod) {
  if (!validIdentifier(pod.pod_uid(), true)) return Error{"pod metrics: pod_uid empty or too long"};
  if (pod.scraped_unix_ms() < 0 || pod.scraped_unix_ms() > kMaxUnixMs) {
    return Error{"pod metrics: scraped_unix_ms " + std::to_string(pod.scraped_unix_ms())};
  }
  if (pod.series_size() > kMaxSeriesPerPod) {
    return Error{"pod metrics: more than " + std::to_string(kMaxSeriesPerPod) + " series"};
  }
  for (const auto& series : pod.series()) {
    if (!validIdentifier(series.name(), true)) return Error{"series: name empty or too long"};
    if (!std::isfinite(series.value())) return Error{"series " + series.name() + ": value"};
    if (series.labels_size() > kMaxLabelsPerSeries || series.labels_size() % 2 != 0) {
      return Error{"series " + series.name() + ": too many labels or a label without a value"};
    }
    for (int i = 0; i < series.labels_size(); ++i) {
      if (!validIdentifier(series.labels(i), false)) {
        return Error{"series " + series.name() + ": label too long"};
      }
      if (i % 2 == 0 && i >= 2 && !(series.labels(i - 2) < series.labels(i))) {
        return Error{"series " + series.name() + ": label names not sorted and unique"};
      }
    }
  }
  return {};
}

Status checkContainer(const v1::ContainerSample& sample) {
  if (!validIdentifier(sample.id(), true)) return Error{"container id empty or too long"};
  if (!validIdentifier(sample.cgroup(), false) || !validIdentifier(sample.runtime(), false)) {
    return Error{"container " + sample.id() + ": cgroup or runtime too long"};
  }
  const auto& meta = sample.metadata();
  if (!validMetadataStrings(meta)) {
    return Error{"container " + sample.id() + ": metadata field too long"};
  }
  if (!validRate(sample.has_cpu_cores(), sample.cpu_cores()) ||
      !validRate(sample.has_cpu_user_cores(), sample.cpu_user_cores()) ||
      !validRate(sample.has_cpu_system_cores(), sample.cpu_system_cores()) ||
      !validRate(sample.has_cpu_throttled_periods_per_second(),
                 sample.cpu_throttled_periods_per_second()) ||
      !validRate(sample.has_cpu_throttled_seconds_per_second(),
                 sample.cpu_throttled_seconds_per_second()) ||
      !validRate(sample.has_cpu_limit_cores(), sample.cpu_limit_cores()) ||
      !validRate(sample.has_cpu_pressure_some_total_us(), sample.cpu_pressure_some_total_us()) ||
      !validRate(sample.has_cpu_pressure_full_total_us(), sample.cpu_pressure_full_total_us()) ||
      !validRate(sample.has_memory_pressure_some_total_us(),
                 sample.memory_pressure_some_total_us()) ||
      !validRate(sample.has_memory_pressure_full_total_us(),
                 sample.memory_pressure_full_total_us()) ||
      !validRate(meta.has_cpu_request_cores(), meta.cpu_request_cores()) ||
      !validRate(meta.has_cpu_limit_cores(), meta.cpu_limit_cores())) {
    return Error{"container " + sample.id() + ": CPU or pressure figure is negative or not finite"};
  }
  return {};
}

double optionalDouble(bool present, double value) { return present ? value : kAbsent; }

ContainerMetadataView metadataFiguresOf(const v1::ContainerMetadata& md) {
  ContainerMetadataView meta;
  meta.cpuRequestCores = optionalDouble(md.has_cpu_request_cores(), md.cpu_request_cores());
  meta.cpuLimitCores = optionalDouble(md.has_cpu_limit_cores(), md.cpu_limit_cores());
  if (md.has_memory_request_bytes()) meta.memoryRequestBytes = md.memory_request_bytes();
  if (md.has_memory_limit_bytes()) meta.memoryLimitBytes = md.memory_limit_bytes();
  meta.startTimeUnixMs = md.start_time_unix_ms();
  meta.podReadyTimeUnixMs = md.pod_ready_time_unix_ms();
  meta.deletionUnixMs = md.deletion_unix_ms();
  return meta;
}

// The figures of a protobuf batch in the lean decoder's types, for the shared range checks.
// Strings are left out: the views would not outlive the call's temporaries.
BatchView figuresOf(const v1::SampleBatch& batch) {
  BatchView view;
  view.sequence = batch.sequence();
  view.timestampUnixMs = batch.timestamp_unix_ms();
  view.intervalSeconds = batch.interval_seconds();
  const auto& n = batch.node();
  view.node.cpuCapacityCores = n.cpu_capacity_cores();
  view.node.cpuUsageCores = optionalDouble(n.has_cpu_usage_cores(), n.cpu_usage_cores());
  view.node.cpuAllocatableCores = n.cpu_allocatable_cores();
  view.node.memoryCapacityBytes = n.memory_capacity_bytes();
  view.node.memoryUsageBytes = n.memory_usage_bytes();
  view.node.memoryAllocatableBytes = n.memory_allocatable_bytes();
  for (const auto& c : batch.containers()) {
    ContainerMetrics& m = view.containers.emplace_back().metrics;
    m.cpuCores = optionalDouble(c.has_cpu_cores(), c.cpu_cores());
    m.cpuUserCores = optionalDouble(c.has_cpu_user_cores(), c.cpu_user_cores());
    m.cpuSystemCores = optionalDouble(c.has_cpu_system_cores(), c.cpu_system_cores());
    m.cpuThrottledPeriodsPerSecond = optionalDouble(c.has_cpu_throttled_periods_per_second(),
                                                    c.cpu_throttled_periods_per_second());
    m.cpuThrottledSecondsPerSecond = optionalDouble(c.has_cpu_throttled_seconds_per_second(),
                                                    c.cpu_throttled_seconds_per_second());
    m.cpuLimitCores = optionalDouble(c.has_cpu_limit_cores(), c.cpu_limit_cores());
    m.cpuPressureSomeTotalUs =
        optionalDouble(c.has_cpu_pressure_some_total_us(), c.cpu_pressure_some_total_us());
    m.cpuPressureFullTotalUs =
        optionalDouble(c.has_cpu_pressure_full_total_us(), c.cpu_pressure_full_total_us());
    m.memoryPressureSomeTotalUs =
        optionalDouble(c.has_memory_pressure_some_total_us(), c.memory_pressure_some_total_us());
    m.memoryPressureFullTotalUs =
        optionalDouble(c.has_memory_pressure_full_total_us(), c.memory_pressure_full_total_us());
    m.cpuUsageNsTotal = c.cpu_usage_ns_total();
    m.cpuWeight = c.cpu_weight();
    m.memoryUsageBytes = c.memory_usage_bytes();
    m.memoryWorkingSetBytes = c.memory_working_set_bytes();
    m.memoryRssBytes = c.memory_rss_bytes();
    m.oomKillsTotal = c.oom_kills_total();
    if (c.has_memory_limit_bytes()) m.memoryLimitBytes = c.memory_limit_bytes();
    view.containers.back().metadata = metadataFiguresOf(c.metadata());
  }
  view.containerCount = view.containers.size();
  for (const auto& pod : batch.pending_pods()) view.pendingPods.push_back(metadataFiguresOf(pod));
  view.pendingPodCount = view.pendingPods.size();
  return view;
}

}  // namespace

std::string encodeEnvelopeFrame(const v1::Envelope& envelope) {
  std::string payload;
  envelope.SerializeToString(&payload);
  return encodeFrame(payload);
}

Result<v1::Envelope> decodeEnvelope(std::string_view payload) {
  v1::Envelope envelope;
  if (!envelope.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Error{"payload is not a protobuf Envelope"};
  }
  if (envelope.body_case() == v1::Envelope::BODY_NOT_SET) {
    return Error{"envelope has no body"};
  }
  return envelope;
}

Status validateHello(const v1::Hello& hello) {
  if (!validIdentifier(hello.agent_id(), true)) return Error{"hello: agent_id empty or too long"};
  if (!validIdentifier(hello.node(), true)) return Error{"hello: node empty or too long"};
  for (const std::string* field : {&hello.cluster(), &hello.cloud(), &hello.region(), &hello.zone(),
                                   &hello.agent_version(), &hello.auth_token()}) {
    if (!validIdentifier(*field, false)) return Error{"hello: identity field too long"};
  }
  return {};
}

Status validateBatch(const v1::SampleBatch& batch) {
  if (batch.sequence() == 0) return Error{"batch: sequence must start at 1"};
  if (batch.containers_size() > kMaxContainersPerBatch) {
    return Error{"batch: " + std::to_string(batch.containers_size()) + " containers exceeds " +
                 std::to_string(kMaxContainersPerBatch)};
  }
  const auto& node = batch.node();
  if (!validRate(node.has_cpu_usage_cores(), node.cpu_usage_cores()) ||
      !validRate(true, node.cpu_capacity_cores()) ||
      !validRate(true, node.cpu_allocatable_cores()) ||
      !validRate(true, batch.interval_seconds())) {
    return Error{"batch: node figure is negative or not finite"};
  }
  if (batch.pending_pods_size() > kMaxPendingPodsPerBatch) {
    return Error{"batch: " + std::to_string(batch.pending_pods_size()) + " pending pods exceeds " +
                 std::to_string(kMaxPendingPodsPerBatch)};
  }
  for (const auto& container : batch.containers()) {
    if (Status status = checkContainer(container); !status) {
      return Error{"batch: " + status.message()};
    }
  }
  for (const auto& pod : batch.pending_pods()) {
    if (Status status = checkPendingPod(pod); !status) return Error{"batch: " + status.message()};
  }
  if (batch.pod_metrics_size() > kMaxScrapedPodsPerBatch) {
    return Error{"batch: " + std::to_string(batch.pod_metrics_size()) +
                 " pods with metrics exceeds " + std::to_string(kMaxScrapedPodsPerBatch)};
  }
  for (const auto& pod : batch.pod_metrics()) {
    if (Status status = checkPodMetrics(pod); !status) return Error{"batch: " + status.message()};
  }
  const BatchView figures = figuresOf(batch);
  if (auto bad = checkBatchRanges(figures)) return Error{"batch: " + bad->message};
  for (const auto& container : figures) {
    if (auto bad = checkMetadataRanges(container.metadata)) return Error{"batch: " + bad->message};
  }
  for (std::size_t i = 0; i < figures.pendingPodCount; ++i) {
    if (auto bad = checkMetadataRanges(figures.pendingPods[i])) {
      return Error{"batch: pending pod: " + bad->message};
    }
  }
  return {};
}

std::string_view envelopeKind(const v1::Envelope& envelope) {
  switch (envelope.body_case()) {
    case v1::Envelope::kHello:
      return "hello";
    case v1::Envelope::kHelloAck:
      return "hello_ack";
    case v1::Envelope::kBatch:
      return "batch";
    case v1::Envelope::kAck:
      return "ack";
    case v1::Envelope::kError:
      return "error";
    case v1::Envelope::kCompactBatch:
      return "compact_batch";
    case v1::Envelope::kZstdEnvelope:
      return "zstd_envelope";
    case v1::Envelope::BODY_NOT_SET:
      break;
  }
  return "empty";
}

}  // namespace fleetscale
