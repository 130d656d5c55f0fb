// fleetscalectl's connection: which aggregator, how to trust it (TLS) and which bearer token to
// send. Every setting comes from its flag, else its environment variable, else the chosen context
// of the config file (a small kubeconfig-like YAML file), else a default. Parsing is pure (text
// in); resolveConnection reads the config file and the token file it is told about, at each run.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/http_client.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::ctl {

// One connection setting: its config-file key (the flag is "--" + key) and environment variable.
struct ConnectionKey {
  std::string_view key;
  std::string_view environment;
  bool isPath;  // a file: "~" expanded; in the config file, relative to the file's directory
  std::string_view help;
};

// server, certificate-authority, client-certificate, client-key, token, token-file,
// insecure-skip-tls-verify, in that order.
const std::vector<ConnectionKey>& connectionKeys();

inline constexpr const char* kDefaultServer = "http://127.0.0.1:7080";

// The settings one source gives, by config-file key; a key is present only when that source sets
// it. Boolean settings hold "true" or "false".
using ConnectionSettings = std::map<std::string, std::string>;

// The config file:
//   current-context: prod
//   contexts:
//     prod: {server: https://fleetscale.example:7080, token-file: ~/.fleetscale/prod-token}
struct CtlConfigFile {
  std::string path;
  std::string currentContext;  // "" when the file sets none
  std::map<std::string, ConnectionSettings> contexts;
};

// Parses a config file's text. `path` names the file in errors (with the line) and anchors
// relative paths; `home` expands "~". Unknown keys, values that are not scalars and booleans that
// are not true/false are errors naming the key: a mistyped security setting must not be ignored.
Result<CtlConfigFile> parseCtlConfig(std::string_view yaml, const std::string& path,
                                     const std::string& home);

// $XDG_CONFIG_HOME/fleetscale/ctl.yaml, else $HOME/.config/fleetscale/ctl.yaml, else "".
std::string defaultCtlConfigPath(const EnvLookup& env);

// "~" and "~/..." with `home` in front; any other path, or an empty `home`, unchanged.
std::string expandHome(const std::string& path, const std::string& home);

// What the command line itself gave: connection flags, --config and --context.
struct ConnectionFlags {
  ConnectionSettings settings;
  std::optional<std::string> config;
  std::optional<std::string> context;
};

// The connection a run uses.
struct Connection {
  std::string server;  // http:// or https:// URL without a trailing '/'
  TlsClientOptions tls;
  std::string token;  // "" = send no Authorization header
  // Where the token and the CA came from, for messages: "--token-file /x", "FLEETSCALE_TOKEN",
  // "token-file of context 'prod' in /home/u/.config/fleetscale/ctl.yaml"; "" when not set.
  std::string tokenOrigin;
  std::string caOrigin;
  std::vector<std::string> warnings;  // for stderr, one sentence each
};

// Merges the flags, the environment and the config file's context, in that order of precedence,
// and checks the result. The token and token-file settings go together: the first source that
// sets either gives the token (both in one source is an error), so a flag's token beats a
// token file named in the config file. Errors are usage errors and say what to fix: a named
// config file or context that does not exist (a missing default config file is fine), a token
// file that cannot be read or is empty, a client certificate without its key, a server that is
// not an http:// or https:// URL, a CA together with insecure-skip-tls-verify.
Result<Connection> resolveConnection(const ConnectionFlags& flags, const EnvLookup& env);

}  // namespace fleetscale::ctl
