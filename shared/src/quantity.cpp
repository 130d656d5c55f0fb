#include "fleetscale/shared/quantity.h"

#include <limits>
#include <string>

#include "fleetscale/shared/text.h"

namespace fleetscale {
namespace {

// 128-bit intermediate values keep the arithmetic exact for every int64 result.
__extension__ typedef __int128 Int128;

struct Suffix {
  std::string_view text;
  int base10Exponent;
  int base2Exponent;
};

// Longest first where one is a prefix of another does not matter: suffixes are matched whole.
constexpr Suffix kSuffixes[] = {
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},    {"k", 3, 0},   {"M", 6, 0},
    {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
};

Int128 pow10(int exponent) {
  Int128 value = 1;
  for (int i = 0; i < exponent; ++i) value *= 10;
  return value;
}

Error malformed(std::string_view text) {
  return Error{"quantity " + singleQuoted(text) +
               " is not a Kubernetes quantity (examples: 500m, 1.5, 256Mi, 2G)"};
}

// value = sign * digits * 10^(exp10) * 2^(exp2); returns ceil(value * 10^scale).
Result<std::int64_t> scaled(std::string_view text, int scale) {
  const std::string_view trimmed = trim(text);
  if (trimmed.empty()) return malformed(text);
  std::size_t pos = 0;
  bool negative = false;
  if (trimmed[pos] == '+' || trimmed[pos] == '-') {
    negative = trimmed[pos] == '-';
    ++pos;
  }
  Int128 digits = 0;
  int digitCount = 0;
  int fractionDigits = 0;
  bool seenPoint = false;
  for (; pos < trimmed.size(); ++pos) {
    const char c = trimmed[pos];
    if (c == '.') {
      if (seenPoint) return malformed(text);
      seenPoint = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    if (digitCount >= 20) return Error{"quantity " + singleQuoted(text) + " has too many digits"};
    digits = digits * 10 + (c - '0');
    ++digitCount;
    if (seenPoint) ++fractionDigits;
  }
  if (digitCount == 0) return malformed(text);
  const std::string_view suffix = trimmed.substr(pos);
  int exp10 = 0;
  int exp2 = 0;
  bool matched = false;
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    const auto exponent = parseInt64(suffix.substr(1));
    if (!exponent || *exponent < -30 || *exponent > 30) return malformed(text);
    exp10 = static_cast<int>(*exponent);
    matched = true;
  } else {
    for (const auto& candidate : kSuffixes) {
      if (candidate.text == suffix) {
        exp10 = candidate.base10Exponent;
        exp2 = candidate.base2Exponent;
        matched = true;
        break;
      }
    }
  }
  if (!matched) return malformed(text);

  const int decimalShift = exp10 + scale - fractionDigits;
  const Int128 int64Max = std::numeric_limits<std::int64_t>::max();
  // digits < 10^20 < 2^67 and exp2 <= 60: the shift stays below 2^127.
  const Int128 numerator = digits << exp2;
  Int128 result = 0;
  if (decimalShift >= 0) {
    result = numerator;
    for (int i = 0; i < decimalShift && result <= int64Max; ++i) result *= 10;
  } else {
    if (-decimalShift > 36) {
      result = numerator == 0 ? 0 : 1;
    } else {
      const Int128 divisor = pow10(-decimalShift);
      // Round away from zero on the positive side, as Quantity's ScaledValue rounds up.
      result = numerator / divisor + (numerator % divisor != 0 ? 1 : 0);
    }
  }
  if (result > int64Max) {
    return Error{"quantity " + singleQuoted(text) + " is too large"};
  }
  const auto value = static_cast<std::int64_t>(result);
  return negative ? -value : value;
}

}  // namespace

Result<std::int64_t> parseQuantityMilli(std::string_view text) { return scaled(text, 3); }

Result<std::int64_t> parseQuantityValue(std::string_view text) { return scaled(text, 0); }

}  // namespace fleetscale
