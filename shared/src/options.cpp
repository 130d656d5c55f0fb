#include "fleetscale/shared/options.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

namespace fleetscale {
namespace {

std::string normalizeKey(std::string key) {
  for (char& c : key) {
    if (c == '_') c = '-';
  }
  return key;
}

// Long option names present on the command line ("--name" or "--name=value").
std::set<std::string> namesGiven(const std::vector<std::string>& args) {
  std::set<std::string> given;
  for (const auto& arg : args) {
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    given.insert(
        arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2));
  }
  return given;
}

std::optional<std::string> configFileFrom(const std::vector<std::string>& args,
                                          const EnvLookup& env) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) return args[i].substr(9);
  }
  return env("FLEETSCALE_CONFIG");
}

const CLI::Option* findLongOption(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& longName : option->get_lnames()) {
      if (longName == name) return option;
    }
  }
  return nullptr;
}

// Appends "--name=value" for every scalar (or each element of a sequence) in the YAML map.
Status appendFromYaml(const CLI::App& app, const std::string& path,
                      const std::set<std::string>& given,
                      const std::set<std::string>& sectionsForOthers,
                      std::vector<std::string>& out) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{"config file " + path + ": cannot be read"};
  } catch (const YAML::Exception& e) {
    return Error{"config file " + path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) return Error{"config file " + path + ": top level must be a mapping"};
  for (const auto& entry : root) {
    const std::string key = normalizeKey(entry.first.as<std::string>());
    const std::string where =
        "config file " + path + ":" + std::to_string(entry.first.Mark().line + 1) + ": ";
    if (sectionsForOthers.count(key)) continue;
    if (key == "config") return Error{where + "'config' cannot name another config file"};
    const CLI::Option* option = findLongOption(app, key);
    if (option == nullptr) return Error{where + "unknown option '" + key + "'"};
    if (given.count(key)) continue;
    const YAML::Node& value = entry.second;
    if (value.IsScalar()) {
      out.push_back("--" + key + "=" + value.Scalar());
    } else if (value.IsSequence()) {
      for (const auto& element : value) {
        if (!element.IsScalar()) return Error{where + "'" + key + "' must be a list of values"};
        out.push_back("--" + key + "=" + element.Scalar());
      }
    } else {
      return Error{where + "'" + key + "' must be a value or a list of values"};
    }
  }
  return {};
}

}  // namespace

std::optional<std::string> processEnvironment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string environmentName(const std::string& longOptionName) {
  std::string name = "FLEETSCALE_";
  for (char c : longOptionName) {
    name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

Result<std::vector<std::string>> mergeEnvironmentAndConfig(
    const CLI::App& app, std::vector<std::string> args, const EnvLookup& env,
    const std::set<std::string>& sectionsForOthers) {
  std::set<std::string> given = namesGiven(args);
  std::vector<std::string> fromEnv;
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) {
      if (given.count(name) || name == "help" || name == "version") continue;
      if (auto value = env(environmentName(name)); value && !value->empty()) {
        fromEnv.push_back("--" + name + "=" + *value);
        given.insert(name);
      }
    }
  }
  std::vector<std::string> fromFile;
  if (auto path = configFileFrom(args, env); path && !path->empty()) {
    if (Status status = appendFromYaml(app, *path, given, sectionsForOthers, fromFile); !status) {
      return Error{status.message()};
    }
  }
  args.insert(args.end(), fromEnv.begin(), fromEnv.end());
  args.insert(args.end(), fromFile.begin(), fromFile.end());
  return args;
}

void addCommonOptions(CLI::App& app, CommonOptions& options) {
  app.add_option("--config", options.configFile,
                 "YAML file with option values (keys are option names); env FLEETSCALE_CONFIG");
  app.add_option("--log-level", options.logLevel, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--log-format", options.logFormat, "text or json")->capture_default_str();
}

Status applyLogging(const CommonOptions& options) {
  auto format = parseLogFormat(options.logFormat);
  if (!format) return format.error();
  auto level = parseLogLevel(options.logLevel);
  if (!level) return level.error();
  configureLogging(*format, *level);
  return {};
}

std::optional<int> parseCommandLine(CLI::App& app, int argc, char** argv,
                                    const std::set<std::string>& sectionsForOthers) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto merged =
      mergeEnvironmentAndConfig(app, std::move(args), processEnvironment, sectionsForOthers);
  if (!merged) {
    std::cerr << app.get_name() << ": " << merged.error().message << "\n";
    return 2;
  }
  std::vector<std::string> reversed(merged->rbegin(), merged->rend());
  try {
    app.parse(std::move(reversed));
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace fleetscale
