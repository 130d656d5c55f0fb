// A kubelet stand-in for the agent's tests: a real HTTPS server (TestHttpServer, certificates
// from makeTestPki) on 127.0.0.1 that answers GET /pods with a PodList, checks the bearer token
// like the kubelet does, and misbehaves on demand: hangs, 500, garbage, 401. The simulated fleet
// (tests/sim) has its own, fuller kubelet; this one only serves the agent's fault tests.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_http_server.h"

namespace fleetscale::testing {

class FakeKubelet {
 public:
  enum class Mode {
    kServe,         // 200 with the PodList
    kHang,          // accept the request and answer only after a minute (or at shutdown)
    kServerError,   // 500 with a Status body
    kGarbage,       // 200 with a body that is not JSON
    kUnauthorized,  // 401, as for a wrong or expired token
  };

  // Serves `podList` to requests carrying "Authorization: Bearer <token>"; others get 401.
  explicit FakeKubelet(std::string podList, std::string token = "kubelet-test-token");
  ~FakeKubelet();
  FakeKubelet(const FakeKubelet&) = delete;
  FakeKubelet& operator=(const FakeKubelet&) = delete;

  std::string url() const;                                     // https://127.0.0.1:<port>
  const std::string& caFile() const { return caFile_; }        // the CA that signed its certificate
  const std::string& tokenFile() const { return tokenFile_; }  // holds the expected token

  void setMode(Mode mode) { mode_ = mode; }
  void setPodList(std::string podList);
  int requests() const { return requests_; }  // GET /pods received, in any mode

 private:
  TempDir dir_;
  std::string caFile_;
  std::string tokenFile_;
  std::string token_;
  std::mutex mutex_;
  std::string podList_;
  std::atomic<Mode> mode_{Mode::kServe};
  std::atomic<int> requests_{0};
  std::unique_ptr<TestHttpServer> server_;  // last: stops before the state its handler uses
};

}  // namespace fleetscale::testing
