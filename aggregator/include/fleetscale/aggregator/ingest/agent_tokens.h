// Per-cluster agent tokens (--agent-tokens-dir, docs/configuration.md): one file per cluster,
// named after the cluster and holding that cluster's agent token, the layout of a Kubernetes
// Secret mounted as a volume (its keys are the cluster names). A hello is accepted only with its
// own cluster's token, so a node of one cluster cannot report for another.
//
// Split as elsewhere: listing the directory is I/O (readAgentTokenFiles); turning the files and
// the tokens in use into the next tokens is pure (mergeAgentTokens), and so is the check.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// cluster -> token. A value, immutable once built: the ingest server shares one by const pointer
// across its threads.
class AgentTokens {
 public:
  AgentTokens() = default;
  explicit AgentTokens(std::map<std::string, std::string> byCluster)
      : byCluster_(std::move(byCluster)) {}

  bool hasCluster(const std::string& cluster) const { return byCluster_.contains(cluster); }
  std::size_t size() const { return byCluster_.size(); }
  bool operator==(const AgentTokens&) const = default;
  // For the merge and tests; never log the values.
  const std::map<std::string, std::string>& byCluster() const { return byCluster_; }

 private:
  std::map<std::string, std::string> byCluster_;
};

enum class AgentTokenVerdict {
  kAccepted,      // the token is the claimed cluster's
  kWrongCluster,  // the token is another cluster's (tokenCluster names it)
  kWrongToken,    // the token is no cluster's (or the claimed cluster has none)
};

struct AgentTokenCheck {
  AgentTokenVerdict verdict = AgentTokenVerdict::kWrongToken;
  std::string tokenCluster;  // kWrongCluster: the cluster the token belongs to
};

// Compares `token` with every cluster's token, each in constant time and without stopping at a
// match, so the time taken says nothing about which cluster's token it is or where a guess
// differs.
AgentTokenCheck checkAgentToken(const AgentTokens& tokens, const std::string& cluster,
                                const std::string& token);

// One file of the directory: its name (the cluster) and its token, or why it holds none (empty,
// unreadable, not a token: readTokenFile's error, which never quotes the content).
struct AgentTokenFile {
  std::string cluster;
  Result<std::string> token;
};

// The regular files of `dir` (symbolic links followed, as a Secret volume's keys are links into
// its `..data` directory), by name. Names starting with '.' (`..data`, `..2026_01_01_...`, editor
// leftovers) and anything that is not a regular file are skipped. An error when `dir` cannot be
// listed.
Result<std::vector<AgentTokenFile>> readAgentTokenFiles(const std::string& dir);

// The tokens to use after reading the files, and how they differ from the ones in use.
struct AgentTokensUpdate {
  AgentTokens tokens;
  std::vector<std::string> added, rotated, removed;  // cluster names
  // What is wrong, one sentence each, naming the cluster or the file, never a token. Empty when
  // every file gave its cluster a token.
  std::vector<std::string> problems;
  bool changed() const { return !added.empty() || !rotated.empty() || !removed.empty(); }
};

// Fails closed. A file that gives no token keeps its cluster's current token (or leaves a new
// cluster without one); a cluster whose file is gone is removed. Two clusters with one token
// would let each report as the other: then nothing changes at all. `dir` only names it in
// problems.
AgentTokensUpdate mergeAgentTokens(const std::vector<AgentTokenFile>& files,
                                   const AgentTokens& current, const std::string& dir);

// Reads `dir` again and merges (above); a directory that cannot be listed changes nothing.
AgentTokensUpdate reloadAgentTokens(const std::string& dir, const AgentTokens& current);

// At startup: every file must hold a token (an error names the first problem); an empty
// directory is allowed (no agent can connect until a file appears).
Result<AgentTokens> loadAgentTokens(const std::string& dir);

}  // namespace fleetscale::aggregator
