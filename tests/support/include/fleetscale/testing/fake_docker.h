// A Docker (or Podman) engine stand-in for the agent's tests: answers every HTTP request on a
// unix socket with a canned GET /containers/json body, like dockerd's API socket.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace fleetscale::testing {

class FakeDockerEngine {
 public:
  // Listens on `socketPath` (created with its directory; removed on destruction).
  FakeDockerEngine(const std::string& socketPath, std::string containersJson);
  ~FakeDockerEngine();
  FakeDockerEngine(const FakeDockerEngine&) = delete;
  FakeDockerEngine& operator=(const FakeDockerEngine&) = delete;

  int requests() const { return requests_; }
  // The request line of the last request ("GET /containers/json HTTP/1.1").
  std::string lastRequestLine() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace fleetscale::testing
