#include "fleetscale/agent/metadata_sources.h"

#include "fleetscale/agent/engine_containers.h"
#include "fleetscale/agent/pod_list.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::agent {
namespace {

// A kubelet with 110 pods answers a few MiB; far more is not a kubelet.
constexpr std::size_t kMaxAnswerBytes = 64 * 1024 * 1024;

Error failure(MetadataFailure kind, std::string message) {
  return Error{std::move(message), static_cast<int>(kind)};
}

Result<std::string> checkedBody(Result<HttpClientResponse> response, const std::string& what) {
  if (!response) return failure(MetadataFailure::kTransport, response.error().message);
  if (response->status == 401 || response->status == 403) {
    return failure(MetadataFailure::kUnauthorized,
                   what + ": HTTP " + std::to_string(response->status) + " " +
                       std::string(trim(response->body.substr(0, 200))));
  }
  if (response->status != 200) {
    return failure(MetadataFailure::kHttpStatus,
                   what + ": HTTP " + std::to_string(response->status) + " " +
                       std::string(trim(response->body.substr(0, 200))));
  }
  return std::move(response->body);
}

}  // namespace

Result<MetadataSnapshot> KubeletMetadataSource::fetch() {
  HttpClientRequest request;
  request.url = options_.url + "/pods";
  request.connectTimeout = std::min(options_.timeout, std::chrono::milliseconds(2000));
  request.totalTimeout = options_.timeout;
  request.maxResponseBytes = kMaxAnswerBytes;
  request.headers.emplace_back("Accept", "application/json");
  if (!options_.tokenFile.empty()) {
    auto token = readSecretFile(options_.tokenFile);
    if (!token) return failure(MetadataFailure::kUnauthorized, "token: " + token.error().message);
    request.headers.emplace_back("Authorization", "Bearer " + *token);
  }
  auto body = checkedBody(client_.send(request), "GET " + request.url);
  if (!body) return body.error();
  auto snapshot = parsePodList(*body);
  if (!snapshot) return failure(MetadataFailure::kParse, snapshot.error().message);
  return snapshot;
}

Result<MetadataSnapshot> EngineMetadataSource::fetch() {
  HttpClientRequest request;
  request.url = "http://localhost/containers/json";
  request.unixSocketPath = options_.socketPath;
  request.connectTimeout = std::min(options_.timeout, std::chrono::milliseconds(2000));
  request.totalTimeout = options_.timeout;
  request.maxResponseBytes = kMaxAnswerBytes;
  auto body = checkedBody(client_.send(request), "GET /containers/json on " + options_.socketPath);
  if (!body) return body.error();
  auto snapshot = parseEngineContainerList(*body, options_.runtime);
  if (!snapshot) return failure(MetadataFailure::kParse, snapshot.error().message);
  return snapshot;
}

}  // namespace fleetscale::agent
