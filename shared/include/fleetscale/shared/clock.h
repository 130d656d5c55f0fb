// Time as an interface, so windows, rates and timeouts can be tested on simulated time.
#pragma once

#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>

namespace fleetscale {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Thread-safe in all implementations.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for rates and durations.
  virtual SteadyTime now() const = 0;
  // Wall-clock time, for timestamps shown to people and stored.
  virtual WallTime wallNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
};

// A clock that only moves when told to; for tests of time-dependent logic.
class ManualClock final : public Clock {
 public:
  SteadyTime now() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  WallTime wallNow() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }
  void advance(std::chrono::nanoseconds by) {
    std::lock_guard lock(mutex_);
    steady_ += by;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
  }

 private:
  mutable std::mutex mutex_;
  SteadyTime steady_{std::chrono::hours(1)};
  WallTime wall_{std::chrono::seconds(1'700'000'000)};
};

inline std::int64_t toUnixMillis(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// Saturates outside what WallTime holds (nanoseconds: years 1678 to 2262), since a time from the
// network may lie anywhere up to year 9999 (batch_ranges.h) and the conversion would overflow.
inline WallTime fromUnixMillis(std::int64_t millis) {
  constexpr auto kMax =
      std::chrono::duration_cast<std::chrono::milliseconds>(WallTime::duration::max());
  constexpr auto kMin =
      std::chrono::duration_cast<std::chrono::milliseconds>(WallTime::duration::min());
  if (millis >= kMax.count()) return WallTime::max();
  if (millis <= kMin.count()) return WallTime::min();
  return WallTime(
      std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(millis)));
}

// Seconds since the epoch as a number from outside (Prometheus' sample times, a replay's CSV):
// nothing when not finite or beyond what WallTime holds (years 1678 to 2262), where the
// conversion to nanoseconds would overflow.
inline std::optional<WallTime> fromUnixSeconds(double seconds) {
  constexpr double kLimit = 9.2e9;  // just inside INT64_MAX nanoseconds, 9.22e9 s
  if (!std::isfinite(seconds) || std::fabs(seconds) >= kLimit) return std::nullopt;
  return WallTime(
      std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double>(seconds)));
}

// When an agent that has just sampled at `now` samples next: the first whole multiple of
// `interval` since the Unix epoch more than a quarter interval away. Every agent samples on these
// boundaries, so the fleet's samples come in rounds (docs/architecture.md, "Sampling rounds"); a
// timer that fires a little early does not sample twice, and a tick that ran long skips a round
// rather than sampling twice in a row.
inline WallTime nextSamplingRound(WallTime now, std::chrono::nanoseconds interval) {
  const auto step = std::chrono::duration_cast<WallTime::duration>(interval);
  if (step.count() <= 0) return now;
  const auto after = (now + step / 4).time_since_epoch();
  return WallTime((after / step + 1) * step);
}

}  // namespace fleetscale
