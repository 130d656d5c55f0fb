#include "fleetscale/testing/test_http_server.h"

#include <boost/asio/io_context.hpp>

namespace fleetscale::testing {

TestHttpServer::TestHttpServer(HttpHandler handler, HttpServerOptions options)
    : io_(std::make_unique<boost::asio::io_context>(1)), tls_(options.tls != nullptr) {
  server_ = std::make_unique<HttpServer>(*io_, std::move(handler), std::move(options));
  server_->listen(HostPort{"127.0.0.1", 0});
  port_ = server_->port();
  thread_ = std::thread([this] { io_->run(); });
}

TestHttpServer::TestHttpServer(HttpRouter router, HttpServerOptions options)
    : TestHttpServer(
          [router = std::move(router)](HttpRequest& request) { return router.handle(request); },
          std::move(options)) {}

TestHttpServer::~TestHttpServer() {
  server_->stop();
  io_->stop();
  thread_.join();
  server_.reset();
}

std::string TestHttpServer::url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace fleetscale::testing
