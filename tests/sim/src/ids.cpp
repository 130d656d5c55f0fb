#include "fleetscale/sim/ids.h"

namespace fleetscale::sim {
namespace {

// k8s.io/apimachinery/pkg/util/rand: no vowels, no confusable characters.
constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr std::string_view kHexDigits = "0123456789abcdef";

}  // namespace

std::string IdGenerator::hex(std::size_t length) {
  std::string out(length, '0');
  std::uniform_int_distribution<int> digit(0, 15);
  for (char& c : out) c = kHexDigits[static_cast<std::size_t>(digit(rng_))];
  return out;
}

std::string IdGenerator::uid() {
  std::string text = hex(32);
  text[12] = '4';                                                    // version 4
  text[16] = kHexDigits[8 + (static_cast<unsigned>(text[16]) % 4)];  // variant 10xx
  return text.substr(0, 8) + "-" + text.substr(8, 4) + "-" + text.substr(12, 4) + "-" +
         text.substr(16, 4) + "-" + text.substr(20);
}

std::string IdGenerator::podSuffix() {
  std::uniform_int_distribution<std::size_t> pick(0, kSafeAlphabet.size() - 1);
  std::string out(5, 'b');
  for (char& c : out) c = kSafeAlphabet[pick(rng_)];
  return out;
}

std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string podTemplateHash(std::string_view templateJson) {
  std::uint32_t hash = 2166136261U;
  for (unsigned char c : templateJson) {
    hash ^= c;
    hash *= 16777619U;
  }
  std::string out;
  for (char digit : std::to_string(hash)) {
    out.push_back(kSafeAlphabet[static_cast<unsigned char>(digit) % kSafeAlphabet.size()]);
  }
  return out;
}

}  // namespace fleetscale::sim
