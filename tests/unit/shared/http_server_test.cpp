#include "fleetscale/shared/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <thread>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/descriptor_hog.h"
#include "fleetscale/testing/test_http_server.h"

namespace fleetscale {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpRouter router;
    router.add("GET", "/items/{namespace}/{name}", [](HttpRequest& request) {
      return HttpResponse::json(200, "{\"ns\":\"" + request.pathParams["namespace"] +
                                         "\",\"name\":\"" + request.pathParams["name"] +
                                         "\",\"q\":\"" + request.queryParam("q") + "\"}");
    });
    router.add("POST", "/echo",
               [](HttpRequest& request) { return HttpResponse::text(201, request.body); });
    router.add("GET", "/throw",
               [](HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    HttpServerOptions options;
    options.maxBodyBytes = 1024;
    server_ = std::make_unique<testing::TestHttpServer>(std::move(router), options);
  }
  Result<HttpClientResponse> send(const std::string& method, const std::string& path,
                                  const std::string& body = "") {
    HttpClientRequest request;
    request.method = method;
    request.url = server_->url(path);
    request.body = body;
    return client_.send(request);
  }

  std::unique_ptr<testing::TestHttpServer> server_;
  CurlHttpClient client_;
};

TEST_F(HttpServerTest, RoutesWithPathParametersAndDecodedQuery) {
  auto response = send("GET", "/items/kube-system/web%2D1?q=a+b%21");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"ns":"kube-system","name":"web-1","q":"a b!"})");
  EXPECT_EQ(response->headers["content-type"], "application/json");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  EXPECT_EQ(send("GET", "/nope")->status, 404);
  EXPECT_EQ(send("DELETE", "/echo")->status, 405);
}

TEST_F(HttpServerTest, PostBodyAndKeepAlive) {
  for (int i = 0; i < 3; ++i) {  // same curl handle: the connection is reused
    auto response = send("POST", "/echo", "payload" + std::to_string(i));
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->body, "payload" + std::to_string(i));
  }
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  EXPECT_EQ(send("POST", "/echo", std::string(4096, 'x'))->status, 413);
  EXPECT_EQ(send("POST", "/echo", "small")->status, 201) << "server still serves";
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  EXPECT_EQ(send("GET", "/throw")->status, 500);
  EXPECT_EQ(send("GET", "/items/a/b")->status, 200);
}

// Sends `bytes` on a fresh connection and returns everything the server answers until it closes.
std::string rawExchange(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(bytes));
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send);  // nothing more is coming
  std::string answer;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(answer), ec);
  return answer;
}

class HttpServerHygieneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpRouter router;
    router.add("GET", "/items/{name}", [this](HttpRequest& request) {
      ++handled_;
      return HttpResponse::jsonError(404, "no item " + request.pathParams["name"]);
    });
    HttpServerOptions options;
    options.maxHeaderBytes = 2048;
    options.onRejected = [this](const std::string& reason) {
      std::lock_guard lock(mutex_);
      rejected_.push_back(reason);
    };
    server_ = std::make_unique<testing::TestHttpServer>(std::move(router), options);
  }
  std::string get(const std::string& target, const std::string& headers = "") {
    return rawExchange(server_->port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
                                            "Connection: close\r\n\r\n");
  }
  std::vector<std::string> rejected() {
    std::lock_guard lock(mutex_);
    return rejected_;
  }

  std::unique_ptr<testing::TestHttpServer> server_;
  std::atomic<int> handled_{0};
  std::mutex mutex_;
  std::vector<std::string> rejected_;
};

// Issue 19: "%ff" in any URL path answered 500 (the 404's JSON could not hold the byte) and wrote
// the raw byte into the log. A path or query that is not clean text never reaches a handler.
TEST_F(HttpServerHygieneTest, PathsAndQueriesThatAreNotCleanTextAre400) {
  for (const char* target : {"/items/%ff", "/%ff", "/items/a%0ab", "/items/ok?q=%ff",
                             "/items/ok?q=%1b%5b31m", "/items/%c2%9b"}) {
    const std::string answer = get(target);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << target << ": " << answer;
    EXPECT_NE(answer.find("not valid UTF-8 or holds control characters"), std::string::npos)
        << answer;
  }
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(rejected(), std::vector<std::string>(6, "bad_encoding"));
  EXPECT_EQ(get("/items/z%C3%BCrich").rfind("HTTP/1.1 404", 0), 0u) << "UTF-8 is fine";
  EXPECT_EQ(handled_, 1);
}

