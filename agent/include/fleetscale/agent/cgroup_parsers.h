// Parsers for cgroup v1 and v2 control files. Each takes the file's text and never touches the
// filesystem, so tests and fuzzers feed them canned and hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

// The value v1 reports for "no limit" in memory.limit_in_bytes is PAGE_COUNTER_MAX * page size,
// which depends on the page size (9223372036854771712 with 4 KiB pages); anything at or above
// 2^62 is treated as unlimited.
inline constexpr std::uint64_t kV1UnlimitedMemoryThreshold = 1ULL << 62;

// A file holding one unsigned number ("12345\n"): cpuacct.usage, memory.current, ...
Result<std::uint64_t> parseSingleValue(std::string_view text);

// A signed number, for cpu.cfs_quota_us where -1 means unlimited.
Result<std::int64_t> parseSignedValue(std::string_view text);

// Looks up one key in a flat-keyed file ("key value" per line: memory.stat, cpu.stat,
// cpuacct.stat, memory.events). std::nullopt when the key is absent or its value malformed.
std::optional<std::uint64_t> findKeyedValue(std::string_view text, std::string_view key);

// Looks up several keys in one pass over a flat-keyed file, for the files read every tick:
// values[i] receives the value of keys[i] (std::nullopt when absent or malformed). The first
// occurrence of a key wins. `values` must be as long as `keys`.
void findKeyedValues(std::string_view text, std::span<const std::string_view> keys,
                     std::span<std::optional<std::uint64_t>> values);

// True when every non-empty line is "key unsigned-number".
bool isWellFormedKeyed(std::string_view text);

// cgroup v2 cpu.max: "max 100000" or "20000 100000" (quota period, microseconds). A lone "max"
// means unlimited with the default period.
struct CpuMax {
  std::optional<std::uint64_t> quotaUs;  // std::nullopt = unlimited
  std::uint64_t periodUs = 100000;
  std::optional<double> limitCores() const;
};
Result<CpuMax> parseCpuMax(std::string_view text);

// cgroup v2 memory.max / memory.high: "max" (no limit) or a byte count.
Result<std::optional<std::uint64_t>> parseMemoryMax(std::string_view text);

// v1 memory.limit_in_bytes: a byte count where values near 2^63 mean unlimited.
Result<std::optional<std::uint64_t>> parseV1MemoryLimit(std::string_view text);

// Pressure stall information (cpu.pressure, memory.pressure):
// "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345" and an optional "full ..." line.
struct PressureTotals {
  std::optional<std::uint64_t> someTotalUs;
  std::optional<std::uint64_t> fullTotalUs;
};
Result<PressureTotals> parsePressure(std::string_view text);

// v1 shares (2..262144) to the v2 weight (1..10000) with the conversion runc and the kernel
// documentation use.
std::uint64_t sharesToWeight(std::uint64_t shares);

// Working set as kubelet/cAdvisor define it: usage minus inactive file pages, floored at 0.
std::uint64_t workingSet(std::uint64_t usage, std::uint64_t inactiveFile);

}  // namespace fleetscale::agent
