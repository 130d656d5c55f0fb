// fleetscalectl against a real HTTPS server (the project's HttpServer with a throwaway CA): the CA,
// client-certificate and token settings reach the wire, and each way of getting TLS or the token
// wrong ends in a message that names the setting to fix.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "fleetscale/ctl/app.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/test_http_server.h"
#include "fleetscale/testing/test_pki.h"

namespace fleetscale::ctl {
namespace {

constexpr const char* kViewerToken = "viewer-token-1";
constexpr const char* kAdminToken = "admin-token-2";

// The aggregator's API as it is being built for issue 16: every call needs a token (401 without),
// a viewer token reads, only an admin token drains (403 for a viewer).
class FakeAggregator {
 public:
  HttpResponse handle(const HttpRequest& request) {
    {
      std::lock_guard lock(mutex_);
      authorizations_.push_back(request.header("authorization"));
      clientNames_.push_back(request.clientCommonName);
    }
    const std::string auth = request.header("authorization");
    const bool admin = auth == std::string("Bearer ") + kAdminToken;
    const bool viewer = auth == std::string("Bearer ") + kViewerToken;
    if (!admin && !viewer) return HttpResponse::jsonError(401, "a bearer token is required");
    if (request.method == "POST") {
      if (!admin) return HttpResponse::jsonError(403, "role viewer may not drain");
      return HttpResponse::json(200, R"({"cluster":"aws","draining":true})");
    }
    return HttpResponse::json(200, R"({"items":[]})");
  }
  std::vector<std::string> authorizations() const {
    std::lock_guard lock(mutex_);
    return authorizations_;
  }
  std::vector<std::string> clientNames() const {
    std::lock_guard lock(mutex_);
    return clientNames_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> authorizations_;
  std::vector<std::string> clientNames_;
};

struct CtlRun {
  int code;
  std::string out;
  std::string err;
};

class CtlHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = makeTestPki();
    ASSERT_TRUE(pki.ok()) << pki.error().message;
    pki_ = *pki;
    auto other = makeTestPki();
    ASSERT_TRUE(other.ok()) << other.error().message;
    ASSERT_TRUE(writePemPair(pki_.ca, dir_.path(), "ca").ok());
    ASSERT_TRUE(writePemPair(pki_.server, dir_.path(), "server").ok());
    ASSERT_TRUE(writePemPair(pki_.client, dir_.path(), "client").ok());
    ASSERT_TRUE(writePemPair(other->ca, dir_.path(), "other-ca").ok());
    ASSERT_TRUE(writePemPair(other->client, dir_.path(), "other-client").ok());
    env_["HOME"] = dir_.file("home");
  }

  void serve(bool requireClientCertificate = false) {
    auto tls = makeTlsServerContext(
        TlsServerFiles{dir_.file("server.crt"), dir_.file("server.key"),
                       requireClientCertificate ? dir_.file("ca.crt") : std::string()});
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    HttpServerOptions options;
    options.tls = *tls;
    server_ = std::make_unique<testing::TestHttpServer>(
        [this](HttpRequest& request) { return aggregator_.handle(request); }, options);
  }

  CtlRun ctl(std::vector<std::string> args) {
    const CtlSystem system{[this](const std::string& name) -> std::optional<std::string> {
                             auto it = env_.find(name);
                             if (it == env_.end()) return std::nullopt;
                             return it->second;
                           },
                           processSystem().makeHttpClient};
    std::ostringstream out, err;
    const int code = runCtl(args, system, out, err);
    return {code, out.str(), err.str()};
  }

  std::string url() const { return server_->url(); }

  testing::TempDir dir_;
  TestPki pki_;
  std::map<std::string, std::string> env_;
  FakeAggregator aggregator_;
  std::unique_ptr<testing::TestHttpServer> server_;  // last: stops before what its handler uses
};

TEST_F(CtlHttpsTest, TheRightCaAndATokenGetThrough) {
  serve();
  const auto nodes = ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"),
                          "--token", kViewerToken, "nodes"});
  EXPECT_EQ(nodes.code, kCtlOk) << nodes.err;
  EXPECT_EQ(nodes.err, "");
  ASSERT_EQ(aggregator_.authorizations().size(), 1U);
  EXPECT_EQ(aggregator_.authorizations()[0], std::string("Bearer ") + kViewerToken);
}

