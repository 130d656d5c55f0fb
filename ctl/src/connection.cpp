#include "fleetscale/ctl/connection.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <filesystem>

#include "fleetscale/shared/text.h"
#include "fleetscale/shared/token.h"

namespace fleetscale::ctl {
namespace {

constexpr const char* kInsecure = "insecure-skip-tls-verify";
// Big enough for any CA bundle; the limit only keeps a wrong path (a device) from being read on.
constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;

const ConnectionKey* findKey(std::string_view key) {
  for (const auto& k : connectionKeys()) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

std::string knownKeys() {
  std::string names;
  for (const auto& k : connectionKeys()) names += (names.empty() ? "" : ", ") + std::string(k.key);
  return names;
}

std::string lookup(const EnvLookup& env, const std::string& name) {
  return env ? env(name).value_or("") : "";
}

std::string lineOf(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1) + ": ";
}

Result<ConnectionSettings> parseContext(const std::string& path, const std::string& name,
                                        const YAML::Node& node, const std::string& home) {
  ConnectionSettings settings;
  if (node.IsNull()) return settings;
  if (!node.IsMap()) {
    return Error{lineOf(path, node) + "context " + singleQuoted(name) +
                 " must be a mapping of settings (" + knownKeys() + ")"};
  }
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const std::string where = lineOf(path, entry.first);
    const ConnectionKey* known = findKey(key);
    if (known == nullptr) {
      return Error{where + "unknown key " + singleQuoted(key) + " in context " +
                   singleQuoted(name) + " (known keys: " + knownKeys() + ")"};
    }
    if (entry.second.IsNull()) {
      return Error{where + singleQuoted(key) + " in context " + singleQuoted(name) +
                   " has no value"};
    }
    if (!entry.second.IsScalar()) {
      return Error{where + singleQuoted(key) + " in context " + singleQuoted(name) +
                   " must be a single value"};
    }
    std::string value = entry.second.Scalar();
    if (key == kInsecure) {
      bool flag = false;
      if (!YAML::convert<bool>::decode(entry.second, flag)) {
        return Error{where + singleQuoted(key) + " must be true or false, got " +
                     singleQuoted(value)};
      }
      value = flag ? "true" : "false";
    } else if (value.empty()) {
      return Error{where + singleQuoted(key) + " in context " + singleQuoted(name) +
                   " has no value"};
    } else if (known->isPath) {
      value = expandHome(value, home);
      if (std::filesystem::path(value).is_relative()) value = (directory / value).string();
    }
    settings[key] = value;
  }
  return settings;
}

// The config file to read, and whether it was named (a named file must exist).
struct ConfigChoice {
  std::string path;
  std::string namedBy;  // "--config", "FLEETSCALE_CTL_CONFIG", or "" for the default
};

ConfigChoice chooseConfig(const ConnectionFlags& flags, const EnvLookup& env) {
  if (flags.config) return {*flags.config, "--config"};
  if (auto named = lookup(env, "FLEETSCALE_CTL_CONFIG"); !named.empty()) {
    return {named, "FLEETSCALE_CTL_CONFIG"};
  }
  return {defaultCtlConfigPath(env), ""};
}

Result<std::optional<CtlConfigFile>> loadConfig(const ConfigChoice& choice,
                                                const std::string& home) {
  if (choice.path.empty()) return std::optional<CtlConfigFile>();
  const std::string path = expandHome(choice.path, home);
  auto text = readFile(path, 1024 * 1024);
  if (!text) {
    if (choice.namedBy.empty() && text.error().code == ENOENT) {
      return std::optional<CtlConfigFile>();
    }
    return Error{"config file" + (choice.namedBy.empty() ? "" : " (" + choice.namedBy + ")") + " " +
                 text.error().message};
  }
  auto config = parseCtlConfig(*text, path, home);
  if (!config) return config.error();
  return std::optional<CtlConfigFile>(std::move(*config));
}

// One source of settings, in precedence order.
struct Source {
  const ConnectionSettings* settings;
  std::string context;  // for the config file: " of context 'NAME' in PATH"
  enum Kind { kFlag, kEnvironment, kContext } kind;

