// fleetscalectl: the operator's command line for a running aggregator's HTTP API.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "fleetscale/shared/http_client.h"

namespace fleetscale::aggregator {

// Aligned columns, like kubectl's output. Cells wider than the header widen the column.
std::string renderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// Runs fleetscalectl with `args` (argv without the program name) using `http` for requests.
// Exit codes: 0 success, 1 the server failed or could not be reached, 2 usage error.
int runCtl(const std::vector<std::string>& args, HttpClient& http, std::ostream& out,
           std::ostream& err);

int ctlMain(int argc, char** argv);

}  // namespace fleetscale::aggregator
