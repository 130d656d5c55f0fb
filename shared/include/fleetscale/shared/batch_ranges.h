// The sane range of every figure an agent sends in a batch (docs/protocol.md, "Figures and their
// ranges"). A figure outside its range cannot come from a real machine: it is a broken or hostile
// agent, and folding it would poison every sum it enters (a node of 1e308 cores, a memory of
// 2^64-1 bytes, an interval of 1e9 s that never goes stale). The lean decoder applies these
// checks (BatchDecodeStatus::kOutOfRange) and so does validateBatch.
//
// The bounds are far above any real figure, so no well-behaved agent ever meets them: the agent
// refuses an --interval outside [kMinBatchInterval, kMaxBatchInterval] at startup, and every other
// figure comes from the kernel or the kubelet within them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "fleetscale/shared/batch_view.h"

namespace fleetscale {

// CPU that a node has or uses, in cores: capacity, allocatable, usage, per-container usage,
// throttled seconds per second, requests. Linux runs on at most 8192 CPUs (NR_CPUS).
inline constexpr double kMaxCores = 65536;
// CPU limits, in cores: a quota may exceed the machine (the kernel allows quota/period up to
// about 1.8e7), and a limit that large means "unlimited".
inline constexpr double kMaxLimitCores = 1e8;
// Throttled CFS periods per second: the shortest period is 1 ms, so 1000 per second and CPU.
inline constexpr double kMaxThrottledPeriodsPerSecond = 1e6;
// Cumulative pressure (PSI) stall time in microseconds: a 64-bit kernel counter.
inline constexpr double kMaxPressureTotalUs = 18446744073709551615.0;
// Memory a node has or uses, in bytes: 4 PiB, the physical address space of 5-level paging.
inline constexpr std::uint64_t kMaxMemoryBytes = std::uint64_t{1} << 52;
// Memory limits and requests, in bytes: what an int64 holds (cgroup v1 "unlimited" is
// 0x7ffffffffffff000; Kubernetes quantities are int64).
inline constexpr std::uint64_t kMaxMemoryLimitBytes = 0x7fffffffffffffffull;
// cpu.weight (1..10000), or cgroup v1 cpu.shares (2..262144) for agents that pass them raw.
inline constexpr std::uint64_t kMaxCpuWeight = 262144;
// Wall-clock times (batch timestamp, container start, pod ready), Unix ms: 0 (unknown) up to
// 9999-12-31T23:59:59.999Z. Negative times are refused; an agent with a clock set to 1970 still
// gets through.
inline constexpr std::int64_t kMaxUnixMs = 253402300799999;
// An agent's tick (interval_seconds). 0 means "not said" (the aggregator assumes 1 s).
inline constexpr std::chrono::milliseconds kMinBatchInterval{10};
inline constexpr std::chrono::hours kMaxBatchInterval{1};

// Cumulative counters (cpu_usage_ns_total, oom_kills_total) and restart_count take any value
// their type holds: counters wrap.

// Which figure broke its range, and a message naming it with the value and the bound.
struct RangeViolation {
  std::string field;  // protocol field name: "cpu_cores", "node.memory_usage_bytes", ...
  std::string message;
};

// The batch's own figures (timestamp, interval), its node totals and every container's metrics
// (containers[0, containerCount)). Not the metadata: see checkMetadataRanges.
std::optional<RangeViolation> checkBatchRanges(const BatchView& batch);

// A container's metadata figures (requests, limits, times), checked when the metadata is decoded.
std::optional<RangeViolation> checkMetadataRanges(const ContainerMetadataView& metadata);

}  // namespace fleetscale
