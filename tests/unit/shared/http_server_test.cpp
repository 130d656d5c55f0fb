#include "fleetscale/shared/http_server.h"

#include <gtest/gtest.h>

#include <thread>

#include "fleetscale/shared/curl_http_client.h"

namespace fleetscale {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/items/{namespace}/{name}", [](HttpRequest& request) {
      return HttpResponse::json(200, "{\"ns\":\"" + request.pathParams["namespace"] +
                                         "\",\"name\":\"" + request.pathParams["name"] +
                                         "\",\"q\":\"" + request.queryParam("q") + "\"}");
    });
    router_.add("POST", "/echo",
                [](HttpRequest& request) { return HttpResponse::text(201, request.body); });
    router_.add("GET", "/throw",
                [](HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    HttpServerOptions options;
    options.maxBodyBytes = 1024;
    server_ = std::make_unique<HttpServer>(
        io_, [this](HttpRequest& r) { return router_.handle(r); }, options);
    server_->listen(HostPort{"127.0.0.1", 0});
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    io_.stop();
    thread_.join();
  }
  Result<HttpClientResponse> send(const std::string& method, const std::string& path,
                                  const std::string& body = "") {
    HttpClientRequest request;
    request.method = method;
    request.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    request.body = body;
    return client_.send(request);
  }

  boost::asio::io_context io_;
  HttpRouter router_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
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
