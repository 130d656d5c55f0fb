// A small HTTP/1.1 server (Boost.Beast) with a path router, for /metrics, the JSON API and the
// test doubles of the Kubernetes API server and kubelet. Optional TLS.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fleetscale/shared/net_address.h"

namespace fleetscale {

struct HttpRequest {
  std::string method;                             // "GET", "PUT", ...
  std::string target;                             // raw request target, path plus query
  std::string path;                               // percent-decoded path without the query
  std::map<std::string, std::string> query;       // decoded query parameters (last one wins)
  std::map<std::string, std::string> headers;     // lower-case names
  std::map<std::string, std::string> pathParams;  // filled by HttpRouter from {name} segments
  std::string body;
  // Common name of the client certificate the TLS handshake verified; "" without one (plain
  // HTTP, no certificate, or a server context that does not ask for one).
  std::string clientCommonName;
  // The address the client connected to (this end of the connection), as text: which of the
  // host's addresses it dialled, for a server that listens on several (one answering for many
  // loopback addresses in the simulator). IPv4-mapped IPv6 addresses are given as IPv4.
  std::string localAddress;

  // Header value, or "" when absent. `name` in lower case.
  std::string header(const std::string& name) const;
  // Query parameter value, or `fallback`.
  std::string queryParam(const std::string& name, const std::string& fallback = "") const;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, std::string body);
  static HttpResponse text(int status, std::string body);
  // {"error": message} with the given status.
  static HttpResponse jsonError(int status, const std::string& message);
};

// Handlers run on the server's I/O threads and must be thread-safe.
using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

// Routes by method and path pattern; "{name}" matches one path segment into pathParams.
// Unknown paths get 404, known paths with another method 405, both as JSON errors.
class HttpRouter {
 public:
  void add(std::string method, const std::string& pattern, HttpHandler handler);
  HttpResponse handle(HttpRequest& request) const;

  struct RoutePattern {
    std::string method;
    std::string pattern;  // as given to add(): "/api/v1/workloads/{namespace}/{name}"
  };
  // Every route added, in order: lets a test walk all of them (an authorization check that no
  // route escapes).
  std::vector<RoutePattern> patterns() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  std::vector<Route> routes_;
};

struct HttpServerOptions {
  std::size_t maxBodyBytes = 1024 * 1024;
  // The request line and headers together; beyond it the answer is 431.
  std::size_t maxHeaderBytes = 16 * 1024;
  std::chrono::milliseconds readTimeout{std::chrono::seconds(30)};
  // When set, connections are TLS; the context holds the certificate and key. HttpServer::setTls
  // replaces it for later connections.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Extra delay before each response; lets test doubles play a slow server.
  std::function<std::chrono::milliseconds()> responseDelay;
  // Called on an I/O thread for each request answered without reaching the handler, with the
  // reason: "malformed" (400: not HTTP/1.x), "bad_encoding" (400: a path, query or header value
  // that is not UTF-8, or a path or query with control characters), "header_too_large" (431:
  // over maxHeaderBytes), "body_too_large" (413: over maxBodyBytes). May be empty.
  std::function<void(const std::string& reason)> onRejected;
  // Called on an I/O thread for each failed accept, with AcceptBackoff::reason(). May be empty.
  std::function<void(const std::string& reason)> onAcceptError;
  // Whether a connection to this local address (HttpRequest::localAddress) is answered. Called
  // on an I/O thread when a connection is accepted and again before each of its requests reaches
  // the handler; false resets the connection, unanswered, as if the host behind that address had
  // gone (a simulated host that is down). Empty: every connection is answered.
  std::function<bool(const std::string& localAddress)> answers;
};

// Listens on one address; each connection serves keep-alive requests in sequence. Requests that
// are not well-formed HTTP, or whose path, query or headers are not clean text, get a 4xx answer
// (see HttpServerOptions::onRejected) and never reach the handler; a handler that throws gets a
// 500. Failed accepts (out of descriptors) pause the accept loop (AcceptBackoff).
// Thread-safety: start/stop from any thread; the io_context may be run by many threads.
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpHandler handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming the address on failure.
  void listen(const HostPort& address);
  // The bound port (useful after listening on port 0).
  std::uint16_t port() const;
  // The TLS context for connections accepted from now on (a rotated certificate); open
  // connections keep theirs. Only for a server constructed with HttpServerOptions::tls set: a
  // null `tls`, or a plain HTTP server, is ignored.
  void setTls(std::shared_ptr<boost::asio::ssl::context> tls);
  // Stops accepting and closes open connections.
  void stop();

  struct Impl;  // implementation detail, public so the .cpp's connection classes can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetscale
