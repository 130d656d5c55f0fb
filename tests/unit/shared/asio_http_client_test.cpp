// The agent's HTTP client against the project's real HTTP server and raw sockets: methods,
// headers, bodies, limits, timeouts and bad URLs. HTTPS and unix sockets are covered by the
// kubelet and engine metadata tests (tests/unit/agent/metadata_test.cpp).
#include "fleetscale/shared/asio_http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fleetscale/testing/test_http_server.h"

namespace fleetscale {
namespace {

using std::chrono::milliseconds;

class AsioHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpRouter router;
    router.add("POST", "/echo", [](HttpRequest& request) {
      return HttpResponse::text(201, request.header("x-tag") + ":" + request.body);
    });
    router.add("GET", "/big",
               [](HttpRequest&) { return HttpResponse::text(200, std::string(100000, 'b')); });
    server_ = std::make_unique<testing::TestHttpServer>(std::move(router));
  }
  std::string url(const std::string& path) const { return server_->url(path); }

  std::unique_ptr<testing::TestHttpServer> server_;
  AsioHttpClient client_;
};

TEST_F(AsioHttpClientTest, SendsMethodHeadersAndBodyAndReadsTheAnswer) {
  HttpClientRequest request;
  request.method = "POST";
  request.url = url("/echo");
  request.headers = {{"X-Tag", "t1"}};
  request.body = "payload";
  auto response = client_.send(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "t1:payload");
  EXPECT_EQ(response->headers["content-type"].rfind("text/plain", 0), 0u);

  request.method = "GET";
  request.url = url("/nope");
  request.body.clear();
  auto missing = client_.send(request);
  ASSERT_TRUE(missing.ok()) << "an HTTP status is an answer, not a transport error";
  EXPECT_EQ(missing->status, 404);
}

TEST_F(AsioHttpClientTest, ResponsesOverTheLimitAreErrors) {
  HttpClientRequest request;
  request.url = url("/big");
  request.maxResponseBytes = 1000;
  auto limited = client_.send(request);
  ASSERT_FALSE(limited.ok()) << limited->status << " " << limited->body.size();
  EXPECT_NE(limited.error().message.find("larger than 1000 bytes"), std::string::npos)
      << limited.error().message;
  request.maxResponseBytes = 200000;
  auto whole = client_.send(request);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(whole->body.size(), 100000u);
}

TEST(AsioHttpClientErrorsTest, ASilentServerTimesOutAndARefusedPortFailsFast) {
  // Listens (the kernel completes the handshake) but never answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string port = std::to_string(ntohs(address.sin_port));

  AsioHttpClient client;
  HttpClientRequest request;
  request.url = "http://127.0.0.1:" + port + "/pods";
  request.totalTimeout = milliseconds(200);
  const auto started = std::chrono::steady_clock::now();
  auto silent = client.send(request);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(silent.ok());
  EXPECT_NE(silent.error().message.find("timed out after 200 ms"), std::string::npos)
      << silent.error().message;
  EXPECT_LT(took, std::chrono::seconds(5)) << "bounded by the timeout, not by the server";
  ::close(fd);

  request.url = "http://127.0.0.1:" + port + "/pods";  // closed now: refused
  auto refused = client.send(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("GET http://127.0.0.1:" + port), std::string::npos);
}

TEST(AsioHttpClientErrorsTest, BadUrlsAreClearErrors) {
  AsioHttpClient client;
  for (const auto& [url, expected] : std::vector<std::pair<std::string, std::string>>{
           {"ftp://host/x", "only http:// and https://"},
           {"http:///x", "no host"},
           {"http://host:99999999/", "bad port"},
           {"http://[::1/x", "unclosed IPv6"},
           {"https://host:abc/", "bad port"}}) {
    HttpClientRequest request;
    request.url = url;
    auto result = client.send(request);
    ASSERT_FALSE(result.ok()) << url;
    EXPECT_NE(result.error().message.find(expected), std::string::npos)
        << url << ": " << result.error().message;
  }
}

}  // namespace
}  // namespace fleetscale
