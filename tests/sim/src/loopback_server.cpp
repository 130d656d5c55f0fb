#include "fleetscale/sim/loopback_server.h"

#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <stdexcept>
#include <thread>

namespace fleetscale::sim {

LoopbackServer::LoopbackServer(boost::asio::io_context& io, HttpHandler handler,
                               HttpServerOptions options)
    : io_(io), handler_(std::move(handler)), options_(std::move(options)) {}

LoopbackServer::~LoopbackServer() { stop(); }

void LoopbackServer::start(std::uint16_t port) {
  std::lock_guard lock(mutex_);
  if (server_) return;
  auto server = std::make_unique<HttpServer>(io_, handler_, options_);
  const std::uint16_t wanted = port_ ? port_ : port;
  // A stopped server closes its acceptor on an I/O thread; coming back on the same port can
  // race with that close for a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (true) {
    try {
      server->listen(HostPort{"127.0.0.1", wanted});
      break;
    } catch (const std::runtime_error&) {
      if (wanted == 0 || std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  port_ = server->port();
  server_ = std::move(server);
}

void LoopbackServer::stop() {
  std::lock_guard lock(mutex_);
  if (!server_) return;
  server_->stop();
  server_.reset();
}

bool LoopbackServer::running() const {
  std::lock_guard lock(mutex_);
  return server_ != nullptr;
}

std::uint16_t LoopbackServer::port() const {
  std::lock_guard lock(mutex_);
  return port_;
}

std::shared_ptr<boost::asio::ssl::context> makeServerTls(const std::string& certificatePem,
                                                         const std::string& keyPem,
                                                         const std::string& clientCaPem) {
  namespace asio = boost::asio;
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
  context->use_certificate_chain(asio::buffer(certificatePem));
  context->use_private_key(asio::buffer(keyPem), asio::ssl::context::pem);
  if (!clientCaPem.empty()) {
    context->add_certificate_authority(asio::buffer(clientCaPem));
    context->set_verify_mode(asio::ssl::verify_peer);
    // With peer verification OpenSSL refuses to resume a session (a client's second connection)
    // unless the context names its sessions: without this, every other reconnect fails with
    // "tlsv1 alert internal error".
    static constexpr unsigned char kSessionContext[] = "fleetscale-sim";
    SSL_CTX_set_session_id_context(context->native_handle(), kSessionContext,
                                   sizeof(kSessionContext) - 1);
  }
  return context;
}

}  // namespace fleetscale::sim
