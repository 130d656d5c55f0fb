#include "fleetscale/shared/http_server.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/curl_http_client.h"
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
