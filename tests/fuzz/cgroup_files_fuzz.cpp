// Every parser of a cgroup or /proc file. The first byte picks the parser.
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "fleetscale/agent/cgroup_parsers.h"
#include "fleetscale/agent/node_stats.h"

using namespace fleetscale::agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 9) {
    case 0:
      (void)parseSingleValue(text);
      break;
    case 1:
      (void)parseSignedValue(text);
      break;
    case 2: {
      (void)findKeyedValue(text, "usage_usec");
      (void)findKeyedValue(text, "total_inactive_file");
      (void)isWellFormedKeyed(text);
      // The one-pass lookup used every tick must agree with the single-key one.
      static constexpr std::string_view kKeys[] = {"usage_usec", "inactive_file", "anon",
                                                   "total_inactive_file", "throttled_usec"};
      std::optional<std::uint64_t> values[std::size(kKeys)];
      findKeyedValues(text, kKeys, values);
      for (std::size_t i = 0; i < std::size(kKeys); ++i) {
        if (values[i] != findKeyedValue(text, kKeys[i])) __builtin_trap();
      }
      break;
    }
    case 3:
      if (auto max = parseCpuMax(text)) {
        if (auto cores = max->limitCores(); cores && *cores < 0) __builtin_trap();
      }
      break;
    case 4:
      (void)parseMemoryMax(text);
      break;
    case 5:
      (void)parseV1MemoryLimit(text);
      break;
    case 6:
      (void)parsePressure(text);
      break;
    case 7:
      if (auto stat = parseProcStat(text); stat && stat->idleTicks > stat->totalTicks)
        __builtin_trap();
      break;
    case 8:
      (void)parseMemInfo(text);
      break;
  }
  return 0;
}
