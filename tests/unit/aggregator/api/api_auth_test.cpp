// The HTTP API's authorization: the token file parser and the rule in front of the router.
#include "fleetscale/aggregator/api/api_auth.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

TEST(ApiTokensParseTest, ReadsTokensNamesAndRolesSkippingCommentsAndBlankLines) {
  auto tokens = parseApiTokens(
      "# who may use the API\n"
      "\n"
      "v1ew3r-token,alice,viewer\n"
      "  adm1n-token , ops team , admin  \r\n"
      "   # indented comment\n"
      "third,carol,viewer");
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[0].token, "v1ew3r-token");
  EXPECT_EQ((*tokens)[0].name, "alice");
  EXPECT_EQ((*tokens)[0].role, ApiRole::kViewer);
  EXPECT_EQ((*tokens)[1].token, "adm1n-token");
  EXPECT_EQ((*tokens)[1].name, "ops team");
  EXPECT_EQ((*tokens)[1].role, ApiRole::kAdmin);
  EXPECT_EQ((*tokens)[2].name, "carol");
}

TEST(ApiTokensParseTest, MalformedLinesNameTheLineButNeverTheToken) {
  const std::string secret = "S3CRET-token";
  for (const auto& [line, message] : std::vector<std::pair<std::string, std::string>>{
           {secret + ",alice", "line 2: expected token,name,role (3 fields), found 2"},
           {secret, "line 2: expected token,name,role (3 fields), found 1"},
           {secret + ",alice,viewer,extra", "line 2: expected token,name,role (3 fields), found 4"},
           {" ,alice,viewer", "line 2: the token is empty"},
           {secret + ",,viewer", "line 2: the name is empty"},
           {secret + ",alice,root", "line 2: role 'root' is neither viewer nor admin"},
           {secret + ",alice,Viewer", "line 2: role 'Viewer' is neither viewer nor admin"},
           {"S3CRET\ttoken,alice,viewer",
            "line 2: the token holds a character that is not printable ASCII"},
           {std::string(513, 'x') + ",alice,viewer", "line 2: the token is longer than 512 bytes"},
           {secret + ",al\x01ice,viewer", "line 2: the name is not text of at most 256 bytes"},
           {"first,bob,admin", "line 2: the same token as line 1"},
       }) {
    auto tokens = parseApiTokens("first,admin,admin\n" + line + "\nok,zed,viewer\n");
    ASSERT_FALSE(tokens.ok()) << line;
    EXPECT_EQ(tokens.error().message, message);
    EXPECT_EQ(tokens.error().message.find(secret), std::string::npos);
  }
}

TEST(ApiTokensParseTest, AFileWithoutTokensIsAnError) {
  for (const char* text : {"", "\n\n", "# nobody yet\n"}) {
    auto tokens = parseApiTokens(text);
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_EQ(tokens.error().message, "holds no token (only comments or blank lines)");
  }
}

TEST(ApiTokensReadTest, TheAdminTokenFileIsOneAdminNamedAdmin) {
  testing::TempDir dir;
  testing::writeFile(dir.file("admin"), "adm1n\n");
  testing::writeFile(dir.file("tokens.csv"), "v1ew,alice,viewer\n");
  testing::writeFile(dir.file("bad.csv"), "v1ew,alice\n");
  auto both = readApiTokens(dir.file("tokens.csv"), dir.file("admin"));
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].token, "adm1n");
  EXPECT_EQ((*both)[0].name, "admin");
  EXPECT_EQ((*both)[0].role, ApiRole::kAdmin);
  EXPECT_EQ((*both)[1].name, "alice");
  auto none = readApiTokens("", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto bad = readApiTokens(dir.file("bad.csv"), dir.file("admin"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "--api-tokens-file: " + dir.file("bad.csv") +
                                     ": line 1: expected token,name,role (3 fields), found 2");
  auto missing = readApiTokens(dir.file("nope.csv"), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind("--api-tokens-file: ", 0), 0u);
  testing::writeFile(dir.file("empty"), "");
  auto emptyAdmin = readApiTokens("", dir.file("empty"));
  ASSERT_FALSE(emptyAdmin.ok());
  EXPECT_EQ(emptyAdmin.error().message.rfind("--admin-token-file: ", 0), 0u);
}

TEST(BearerTokenTest, TheSchemeMatchesInAnyCase) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  // Issue 19: "bearer" in lower case was refused; the scheme is case-insensitive (RFC 7235).
  EXPECT_EQ(bearerToken("bearer abc"), "abc");
  EXPECT_EQ(bearerToken("BEARER abc"), "abc");
  EXPECT_EQ(bearerToken("Bearer   abc"), "abc");
  EXPECT_EQ(bearerToken("Basic YWJj"), std::nullopt);
  EXPECT_EQ(bearerToken("Bearer"), std::nullopt);
  EXPECT_EQ(bearerToken("Bearer "), std::nullopt);
  EXPECT_EQ(bearerToken("Bearerabc"), std::nullopt);
}

// A router shaped like the aggregator's (probes, /metrics, reads, writes), each route answering
// 200, behind ApiAuth.
class ApiAuthTest : public ::testing::Test {
 protected:
  void build(bool anonymousReads) {
    auth_.emplace(ApiAuthOptions{
        anonymousReads, [this](std::string_view reason) { ++denied_[std::string(reason)]; }});
    auth_->setTokens({{"v1ew", "alice", ApiRole::kViewer}, {"adm1n", "ops", ApiRole::kAdmin}});
    handler_ = auth_->wrap([this](HttpRequest& request) { return router_.handle(request); });
  }
  void SetUp() override {
    auto ok = [](HttpRequest&) { return HttpResponse::json(200, "{}"); };
    for (const char* path : {"/healthz", "/readyz", "/metrics", "/api/v1/status",
                             "/api/v1/workloads/{namespace}/{name}"}) {
      router_.add("GET", path, ok);
    }
    for (const char* path : {"/api/v1/reload", "/api/v1/clusters/{name}/drain"}) {
      router_.add("POST", path, ok);
    }
    build(false);
  }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& token) {
    HttpRequest request;
    request.method = method;
    request.path = path;
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    return handler_(request);
  }

  std::optional<ApiAuth> auth_;
  HttpRouter router_;
  HttpHandler handler_;
  std::map<std::string, int> denied_;
};

