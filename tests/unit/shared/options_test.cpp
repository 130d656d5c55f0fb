#include "fleetscale/shared/options.h"

#include <gtest/gtest.h>

#include <map>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale {
namespace {

struct Fixture {
  CLI::App app{"test", "test"};
  CommonOptions common;
  std::string interval = "1s";
  std::string cluster = "default";
  bool once = false;
  std::vector<std::string> peers;

  Fixture() {
    addCommonOptions(app, common);
    app.add_option("--interval", interval);
    app.add_option("--cluster", cluster);
    app.add_flag("--once", once);
    app.add_option("--peer", peers);
  }

  Status parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    auto merged = mergeEnvironmentAndConfig(
        app, std::move(args), [&env](const std::string& name) -> std::optional<std::string> {
          auto it = env.find(name);
          if (it == env.end()) return std::nullopt;
          return it->second;
        });
    if (!merged) return merged.error();
    std::vector<std::string> reversed(merged->rbegin(), merged->rend());
    try {
      app.parse(std::move(reversed));
    } catch (const CLI::ParseError& e) {
      return Error{e.what()};
    }
    return {};
  }
};

TEST(OptionsTest, EnvironmentNames) {
  EXPECT_EQ(environmentName("log-level"), "FLEETSCALE_LOG_LEVEL");
  EXPECT_EQ(environmentName("cgroup-root"), "FLEETSCALE_CGROUP_ROOT");
}

TEST(OptionsTest, FlagsWinOverEnvironmentWhichWinsOverFile) {
  testing::TempDir dir;
  testing::writeFile(dir.file("c.yaml"), "interval: 5s\ncluster: from-file\nlog_level: debug\n");
  Fixture f;
  ASSERT_TRUE(f.parse({"--config", dir.file("c.yaml"), "--interval", "2s"},
                      {{"FLEETSCALE_INTERVAL", "3s"}, {"FLEETSCALE_CLUSTER", "from-env"}})
                  .ok());
  EXPECT_EQ(f.interval, "2s");
  EXPECT_EQ(f.cluster, "from-env");
  EXPECT_EQ(f.common.logLevel, "debug") << "snake_case key maps to --log-level";
}

TEST(OptionsTest, ConfigFileFromEnvironmentAndBooleansAndLists) {
  testing::TempDir dir;
  testing::writeFile(dir.file("c.yaml"), "once: true\npeer:\n  - a:1\n  - b:2\n");
  Fixture f;
  ASSERT_TRUE(f.parse({}, {{"FLEETSCALE_CONFIG", dir.file("c.yaml")}}).ok());
  EXPECT_TRUE(f.once);
  EXPECT_EQ(f.peers, (std::vector<std::string>{"a:1", "b:2"}));
}

TEST(OptionsTest, UnknownKeyNamesFileAndLine) {
  testing::TempDir dir;
  testing::writeFile(dir.file("c.yaml"), "interval: 1s\n\nintervall: 2s\n");
  Fixture f;
  Status status = f.parse({"--config", dir.file("c.yaml")});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("c.yaml:3"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("intervall"), std::string::npos);
}

TEST(OptionsTest, BrokenYamlAndMissingFileAreErrors) {
  testing::TempDir dir;
  testing::writeFile(dir.file("bad.yaml"), "interval: [1s\n");
  Fixture f;
  EXPECT_FALSE(f.parse({"--config", dir.file("bad.yaml")}).ok());
  Fixture g;
  EXPECT_FALSE(g.parse({"--config", dir.file("missing.yaml")}).ok());
  Fixture h;
  testing::writeFile(dir.file("nested.yaml"), "interval:\n  value: 1s\n");
  EXPECT_FALSE(h.parse({"--config", dir.file("nested.yaml")}).ok());
}

TEST(OptionsTest, ReservedSectionsAreLeftToTheirOwner) {
  testing::TempDir dir;
  testing::writeFile(dir.file("c.yaml"), "interval: 4s\nworkloads:\n  - name: web\n");
  Fixture f;
  auto merged =
      mergeEnvironmentAndConfig(f.app, {"--config", dir.file("c.yaml")},
                                [](const std::string&) { return std::nullopt; }, {"workloads"});
  ASSERT_TRUE(merged.ok()) << merged.error().message;
}

TEST(OptionsTest, LoggingValuesAreChecked) {
  CommonOptions options;
  options.logFormat = "xml";
  EXPECT_FALSE(applyLogging(options).ok());
  options.logFormat = "json";
  options.logLevel = "loud";
  EXPECT_FALSE(applyLogging(options).ok());
  options.logLevel = "warn";
  EXPECT_TRUE(applyLogging(options).ok());
}

}  // namespace
}  // namespace fleetscale
