#include "fleetscale/shared/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace fleetscale {
namespace {

// Writes the log message as the body of a JSON string (quotes, backslashes and control
// characters escaped) so JSON lines stay parseable whatever a message contains.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const char escaped[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
            dest.append(escaped, escaped + sizeof(escaped));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
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
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v");
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
