// Names and identifiers shaped like the ones Kubernetes and containerd make: UIDs, 64-hex
// container IDs, pod-name suffixes and pod-template hashes. Seeded, so a scenario with the same
// seed produces the same names.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace fleetscale::sim {

// Not thread-safe; each owner keeps its own.
class IdGenerator {
 public:
  explicit IdGenerator(std::uint64_t seed) : rng_(seed) {}

  std::string uid();                    // RFC 4122 version 4 text, as metadata.uid
  std::string hex(std::size_t length);  // lower-case hex digits
  std::string containerId() { return hex(64); }
  std::string podSuffix();  // 5 characters from Kubernetes' safe alphabet, as generateName adds

 private:
  std::mt19937_64 rng_;
};

// The pod-template-hash label value Kubernetes computes for a template: FNV-1a (32 bit) of the
// template, printed in decimal and mapped onto the safe alphabet (so it never spells words).
std::string podTemplateHash(std::string_view templateJson);

// FNV-1a, 64 bit; for deterministic per-name seeds.
std::uint64_t fnv1a64(std::string_view text);

}  // namespace fleetscale::sim
