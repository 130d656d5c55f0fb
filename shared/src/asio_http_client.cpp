#include "fleetscale/shared/asio_http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <optional>

namespace fleetscale {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

struct Target {
  bool tls = false;
  std::string host;  // without IPv6 brackets
  std::string port;
  std::string path;  // path and query, at least "/"
};

Result<Target> parseUrl(const std::string& url) {
  Target target;
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://") {
    target.tls = true;
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else {
    return Error{"'" + url + "': only http:// and https:// URLs"};
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  target.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error{"'" + url + "': unclosed IPv6 address"};
    target.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Error{"'" + url + "': bad port"};
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.find(':');
    target.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (target.host.empty()) return Error{"'" + url + "': no host"};
  if (port.empty()) port = target.tls ? "443" : "80";
  if (port.find_first_not_of("0123456789") != std::string_view::npos || port.size() > 5) {
    return Error{"'" + url + "': bad port"};
  }
  target.port = std::string(port);
  return target;
}

bool isIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

Result<std::unique_ptr<asio::ssl::context>> makeContext(const TlsClientOptions& tls) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
  error_code ec;
  if (!tls.caFile.empty()) {
    context->load_verify_file(tls.caFile, ec);
    if (ec) return Error{"CA " + tls.caFile + ": " + ec.message()};
  } else if (!tls.caPem.empty()) {
    context->add_certificate_authority(asio::buffer(tls.caPem), ec);
    if (ec) return Error{"inline CA: " + ec.message()};
  } else {
    context->set_default_verify_paths(ec);
    if (ec) return Error{"system CA store: " + ec.message()};
  }
  if (!tls.clientCertFile.empty()) {
    context->use_certificate_chain_file(tls.clientCertFile, ec);
    if (!ec) context->use_private_key_file(tls.clientKeyFile, asio::ssl::context::pem, ec);
    if (ec) return Error{"client certificate " + tls.clientCertFile + ": " + ec.message()};
  } else if (!tls.clientCertPem.empty()) {
    context->use_certificate_chain(asio::buffer(tls.clientCertPem), ec);
    if (!ec) context->use_private_key(asio::buffer(tls.clientKeyPem), asio::ssl::context::pem, ec);
    if (ec) return Error{"inline client certificate: " + ec.message()};
  }
  context->set_verify_mode(tls.insecureSkipVerify ? asio::ssl::verify_none
                                                  : asio::ssl::verify_peer);
  return context;
}

// One request/response exchange on a connected stream, bounded by the caller's deadline.
class Exchange {
 public:
  Exchange(const HttpClientRequest& request, const Target& target)
      : limit_(request.maxResponseBytes) {
    message_.method_string(request.method);
    message_.target(target.path);
    message_.version(11);
    message_.set(http::field::host, target.host);
    message_.set(http::field::connection, "close");
    for (const auto& [name, value] : request.headers) message_.set(name, value);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      message_.body() = request.body;
      message_.prepare_payload();
    }
    parser_.body_limit(limit_);
    parser_.header_limit(64 * 1024);
    if (request.method == "HEAD") parser_.skip(true);
  }

  template <typename Stream>
  void run(Stream& stream, const std::function<void(error_code)>& done) {
    http::async_write(stream, message_, [this, &stream, done](error_code ec, std::size_t) {
      if (ec) return done(ec);
      // The header first: a declared length over the limit fails before any body is read.
      http::async_read_header(
          stream, buffer_, parser_, [this, &stream, done](error_code headerError, std::size_t) {
            if (headerError) return done(headerError);
            const auto length = parser_.content_length();
            if (length && *length > limit_) return done(http::error::body_limit);
            http::async_read(stream, buffer_, parser_,
                             [done](error_code readError, std::size_t) { done(readError); });
          });
    });
  }

  bool complete() const { return parser_.is_done(); }

  bool overLimit() const { return parser_.get().body().size() > limit_; }

  HttpClientResponse response() {
    HttpClientResponse out;
    auto& message = parser_.get();
    out.status = static_cast<long>(message.result_int());
    out.body = std::move(message.body());
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[std::move(name)] = std::string(field.value());
    }
    return out;
  }

 private:
  std::uint64_t limit_;
  http::request<http::string_body> message_;
  http::response_parser<http::string_body> parser_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace

