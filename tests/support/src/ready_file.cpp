#include "fleetscale/testing/ready_file.h"

#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::testing {

ReadyPorts waitForReadyFile(const std::string& path) {
  ReadyPorts ports;
  waitFor([&] {
    auto text = readFile(path);
    if (!text) return false;
    auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded()) return false;
    ports = {json["ingest_port"].get<int>(), json["http_port"].get<int>()};
    return true;
  });
  return ports;
}

}  // namespace fleetscale::testing
