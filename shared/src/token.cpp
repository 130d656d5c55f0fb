#include "fleetscale/shared/token.h"

namespace fleetscale {

bool tokensEqual(const std::string& expected, const std::string& given) {
  // Walk the full expected length whatever the input, folding every difference in.
  unsigned char difference = expected.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char other = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(expected[i]) ^ other;
  }
  return difference == 0;
}

}  // namespace fleetscale
