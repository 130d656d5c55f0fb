#include "fleetscale/aggregator/rightsizing/rightsizing_policy.h"

namespace fleetscale::aggregator::rightsizing {

std::string_view toString(Mode mode) {
  switch (mode) {
    case Mode::kOff:
      return "off";
    case Mode::kRecommend:
      return "recommend";
    case Mode::kInPlace:
      return "in-place";
    case Mode::kRecreate:
      return "recreate";
  }
  return "?";
}

std::optional<Mode> parseMode(std::string_view text) {
  for (const Mode mode : {Mode::kOff, Mode::kRecommend, Mode::kInPlace, Mode::kRecreate}) {
    if (text == toString(mode)) return mode;
  }
  return std::nullopt;
}

std::string_view toString(LimitsMode mode) {
  switch (mode) {
    case LimitsMode::kKeepRatio:
      return "keep-ratio";
    case LimitsMode::kUnchanged:
      return "unchanged";
    case LimitsMode::kRatio:
      return "ratio";
  }
  return "?";
}

std::string_view toString(Fallback fallback) {
  return fallback == Fallback::kRecreate ? "recreate" : "none";
}

}  // namespace fleetscale::aggregator::rightsizing
