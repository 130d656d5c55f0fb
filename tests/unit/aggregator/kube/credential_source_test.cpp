// Token files re-read when rotated; exec plugins run as client-go runs them, their answers
// cached until they expire or the API server refuses them; the real runner against real
// processes (/bin/sh), including one that hangs and one that talks too much.
#include "fleetscale/aggregator/kube/credential_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenFileSourceTest, ARotatedTokenIsUsedFromTheNextRequest) {
  testing::TempDir dir;
  const std::string path = dir.file("token");
  TokenFileSource source(path);
  EXPECT_FALSE(source.current().ok()) << "no file yet, nothing to send";
  testing::writeFile(path, "first-token\n");
  auto credential = source.current();
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  EXPECT_EQ(credential->bearerToken, "first-token");
  testing::writeFile(path, "the-rotated-token\n");
  EXPECT_EQ(source.current()->bearerToken, "the-rotated-token");
  // The kubelet swaps the file by renaming a new one in: while it is away, the last one holds.
  std::filesystem::remove(path);
  EXPECT_EQ(source.current()->bearerToken, "the-rotated-token");
}

// A plugin's answers, scripted; records what it was given.
struct FakePlugin {
  std::vector<ExecOutcome> answers;
  std::size_t calls = 0;
  std::vector<std::pair<std::string, std::string>> lastEnv;
  ExecRunner runner() {
    return [this](const std::string&, const std::vector<std::string>&,
                  const std::vector<std::pair<std::string, std::string>>& env, milliseconds,
                  std::size_t) {
      lastEnv = env;
      return answers.at(std::min(calls++, answers.size() - 1));
    };
  }
};

ExecOutcome tokenAnswer(const std::string& token, std::optional<WallTime> expires = {}) {
  nlohmann::json status{{"token", token}};
  if (expires) status["expirationTimestamp"] = formatRfc3339(*expires);
  ExecOutcome outcome;
  outcome.exitCode = 0;
  outcome.output = nlohmann::json{
      {"apiVersion", "client.authentication.k8s.io/v1"},
      {"kind", "ExecCredential"},
      {"status",
       status}}.dump();
  return outcome;
}

ExecConfig pluginConfig() {
  ExecConfig config;
  config.apiVersion = "client.authentication.k8s.io/v1";
  config.command = "aws";
  config.args = {"eks", "get-token", "--cluster-name", "prod"};
  config.env = {{"AWS_PROFILE", "prod"}};
  config.interactiveMode = "Never";
  config.installHint = "Install the AWS CLI.";
  return config;
}

TEST(ExecCredentialSourceTest, CachedUntilItExpiresThenRunAgain) {
  ManualClock clock;
  FakePlugin plugin;
  plugin.answers = {tokenAnswer("t1", clock.wallNow() + seconds(20)),
                    tokenAnswer("t2", clock.wallNow() + seconds(40))};
  ExecCredentialSource source(pluginConfig(), std::nullopt, "aws", clock, {}, plugin.runner());
  EXPECT_EQ(source.current()->bearerToken, "t1");
  clock.advance(seconds(19));
  EXPECT_EQ(source.current()->bearerToken, "t1");
  EXPECT_EQ(plugin.calls, 1u);
  clock.advance(seconds(1));
  EXPECT_EQ(source.current()->bearerToken, "t2") << "expired at 20 s";
  EXPECT_EQ(plugin.calls, 2u);
  // The plugin's environment: its own variables and KUBERNETES_EXEC_INFO, non-interactive.
  ASSERT_EQ(plugin.lastEnv.size(), 2u);
  EXPECT_EQ(plugin.lastEnv[0], (std::pair<std::string, std::string>{"AWS_PROFILE", "prod"}));
  EXPECT_EQ(plugin.lastEnv[1].first, "KUBERNETES_EXEC_INFO");
  const auto info = nlohmann::json::parse(plugin.lastEnv[1].second);
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], false);
}

