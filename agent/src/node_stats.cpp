#include "fleetscale/agent/node_stats.h"

#include "fleetscale/shared/text.h"

namespace fleetscale::agent {

Result<ProcStatCpu> parseProcStat(std::string_view text) {
  ProcStatCpu result;
  bool sawAggregate = false;
  for (std::string_view line : splitLines(text)) {
    if (line.rfind("cpu", 0) != 0) continue;
    const auto fields = splitFields(line);
    if (fields.empty()) continue;
    if (fields[0] != "cpu") {
      ++result.cpuCount;
      continue;
    }
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // included in user/nice, so only the first eight fields count.
    if (fields.size() < 5) return Error{"/proc/stat: short cpu line"};
    for (std::size_t i = 1; i < fields.size() && i <= 8; ++i) {
      const auto value = parseUint64(fields[i]);
      if (!value) return Error{"/proc/stat: bad number in cpu line"};
      result.totalTicks += *value;
      if (i == 4 || i == 5) result.idleTicks += *value;
    }
    sawAggregate = true;
  }
  if (!sawAggregate) return Error{"/proc/stat: no aggregate cpu line"};
  return result;
}

Result<MemInfo> parseMemInfo(std::string_view text) {
  MemInfo info;
  bool total = false, available = false;
  for (std::string_view line : splitLines(text)) {
    const auto fields = splitFields(line, " \t:");
    if (fields.size() < 2) continue;
    const auto value = parseUint64(fields[1]);
    if (!value) continue;
    const std::uint64_t bytes = fields.size() >= 3 && fields[2] == "kB" ? *value * 1024 : *value;
    if (fields[0] == "MemTotal") {
      info.totalBytes = bytes;
      total = true;
    } else if (fields[0] == "MemAvailable") {
      info.availableBytes = bytes;
      available = true;
    }
  }
  if (!total || !available) return Error{"/proc/meminfo: MemTotal or MemAvailable missing"};
  return info;
}

}  // namespace fleetscale::agent
