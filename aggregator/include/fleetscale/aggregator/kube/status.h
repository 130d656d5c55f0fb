// What a Kubernetes API server says when it refuses a request.
#pragma once

#include <string>

namespace fleetscale::aggregator {

// What an error response says: a Kubernetes Status object's message, else the body, shortened.
std::string errorDetail(const std::string& body);

}  // namespace fleetscale::aggregator