TEST(ExecCredentialSourceTest, A401DropsTheCachedAnswer) {
  ManualClock clock;
  FakePlugin plugin;
  plugin.answers = {tokenAnswer("revoked"), tokenAnswer("fresh")};
  ExecCredentialSource source(pluginConfig(), std::nullopt, "aws", clock, {}, plugin.runner());
  const auto first = source.current();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->bearerToken, "revoked");
  source.rejected(*first);
  EXPECT_EQ(source.current()->bearerToken, "fresh");
  source.rejected(*first);  // a late 401 for the old one: the new one stays
  EXPECT_EQ(source.current()->bearerToken, "fresh");
  EXPECT_EQ(plugin.calls, 2u);
}

TEST(ExecCredentialSourceTest, FailuresAreClearAndRetriedWithBackoff) {
  ManualClock clock;
  FakePlugin plugin;
  ExecOutcome missing;
  missing.notFound = true;
  ExecOutcome failed;
  failed.exitCode = 1;
  failed.errors = "error: expired SSO session\nrun aws sso login\n";
  ExecOutcome hung;
  hung.timedOut = true;
  ExecOutcome garbage;
  garbage.exitCode = 0;
  garbage.output = "<html>proxy error</html>";
  plugin.answers = {missing, failed, hung, garbage, tokenAnswer("ok")};
  ExecCredentialSource::Options options;
  options.retryAfterFailure = seconds(1);
  ExecCredentialSource source(pluginConfig(), std::nullopt, "aws", clock, options, plugin.runner());
  auto result = source.current();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, "exec plugin 'aws' not found: Install the AWS CLI.");
  EXPECT_FALSE(source.current().ok());
  EXPECT_EQ(plugin.calls, 1u) << "not run again before the retry time";
  clock.advance(seconds(1));
  result = source.current();
  EXPECT_EQ(result.error().message,
            "exec plugin 'aws': exit status 1: error: expired SSO session run aws sso login");
  clock.advance(milliseconds(1999));
  EXPECT_EQ(source.current().error().message, result.error().message) << "backoff doubled";
  clock.advance(milliseconds(1));
  EXPECT_NE(source.current().error().message.find("no answer within 30s"), std::string::npos);
  clock.advance(seconds(4));
  EXPECT_NE(source.current().error().message.find("exec plugin 'aws': "), std::string::npos);
  clock.advance(seconds(8));
  EXPECT_EQ(source.current()->bearerToken, "ok");
  EXPECT_EQ(plugin.calls, 5u);
}

TEST(RunExecPluginTest, RunsARealProcessWithItsEnvironmentAndLimits) {
  auto ok = runExecPlugin("/bin/sh", {"-c", "printf '%s' \"$GREETING\"; echo oops >&2; exit 3"},
                          {{"GREETING", "hello"}}, seconds(10), 1024);
  EXPECT_EQ(ok.exitCode, 3);
  EXPECT_EQ(ok.output, "hello");
  EXPECT_EQ(ok.errors, "oops\n");
  EXPECT_FALSE(ok.timedOut);

  const auto started = std::chrono::steady_clock::now();
  auto hung = runExecPlugin("/bin/sh", {"-c", "sleep 30"}, {}, milliseconds(200), 1024);
  EXPECT_TRUE(hung.timedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10)) << "killed at the timeout";

  auto chatty = runExecPlugin("/bin/sh", {"-c", "yes"}, {}, seconds(10), 4096);
  EXPECT_GT(chatty.output.size(), 4096u) << "cut off just past the limit";
  EXPECT_LT(chatty.output.size(), 8192u);
  EXPECT_EQ(chatty.exitCode, -1);

  auto missing = runExecPlugin("fleetscale-no-such-plugin", {}, {}, seconds(1), 1024);
  EXPECT_TRUE(missing.notFound);
}

}  // namespace
}  // namespace fleetscale::aggregator
