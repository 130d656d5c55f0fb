#include "fleetscale/ctl/connection.h"

#include <gtest/gtest.h>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::ctl {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup lookupIn(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// The config file of docs/api.md.
constexpr const char* kExample = R"(current-context: prod
contexts:
  prod: {server: https://fleetscale.example:7080, certificate-authority: /etc/fleetscale/ca.crt, token-file: ~/.fleetscale/prod-token}
  lab: {server: http://127.0.0.1:7080}
)";

TEST(CtlConfigTest, TheDocumentedExample) {
  auto config = parseCtlConfig(kExample, "/home/u/.config/fleetscale/ctl.yaml", "/home/u");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->currentContext, "prod");
  ASSERT_EQ(config->contexts.size(), 2U);
  EXPECT_EQ(config->contexts["prod"],
            (ConnectionSettings{{"server", "https://fleetscale.example:7080"},
                                {"certificate-authority", "/etc/fleetscale/ca.crt"},
                                {"token-file", "/home/u/.fleetscale/prod-token"}}));
  EXPECT_EQ(config->contexts["lab"], (ConnectionSettings{{"server", "http://127.0.0.1:7080"}}));
}

TEST(CtlConfigTest, RelativePathsAreRelativeToTheFilesDirectoryAndOnlyPathsAreTouched) {
  auto config = parseCtlConfig(R"(contexts:
  a:
    server: https://agg:7080
    certificate-authority: certs/ca.crt
    client-certificate: ../client.crt
    client-key: ~/client.key
    token: tok/en
    insecure-skip-tls-verify: no
)",
                               "/etc/fleetscale/ctl.yaml", "/root");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const auto& a = config->contexts["a"];
  EXPECT_EQ(a.at("certificate-authority"), "/etc/fleetscale/certs/ca.crt");
  EXPECT_EQ(a.at("client-certificate"), "/etc/fleetscale/../client.crt");
  EXPECT_EQ(a.at("client-key"), "/root/client.key");
  EXPECT_EQ(a.at("token"), "tok/en") << "not a path";
  EXPECT_EQ(a.at("insecure-skip-tls-verify"), "false");
  EXPECT_EQ(config->currentContext, "");
}

TEST(CtlConfigTest, MistakesAreErrorsNamingTheKeyAndLine) {
  struct Case {
    const char* yaml;
    const char* error;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"contexts:\n  prod:\n    server: https://a\n    certificate-authorty: ca.crt\n",
            "ctl.yaml:4: unknown key 'certificate-authorty' in context 'prod' (known keys: "
            "server, certificate-authority"},
           {"current-context: prod\ncontext:\n  prod: {}\n", "ctl.yaml:2: unknown key 'context'"},
           {"contexts:\n  prod: {insecure-skip-tls-verify: maybe}\n",
            "ctl.yaml:2: 'insecure-skip-tls-verify' must be true or false, got 'maybe'"},
           {"contexts:\n  prod: {server: [a, b]}\n", "'server' in context 'prod' must be a single"},
           {"contexts:\n  prod: {token-file: }\n", "'token-file' in context 'prod' has no value"},
           {"contexts: [prod]\n", "ctl.yaml:1: contexts must be a mapping"},
           {"contexts:\n  prod: https://a\n", "ctl.yaml:2: context 'prod' must be a mapping"},
           {"- a\n", "the top level must be a mapping"},
           {"contexts:\n  prod: {server: [\n", "ctl.yaml:3: "},
       }) {
    auto config = parseCtlConfig(c.yaml, "/etc/ctl.yaml", "/root");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.error().message.find(c.error), std::string::npos)
        << c.yaml << " -> " << config.error().message;
  }
  EXPECT_TRUE(parseCtlConfig("", "/etc/ctl.yaml", "/root").ok()) << "an empty file is no contexts";
  EXPECT_TRUE(parseCtlConfig("contexts:\n  lab:\n", "/etc/ctl.yaml", "/root").ok());
}

TEST(CtlConfigTest, DefaultPathAndHome) {
  EXPECT_EQ(defaultCtlConfigPath(lookupIn({{"XDG_CONFIG_HOME", "/x"}, {"HOME", "/h"}})),
            "/x/fleetscale/ctl.yaml");
  EXPECT_EQ(defaultCtlConfigPath(lookupIn({{"HOME", "/h"}})), "/h/.config/fleetscale/ctl.yaml");
  EXPECT_EQ(defaultCtlConfigPath(lookupIn({})), "");
  EXPECT_EQ(expandHome("~", "/h"), "/h");
  EXPECT_EQ(expandHome("~/t", "/h"), "/h/t");
  EXPECT_EQ(expandHome("~other/t", "/h"), "~other/t");
  EXPECT_EQ(expandHome("~/t", ""), "~/t");
}

class ResolveConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_["HOME"] = dir_.file("home");
    testing::writeFile(dir_.file("flag-token"), "from-flag-file\n");
    testing::writeFile(dir_.file("env-token"), "from-env-file\n");
    testing::writeFile(dir_.file("home/.config/fleetscale/context-token"), "from-context-file");
    testing::writeFile(dir_.file("home/.config/fleetscale/ca.crt"), "a CA");
    writeConfig(R"(current-context: prod
contexts:
  prod:
    server: https://prod.example:7080
    certificate-authority: ca.crt
    token-file: context-token
  lab: {server: http://lab.example:7080, token: lab-token}
)");
  }

  void writeConfig(const std::string& yaml) {
    testing::writeFile(dir_.file("home/.config/fleetscale/ctl.yaml"), yaml);
  }

  Result<Connection> resolve(const ConnectionSettings& flags = {},
                             std::optional<std::string> context = std::nullopt,
                             std::optional<std::string> config = std::nullopt) {
    return resolveConnection(ConnectionFlags{flags, std::move(config), std::move(context)},
                             lookupIn(env_));
  }

  std::string errorOf(const Result<Connection>& result) {
    return result.ok() ? "(no error)" : result.error().message;
  }

  testing::TempDir dir_;
  Env env_;
};

TEST_F(ResolveConnectionTest, TheCurrentContextOfTheDefaultConfigFile) {
  auto c = resolve();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://prod.example:7080");
  EXPECT_EQ(c->tls.caFile, dir_.file("home/.config/fleetscale/ca.crt"));
  EXPECT_EQ(c->token, "from-context-file");
  EXPECT_EQ(c->tokenOrigin, "token-file of context 'prod' in " +
                                dir_.file("home/.config/fleetscale/ctl.yaml") + " " +
                                dir_.file("home/.config/fleetscale/context-token"));
  EXPECT_TRUE(c->warnings.empty());
}

TEST_F(ResolveConnectionTest, FlagBeatsEnvironmentBeatsContextBeatsDefault) {
  env_["FLEETSCALE_SERVER"] = "https://env.example:7080/";
  auto fromEnv = resolve();
  ASSERT_TRUE(fromEnv.ok()) << fromEnv.error().message;
  EXPECT_EQ(fromEnv->server, "https://env.example:7080") << "without the trailing slash";
  EXPECT_EQ(fromEnv->tls.caFile, dir_.file("home/.config/fleetscale/ca.crt"))
      << "the context still gives what the environment does not";

  auto fromFlag = resolve({{"server", "https://flag.example:7080"}});
  ASSERT_TRUE(fromFlag.ok()) << fromFlag.error().message;
  EXPECT_EQ(fromFlag->server, "https://flag.example:7080");

  writeConfig("contexts: {}\n");
  env_.erase("FLEETSCALE_SERVER");
  auto byDefault = resolve();
  ASSERT_TRUE(byDefault.ok()) << byDefault.error().message;
  EXPECT_EQ(byDefault->server, "http://127.0.0.1:7080");
  EXPECT_EQ(byDefault->token, "");
  EXPECT_EQ(byDefault->tls.caFile, "");
}

TEST_F(ResolveConnectionTest, TheFirstSourceWithATokenOrATokenFileGivesTheToken) {
  env_["FLEETSCALE_CTL_TOKEN_FILE"] = dir_.file("env-token");
  auto env = resolve();
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->token, "from-env-file") << "the environment's file beats the context's";
  EXPECT_EQ(env->tokenOrigin, "FLEETSCALE_CTL_TOKEN_FILE " + dir_.file("env-token"));

  auto flag = resolve({{"token", "from-flag"}});
  ASSERT_TRUE(flag.ok()) << flag.error().message;
  EXPECT_EQ(flag->token, "from-flag") << "a flag's token beats the environment's token file";
  EXPECT_EQ(flag->tokenOrigin, "--token");

  auto flagFile = resolve({{"token-file", dir_.file("flag-token")}});
  ASSERT_TRUE(flagFile.ok()) << flagFile.error().message;
  EXPECT_EQ(flagFile->token, "from-flag-file");

  env_["FLEETSCALE_TOKEN"] = "from-env";
  EXPECT_NE(errorOf(resolve()).find("FLEETSCALE_TOKEN and FLEETSCALE_CTL_TOKEN_FILE are both set"),
            std::string::npos)
      << errorOf(resolve());
}

TEST_F(ResolveConnectionTest, ContextsAreChosenByFlagThenEnvironmentThenCurrentContext) {
  auto lab = resolve({}, "lab");
  ASSERT_TRUE(lab.ok()) << lab.error().message;
  EXPECT_EQ(lab->server, "http://lab.example:7080");
  EXPECT_EQ(lab->token, "lab-token");
  EXPECT_EQ(lab->tls.caFile, "") << "nothing from the other context";

  env_["FLEETSCALE_CONTEXT"] = "lab";
  EXPECT_EQ(resolve()->server, "http://lab.example:7080");
  EXPECT_EQ(resolve({}, "prod")->server, "https://prod.example:7080");

  EXPECT_EQ(errorOf(resolve({}, "staging")), "--context names context 'staging', which is not in " +
                                                 dir_.file("home/.config/fleetscale/ctl.yaml") +
                                                 " (its contexts: lab, prod)");
  writeConfig("current-context: gone\n");
  env_.erase("FLEETSCALE_CONTEXT");
  EXPECT_NE(errorOf(resolve()).find("current-context in"), std::string::npos);
}

