#include "fleetscale/sim/exec_credential.h"

#include <ctime>
#include <nlohmann/json.hpp>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

json credential(json status) {
  return {{"apiVersion", kExecCredentialApiVersion},
          {"kind", "ExecCredential"},
          {"status", std::move(status)}};
}

// A YAML scalar that means exactly `text`: a JSON string is a double-quoted YAML scalar.
std::string yamlString(std::string_view text) { return json(text).dump(); }

}  // namespace

std::string execPluginScript(std::string_view cluster) {
  const std::string name(cluster);
  const std::string env(kExecClusterEnv);
  const std::string flag(kExecCredentialFileFlag);
  const std::string apiVersion(kExecCredentialApiVersion);
  // POSIX sh only (Debian's /bin/sh is dash). The checks make a client that runs plugins
  // differently from client-go fail loudly, with the reason on stderr, as client-go shows it.
  return "#!/bin/sh\n"
         "# The fleetscale-aggregator's exec credential plugin for cluster '" +
         name +
         "', written by fleetscale-sim\n"
         "# (docs/simulator.md, \"The aggregator's credentials\"). It prints the ExecCredential "
         "the simulator\n"
         "# keeps in the file it is given, which the simulator replaces atomically on rotation.\n"
         "cluster='" +
         name +
         "'\n"
         "fail() {\n"
         "  echo \"fleetscale-sim credential plugin for cluster $cluster: $*\" >&2\n"
         "  exit 1\n"
         "}\n"
         "case \"${KUBERNETES_EXEC_INFO:-}\" in\n"
         "  '') fail 'KUBERNETES_EXEC_INFO is not set (client-go sets it for every exec "
         "plugin)' ;;\n"
         "  *'\"ExecCredential\"'*) ;;\n"
         "  *) fail \"KUBERNETES_EXEC_INFO holds no ExecCredential: $KUBERNETES_EXEC_INFO\" ;;\n"
         "esac\n"
         "case \"$KUBERNETES_EXEC_INFO\" in\n"
         "  *'\"" +
         apiVersion +
         "\"'*) ;;\n"
         "  *) fail \"KUBERNETES_EXEC_INFO is not of apiVersion " +
         apiVersion +
         ": $KUBERNETES_EXEC_INFO\" ;;\n"
         "esac\n"
         "if [ \"${" +
         env + ":-}\" != \"$cluster\" ]; then\n  fail \"" + env + " is '${" + env +
         ":-}', expected '$cluster' (the kubeconfig's exec.env)\"\n"
         "fi\n"
         "if [ \"$#\" -ne 2 ] || [ \"$1\" != " +
         flag + " ]; then\n  fail \"expected the arguments " + flag +
         " FILE (the kubeconfig's exec.args), got: $*\"\n"
         "fi\n"
         "if [ ! -r \"$2\" ]; then\n"
         "  fail \"cannot read $2\"\n"
         "fi\n"
         "exec cat -- \"$2\"\n";
}

std::string execTokenCredentialJson(const std::string& token, std::optional<WallTime> expiry) {
  json status = {{"token", token}};
  if (expiry) status["expirationTimestamp"] = rfc3339Seconds(*expiry);
  return credential(std::move(status)).dump() + "\n";
}

std::string execCertificateCredentialJson(const std::string& certificatePem,
                                          const std::string& keyPem) {
  return credential({{"clientCertificateData", certificatePem}, {"clientKeyData", keyPem}}).dump() +
         "\n";
}

std::string rfc3339Seconds(WallTime time) {
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, n);
}

std::string execUserYaml(const ExecPlugin& plugin) {
  std::string out = "    exec:\n      apiVersion: " + std::string(kExecCredentialApiVersion) +
                    "\n      command: " + yamlString(plugin.command) + "\n";
  out += plugin.args.empty() ? "      args: []\n" : "      args:\n";
  for (const auto& arg : plugin.args) out += "      - " + yamlString(arg) + "\n";
  out += plugin.env.empty() ? "      env: []\n" : "      env:\n";
  for (const auto& [name, value] : plugin.env) {
    out += "      - name: " + yamlString(name) + "\n        value: " + yamlString(value) + "\n";
  }
  out += "      interactiveMode: Never\n      provideClusterInfo: false\n";
  if (!plugin.installHint.empty())
    out += "      installHint: " + yamlString(plugin.installHint) + "\n";
  return out;
}

std::string tokenUserYaml(const std::string& token) { return "    token: " + token + "\n"; }

}  // namespace fleetscale::sim