AsioHttpClient::AsioHttpClient(TlsClientOptions tls) : tls_(std::move(tls)) {}

Result<HttpClientResponse> AsioHttpClient::send(const HttpClientRequest& request) {
  const std::string what = request.method + " " + request.url;
  auto target = parseUrl(request.url);
  if (!target) return Error{what + ": " + target.error().message};

  asio::io_context io;
  std::optional<error_code> outcome;
  bool connected = false;
  auto finish = [&outcome](error_code ec) {
    if (!outcome) outcome = ec;
  };
  Exchange exchange(request, *target);

  // Transports, only the one this request uses is opened.
  std::unique_ptr<asio::ssl::context> context;
  std::optional<asio::local::stream_protocol::socket> local;
  std::optional<tcp::socket> plain;
  std::optional<asio::ssl::stream<tcp::socket>> secure;
  tcp::resolver resolver(io);
  std::function<void()> closeAll = [&] {
    error_code ignored;
    if (local) local->close(ignored);
    if (plain) plain->close(ignored);
    if (secure) secure->lowest_layer().close(ignored);
    resolver.cancel();
  };

  if (!request.unixSocketPath.empty()) {
    local.emplace(io);
    local->async_connect(asio::local::stream_protocol::endpoint(request.unixSocketPath),
                         [&](error_code ec) {
                           if (ec) return finish(ec);
                           connected = true;
                           exchange.run(*local, finish);
                         });
  } else {
    if (target->tls) {
      auto made = makeContext(tls_);
      if (!made) return Error{what + ": " + made.error().message};
      context = std::move(*made);
      secure.emplace(io, *context);
      SSL* ssl = secure->native_handle();
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (isIpAddress(target->host)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, target->host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, target->host.c_str());
        X509_VERIFY_PARAM_set1_host(param, target->host.c_str(), 0);
      }
    } else {
      plain.emplace(io);
    }
    resolver.async_resolve(
        target->host, target->port,
        [&](error_code ec, const tcp::resolver::results_type& endpoints) {
          if (ec) return finish(ec);
          tcp::socket& socket = secure ? secure->next_layer() : *plain;
          asio::async_connect(
              socket, endpoints, [&](error_code connectError, const tcp::endpoint&) {
                if (connectError) return finish(connectError);
                connected = true;
                if (!secure) return exchange.run(*plain, finish);
                secure->async_handshake(asio::ssl::stream_base::client, [&](error_code handshake) {
                  if (handshake) return finish(handshake);
                  exchange.run(*secure, finish);
                });
              });
        });
  }

  // Deadlines: the connection, then the whole exchange. Expiry closes the sockets, which ends
  // every pending operation with an error the handlers pass on.
  bool timedOut = false;
  asio::steady_timer connectDeadline(io, request.connectTimeout);
  connectDeadline.async_wait([&](error_code ec) {
    if (ec || connected || outcome) return;
    timedOut = true;
    closeAll();
  });
  asio::steady_timer totalDeadline(io, request.totalTimeout);
  totalDeadline.async_wait([&](error_code ec) {
    if (ec || outcome) return;
    timedOut = true;
    closeAll();
  });
  while (!outcome && io.run_one() > 0) {
  }
  connectDeadline.cancel();
  totalDeadline.cancel();
  closeAll();
  io.run();  // let the cancelled handlers finish before the objects they use go away

  if (timedOut) {
    return Error{
        what + ": timed out after " +
            std::to_string((connected ? request.totalTimeout : request.connectTimeout).count()) +
            " ms",
        kHttpTimedOut};
  }
  const error_code ec = outcome.value_or(asio::error::operation_aborted);
  if (ec == http::error::body_limit || exchange.overLimit()) {
    return Error{
        what + ": response larger than " + std::to_string(request.maxResponseBytes) + " bytes",
        kHttpTooLarge};
  }
  // A server that closes a TLS connection without close_notify after a complete response is
  // common; the parser has the whole message then.
  if (ec && !(ec == asio::ssl::error::stream_truncated && exchange.complete())) {
    return Error{what + ": " + ec.message()};
  }
  return exchange.response();
}

}  // namespace fleetscale
