// Waiting on conditions instead of sleeping for a guessed time.
#pragma once

#include <chrono>
#include <functional>

namespace fleetscale::testing {

// Polls `condition` every `poll` until it is true (returns true) or `timeout` passes (false).
bool waitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10),
             std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace fleetscale::testing
