// Prometheus' answers to the Object and External metrics' queries come from the network: any
// bytes must give series or an error, and the series are bounded and hold finite values.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fleetscale/aggregator/sources/prometheus_response.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fleetscale::aggregator::sources;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto samples = parsePrometheusQueryResponse(body);
  if (!samples) return 0;
  if (samples->size() > kMaxPromSeries) __builtin_trap();
  for (const auto& sample : *samples) {
    if (!std::isfinite(sample.value)) __builtin_trap();
  }
  return 0;
}
