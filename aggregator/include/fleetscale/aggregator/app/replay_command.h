// `fleetscale-aggregator replay`: reads recorded history (an aggregator.db store or a CSV file),
// replays the policy file's workloads over it (replay.h) and prints each step and the
// measurements, as text or JSON. docs/replay.md.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleetscale/aggregator/replay/replay.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

struct ReplayCommandOptions {
  std::string historyPath;  // aggregator.db (SQLite, recognized by its header) or CSV
  std::string configPath;   // policy file
  std::string workload;     // "namespace/name"; "" = every policy workload in the history
  std::string readinessDelay = "0s";
  std::string capacityPerReplica;  // a CPU quantity; "" = the recorded request per replica
  std::string predictive;          // off, observe, on: every workload's mode; "" = the policy's
  std::string demand;  // usage, throttling-aware: every workload's CPU figure; "" = the policy's
  bool json = false;
  bool changesOnly = false;  // print only the steps that scaled
};

// The samples of a store's rollups (one per workload, cluster and 10 s bucket) or of a CSV file.
Result<std::vector<ReplaySample>> loadReplayHistory(const std::string& path);

nlohmann::json replayToJson(const WorkloadReplay& replay, bool changesOnly);
std::string replayToText(const WorkloadReplay& replay, bool changesOnly);

// Returns the process exit code: 0 replayed, 2 bad input.
int runReplayCommand(const ReplayCommandOptions& options, std::ostream& out, std::ostream& err);

// `fleetscale-aggregator replay [flags]`: parses the flags, runs runReplayCommand on stdout.
int replayMain(int argc, char** argv);

}  // namespace fleetscale::aggregator
