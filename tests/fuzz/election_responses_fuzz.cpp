// etcd's gateway and the Kubernetes API answer the leader election over the network: any bytes
// must parse into a holder and term or an error, never a crash. The first byte picks the parser.
#include <cstdint>
#include <string>

#include "fleetscale/aggregator/election/election_responses.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace fleetscale::aggregator;
  if (data[0] % 2 == 0) {
    const auto parsed = nlohmann::json::parse(body, nullptr, false);
    auto state = parseEtcdRange(parsed);
    if (!state && state.error().message.empty()) __builtin_trap();
    (void)etcdInt64(parsed, "revision");
    if (parsed.is_object() && parsed.contains("result")) (void)etcdInt64(parsed["result"], "TTL");
  } else {
    auto lease = parseLease(body);
    if (!lease && lease.error().message.empty()) __builtin_trap();
    if (lease && lease->resourceVersion != resourceVersionOf(nlohmann::json::parse(body)))
      __builtin_trap();
  }
  return 0;
}
