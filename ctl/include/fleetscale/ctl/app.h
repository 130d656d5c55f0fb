// fleetscalectl: the operator's command line for a running aggregator's HTTP API.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/shared/http_client.h"
#include "fleetscale/shared/options.h"

namespace fleetscale::ctl {

// Exit codes of fleetscalectl.
inline constexpr int kCtlOk = 0;
inline constexpr int kCtlServerError = 1;  // unreachable, 5xx, or an answer that is not JSON
inline constexpr int kCtlUsageError = 2;   // bad flags, or the server said 400
inline constexpr int kCtlAuthError = 3;    // 401 or 403
inline constexpr int kCtlNotFound = 4;     // 404

// "?a=1&b=x%20y" from the pairs with a non-empty value, percent-encoded; "" when none.
std::string queryString(const std::vector<std::pair<std::string, std::string>>& params);

// Makes the HTTP client once the connection's TLS settings are known.
using HttpClientFactory = std::function<std::unique_ptr<HttpClient>(const TlsClientOptions&)>;

// What fleetscalectl takes from outside its arguments: the environment (FLEETSCALE_*, HOME and
// XDG_CONFIG_HOME, for the config file) and its HTTP client.
struct CtlSystem {
  EnvLookup env;
  HttpClientFactory makeHttpClient;
};

// The process environment and a CurlHttpClient.
CtlSystem processSystem();

// Runs fleetscalectl with `args` (argv without the program name).
int runCtl(const std::vector<std::string>& args, const CtlSystem& system, std::ostream& out,
           std::ostream& err);

// The same with an empty environment (so no config file either) and `http` for every request,
// whatever the TLS settings.
int runCtl(const std::vector<std::string>& args, HttpClient& http, std::ostream& out,
           std::ostream& err);

int ctlMain(int argc, char** argv);

}  // namespace fleetscale::ctl
