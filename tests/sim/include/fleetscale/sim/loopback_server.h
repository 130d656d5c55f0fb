// An HTTP(S) listener on 127.0.0.1 that can be stopped and started again on the same port: the
// way the simulator takes an API server or a kubelet off the network and brings it back.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "fleetscale/shared/http_server.h"

namespace fleetscale::sim {

// Thread-safe.
class LoopbackServer {
 public:
  LoopbackServer(boost::asio::io_context& io, HttpHandler handler, HttpServerOptions options);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // Listens on `port` (0 = any) the first time, on the same port afterwards. Throws
  // std::runtime_error when the port cannot be had.
  void start(std::uint16_t port = 0);
  // Closes the listener and every open connection; clients see connection refused.
  void stop();
  bool running() const;
  std::uint16_t port() const;

 private:
  boost::asio::io_context& io_;
  HttpHandler handler_;
  HttpServerOptions options_;
  mutable std::mutex mutex_;
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
};

// A TLS server context from PEM text (certificate chain and key). With `clientCaPem`, clients
// may present a certificate signed by that CA (as kube-apiserver's --client-ca-file); one that
// does not verify fails the handshake, and presenting none is allowed.
std::shared_ptr<boost::asio::ssl::context> makeServerTls(const std::string& certificatePem,
                                                         const std::string& keyPem,
                                                         const std::string& clientCaPem = "");

}  // namespace fleetscale::sim
