#include "fleetscale/shared/http_server.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "fleetscale/shared/asio_listen.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/tls.h"

namespace fleetscale {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
        hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else if (plusIsSpace && text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

void splitTarget(HttpRequest& request) {
  const std::string_view target = request.target;
  const auto question = target.find('?');
  request.path = percentDecode(target.substr(0, question), false);
  if (question == std::string_view::npos) return;
  for (std::string_view pair : splitFields(target.substr(question + 1), "&")) {
    const auto equals = pair.find('=');
    std::string key = percentDecode(pair.substr(0, equals), true);
    std::string value =
        equals == std::string_view::npos ? "" : percentDecode(pair.substr(equals + 1), true);
    request.query[std::move(key)] = std::move(value);
  }
}

// Why a request's decoded path or query cannot be handled as text, if it cannot: handlers echo
// them into JSON, logs and store rows, which must stay valid UTF-8 without control characters.
std::optional<std::string> textProblem(const HttpRequest& request) {
  auto clean = [](std::string_view text) {
    return isValidUtf8(text) && !hasControlCharacters(text);
  };
  if (!clean(request.path)) {
    return "the request path is not valid UTF-8 or holds control characters";
  }
  for (const auto& [key, value] : request.query) {
    if (!clean(key) || !clean(value)) {
      return "a query parameter is not valid UTF-8 or holds control characters";
    }
  }
  return std::nullopt;
}

std::vector<std::string> pathSegments(std::string_view path) {
  std::vector<std::string> segments;
  for (std::string_view segment : splitFields(path, "/")) segments.emplace_back(segment);
  return segments;
}

// The address a connection was made to; "" when the socket no longer has one.
std::string localAddressOf(const tcp::socket& socket) {
  beast::error_code ec;
  const auto endpoint = socket.local_endpoint(ec);
  if (ec) return "";
  const auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
};

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpRequest::queryParam(const std::string& name, const std::string& fallback) const {
  const auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}};
}

HttpResponse HttpResponse::text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

HttpResponse HttpResponse::jsonError(int status, const std::string& message) {
  // Replace, not throw, should a message carry bytes that are not UTF-8.
  return json(status, nlohmann::json{{"error", message}}.dump(
                          -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void HttpRouter::add(std::string method, const std::string& pattern, HttpHandler handler) {
  routes_.push_back(Route{std::move(method), pattern, pathSegments(pattern), std::move(handler)});
}

std::vector<HttpRouter::RoutePattern> HttpRouter::patterns() const {
  std::vector<RoutePattern> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.push_back(RoutePattern{route.method, route.pattern});
  return out;
}

HttpResponse HttpRouter::handle(HttpRequest& request) const {
  const auto segments = pathSegments(request.path);
  bool pathMatched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& expected = route.segments[i];
      if (expected.size() > 2 && expected.front() == '{' && expected.back() == '}') {
        params[expected.substr(1, expected.size() - 2)] = segments[i];
      } else {
        match = expected == segments[i];
      }
    }
    if (!match) continue;
    pathMatched = true;
    if (route.method != request.method && !(route.method == "GET" && request.method == "HEAD")) {
      continue;
    }
    request.pathParams = std::move(params);
    return route.handler(request);
  }
  if (pathMatched) return HttpResponse::jsonError(405, "method " + request.method + " not allowed");
  return HttpResponse::jsonError(404, "no such path: " + request.path);
}

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& ioContext, HttpHandler h, HttpServerOptions o)
      : io(ioContext),
        handler(std::move(h)),
        options(std::move(o)),
        acceptor(ioContext),
        acceptTimer(ioContext),
        acceptBackoff(clock, "http.server", "HTTP server") {}

  void accept();
  void track(const std::shared_ptr<SessionBase>& session) {
    std::lock_guard lock(mutex);
    std::erase_if(sessions, [](const auto& weak) { return weak.expired(); });
    sessions.push_back(session);
  }

  void rejected(const std::string& reason) const {
    if (options.onRejected) options.onRejected(reason);
  }

  asio::io_context& io;
  HttpHandler handler;
  HttpServerOptions options;
  tcp::acceptor acceptor;
  asio::steady_timer acceptTimer;  // the pause after a failed accept
  SystemClock clock;
  AcceptBackoff acceptBackoff;  // accept handlers only (one runs at a time)
  std::uint16_t boundPort = 0;
  std::mutex mutex;
  std::vector<std::weak_ptr<SessionBase>> sessions;
  bool stopped = false;
};

namespace {

template <typename Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `tls` is the context a TLS stream was made with, kept alive while the connection lasts
  // (HttpServer::setTls may replace the server's); null for plain HTTP.
  Session(Stream stream, std::shared_ptr<HttpServer::Impl> server,
          std::shared_ptr<asio::ssl::context> tls = nullptr)
      : tls_(std::move(tls)),
        stream_(std::move(stream)),
        localAddress_(localAddressOf(beast::get_lowest_layer(stream_).socket())),
        server_(std::move(server)),
        timer_(stream_.get_executor()) {}

