#include "fleetscale/sim/load_curve.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "fleetscale/shared/text.h"
#include "fleetscale/sim/quantity.h"

namespace fleetscale::sim {
namespace {

double pointsAt(const std::vector<LoadPoint>& points, double t, bool interpolate) {
  if (points.empty()) return 0;
  if (t <= points.front().seconds) return points.front().value;
  if (t >= points.back().seconds) return points.back().value;
  const auto next =
      std::upper_bound(points.begin(), points.end(), t,
                       [](double time, const LoadPoint& p) { return time < p.seconds; });
  const auto previous = next - 1;
  if (!interpolate) return previous->value;
  const double span = next->seconds - previous->seconds;
  const double share = span > 0 ? (t - previous->seconds) / span : 1.0;
  return previous->value + share * (next->value - previous->value);
}

}  // namespace

LoadCurve LoadCurve::constant(double v) {
  LoadCurve curve;
  curve.kind = Kind::kConstant;
  curve.value = v;
  return curve;
}

double LoadCurve::at(double t) const {
  double result = 0;
  switch (kind) {
    case Kind::kConstant:
      result = value;
      break;
    case Kind::kStep:
      result = points.empty() || t < points.front().seconds ? value : pointsAt(points, t, false);
      break;
    case Kind::kRamp:
      if (t <= start) {
        result = from;
      } else if (t >= end) {
        result = to;
      } else {
        result = from + (to - from) * (t - start) / (end - start);
      }
      break;
    case Kind::kDiurnal: {
      if (period <= 0) {
        result = min;
        break;
      }
      const double angle = 2 * std::numbers::pi * (t + phase) / period;
      result = min + (max - min) * (1 - std::cos(angle)) / 2;
      break;
    }
    case Kind::kSpike: {
      double since = t - start;
      if (since >= 0 && every > 0) since = std::fmod(since, every);
      result = since >= 0 && since < duration ? peak : value;
      break;
    }
    case Kind::kRecorded: {
      double time = t + phase;
      if (loop && points.size() >= 2) {
        const double first = points.front().seconds;
        const double length = points.back().seconds - first;
        if (length > 0 && time > first) time = first + std::fmod(time - first, length);
      }
      result = pointsAt(points, time, interpolate);
      break;
    }
    case Kind::kSum:
      for (const auto& part : parts) result += part.at(t);
      break;
  }
  return std::max(0.0, result);
}

Result<std::vector<LoadPoint>> parseLoadCsv(std::string_view text) {
  std::vector<LoadPoint> points;
  int lineNumber = 0;
  for (std::string_view line : splitLines(text)) {
    ++lineNumber;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const auto fields = splitFields(line, ",; \t");
    const std::string where = "line " + std::to_string(lineNumber);
    if (fields.size() < 2) return Error{where + ": expected 'seconds,value'"};
    auto seconds = parseDouble(fields[0]);
    if (!seconds) {
      if (auto duration = parseDuration(fields[0])) {
        seconds = std::chrono::duration<double>(*duration).count();
      }
    }
    if (!seconds) {
      // A header line ("t,cores") is allowed before the first point.
      if (points.empty() && !parseQuantity(fields[1])) continue;
      return Error{where + ": bad time " + fleetscale::singleQuoted(fields[0])};
    }
    auto value = parseQuantity(fields[1]);
    if (!value) return Error{where + ": " + value.error().message};
    if (!points.empty() && *seconds <= points.back().seconds) {
      return Error{where + ": times must increase"};
    }
    points.push_back({*seconds, *value});
  }
  if (points.empty()) return Error{"no data points"};
  return points;
}

}  // namespace fleetscale::sim