// The rule as a table: path x method x who -> status, with and without anonymous reads.
TEST_F(ApiAuthTest, PathMethodRoleTable) {
  struct Case {
    const char* method;
    const char* path;
    const char* token;  // "" none, "v1ew" viewer, "adm1n" admin, "wrong" unknown
    int closed;         // status without --http-anonymous-reads
    int anonymous;      // with it
  };
  const std::vector<Case> cases = {
      // Probes: always open, whatever is sent.
      {"GET", "/healthz", "", 200, 200},
      {"GET", "/readyz", "", 200, 200},
      {"HEAD", "/readyz", "", 200, 200},
      {"GET", "/healthz", "wrong", 200, 200},
      // Reads: a viewer or admin token, or anonymous reads; an unknown token is never let in.
      {"GET", "/metrics", "", 401, 200},
      {"GET", "/api/v1/status", "", 401, 200},
      {"HEAD", "/api/v1/status", "", 401, 200},
      {"GET", "/api/v1/workloads/shop/web", "", 401, 200},
      {"GET", "/api/v1/status", "wrong", 401, 401},
      {"GET", "/api/v1/status", "v1ew", 200, 200},
      {"GET", "/metrics", "v1ew", 200, 200},
      {"GET", "/api/v1/status", "adm1n", 200, 200},
      // Unknown paths are no way around it: 401 first, 404 only for a holder of a token.
      {"GET", "/api/v1/secret-new-thing", "", 401, 404},
      {"GET", "/healthz/", "", 401, 200},  // the router reads it as /healthz
      {"GET", "/api/v1/secret-new-thing", "v1ew", 404, 404},
      // Writes: admin only, anonymous reads or not.
      {"POST", "/api/v1/reload", "", 401, 401},
      {"POST", "/api/v1/reload", "wrong", 401, 401},
      {"POST", "/api/v1/reload", "v1ew", 403, 403},
      {"POST", "/api/v1/reload", "adm1n", 200, 200},
      {"POST", "/api/v1/clusters/aws/drain", "v1ew", 403, 403},
      {"POST", "/api/v1/clusters/aws/drain", "adm1n", 200, 200},
      {"POST", "/healthz", "", 401, 401},
      {"DELETE", "/api/v1/status", "v1ew", 403, 403},
      {"POST", "/api/v1/nothing-here", "", 401, 401},
      {"POST", "/api/v1/nothing-here", "adm1n", 404, 404},
      {"PUT", "/api/v1/status", "adm1n", 405, 405},
  };
  for (const bool anonymous : {false, true}) {
    build(anonymous);
    for (const Case& c : cases) {
      EXPECT_EQ(call(c.method, c.path, c.token).status, anonymous ? c.anonymous : c.closed)
          << c.method << " " << c.path << " token '" << c.token << "' anonymous reads "
          << anonymous;
    }
  }
}

TEST_F(ApiAuthTest, RefusalsSayWhyAndChallenge) {
  const auto missing = call("GET", "/api/v1/status", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.contentType, "application/json");
  const auto body = nlohmann::json::parse(missing.body);
  EXPECT_NE(body["error"].get<std::string>().find("--api-tokens-file"), std::string::npos)
      << "says how to get a token: " << missing.body;
  ASSERT_EQ(missing.headers.size(), 1u);
  EXPECT_EQ(missing.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(missing.headers[0].second, "Bearer realm=\"fleetscale\"");

  const auto unknown = call("GET", "/api/v1/status", "guess");
  EXPECT_EQ(unknown.status, 401);
  ASSERT_EQ(unknown.headers.size(), 1u);
  EXPECT_EQ(unknown.headers[0].second, "Bearer realm=\"fleetscale\", error=\"invalid_token\"");
  EXPECT_EQ(unknown.body.find("guess"), std::string::npos) << "the token is never echoed";

  const auto forbidden = call("POST", "/api/v1/clusters/aws/drain", "v1ew");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(nlohmann::json::parse(forbidden.body)["error"],
            "token 'alice' has the role viewer; POST /api/v1/clusters/aws/drain needs admin");
  EXPECT_EQ(forbidden.body.find("v1ew"), std::string::npos);

  EXPECT_EQ(denied_, (std::map<std::string, int>{
                         {"missing_token", 1}, {"unknown_token", 1}, {"forbidden", 1}}));
}

TEST_F(ApiAuthTest, ReplacedTokensTakeEffectAtOnce) {
  EXPECT_EQ(call("GET", "/api/v1/status", "v1ew").status, 200);
  auth_->setTokens({{"rotated", "alice", ApiRole::kViewer}});
  EXPECT_EQ(auth_->tokenCount(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/status", "v1ew").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/status", "rotated").status, 200);
  EXPECT_EQ(call("POST", "/api/v1/reload", "adm1n").status, 401);
  auth_->setTokens({});
  EXPECT_EQ(call("GET", "/api/v1/status", "rotated").status, 401);
  EXPECT_EQ(call("GET", "/readyz", "").status, 200) << "nobody configured: only the probes";
}

}  // namespace
}  // namespace fleetscale::aggregator
