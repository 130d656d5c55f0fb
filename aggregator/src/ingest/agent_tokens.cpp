#include "fleetscale/aggregator/ingest/agent_tokens.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "fleetscale/shared/token.h"

namespace fleetscale::aggregator {

AgentTokenCheck checkAgentToken(const AgentTokens& tokens, const std::string& cluster,
                                const std::string& token) {
  AgentTokenCheck check;
  if (token.empty()) return check;
  // Every cluster's token is compared, whatever matched before: no early exit.
  const std::string* owner = nullptr;
  for (const auto& [name, expected] : tokens.byCluster()) {
    if (tokensEqual(expected, token)) owner = &name;
  }
  if (owner == nullptr) return check;
  if (*owner == cluster) {
    check.verdict = AgentTokenVerdict::kAccepted;
  } else {
    check.verdict = AgentTokenVerdict::kWrongCluster;
    check.tokenCluster = *owner;
  }
  return check;
}

Result<std::vector<AgentTokenFile>> readAgentTokenFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Error{dir + ": " + ec.message()};
  std::vector<AgentTokenFile> files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    std::error_code statError;
    if (!fs::is_regular_file(it->path(), statError)) continue;  // follows symbolic links
    files.push_back(AgentTokenFile{name, readTokenFile(it->path().string())});
  }
  if (ec) return Error{dir + ": " + ec.message()};
  std::sort(files.begin(), files.end(),
            [](const AgentTokenFile& a, const AgentTokenFile& b) { return a.cluster < b.cluster; });
  return files;
}

AgentTokensUpdate mergeAgentTokens(const std::vector<AgentTokenFile>& files,
                                   const AgentTokens& current, const std::string& dir) {
  AgentTokensUpdate update;
  std::map<std::string, std::string> next;
  for (const auto& file : files) {
    const auto kept = current.byCluster().find(file.cluster);
    if (file.token) {
      next[file.cluster] = *file.token;
      if (kept == current.byCluster().end()) {
        update.added.push_back(file.cluster);
      } else if (kept->second != *file.token) {
        update.rotated.push_back(file.cluster);
      }
    } else if (kept != current.byCluster().end()) {
      next[file.cluster] = kept->second;
      update.problems.push_back("cluster " + file.cluster + ": " + file.token.error().message +
                                "; keeping its previous token");
    } else {
      update.problems.push_back("cluster " + file.cluster + ": " + file.token.error().message +
                                "; its agents are refused until the file holds a token");
    }
  }
  for (const auto& [cluster, token] : current.byCluster()) {
    if (!next.contains(cluster)) update.removed.push_back(cluster);
  }
  // One token for two clusters: either cluster's nodes could report as the other's.
  std::map<std::string, std::string> owners;  // token -> first cluster holding it
  for (const auto& [cluster, token] : next) {
    auto [owner, inserted] = owners.emplace(token, cluster);
    if (inserted) continue;
    AgentTokensUpdate unchanged;
    unchanged.tokens = current;
    unchanged.problems = std::move(update.problems);
    unchanged.problems.push_back("clusters " + owner->second + " and " + cluster + " in " + dir +
                                 " hold the same token: every cluster needs its own; keeping the "
                                 "previous tokens");
    return unchanged;
  }
  update.tokens = AgentTokens(std::move(next));
  return update;
}

AgentTokensUpdate reloadAgentTokens(const std::string& dir, const AgentTokens& current) {
  auto files = readAgentTokenFiles(dir);
  if (!files) {
    AgentTokensUpdate unchanged;
    unchanged.tokens = current;
    unchanged.problems.push_back(files.error().message + "; keeping the previous tokens");
    return unchanged;
  }
  return mergeAgentTokens(*files, current, dir);
}

Result<AgentTokens> loadAgentTokens(const std::string& dir) {
  auto files = readAgentTokenFiles(dir);
  if (!files) return files.error();
  for (const auto& file : *files) {
    if (!file.token) return Error{"cluster " + file.cluster + ": " + file.token.error().message};
  }
  AgentTokensUpdate update = mergeAgentTokens(*files, AgentTokens(), dir);
  if (!update.problems.empty()) return Error{update.problems.front()};
  return std::move(update.tokens);
}

}  // namespace fleetscale::aggregator
