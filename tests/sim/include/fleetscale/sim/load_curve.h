// Demand curves: how much CPU (cores) or memory (bytes) a workload asks for, as a function of
// the time since the scenario started. Pure values; `at` is cheap enough to call every tick.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale::sim {

struct LoadPoint {
  double seconds = 0;
  double value = 0;
};

struct LoadCurve {
  enum class Kind {
    kConstant,  // value
    kStep,      // points: value jumps to points[i].value at points[i].seconds
    kRamp,      // from -> to, linearly between start and end (flat outside)
    kDiurnal,   // min..max cosine wave with `period`, starting at min (shifted by `phase`)
    kSpike,     // base, with `peak` during [start, start + duration), repeated every `every`
    kRecorded,  // points from a CSV file; linear interpolation or hold; optionally looped
    kSum,       // sum of `parts`
  };

  Kind kind = Kind::kConstant;
  double value = 0;               // constant; spike base
  double from = 0;                // ramp
  double to = 0;                  // ramp
  double start = 0;               // ramp start; spike start
  double end = 0;                 // ramp end
  double min = 0;                 // diurnal
  double max = 0;                 // diurnal
  double period = 0;              // diurnal
  double phase = 0;               // diurnal; recorded (`offset`): seconds added to t
  double peak = 0;                // spike
  double duration = 0;            // spike
  double every = 0;               // spike repeat period; 0 = once
  bool interpolate = true;        // recorded: linear between points (false: hold the last value)
  bool loop = false;              // recorded: restart at the first point after the last one
  std::vector<LoadPoint> points;  // step, recorded: sorted by seconds
  std::vector<LoadCurve> parts;   // sum

  // Demand at `seconds` since the start; never negative.
  double at(double seconds) const;

  static LoadCurve constant(double value);
};

// A recorded load: lines "seconds,value" (a header line and '#' comments are skipped). Values
// may be quantities ("500m", "256Mi"). Times must increase. Errors name the line.
Result<std::vector<LoadPoint>> parseLoadCsv(std::string_view text);

}  // namespace fleetscale::sim
