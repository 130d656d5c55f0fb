#include "fleetscale/aggregator/ctl_app.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fleetscale::aggregator {
namespace {

// Answers every request with a canned response and remembers the URL asked for.
class CannedHttp final : public HttpClient {
 public:
  explicit CannedHttp(Result<HttpClientResponse> response) : response_(std::move(response)) {}
  Result<HttpClientResponse> send(const HttpClientRequest& request) override {
    lastUrl = request.url;
    return response_;
  }
  std::string lastUrl;

 private:
  Result<HttpClientResponse> response_;
};

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(HttpClient& http, std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = runCtl(args, http, out, err);
  return {code, out.str(), err.str()};
}

TEST(CtlAppTest, RendersAlignedTables) {
  EXPECT_EQ(renderTable({"A", "LONGER"}, {{"wide-cell", "x"}, {"b", "y"}}),
            "A           LONGER\nwide-cell   x\nb           y\n");
}

TEST(CtlAppTest, ContainersTableWithFilters) {
  CannedHttp http(HttpClientResponse{
      200,
      R"({"items":[{"cluster":"aws","node":"n1","id":"0123456789abcdef","runtime":"containerd","namespace":"shop","pod":"web-1","cpu_cores":0.25,"cpu_limit_cores":null,"memory_working_set_bytes":1048576,"memory_limit_bytes":null}]})",
      {}});
  auto result = run(http, {"--server", "http://agg:7080", "containers", "--cluster", "aws"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(http.lastUrl,
            "http://agg:7080/api/v1/containers?cluster=aws&node=&namespace=&workload=");
  EXPECT_NE(result.out.find("0123456789ab "), std::string::npos) << "ids shortened: " << result.out;
  EXPECT_NE(result.out.find("0.250"), std::string::npos);
  EXPECT_NE(result.out.find("1.0Mi"), std::string::npos);
}

TEST(CtlAppTest, JsonOutputPassesTheApiThrough) {
  CannedHttp http(HttpClientResponse{200, R"({"items":[]})", {}});
  auto result = run(http, {"-o", "json", "nodes"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("\"items\": []"), std::string::npos);
}

TEST(CtlAppTest, ExitCodes) {
  CannedHttp down(Error{"connection refused"});
  auto unreachable = run(down, {"nodes"});
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_NE(unreachable.err.find("cannot reach"), std::string::npos);
  CannedHttp failing(HttpClientResponse{500, R"({"error":"boom"})", {}});
  auto serverError = run(failing, {"nodes"});
  EXPECT_EQ(serverError.code, 1);
  EXPECT_NE(serverError.err.find("boom"), std::string::npos);
  EXPECT_EQ(run(failing, {"frobnicate"}).code, 2);
  EXPECT_EQ(run(failing, {}).code, 2);
  EXPECT_EQ(run(failing, {"--help"}).code, 0);
}

}  // namespace
}  // namespace fleetscale::aggregator
