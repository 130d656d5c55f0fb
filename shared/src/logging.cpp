#include "fleetscale/shared/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

#include "fleetscale/shared/text.h"

namespace fleetscale {
namespace {

// Writes the log message as the body of a JSON string, escaped as in text format first
// (escapeControl: control characters and bytes that are not UTF-8 become backslash escapes), then
// quotes and backslashes for JSON. So a JSON line stays one parseable line whatever a message
// holds (an agent id with a newline, a URL with %ff), and reads the same as the text line.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        escapeControl(std::string_view(msg.payload.data(), msg.payload.size()));
    for (std::size_t i = 0; i < escaped.size(); ++i) {
      const char c = escaped[i];
      if (c == '"') {
        dest.append(std::string_view("\\\""));
      } else if (c == '\\') {
        dest.append(std::string_view("\\\\"));
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// The log message with control characters and bytes that are not UTF-8 escaped (escapeControl),
// so a field that came from outside cannot start a forged line or drive the terminal.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        escapeControl(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

std::mutex& configMutex() {
  static std::mutex mutex;
  return mutex;
}

std::unique_ptr<spdlog::formatter> makeFormatter(LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == LogFormat::kJson) {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%*"})");
  } else {
    formatter->add_flag<EscapedMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %*");
  }
  return formatter;
}

}  // namespace

Result<LogFormat> parseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return Error{"log format must be text or json, not '" + std::string(text) + "'"};
}

Result<spdlog::level::level_enum> parseLogLevel(std::string_view text) {
  for (auto level :
       {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
        spdlog::level::err, spdlog::level::critical, spdlog::level::off}) {
    if (spdlog::level::to_string_view(level) == text) return level;
  }
  if (text == "warn") return spdlog::level::warn;
  if (text == "err") return spdlog::level::err;
  return Error{"log level must be one of trace, debug, info, warn, error, critical, off; not '" +
               std::string(text) + "'"};
}

void configureLogging(LogFormat format, spdlog::level::level_enum level) {
  std::lock_guard lock(configMutex());
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(makeFormatter(format));
  auto defaultLogger = std::make_shared<spdlog::logger>("fleetscale", sink);
  defaultLogger->set_level(level);
  spdlog::set_default_logger(defaultLogger);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = {sink};
    logger->set_level(level);
  });
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> componentLogger(const std::string& name) {
  std::lock_guard lock(configMutex());
  if (auto existing = spdlog::get(name)) return existing;
  auto defaultLogger = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(name, defaultLogger->sinks().begin(),
                                                 defaultLogger->sinks().end());
  logger->set_level(defaultLogger->level());
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace fleetscale
