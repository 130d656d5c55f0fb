// The two places container metadata comes from: the kubelet's /pods on Kubernetes nodes, and the
// Docker Engine API (or Podman's compatible one) on its unix socket on VMs.
#pragma once

#include <chrono>
#include <string>

#include "fleetscale/agent/metadata.h"
#include "fleetscale/shared/http_client.h"

namespace fleetscale::agent {

struct KubeletSourceOptions {
  std::string url;        // "https://10.0.0.7:10250"; /pods is appended
  std::string tokenFile;  // bearer token, re-read on every fetch (projected tokens rotate)
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
};

// GET <url>/pods with the ServiceAccount token. The client carries the TLS settings (CA file or
// insecure-skip-verify); it is used only from the metadata thread.
class KubeletMetadataSource final : public MetadataSource {
 public:
  KubeletMetadataSource(HttpClient& client, KubeletSourceOptions options)
      : client_(client), options_(std::move(options)) {}
  const char* name() const override { return "kubelet"; }
  Result<MetadataSnapshot> fetch() override;

 private:
  HttpClient& client_;
  KubeletSourceOptions options_;
};

struct EngineSourceOptions {
  std::string socketPath;          // /var/run/docker.sock, /run/podman/podman.sock
  std::string runtime = "docker";  // recorded as the containers' runtime; also the source name
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
};

// GET /containers/json over the engine's unix socket.
class EngineMetadataSource final : public MetadataSource {
 public:
  EngineMetadataSource(HttpClient& client, EngineSourceOptions options)
      : client_(client), options_(std::move(options)) {}
  const char* name() const override { return options_.runtime.c_str(); }
  Result<MetadataSnapshot> fetch() override;

 private:
  HttpClient& client_;
  EngineSourceOptions options_;
};

}  // namespace fleetscale::agent