  // Where a key's value came from, for messages: "--token", "FLEETSCALE_TOKEN",
  // "token of context 'prod' in /home/u/.config/fleetscale/ctl.yaml".
  std::string originOf(const ConnectionKey& key) const {
    if (kind == kFlag) return "--" + std::string(key.key);
    if (kind == kEnvironment) return std::string(key.environment);
    return std::string(key.key) + context;
  }
};

struct Merged {
  ConnectionSettings values;
  std::map<std::string, std::string> origins;

  bool has(const std::string& key) const { return values.count(key) != 0; }
  const std::string& value(const std::string& key) const { return values.at(key); }
  const std::string& origin(const std::string& key) const { return origins.at(key); }
};

Result<Merged> merge(const std::vector<Source>& sources) {
  Merged merged;
  for (const auto& key : connectionKeys()) {
    if (key.key == "token" || key.key == "token-file") continue;
    for (const auto& source : sources) {
      auto it = source.settings->find(std::string(key.key));
      if (it == source.settings->end()) continue;
      merged.values[it->first] = it->second;
      merged.origins[it->first] = source.originOf(key);
      break;
    }
  }
  // The token and the token file are one setting: the first source naming either gives it.
  for (const auto& source : sources) {
    const bool token = source.settings->count("token") != 0;
    const bool tokenFile = source.settings->count("token-file") != 0;
    if (token && tokenFile) {
      return Error{source.originOf(*findKey("token")) + " and " +
                   source.originOf(*findKey("token-file")) +
                   " are both set: give the token or a file that holds it, not both"};
    }
    if (!token && !tokenFile) continue;
    const ConnectionKey& key = *findKey(token ? "token" : "token-file");
    merged.values[std::string(key.key)] = source.settings->at(std::string(key.key));
    merged.origins[std::string(key.key)] = source.originOf(key);
    break;
  }
  return merged;
}

// The chosen context of the config file as a source: named by --context, else
// FLEETSCALE_CONTEXT, else the file's current-context; no settings when none is named.
Result<Source> contextSource(const ConnectionFlags& flags, const EnvLookup& env,
                             const std::optional<CtlConfigFile>& config) {
  static const ConnectionSettings kNoSettings;
  std::string name;
  std::string namedBy;
  if (flags.context) {
    name = *flags.context;
    namedBy = "--context";
  } else if (auto named = lookup(env, "FLEETSCALE_CONTEXT"); !named.empty()) {
    name = named;
    namedBy = "FLEETSCALE_CONTEXT";
  } else if (config) {
    name = config->currentContext;
    namedBy = "current-context in " + config->path;
  }
  if (name.empty()) return Source{&kNoSettings, "", Source::kContext};
  if (!config) {
    const std::string defaultPath = defaultCtlConfigPath(env);
    return Error{
        namedBy + " names context " + singleQuoted(name) + " but there is no config file (" +
        (defaultPath.empty() ? std::string("HOME is not set") : "looked for " + defaultPath) +
        "; name one with --config or FLEETSCALE_CTL_CONFIG)"};
  }
  auto it = config->contexts.find(name);
  if (it == config->contexts.end()) {
    std::string names;
    for (const auto& context : config->contexts) {
      names += (names.empty() ? "" : ", ") + context.first;
    }
    return Error{namedBy + " names context " + singleQuoted(name) + ", which is not in " +
                 config->path + " (its contexts: " + (names.empty() ? "none" : names) + ")"};
  }
  return Source{&it->second, " of context " + singleQuoted(name) + " in " + config->path,
                Source::kContext};
}

Status checkReadable(const Merged& merged, const std::string& key) {
  if (!merged.has(key)) return {};
  auto text = readFile(merged.value(key), kMaxFileBytes);
  if (!text) return Error{merged.origin(key) + ": " + text.error().message};
  return {};
}

Result<bool> parseBool(const std::string& text, const std::string& origin) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return Error{origin + " must be true or false, got " + singleQuoted(text)};
}

}  // namespace

