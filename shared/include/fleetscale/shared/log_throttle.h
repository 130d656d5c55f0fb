// Lets a repeated log message through at most once per interval and counts what it held back, so
// a condition that persists every tick (a kubelet that is down, a malformed cgroup file, a disk
// that is full, a process out of file descriptors) shows up in the log without flooding it. The
// counters in /metrics carry the exact numbers. Used by both daemons.
#pragma once

#include <chrono>
#include <cstdint>

#include "fleetscale/shared/clock.h"

namespace fleetscale {

// Not thread-safe: one per call site and thread.
class LogThrottle {
 public:
  LogThrottle(const Clock& clock, std::chrono::nanoseconds interval)
      : clock_(clock), interval_(interval) {}

  // True when the caller should log now. `suppressed` (optional) receives how many calls were held
  // back since the last one that was let through.
  bool allow(std::uint64_t* suppressed = nullptr) {
    const SteadyTime now = clock_.now();
    if (logged_ && now - last_ < interval_) {
      ++held_;
      return false;
    }
    if (suppressed != nullptr) *suppressed = held_;
    held_ = 0;
    last_ = now;
    logged_ = true;
    return true;
  }

 private:
  const Clock& clock_;
  std::chrono::nanoseconds interval_;
  // Not std::optional: g++ 12 at -O3 warns (-Wmaybe-uninitialized) that its value may be read
  // uninitialized, which -Werror turns into a broken release build.
  bool logged_ = false;
  SteadyTime last_{};
  std::uint64_t held_ = 0;
};

}  // namespace fleetscale