TEST_F(CtlHttpsTest, WithoutTheCaTheMessageNamesTheCaFlag) {
  serve();
  const auto result = ctl({"--server", url(), "--token", kViewerToken, "nodes"});
  EXPECT_EQ(result.code, kCtlServerError);
  EXPECT_NE(result.err.find("cannot verify the certificate"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--certificate-authority"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("system's CAs"), std::string::npos) << result.err;
  EXPECT_TRUE(aggregator_.authorizations().empty()) << "no request is sent to an unverified server";
}

TEST_F(CtlHttpsTest, AWrongCaFailsNamingTheCaFileAndWhereItCameFrom) {
  serve();
  env_["FLEETSCALE_CA_FILE"] = dir_.file("other-ca.crt");
  const auto result = ctl({"--server", url(), "--token", kViewerToken, "nodes"});
  EXPECT_EQ(result.code, kCtlServerError);
  EXPECT_NE(result.err.find("cannot verify the certificate"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(dir_.file("other-ca.crt") + " from FLEETSCALE_CA_FILE"),
            std::string::npos)
      << result.err;
  EXPECT_TRUE(aggregator_.authorizations().empty());
}

TEST_F(CtlHttpsTest, InsecureSkipTlsVerifyConnectsAndWarns) {
  serve();
  const auto result =
      ctl({"--server", url(), "--insecure-skip-tls-verify", "--token", kViewerToken, "nodes"});
  EXPECT_EQ(result.code, kCtlOk) << result.err;
  EXPECT_NE(result.err.find("warning: --insecure-skip-tls-verify"), std::string::npos)
      << result.err;
}

TEST_F(CtlHttpsTest, TheTokenFromATokenFileIsSentAsABearerToken) {
  serve();
  testing::writeFile(dir_.file("viewer-token"), std::string("  ") + kViewerToken + "\n");
  const auto result = ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"),
                           "--token-file", dir_.file("viewer-token"), "nodes"});
  EXPECT_EQ(result.code, kCtlOk) << result.err;
  ASSERT_EQ(aggregator_.authorizations().size(), 1U);
  EXPECT_EQ(aggregator_.authorizations()[0], std::string("Bearer ") + kViewerToken);
}

TEST_F(CtlHttpsTest, TheConfigFileGivesServerCaAndTokenFileWithPathsRelativeToItself) {
  serve();
  testing::writeFile(dir_.file("home/.config/fleetscale/admin-token"), kAdminToken);
  std::filesystem::copy_file(dir_.file("ca.crt"), dir_.file("home/.config/fleetscale/ca.crt"));
  testing::writeFile(dir_.file("home/.config/fleetscale/ctl.yaml"),
                     "current-context: prod\n"
                     "contexts:\n"
                     "  prod:\n"
                     "    server: " +
                         url() +
                         "\n"
                         "    certificate-authority: ca.crt\n"
                         "    token-file: admin-token\n"
                         "  lab: {server: http://127.0.0.1:1}\n");
  const auto result = ctl({"drain", "aws"});
  EXPECT_EQ(result.code, kCtlOk) << result.err;
  ASSERT_EQ(aggregator_.authorizations().size(), 1U);
  EXPECT_EQ(aggregator_.authorizations()[0], std::string("Bearer ") + kAdminToken);
}

TEST_F(CtlHttpsTest, WithoutATokenThe401SaysHowToPassOne) {
  serve();
  const auto result =
      ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"), "nodes"});
  EXPECT_EQ(result.code, kCtlAuthError);
  EXPECT_NE(result.err.find("the aggregator needs a token: pass --token-file or --token"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(aggregator_.authorizations().at(0), "");
}

TEST_F(CtlHttpsTest, AViewerTokenMayNotDrainAndIsToldAnAdminTokenIsNeeded) {
  serve();
  env_["FLEETSCALE_TOKEN"] = kViewerToken;
  const auto result =
      ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"), "drain", "aws"});
  EXPECT_EQ(result.code, kCtlAuthError);
  EXPECT_NE(result.err.find("this token's role may not drain cluster aws: an admin token is "
                            "needed (token from FLEETSCALE_TOKEN)"),
            std::string::npos)
      << result.err;
  env_["FLEETSCALE_TOKEN"] = "not-a-token";
  const auto wrong =
      ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"), "nodes"});
  EXPECT_EQ(wrong.code, kCtlAuthError);
  EXPECT_NE(wrong.err.find("did not accept the token from FLEETSCALE_TOKEN"), std::string::npos)
      << wrong.err;
}

TEST_F(CtlHttpsTest, MutualTlsPresentsTheClientCertificate) {
  serve(/*requireClientCertificate=*/true);
  const auto result = ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"),
                           "--client-certificate", dir_.file("client.crt"), "--client-key",
                           dir_.file("client.key"), "--token", kViewerToken, "nodes"});
  EXPECT_EQ(result.code, kCtlOk) << result.err;
  ASSERT_EQ(aggregator_.clientNames().size(), 1U);
  EXPECT_EQ(aggregator_.clientNames()[0], "fleetscale-test-client");

  const auto anonymous = ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"),
                              "--token", kViewerToken, "nodes"});
  EXPECT_EQ(anonymous.code, kCtlServerError);
  EXPECT_NE(anonymous.err.find("--client-certificate"), std::string::npos) << anonymous.err;

  const auto stranger = ctl({"--server", url(), "--certificate-authority", dir_.file("ca.crt"),
                             "--client-certificate", dir_.file("other-client.crt"), "--client-key",
                             dir_.file("other-client.key"), "--token", kViewerToken, "nodes"});
  EXPECT_EQ(stranger.code, kCtlServerError);
  EXPECT_NE(stranger.err.find("does not accept the client certificate"), std::string::npos)
      << stranger.err;
  EXPECT_EQ(aggregator_.clientNames().size(), 1U) << "neither reached the handler";
}

TEST_F(CtlHttpsTest, PlainHttpToATlsPortSaysToUseHttps) {
  serve();
  std::string plain = url();
  plain.replace(0, 5, "http");
  const auto result = ctl({"--server", plain, "--token", kViewerToken, "nodes"});
  EXPECT_EQ(result.code, kCtlServerError);
  EXPECT_NE(result.err.find("use https://"), std::string::npos) << result.err;
}

TEST_F(CtlHttpsTest, HttpsToAPlainHttpPortSaysItIsNotTls) {
  testing::TestHttpServer plain([](HttpRequest&) { return HttpResponse::json(200, "{}"); });
  std::string https = plain.url();
  https.replace(0, 4, "https");
  const auto result = ctl({"--server", https, "--certificate-authority", dir_.file("ca.crt"),
                           "--token", kViewerToken, "nodes"});
  EXPECT_EQ(result.code, kCtlServerError);
  EXPECT_NE(result.err.find("does not speak TLS"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("use http://"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace fleetscale::ctl
