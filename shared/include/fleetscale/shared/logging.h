// Named spdlog loggers. Only main() calls configureLogging; library code asks for a logger by
// component name and never touches sinks.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale {

enum class LogFormat { kText, kJson };

Result<LogFormat> parseLogFormat(std::string_view text);
Result<spdlog::level::level_enum> parseLogLevel(std::string_view text);

// Sends every logger's output to stderr in the given format and level. Idempotent.
void configureLogging(LogFormat format, spdlog::level::level_enum level);

// The logger for a component ("agent.sampler", "aggregator.ingest"), created on first use with
// the sinks configureLogging set up. Thread-safe.
std::shared_ptr<spdlog::logger> componentLogger(const std::string& name);

}  // namespace fleetscale