TEST_F(HttpServerHygieneTest, HeaderValuesThatAreNotUtf8Are400) {
  const std::string answer = get("/items/a", "X-Name: \xff\xfe\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(rejected(), std::vector<std::string>{"bad_encoding"});
}

// Issue 19: malformed HTTP got no answer at all.
TEST_F(HttpServerHygieneTest, MalformedRequestsAre400AndOversizedHeaders431) {
  const std::string garbage = rawExchange(server_->port(), "HELLO?\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage;
  const std::string badVersion = rawExchange(server_->port(), "GET / HTTP/9\r\n\r\n");
  EXPECT_EQ(badVersion.rfind("HTTP/1.1 400", 0), 0u) << badVersion;
  const std::string bigHeader = get("/items/a", "X-Big: " + std::string(4000, 'a') + "\r\n");
  EXPECT_EQ(bigHeader.rfind("HTTP/1.1 431", 0), 0u) << bigHeader;
  const std::string longTarget = get("/items/" + std::string(4000, 'a'));
  EXPECT_EQ(longTarget.rfind("HTTP/1.1 431", 0), 0u) << longTarget;
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(rejected(), (std::vector<std::string>{"malformed", "malformed", "header_too_large",
                                                  "header_too_large"}));
  EXPECT_EQ(rawExchange(server_->port(), ""), "") << "a client that says nothing gets nothing";
  EXPECT_EQ(get("/items/a").rfind("HTTP/1.1 404", 0), 0u) << "the server still serves";
}

TEST(HttpRouterTest, PatternsListEveryRouteAsAdded) {
  HttpRouter router;
  auto ok = [](HttpRequest&) { return HttpResponse::json(200, "{}"); };
  router.add("GET", "/healthz", ok);
  router.add("POST", "/api/v1/clusters/{name}/drain", ok);
  const auto patterns = router.patterns();
  ASSERT_EQ(patterns.size(), 2u);
  EXPECT_EQ(patterns[0].method, "GET");
  EXPECT_EQ(patterns[0].pattern, "/healthz");
  EXPECT_EQ(patterns[1].method, "POST");
  EXPECT_EQ(patterns[1].pattern, "/api/v1/clusters/{name}/drain");
}

TEST(HttpResponseTest, JsonErrorsNeverThrowOnBadBytes) {
  const HttpResponse response = HttpResponse::jsonError(400, "bad \xff byte");
  EXPECT_EQ(response.body, "{\"error\":\"bad \xef\xbf\xbd byte\"}");
}

// Issue 19: out of descriptors, the accept loop retried at once (113% CPU, nothing logged). Now it
// pauses 10 ms doubling to 1 s: a handful of failed accepts in half a second, not thousands, and
// the pending connection is served once descriptors are free again.
TEST(HttpServerAcceptTest, OutOfDescriptorsPausesTheAcceptLoopAndRecovers) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // UBSan's vptr check probes memory through a pipe on each type it has not seen yet; out of
  // descriptors the probe fails and it reports the server's first virtual calls as invalid. The
  // dev build (no sanitizers) runs this test.
  GTEST_SKIP() << "the sanitizers' runtime needs file descriptors of its own";
#endif
#endif
  testing::FileLimit limit(4096);  // keeps the hog small
  std::atomic<int> failures{0};
  boost::asio::io_context io(1);
  HttpServerOptions options;
  options.onAcceptError = [&](const std::string& reason) {
    EXPECT_EQ(reason, "emfile");
    ++failures;
  };
  HttpRouter router;
  router.add("GET", "/", [](HttpRequest&) { return HttpResponse::text(200, "up\n"); });
  HttpServer server(
      io, [&router](HttpRequest& request) { return router.handle(request); }, options);
  server.listen(HostPort{"127.0.0.1", 0});
  boost::asio::ip::tcp::socket client(io);
  client.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  boost::asio::write(client, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n"
                                                             "Connection: close\r\n\r\n")));
  {
    testing::DescriptorHog hog;
    io.run_for(std::chrono::milliseconds(500));  // the window the failures are counted in
    EXPECT_GE(failures.load(), 1) << "the accept failed for want of a descriptor";
    EXPECT_LE(failures.load(), 12) << "10+20+40+80+160+320 ms: about six tries, not a spin";
  }
  std::string answer;
  boost::system::error_code ec;
  std::atomic<bool> answered{false};
  std::thread reader([&] {
    boost::asio::read(client, boost::asio::dynamic_buffer(answer), ec);
    answered = true;
  });
  // The next try (at most 1 s away) accepts; run the server until the client has its answer.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!answered && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
  }
  if (!answered) client.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  reader.join();
  server.stop();
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << "served once descriptors were free: " << answer;
}

// One server on 0.0.0.0 answering for many loopback addresses (the simulator's pods): the handler
// learns which address the client dialled, and `answers` makes some of them go dark.
TEST(HttpServerLocalAddressTest, HandlersSeeTheDialledAddressAndUnansweredOnesAreReset) {
  boost::asio::io_context io(1);
  std::atomic<bool> thirdAnswers{true};
  HttpServerOptions options;
  options.answers = [&](const std::string& localAddress) {
    return localAddress != "127.0.0.3" || thirdAnswers.load();
  };
  HttpServer server(
      io, [](HttpRequest& request) { return HttpResponse::text(200, request.localAddress); },
      options);
  server.listen(HostPort{"0.0.0.0", 0});
  auto work = boost::asio::make_work_guard(io);
  std::thread thread([&io] { io.run(); });
  CurlHttpClient client;
  auto get = [&](const std::string& host) {
    HttpClientRequest request;
    request.url = "http://" + host + ":" + std::to_string(server.port()) + "/";
    request.connectTimeout = std::chrono::milliseconds(500);
    request.totalTimeout = std::chrono::seconds(3);
    return client.send(request);
  };

  for (const char* host : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) {
    auto response = get(host);
    ASSERT_TRUE(response.ok()) << host << ": " << response.error().message;
    EXPECT_EQ(response->body, host);
  }
  // The connection to 127.0.0.3 stays open (keep-alive); its next request goes unanswered too.
  thirdAnswers = false;
  EXPECT_FALSE(get("127.0.0.3").ok()) << "a host that is gone answers nothing";
  auto other = get("127.0.0.2");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->body, "127.0.0.2") << "the other addresses still answer";

  server.stop();
  work.reset();
  thread.join();
}

TEST(HttpClientTest, TransportFailureIsAnError) {
  CurlHttpClient client;
  HttpClientRequest request;
  request.url = "http://127.0.0.1:1/unreachable";
  request.connectTimeout = std::chrono::milliseconds(500);
  auto response = client.send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.error().message.find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale
