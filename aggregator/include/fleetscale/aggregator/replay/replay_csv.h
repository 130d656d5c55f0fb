// The CSV form of recorded history for `fleetscale-aggregator replay` (docs/replay.md): a header
// naming the columns, then one row per time, workload and cluster. Operator input read from disk:
// every error names its line, and any bytes give samples or an error (fuzzed).
#pragma once

#include <string_view>
#include <vector>

#include "fleetscale/aggregator/replay/replay.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// Columns: time, workload, replicas, cpu_usage, cpu_request (required) and cluster, ready,
// memory_usage, memory_request (optional), in any order. `time` is RFC 3339 or seconds (Unix or
// relative); `workload` is namespace/name or namespace/Kind/name; CPU in cores and memory in
// bytes, both as plain numbers or Kubernetes quantities. Blank lines and `#` comments are skipped.
Result<std::vector<ReplaySample>> parseReplayCsv(std::string_view text);

}  // namespace fleetscale::aggregator