TEST_F(ResolveConnectionTest, AMissingDefaultConfigFileIsFineANamedOneIsNot) {
  env_["HOME"] = dir_.file("elsewhere");
  auto none = resolve();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->server, "http://127.0.0.1:7080");
  EXPECT_NE(errorOf(resolve({}, "prod"))
                .find("there is no config file (looked for " +
                      dir_.file("elsewhere/.config/fleetscale/ctl.yaml")),
            std::string::npos)
      << errorOf(resolve({}, "prod"));

  EXPECT_NE(errorOf(resolve({}, std::nullopt, dir_.file("nope.yaml")))
                .find("config file (--config) " + dir_.file("nope.yaml") + ": No such file"),
            std::string::npos)
      << errorOf(resolve({}, std::nullopt, dir_.file("nope.yaml")));
  env_["FLEETSCALE_CTL_CONFIG"] = dir_.file("nope.yaml");
  EXPECT_NE(errorOf(resolve()).find("(FLEETSCALE_CTL_CONFIG)"), std::string::npos);

  testing::writeFile(dir_.file("other.yaml"),
                     "current-context: x\ncontexts: {x: {server: https://other:1}}\n");
  env_["FLEETSCALE_CTL_CONFIG"] = dir_.file("other.yaml");
  EXPECT_EQ(resolve()->server, "https://other:1");
  env_["XDG_CONFIG_HOME"] = dir_.file("home/.config");
  env_.erase("FLEETSCALE_CTL_CONFIG");
  EXPECT_EQ(resolve()->server, "https://prod.example:7080") << "$XDG_CONFIG_HOME/fleetscale";
}

TEST_F(ResolveConnectionTest, TokenFileProblemsAreClearErrors) {
  testing::writeFile(dir_.file("empty-token"), " \n");
  EXPECT_NE(errorOf(resolve({{"token-file", dir_.file("empty-token")}}))
                .find("token file (--token-file): " + dir_.file("empty-token") + " is empty"),
            std::string::npos)
      << errorOf(resolve({{"token-file", dir_.file("empty-token")}}));
  EXPECT_NE(errorOf(resolve({{"token-file", dir_.file("missing")}})).find("No such file"),
            std::string::npos);
  EXPECT_NE(errorOf(resolve({{"token", "two words"}})).find("--token: the token holds a character"),
            std::string::npos);
  EXPECT_EQ(errorOf(resolve({{"token", ""}})), "--token: the token is empty");
  std::filesystem::remove(dir_.file("home/.config/fleetscale/context-token"));
  EXPECT_NE(errorOf(resolve()).find("token file (token-file of context 'prod' in "),
            std::string::npos)
      << errorOf(resolve());
}

TEST_F(ResolveConnectionTest, TlsSettingsAreChecked) {
  EXPECT_EQ(errorOf(resolve({{"server", "fleetscale.example:7080"}})),
            "--server must be an http:// or https:// URL, got 'fleetscale.example:7080'");
  EXPECT_NE(errorOf(resolve({{"server", "https://"}})).find("must be an http:// or https://"),
            std::string::npos);
  EXPECT_EQ(errorOf(resolve({{"client-certificate", "c.crt"}})),
            "--client-certificate needs its client-key too (--client-key)");
  env_["FLEETSCALE_INSECURE_SKIP_TLS_VERIFY"] = "true";
  EXPECT_NE(errorOf(resolve()).find("contradict each other"), std::string::npos)
      << "the context's CA and the environment's insecure-skip-tls-verify";
  env_["FLEETSCALE_INSECURE_SKIP_TLS_VERIFY"] = "yes please";
  EXPECT_EQ(errorOf(resolve({{"certificate-authority", "ca"}})),
            "FLEETSCALE_INSECURE_SKIP_TLS_VERIFY must be true or false, got 'yes please'");
  env_.erase("FLEETSCALE_INSECURE_SKIP_TLS_VERIFY");
  EXPECT_NE(errorOf(resolve({{"certificate-authority", dir_.file("no-ca.crt")}}))
                .find("--certificate-authority: " + dir_.file("no-ca.crt") + ": No such file"),
            std::string::npos);

  auto insecure = resolve({{"insecure-skip-tls-verify", "true"}}, "lab");
  ASSERT_TRUE(insecure.ok()) << insecure.error().message;
  EXPECT_TRUE(insecure->tls.insecureSkipVerify);
  ASSERT_EQ(insecure->warnings.size(), 1U);
  EXPECT_EQ(insecure->warnings[0],
            "--insecure-skip-tls-verify is not used: the server http://lab.example:7080 is plain "
            "http://");
  auto labInsecure = resolve(
      {{"insecure-skip-tls-verify", "true"}, {"server", "https://lab.example:7080"}}, "lab");
  ASSERT_TRUE(labInsecure.ok());
  ASSERT_EQ(labInsecure->warnings.size(), 1U);
  EXPECT_NE(labInsecure->warnings[0].find("not verified"), std::string::npos);
}

}  // namespace
}  // namespace fleetscale::ctl
