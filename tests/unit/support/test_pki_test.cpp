#include "fleetscale/testing/test_pki.h"

#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/testing/test_http_server.h"

namespace fleetscale {
namespace {

namespace asio = boost::asio;

std::shared_ptr<asio::ssl::context> serverContext(const TestPki& pki, bool requireClientCert) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  context->use_certificate_chain(asio::buffer(pki.server.certificate));
  context->use_private_key(asio::buffer(pki.server.privateKey), asio::ssl::context::pem);
  if (requireClientCert) {
    context->add_certificate_authority(asio::buffer(pki.ca.certificate));
    context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

class TlsServerTest : public ::testing::TestWithParam<bool> {};

TEST_P(TlsServerTest, HttpsWithTheTestCaAndOptionalClientCertificates) {
  const bool mutual = GetParam();
  auto pki = makeTestPki();
  ASSERT_TRUE(pki.ok()) << pki.error().message;
  HttpServerOptions options;
  options.tls = serverContext(*pki, mutual);
  testing::TestHttpServer server([](HttpRequest&) { return HttpResponse::text(200, "secure"); },
                                 options);

  HttpClientRequest request;
  request.url = server.url("/");
  TlsClientOptions tls;
  tls.caPem = pki->ca.certificate;
  if (mutual) {
    tls.clientCertPem = pki->client.certificate;
    tls.clientKeyPem = pki->client.privateKey;
  }
  CurlHttpClient trusted(tls);
  auto ok = trusted.send(request);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->body, "secure");

  CurlHttpClient untrusted;  // system CAs only: the test CA is unknown
  EXPECT_FALSE(untrusted.send(request).ok());
  if (mutual) {
    TlsClientOptions noClientCert;
    noClientCert.caPem = pki->ca.certificate;
    CurlHttpClient anonymous(noClientCert);
    EXPECT_FALSE(anonymous.send(request).ok())
        << "mutual TLS refuses a client without a certificate";
  }
}

INSTANTIATE_TEST_SUITE_P(ServerOnlyAndMutual, TlsServerTest, ::testing::Values(false, true));

TEST(TestPkiTest, IssuesFromAnExistingCa) {
  auto pki = makeTestPki({"kube-api.sim"});
  ASSERT_TRUE(pki.ok());
  auto issued = issueCertificate(pki->ca, "second", {"second.sim", "127.0.0.2"}, true);
  ASSERT_TRUE(issued.ok());
  EXPECT_NE(issued->certificate.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_FALSE(issueCertificate(PemPair{"junk", "junk"}, "x", {}, true).ok());
}

}  // namespace
}  // namespace fleetscale
