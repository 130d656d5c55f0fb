// Per-cluster agent tokens (issue 16): the check, the directory as a mounted Secret lays it
// out, and reloads that fail closed.
#include "fleetscale/aggregator/ingest/agent_tokens.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

namespace fs = std::filesystem;

const AgentTokens kTwoClusters({{"aws-eu", "token-aws"}, {"gcp-us", "token-gcp"}});

TEST(CheckAgentTokenTest, OnlyTheClaimedClustersOwnTokenIsAccepted) {
  struct Case {
    const char* cluster;
    const char* token;
    AgentTokenVerdict verdict;
    const char* tokenCluster;
  };
  for (const Case& c : {
           Case{"aws-eu", "token-aws", AgentTokenVerdict::kAccepted, ""},
           Case{"gcp-us", "token-gcp", AgentTokenVerdict::kAccepted, ""},
           Case{"gcp-us", "token-aws", AgentTokenVerdict::kWrongCluster, "aws-eu"},
           Case{"azure-ne", "token-aws", AgentTokenVerdict::kWrongCluster, "aws-eu"},  // no file
           Case{"aws-eu", "token-aw", AgentTokenVerdict::kWrongToken, ""},
           Case{"aws-eu", "token-awsx", AgentTokenVerdict::kWrongToken, ""},
           Case{"aws-eu", "", AgentTokenVerdict::kWrongToken, ""},
           Case{"azure-ne", "token-azure", AgentTokenVerdict::kWrongToken, ""},
           Case{"", "token-aws", AgentTokenVerdict::kWrongCluster, "aws-eu"},
       }) {
    const AgentTokenCheck check = checkAgentToken(kTwoClusters, c.cluster, c.token);
    EXPECT_EQ(check.verdict, c.verdict) << c.cluster << " " << c.token;
    EXPECT_EQ(check.tokenCluster, c.tokenCluster) << c.cluster << " " << c.token;
  }
  EXPECT_EQ(checkAgentToken(AgentTokens(), "aws-eu", "token-aws").verdict,
            AgentTokenVerdict::kWrongToken)
      << "no clusters: nobody gets in";
}

// What the kubelet writes for a Secret volume: the keys are links into `..data`, a link to a
// timestamped directory that an update replaces atomically.
void writeSecretVolume(const std::string& dir, const std::string& version,
                       const std::map<std::string, std::string>& keys) {
  const std::string data = dir + "/.." + version;
  for (const auto& [key, value] : keys) testing::writeFile(data + "/" + key, value);
  fs::remove(dir + "/..data_tmp");
  fs::create_directory_symlink(".." + version, dir + "/..data_tmp");
  fs::rename(dir + "/..data_tmp", dir + "/..data");
  for (const auto& [key, value] : keys) {
    if (!fs::is_symlink(dir + "/" + key)) fs::create_symlink("..data/" + key, dir + "/" + key);
  }
}

TEST(ReadAgentTokenFilesTest, ReadsASecretVolumeAndSkipsItsDotfilesAndDirectories) {
  testing::TempDir dir;
  writeSecretVolume(dir.path(), "2026_12_07_09_00_00.000000001",
                    {{"aws-eu", "token-aws\n"}, {"gcp-us", "  token-gcp  \n"}});
  testing::writeFile(dir.file(".editor-swap"), "not-a-cluster");
  fs::create_directory(dir.file("subdir"));
  auto files = readAgentTokenFiles(dir.path());
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].cluster, "aws-eu");
  EXPECT_EQ(*(*files)[0].token, "token-aws");
  EXPECT_EQ((*files)[1].cluster, "gcp-us");
  EXPECT_EQ(*(*files)[1].token, "token-gcp");

  auto tokens = loadAgentTokens(dir.path());
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(*tokens, kTwoClusters);
}

TEST(LoadAgentTokensTest, AtStartupEveryFileMustHoldATokenAndTheDirectoryMustExist) {
  testing::TempDir dir;
  auto empty = loadAgentTokens(dir.path());
  ASSERT_TRUE(empty.ok()) << "an empty directory: no agent gets in until a file appears";
  EXPECT_EQ(empty->size(), 0u);

  testing::writeFile(dir.file("aws-eu"), "token-aws\n");
  testing::writeFile(dir.file("gcp-us"), "\n");
  auto withEmpty = loadAgentTokens(dir.path());
  ASSERT_FALSE(withEmpty.ok());
  EXPECT_EQ(withEmpty.error().message.rfind("cluster gcp-us: ", 0), 0u)
      << withEmpty.error().message;

  testing::writeFile(dir.file("gcp-us"), "token-aws\n");
  auto shared = loadAgentTokens(dir.path());
  ASSERT_FALSE(shared.ok());
  EXPECT_NE(shared.error().message.find("aws-eu and gcp-us"), std::string::npos)
      << shared.error().message;
  EXPECT_EQ(shared.error().message.find("token-aws"), std::string::npos) << "never a token";

  EXPECT_FALSE(loadAgentTokens(dir.file("missing")).ok());
}

