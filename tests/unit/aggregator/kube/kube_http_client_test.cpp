// Every request carries the source's current credential; a 401 drops it and the request goes
// once more with the next, against a real HTTP server.
#include "fleetscale/aggregator/kube/kube_http_client.h"

#include <gtest/gtest.h>

#include <atomic>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/test_http_server.h"

namespace fleetscale::aggregator {
namespace {

// Gives the tokens in order, moving on when one is rejected.
class ScriptedSource final : public CredentialSource {
 public:
  explicit ScriptedSource(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}
  Result<Credential> current() override {
    if (next_ >= tokens_.size()) return Error{"out of tokens"};
    return Credential{tokens_[next_], {}, {}};
  }
  void rejected(const Credential& credential) override {
    rejectedTokens.push_back(credential.bearerToken);
    ++next_;
  }
  std::vector<std::string> rejectedTokens;

 private:
  std::vector<std::string> tokens_;
  std::size_t next_ = 0;
};

TEST(KubeHttpClientTest, A401IsRetriedOnceWithTheNextCredential) {
  std::atomic<int> requests{0};
  testing::TestHttpServer api([&](HttpRequest& request) {
    ++requests;
    return request.header("authorization") == "Bearer good"
               ? HttpResponse::json(200, R"({"kind":"Scale"})")
               : HttpResponse::json(401, R"({"kind":"Status","code":401})");
  });
  const HttpClientFactory curl = [](const TlsClientOptions& tls) {
    return std::make_unique<CurlHttpClient>(tls);
  };
  auto source = std::make_shared<ScriptedSource>(std::vector<std::string>{"expired", "good"});
  KubeHttpClient client(TlsClientOptions{}, source, curl);
  HttpClientRequest request;
  request.url = api.url("/apis/apps/v1/namespaces/shop/deployments/web/scale");
  // What a caller adds from the token read at start-up gives way to the source's.
  request.headers.emplace_back("Authorization", "Bearer read-at-start-up");
  auto response = client.send(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(requests.load(), 2);
  EXPECT_EQ(source->rejectedTokens, (std::vector<std::string>{"expired"}));
  EXPECT_EQ(request.headers.size(), 1u) << "the caller's request is not changed";

  // Refused twice in a row: the second 401 is the answer, not a loop.
  auto refused = std::make_shared<ScriptedSource>(std::vector<std::string>{"a", "b", "c"});
  KubeHttpClient stubborn(TlsClientOptions{}, refused, curl);
  response = stubborn.send(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(refused->rejectedTokens.size(), 2u);

  // No credential at all: an error that says so, and nothing sent.
  const int before = requests.load();
  auto empty = std::make_shared<ScriptedSource>(std::vector<std::string>{});
  response = KubeHttpClient(TlsClientOptions{}, empty, curl).send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().message, "credentials: out of tokens");
  EXPECT_EQ(requests.load(), before);
}

}  // namespace
}  // namespace fleetscale::aggregator