const std::vector<ConnectionKey>& connectionKeys() {
  static const std::vector<ConnectionKey> keys = {
      {"server", "FLEETSCALE_SERVER", false,
       "the aggregator's API, http://HOST:PORT or https://HOST:PORT (default "
       "http://127.0.0.1:7080)"},
      {"certificate-authority", "FLEETSCALE_CA_FILE", true,
       "verify the aggregator's HTTPS certificate with this CA (PEM) instead of the system's"},
      {"client-certificate", "FLEETSCALE_CLIENT_CERTIFICATE", true,
       "client certificate (PEM) for an aggregator that asks for one (mutual TLS)"},
      {"client-key", "FLEETSCALE_CLIENT_KEY", true, "the client certificate's key (PEM)"},
      {"token", "FLEETSCALE_TOKEN", false,
       "bearer token: a viewer token for reads, an admin token for drain, undrain and reload "
       "(prefer --token-file: a flag shows in the process list)"},
      {"token-file", "FLEETSCALE_CTL_TOKEN_FILE", true,
       "file holding the bearer token, read at each run"},
      {kInsecure, "FLEETSCALE_INSECURE_SKIP_TLS_VERIFY", false,
       "do not verify the aggregator's certificate (labs only: anyone on the way can read the "
       "token)"},
  };
  return keys;
}

std::string expandHome(const std::string& path, const std::string& home) {
  if (home.empty()) return path;
  if (path == "~") return home;
  if (path.rfind("~/", 0) == 0) return home + path.substr(1);
  return path;
}

std::string defaultCtlConfigPath(const EnvLookup& env) {
  if (auto xdg = lookup(env, "XDG_CONFIG_HOME"); !xdg.empty()) {
    return xdg + "/fleetscale/ctl.yaml";
  }
  if (auto home = lookup(env, "HOME"); !home.empty()) {
    return home + "/.config/fleetscale/ctl.yaml";
  }
  return "";
}

