// The project's real HttpServer on 127.0.0.1, port 0, run by a thread of its own: the server
// side of tests of HTTP clients (the shared clients, webhooks) and of the test doubles built on
// it (fake_kubelet.h). Plain HTTP, or HTTPS when the options carry a TLS context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "fleetscale/shared/http_server.h"

namespace boost::asio {
class io_context;
}

namespace fleetscale::testing {

// Listening when constructed (throws when it cannot listen); stopped, with its thread joined,
// when destroyed. The handler runs on the server's thread and must be thread-safe with the test.
class TestHttpServer {
 public:
  explicit TestHttpServer(HttpHandler handler, HttpServerOptions options = {});
  // Serves `router`'s routes (unknown paths 404, other methods 405).
  explicit TestHttpServer(HttpRouter router, HttpServerOptions options = {});
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port><path>" ("https://" with TLS).
  std::string url(const std::string& path = "") const;

 private:
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  std::thread thread_;
};

}  // namespace fleetscale::testing
