#include "fleetscale/sim/quantity.h"

#include <cmath>
#include <cstdint>

#include "fleetscale/shared/text.h"

namespace fleetscale::sim {
namespace {

struct Suffix {
  std::string_view text;
  double multiplier;
};

// Longest suffixes first so "Mi" is not read as "M" followed by garbage.
constexpr Suffix kSuffixes[] = {
    {"Ki", 1024.0},
    {"Mi", 1024.0 * 1024},
    {"Gi", 1024.0 * 1024 * 1024},
    {"Ti", 1024.0 * 1024 * 1024 * 1024},
    {"Pi", 1024.0 * 1024 * 1024 * 1024 * 1024},
    {"Ei", 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024},
    {"n", 1e-9},
    {"u", 1e-6},
    {"m", 1e-3},
    {"k", 1e3},
    {"M", 1e6},
    {"G", 1e9},
    {"T", 1e12},
    {"P", 1e15},
    {"E", 1e18},
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<double> parseQuantity(std::string_view raw) {
  const std::string_view text = trim(raw);
  if (text.empty()) return Error{"empty quantity"};
  std::size_t end = 0;
  if (text[end] == '+') ++end;
  const std::size_t digitsStart = end;
  while (end < text.size() && (isDigit(text[end]) || text[end] == '.')) ++end;
  const std::string_view number = text.substr(digitsStart, end - digitsStart);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
    return Error{"quantity " + fleetscale::singleQuoted(text) + ": expected a non-negative number"};
  }
  const auto mantissa = parseDouble(number);
  if (!mantissa) return Error{"quantity " + fleetscale::singleQuoted(text) + ": bad number"};
  std::string_view suffix = text.substr(end);
  double multiplier = 1.0;
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1 &&
      (isDigit(suffix[1]) || suffix[1] == '-' || suffix[1] == '+')) {
    const auto exponent = parseInt64(suffix[1] == '+' ? suffix.substr(2) : suffix.substr(1));
    if (!exponent || *exponent > 18 || *exponent < -9) {
      return Error{"quantity " + fleetscale::singleQuoted(text) + ": bad exponent"};
    }
    multiplier = std::pow(10.0, static_cast<double>(*exponent));
    suffix = {};
  }
  if (!suffix.empty()) {
    bool known = false;
    for (const auto& [name, value] : kSuffixes) {
      if (suffix == name) {
        multiplier = value;
        known = true;
        break;
      }
    }
    if (!known)
      return Error{"quantity " + fleetscale::singleQuoted(text) + ": unknown suffix " +
                   fleetscale::singleQuoted(suffix)};
  }
  const double value = *mantissa * multiplier;
  if (!std::isfinite(value))
    return Error{"quantity " + fleetscale::singleQuoted(text) + ": out of range"};
  return value;
}

long long toMilliCores(double cores) {
  return static_cast<long long>(std::ceil(cores * 1000.0 - 1e-9));
}

std::string formatCpu(double cores) {
  const long long milli = toMilliCores(cores);
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

std::string formatMemory(double bytes) {
  const auto value = static_cast<std::uint64_t>(std::llround(bytes));
  constexpr std::string_view kBinary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (value == 0) return "0";
  std::uint64_t scaled = value;
  int index = -1;
  while (index + 1 < 6 && scaled % 1024 == 0) {
    scaled /= 1024;
    ++index;
  }
  if (index < 0) return std::to_string(value);
  return std::to_string(scaled) + std::string(kBinary[index]);
}

}  // namespace fleetscale::sim