Result<CtlConfigFile> parseCtlConfig(std::string_view yaml, const std::string& path,
                                     const std::string& home) {
  CtlConfigFile config;
  config.path = path;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error{path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  if (root.IsNull()) return config;
  if (!root.IsMap()) return Error{path + ": the top level must be a mapping"};
  for (const auto& entry : root) {
    const std::string key = entry.first.Scalar();
    const std::string where = lineOf(path, entry.first);
    if (key == "current-context") {
      if (!entry.second.IsScalar()) return Error{where + "current-context must be a name"};
      config.currentContext = entry.second.Scalar();
    } else if (key == "contexts") {
      if (entry.second.IsNull()) continue;
      if (!entry.second.IsMap()) {
        return Error{where + "contexts must be a mapping from a context's name to its settings"};
      }
      for (const auto& context : entry.second) {
        const std::string name = context.first.Scalar();
        auto settings = parseContext(path, name, context.second, home);
        if (!settings) return settings.error();
        config.contexts[name] = std::move(*settings);
      }
    } else {
      return Error{where + "unknown key " + singleQuoted(key) +
                   " (known keys: current-context, contexts)"};
    }
  }
  return config;
}

Result<Connection> resolveConnection(const ConnectionFlags& flags, const EnvLookup& env) {
  const std::string home = lookup(env, "HOME");
  ConnectionSettings fromFlags, fromEnvironment;
  for (const auto& key : connectionKeys()) {
    const std::string name(key.key);
    if (auto it = flags.settings.find(name); it != flags.settings.end()) {
      fromFlags[name] = key.isPath ? expandHome(it->second, home) : it->second;
    }
    if (auto value = lookup(env, std::string(key.environment)); !value.empty()) {
      fromEnvironment[name] = key.isPath ? expandHome(value, home) : value;
    }
  }

  auto config = loadConfig(chooseConfig(flags, env), home);
  if (!config) return config.error();
  auto context = contextSource(flags, env, *config);
  if (!context) return context.error();
  auto merged = merge(
      {{&fromFlags, "", Source::kFlag}, {&fromEnvironment, "", Source::kEnvironment}, *context});
  if (!merged) return merged.error();

  Connection connection;
  connection.server = merged->has("server") ? merged->value("server") : kDefaultServer;
  while (connection.server.size() > 1 && connection.server.back() == '/') {
    connection.server.pop_back();
  }
  const bool https = connection.server.rfind("https://", 0) == 0;
  if ((!https && connection.server.rfind("http://", 0) != 0) ||
      connection.server.find("://") + 3 == connection.server.size()) {
    return Error{(merged->has("server") ? merged->origin("server") : "the server") +
                 " must be an http:// or https:// URL, got " + singleQuoted(connection.server)};
  }

  if (merged->has(kInsecure)) {
    auto insecure = parseBool(merged->value(kInsecure), merged->origin(kInsecure));
    if (!insecure) return insecure.error();
    connection.tls.insecureSkipVerify = *insecure;
  }
  if (merged->has("certificate-authority")) {
    if (connection.tls.insecureSkipVerify) {
      return Error{merged->origin("certificate-authority") + " and " + merged->origin(kInsecure) +
                   " contradict each other: verify with the CA, or (labs only) do not verify"};
    }
    connection.tls.caFile = merged->value("certificate-authority");
    connection.caOrigin = merged->origin("certificate-authority");
  }
  if (merged->has("client-certificate") != merged->has("client-key")) {
    const std::string given = merged->has("client-key") ? "client-key" : "client-certificate";
    const std::string missing = merged->has("client-key") ? "client-certificate" : "client-key";
    return Error{merged->origin(given) + " needs its " + missing + " too (--" + missing + ")"};
  }
  if (merged->has("client-certificate")) {
    connection.tls.clientCertFile = merged->value("client-certificate");
    connection.tls.clientKeyFile = merged->value("client-key");
  }
  if (https) {
    for (const char* key : {"certificate-authority", "client-certificate", "client-key"}) {
      if (Status readable = checkReadable(*merged, key); !readable) {
        return Error{readable.message()};
      }
    }
    if (connection.tls.insecureSkipVerify) {
      connection.warnings.push_back(
          merged->origin(kInsecure) +
          ": the aggregator's certificate is not verified, so anyone on the way can read the "
          "token and forge answers; use it in labs only");
    }
  } else {
    std::vector<std::string> unused;
    if (merged->has("certificate-authority")) unused.push_back("certificate-authority");
    if (merged->has("client-certificate")) unused.push_back("client-certificate");
    if (connection.tls.insecureSkipVerify) unused.emplace_back(kInsecure);
    for (const auto& key : unused) {
      connection.warnings.push_back(merged->origin(key) + " is not used: the server " +
                                    connection.server + " is plain http://");
    }
  }

  if (merged->has("token-file")) {
    connection.tokenOrigin = merged->origin("token-file") + " " + merged->value("token-file");
    auto token = readTokenFile(merged->value("token-file"));
    if (!token) {
      return Error{"token file (" + merged->origin("token-file") + "): " + token.error().message};
    }
    connection.token = std::move(*token);
  } else if (merged->has("token")) {
    connection.tokenOrigin = merged->origin("token");
    if (Status valid = checkToken(merged->value("token")); !valid) {
      return Error{connection.tokenOrigin + ": " + valid.message()};
    }
    connection.token = merged->value("token");
  }
  return connection;
}

}  // namespace fleetscale::ctl
