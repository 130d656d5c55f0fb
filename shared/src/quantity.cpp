#include "fleetscale/shared/quantity.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "fleetscale/shared/text.h"

namespace fleetscale {
namespace {

// value = (negative ? -1 : 1) * mantissa * 10^(exponent10 - fractionDigits) * 2^exponent2
struct Decomposed {
  bool negative = false;
  std::uint64_t mantissa = 0;
  int fractionDigits = 0;
  int exponent10 = 0;
  int exponent2 = 0;
};

// A mantissa must fit 64 bits and an exponent this bound: beyond them a quantity is meaningless
// for a container's resources, and rejecting it keeps the arithmetic below exact.
constexpr int kMaxExponent = 40;

Error invalid(std::string_view text, const char* why) {
  return Error{"quantity " + singleQuoted(text.substr(0, 64)) + ": " + why};
}

std::optional<int> decimalSuffix(std::string_view suffix) {
  if (suffix.empty()) return 0;
  if (suffix.size() != 1) return std::nullopt;
  switch (suffix[0]) {
    case 'n':
      return -9;
    case 'u':
      return -6;
    case 'm':
      return -3;
    case 'k':
      return 3;
    case 'M':
      return 6;
    case 'G':
      return 9;
    case 'T':
      return 12;
    case 'P':
      return 15;
    case 'E':
      return 18;
    default:
      return std::nullopt;
  }
}

std::optional<int> binarySuffix(std::string_view suffix) {
  if (suffix.size() != 2 || suffix[1] != 'i') return std::nullopt;
  switch (suffix[0]) {
    case 'K':
      return 10;
    case 'M':
      return 20;
    case 'G':
      return 30;
    case 'T':
      return 40;
    case 'P':
      return 50;
    case 'E':
      return 60;
    default:
      return std::nullopt;
  }
}

Result<Decomposed> decompose(std::string_view text) {
  Decomposed out;
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    out.negative = text[i] == '-';
    ++i;
  }
  int digits = 0;
  bool significant = false;  // a non-zero digit has been seen
  bool inFraction = false;
  // Zeros of the fraction are held back until a non-zero digit follows, so trailing zeros
  // ("1.500000000000000000000") never count against the 64-bit mantissa.
  int pendingZeros = 0;
  const auto push = [&](std::uint64_t digit) {
    return !__builtin_mul_overflow(out.mantissa, std::uint64_t{10}, &out.mantissa) &&
           !__builtin_add_overflow(out.mantissa, digit, &out.mantissa);
  };
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (inFraction) return invalid(text, "two decimal points");
      inFraction = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    ++digits;
    if (inFraction) ++out.fractionDigits;
    if (c == '0' && (!significant || inFraction)) {
      if (significant) ++pendingZeros;
      continue;
    }
    for (; pendingZeros > 0; --pendingZeros) {
      if (!push(0)) return invalid(text, "too many digits");
    }
    if (!push(static_cast<std::uint64_t>(c - '0'))) return invalid(text, "too many digits");
    significant = true;
  }
  // The zeros still pending are trailing fraction zeros: they do not change the value.
  out.fractionDigits -= pendingZeros;
  if (digits == 0) return invalid(text, "no digits");
  if (out.mantissa == 0) out.negative = false;

  const std::string_view suffix = text.substr(i);
  if (auto power = binarySuffix(suffix)) {
    out.exponent2 = *power;
  } else if (auto power10 = decimalSuffix(suffix)) {
    out.exponent10 = *power10;
  } else if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    const auto exponent = parseInt64(suffix.substr(suffix[1] == '+' ? 2 : 1));
    if (!exponent || *exponent < -kMaxExponent || *exponent > kMaxExponent) {
      return invalid(text, "bad exponent");
    }
    out.exponent10 = static_cast<int>(*exponent);
  } else {
    return invalid(text, "unknown suffix");
  }
  return out;
}

// 128-bit intermediates keep every int64 milli-value exact: mantissa < 2^64, exponent2 <= 60.
__extension__ typedef __int128 Int128;

}  // namespace

Result<double> parseQuantity(std::string_view text) {
  auto parts = decompose(text);
  if (!parts) return parts.error();
  // Powers of ten up to 10^22 are exact doubles, so dividing (rather than multiplying by 10^-n)
  // gives the correctly rounded value: "100m" is exactly the double nearest 0.1.
  const int power = parts->exponent10 - parts->fractionDigits;
  double magnitude = static_cast<double>(parts->mantissa);
  magnitude = power >= 0 ? magnitude * std::pow(10.0, power) : magnitude / std::pow(10.0, -power);
  magnitude = std::ldexp(magnitude, parts->exponent2);
  return parts->negative ? -magnitude : magnitude;
}

Result<std::uint64_t> parseQuantityCeil(std::string_view text) {
  auto parts = decompose(text);
  if (!parts) return parts.error();
  if (parts->negative) return invalid(text, "negative");
  std::uint64_t value = parts->mantissa;
  if (__builtin_mul_overflow(value, std::uint64_t{1} << parts->exponent2, &value)) {
    return invalid(text, "too large");
  }
  const int power = parts->exponent10 - parts->fractionDigits;
  for (int i = 0; i < power; ++i) {
    if (__builtin_mul_overflow(value, std::uint64_t{10}, &value)) {
      return invalid(text, "too large");
    }
  }
  if (power >= 0 || value == 0) return value;
  // Dividing by 10^-power; at 10^20 and beyond the divisor exceeds any 64-bit value.
  if (-power >= 20) return std::uint64_t{1};
  std::uint64_t divisor = 1;
  for (int i = 0; i < -power; ++i) divisor *= 10;
  return value / divisor + (value % divisor != 0 ? 1 : 0);
}

Result<std::int64_t> parseQuantityMilli(std::string_view text) {
  auto parts = decompose(text);
  if (!parts) return parts.error();
  const Int128 int64Max = std::numeric_limits<std::int64_t>::max();
  Int128 magnitude = static_cast<Int128>(parts->mantissa) << parts->exponent2;
  const int power = parts->exponent10 + 3 - parts->fractionDigits;
  for (int i = 0; i < power && magnitude <= int64Max; ++i) magnitude *= 10;
  if (power < 0 && magnitude != 0) {
    // 10^38 exceeds any magnitude here, so smaller fractions round up to one milli-unit.
    if (-power >= 38) {
      magnitude = 1;
    } else {
      Int128 divisor = 1;
      for (int i = 0; i < -power; ++i) divisor *= 10;
      magnitude = magnitude / divisor + (magnitude % divisor != 0 ? 1 : 0);
    }
  }
  if (magnitude > int64Max) return invalid(text, "too large");
  const auto value = static_cast<std::int64_t>(magnitude);
  return parts->negative ? -value : value;
}

std::string formatQuantityMilli(std::int64_t milli) {
  return milli % 1000 == 0 ? std::to_string(milli / 1000) : std::to_string(milli) + "m";
}

}  // namespace fleetscale
