// Turning cumulative counters into per-second rates between two reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace fleetscale::agent {

// Increase per second of a cumulative counter. std::nullopt when no time passed or the counter
// went backwards (the cgroup was recreated or the counter reset): the caller starts a new
// baseline instead of reporting a negative or wrapped-around rate.
std::optional<double> ratePerSecond(std::uint64_t previous, std::uint64_t current,
                                    std::chrono::nanoseconds elapsed);

std::optional<double> ratePerSecond(std::optional<std::uint64_t> previous,
                                    std::optional<std::uint64_t> current,
                                    std::chrono::nanoseconds elapsed);

}  // namespace fleetscale::agent
