// fleetscalectl: the operator's command line for a running aggregator's HTTP API.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/shared/http_client.h"

namespace fleetscale::ctl {

// Exit codes of fleetscalectl.
inline constexpr int kCtlOk = 0;
inline constexpr int kCtlServerError = 1;  // unreachable, 5xx, or an answer that is not JSON
inline constexpr int kCtlUsageError = 2;   // bad flags, or the server said 400
inline constexpr int kCtlAuthError = 3;    // 401 or 403
inline constexpr int kCtlNotFound = 4;     // 404

// "?a=1&b=x%20y" from the pairs with a non-empty value, percent-encoded; "" when none.
std::string queryString(const std::vector<std::pair<std::string, std::string>>& params);

// Runs fleetscalectl with `args` (argv without the program name) using `http` for requests.
int runCtl(const std::vector<std::string>& args, HttpClient& http, std::ostream& out,
           std::ostream& err);

int ctlMain(int argc, char** argv);

}  // namespace fleetscale::ctl