  void start() {
    if (!answered()) return;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(server_->options.readTimeout);
      stream_.async_handshake(
          asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->clientCommonName_ = verifiedPeerCommonName(self->stream_.native_handle());
            self->read();
          });
    } else {
      read();
    }
  }

  void close() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->stream_).close();
      self->timer_.cancel();
    });
  }

 private:
  // Whether HttpServerOptions::answers lets this connection be answered; if not, resets it (a
  // zero linger makes close() send RST): the client sees the connection drop, unanswered.
  bool answered() {
    if (!server_->options.answers || server_->options.answers(localAddress_)) return true;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().set_option(asio::socket_base::linger(true, 0),
                                                         ignored);
    beast::get_lowest_layer(stream_).close();
    return false;
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(server_->options.maxBodyBytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.maxHeaderBytes));
    beast::get_lowest_layer(stream_).expires_after(server_->options.readTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

  // Answers a request refused before the handler, then closes: after a parse error the rest of
  // the stream cannot be trusted to start a request.
  void refuse(int status, const std::string& reason, const std::string& message) {
    server_->rejected(reason);
    respond(HttpResponse::jsonError(status, message), false);
  }

  void onRead(beast::error_code ec) {
    if (!answered()) return;
    if (ec == http::error::body_limit) {
      refuse(413, "body_too_large", "request body too large");
      return;
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      refuse(431, "header_too_large",
             "request line and headers longer than " +
                 std::to_string(server_->options.maxHeaderBytes) + " bytes");
      return;
    }
    // Closed (before or during a request) or timed out: nobody to answer.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return;
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category()) {
      refuse(400, "malformed", "malformed HTTP request: " + ec.message());
      return;
    }
    if (ec) return;
    auto& message = parser_->get();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto value = field.value();
      if (!isValidUtf8(std::string_view(value.data(), value.size()))) {
        refuse(400, "bad_encoding", "header " + name + " is not valid UTF-8");
        return;
      }
      request.headers[std::move(name)] = std::string(value);
    }
    request.body = std::move(message.body());
    request.clientCommonName = clientCommonName_;
    request.localAddress = localAddress_;
    splitTarget(request);
    if (auto problem = textProblem(request)) {
      refuse(400, "bad_encoding", *problem);
      return;
    }
    HttpResponse response;
    try {
      response = server_->handler(request);
    } catch (const std::exception& e) {
      componentLogger("http.server")
          ->error("handler for {} {} threw: {}", request.method, request.path, e.what());
      response = HttpResponse::jsonError(500, "internal error");
    }
    if (request.method == "HEAD") response.body.clear();
    const bool keepAlive = message.keep_alive();
    const auto delay = server_->options.responseDelay ? server_->options.responseDelay()
                                                      : std::chrono::milliseconds(0);
    if (delay.count() > 0) {
      beast::get_lowest_layer(stream_).expires_never();
      timer_.expires_after(delay);
      timer_.async_wait([self = this->shared_from_this(), response = std::move(response),
                         keepAlive](beast::error_code waitError) mutable {
        if (!waitError) self->respond(std::move(response), keepAlive);
      });
      return;
    }
    respond(std::move(response), keepAlive);
  }

  void respond(HttpResponse response, bool keepAlive) {
    auto out = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), 11);
    out->set(http::field::server, "fleetscale");
    out->set(http::field::content_type, response.contentType);
    for (const auto& [name, value] : response.headers) out->set(name, value);
    out->body() = std::move(response.body);
    out->keep_alive(keepAlive);
    out->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_->options.readTimeout);
    http::async_write(stream_, *out,
                      [self = this->shared_from_this(), out](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (out->keep_alive()) {
                          self->read();
                        } else {
                          beast::error_code ignored;
                          beast::get_lowest_layer(self->stream_)
                              .socket()
                              .shutdown(tcp::socket::shutdown_send, ignored);
                        }
                      });
  }

  std::shared_ptr<asio::ssl::context> tls_;  // declared first: outlives stream_
  Stream stream_;
  std::string localAddress_;
  std::string clientCommonName_;  // set once the TLS handshake is done
  std::shared_ptr<HttpServer::Impl> server_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        {
          std::lock_guard lock(self->mutex);
          if (self->stopped) return;
        }
        if (ec) {
          // Out of descriptors, typically: retrying at once would spin. Pause, then accept.
          if (self->options.onAcceptError) self->options.onAcceptError(AcceptBackoff::reason(ec));
          const auto pause = self->acceptBackoff.failed(ec);
          std::lock_guard lock(self->mutex);  // stop() cancels the timer under it
          if (self->stopped) return;
          self->acceptTimer.expires_after(pause);
          self->acceptTimer.async_wait([self](const beast::error_code& waitError) {
            if (!waitError) self->accept();
          });
          return;
        }
        self->acceptBackoff.succeeded();
        std::shared_ptr<asio::ssl::context> tls;
        {
          std::lock_guard lock(self->mutex);  // setTls replaces it under the lock
          tls = self->options.tls;
        }
        if (tls) {
          auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
              self, tls);
          self->track(session);
          session->start();
        } else {
          auto session = std::make_shared<Session<beast::tcp_stream>>(
              beast::tcp_stream(std::move(socket)), self);
          self->track(session);
          session->start();
        }
        self->accept();
      });
}

HttpServer::HttpServer(asio::io_context& io, HttpHandler handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(handler), std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::listen(const HostPort& address) {
  impl_->boundPort = openAcceptor(impl_->acceptor, address);
  impl_->accept();
}

std::uint16_t HttpServer::port() const { return impl_->boundPort; }

void HttpServer::setTls(std::shared_ptr<asio::ssl::context> tls) {
  if (!tls) return;
  std::lock_guard lock(impl_->mutex);
  if (impl_->options.tls) impl_->options.tls = std::move(tls);
}

void HttpServer::stop() {
  std::vector<std::weak_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    // The non-throwing overload: stop() runs in the destructor.
    boost::system::error_code ignored;
    impl_->acceptTimer.cancel(ignored);
    sessions.swap(impl_->sessions);
  }
  asio::post(impl_->io, [impl = impl_] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  for (const auto& weak : sessions) {
    if (auto session = weak.lock()) session->close();
  }
}

}  // namespace fleetscale