TEST(MergeAgentTokensTest, ReportsWhatChanged) {
  const std::vector<AgentTokenFile> files = {
      {"aws-eu", std::string("token-aws-2")},
      {"azure-ne", std::string("token-azure")},
  };
  const AgentTokensUpdate update = mergeAgentTokens(files, kTwoClusters, "/tokens");
  EXPECT_TRUE(update.problems.empty());
  EXPECT_TRUE(update.changed());
  EXPECT_EQ(update.added, std::vector<std::string>{"azure-ne"});
  EXPECT_EQ(update.rotated, std::vector<std::string>{"aws-eu"});
  EXPECT_EQ(update.removed, std::vector<std::string>{"gcp-us"}) << "a removed file removes it";
  EXPECT_EQ(update.tokens, AgentTokens({{"aws-eu", "token-aws-2"}, {"azure-ne", "token-azure"}}));
  EXPECT_FALSE(
      mergeAgentTokens({{"aws-eu", std::string("token-aws")}, {"gcp-us", std::string("token-gcp")}},
                       kTwoClusters, "/tokens")
          .changed());
}

TEST(MergeAgentTokensTest, FailsClosed) {
  // A file that became empty or unreadable keeps its cluster's token, and says so.
  AgentTokensUpdate broken =
      mergeAgentTokens({{"aws-eu", Error{"/tokens/aws-eu is empty: a token file must hold it"}},
                        {"gcp-us", std::string("token-gcp")},
                        {"azure-ne", Error{"/tokens/azure-ne: Permission denied"}}},
                       kTwoClusters, "/tokens");
  EXPECT_EQ(broken.tokens, kTwoClusters);
  EXPECT_FALSE(broken.changed());
  ASSERT_EQ(broken.problems.size(), 2u);
  EXPECT_NE(broken.problems[0].find("cluster aws-eu: "), std::string::npos);
  EXPECT_NE(broken.problems[0].find("keeping its previous token"), std::string::npos);
  EXPECT_NE(broken.problems[1].find("cluster azure-ne: "), std::string::npos);
  EXPECT_NE(broken.problems[1].find("refused until"), std::string::npos);

  // Two clusters with one token: nothing changes, not even the other files' news.
  AgentTokensUpdate shared = mergeAgentTokens({{"aws-eu", std::string("token-gcp")},
                                               {"gcp-us", std::string("token-gcp")},
                                               {"azure-ne", std::string("token-azure")}},
                                              kTwoClusters, "/tokens");
  EXPECT_EQ(shared.tokens, kTwoClusters);
  EXPECT_FALSE(shared.changed());
  ASSERT_EQ(shared.problems.size(), 1u);
  EXPECT_EQ(shared.problems[0].find("token-gcp"), std::string::npos) << "never a token";
}

TEST(ReloadAgentTokensTest, AnUnreadableDirectoryKeepsEveryToken) {
  testing::TempDir dir;
  const AgentTokensUpdate gone = reloadAgentTokens(dir.file("missing"), kTwoClusters);
  EXPECT_EQ(gone.tokens, kTwoClusters);
  EXPECT_FALSE(gone.changed());
  ASSERT_EQ(gone.problems.size(), 1u);
  EXPECT_NE(gone.problems[0].find("keeping the previous tokens"), std::string::npos);

  // A Secret rotated in place (a new ..data) is read through its links.
  writeSecretVolume(dir.path(), "v1", {{"aws-eu", "token-aws"}, {"gcp-us", "token-gcp"}});
  EXPECT_FALSE(reloadAgentTokens(dir.path(), kTwoClusters).changed());
  writeSecretVolume(dir.path(), "v2", {{"aws-eu", "token-aws-2"}, {"gcp-us", "token-gcp"}});
  const AgentTokensUpdate rotated = reloadAgentTokens(dir.path(), kTwoClusters);
  EXPECT_EQ(rotated.rotated, std::vector<std::string>{"aws-eu"});
  EXPECT_TRUE(rotated.problems.empty());
}

}  // namespace
}  // namespace fleetscale::aggregator
