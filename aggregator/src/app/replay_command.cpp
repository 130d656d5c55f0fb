#include "fleetscale/aggregator/app/replay_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <ostream>
#include <set>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/replay/replay_csv.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/sqlite.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

bool isSqliteFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char header[16] = {};
  file.read(header, sizeof(header));
  return file.gcount() == sizeof(header) &&
         std::string_view(header, 16) == std::string_view("SQLite format 3\0", 16);
}

Result<std::vector<ReplaySample>> loadStore(const std::string& path) {
  SqliteOptions options;
  options.walMode = false;  // a reader: leave the journal mode as the aggregator set it
  auto database = SqliteDatabase::open(path, options);
  if (!database) return database.error();
  auto rows = readRollups(**database, RollupQuery{});
  if (!rows) return Error{path + ": " + rows.error().message + " (not an aggregator store?)"};
  std::vector<ReplaySample> samples;
  samples.reserve(rows->size());
  for (const auto& row : *rows) {
    ReplaySample sample;
    sample.time = fromUnixMillis(row.bucketStartUnixMs);
    sample.namespaceName = row.workload.namespaceName;
    sample.kind = row.workload.kind;
    sample.name = row.workload.name;
    sample.cluster = row.cluster;
    sample.replicas = row.replicasSeen;
    sample.readyReplicas = row.replicasReady;
    sample.cpuUsageCores = row.cpuUsageCores;
    sample.cpuUnmetDemandCores = row.cpuUnmetDemandCores;
    sample.cpuRequestCores = row.cpuRequestCores;
    sample.memoryUsageBytes = row.memoryUsageBytes;
    sample.memoryRequestBytes = row.memoryRequestBytes;
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::string fixed(double value, int decimals) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string offset(WallTime time, WallTime start) {
  // Appended piecewise: g++ 12 -O3 reports a false -Wrestrict on "+" + std::string.
  std::string out = "+";
  out += fixed(std::chrono::duration<double>(time - start).count(), 0);
  out += "s";
  return out;
}

json measurementsJson(const ReplayMeasurements& m) {
  return {{"seconds", m.seconds},
          {"underProvisionedSeconds", m.underProvisionedSeconds},
          {"underProvisionedShare", m.seconds > 0 ? m.underProvisionedSeconds / m.seconds : 0.0},
          {"shortfallCoreSeconds", m.shortfallCoreSeconds},
          {"meanSlack", m.meanSlack},
          {"slackCoreSeconds", m.slackCoreSeconds},
          {"actions", m.actions},
          {"meanReplicas", m.meanReplicas},
          {"peakReplicas", m.peakReplicas}};
}

// The workloads to replay: the one asked for, or every policy workload the history holds.
Result<std::vector<const WorkloadConfig*>> selectWorkloads(const PolicyConfig& config,
                                                           const std::vector<ReplaySample>& samples,
                                                           const std::string& wanted,
                                                           std::ostream& err) {
  std::set<std::pair<std::string, std::string>> inHistory;
  for (const auto& sample : samples) inHistory.emplace(sample.namespaceName, sample.name);
  std::vector<const WorkloadConfig*> selected;
  if (!wanted.empty()) {
    const auto slash = wanted.find('/');
    if (slash == std::string::npos || wanted.find('/', slash + 1) != std::string::npos) {
      return Error{"--workload " + singleQuoted(wanted) + " is not namespace/name"};
    }
    const std::string namespaceName = wanted.substr(0, slash);
    const std::string name = wanted.substr(slash + 1);
    const WorkloadConfig* workload = config.findWorkload(namespaceName, name);
    if (workload == nullptr) return Error{"the policy file has no workload " + wanted};
    if (!inHistory.count({namespaceName, name})) {
      return Error{"the history has no samples of " + wanted};
    }
    return std::vector<const WorkloadConfig*>{workload};
  }
  for (const auto& [namespaceName, name] : inHistory) {
    const WorkloadConfig* workload = config.findWorkload(namespaceName, name);
    if (workload == nullptr) {
      err << "replay: skipping " << namespaceName << "/" << name
          << ": the policy file does not configure it\n";
      continue;
    }
    selected.push_back(workload);
  }
  if (selected.empty()) return Error{"no workload of the policy file appears in the history"};
  return selected;
}

}  // namespace

Result<std::vector<ReplaySample>> loadReplayHistory(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Error{path + ": no such file"};
  if (isSqliteFile(path)) return loadStore(path);
  auto text = readFile(path);
  if (!text) return text.error();
  auto samples = parseReplayCsv(*text);
  if (!samples) return Error{path + ": " + samples.error().message};
  return samples;
}

json replayToJson(const WorkloadReplay& replay, bool changesOnly) {
  json steps = json::array();
  const WallTime start = replay.steps.empty() ? WallTime{} : replay.steps.front().time;
  for (const auto& step : replay.steps) {
    if (changesOnly && !step.scaled) continue;
    steps.push_back({{"time", formatRfc3339(step.time)},
                     {"offsetSeconds", std::chrono::duration<double>(step.time - start).count()},
                     {"demandCores", step.demandCores},
                     {"memoryBytes", step.memoryBytes},
                     {"recordedReplicas", step.recordedReplicas},
                     {"recordedReady", step.recordedReady},
                     {"currentReplicas", step.currentReplicas},
                     {"readyReplicas", step.readyReplicas},
                     {"desiredReplicas", step.desiredReplicas},
                     {"scaled", step.scaled},
                     {"capacityCores", step.capacityCores},
                     {"reason", step.reason}});
  }
  return {{"workload",
           {{"namespace", replay.namespaceName}, {"name", replay.name}, {"kind", replay.kind}}},
          {"capacityPerReplicaCores", replay.capacityPerReplicaCores},
          {"steps", std::move(steps)},
          {"replayed", measurementsJson(replay.replayed)},
          {"recorded", measurementsJson(replay.recorded)}};
}

std::string replayToText(const WorkloadReplay& replay, bool changesOnly) {
  std::string out;
  const WallTime start = replay.steps.empty() ? WallTime{} : replay.steps.front().time;
  out += replay.kind + " " + replay.namespaceName + "/" + replay.name + ": " +
         std::to_string(replay.steps.size()) + " steps from " + formatRfc3339(start) +
         ", capacity " + fixed(replay.capacityPerReplicaCores, 3) + " cores per replica\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%10s %8s %9s %8s %6s %8s  %s\n", "time", "demand", "recorded",
                "replicas", "ready", "desired", "reason");
  out += line;
  for (const auto& step : replay.steps) {
    if (changesOnly && !step.scaled) continue;
    std::snprintf(line, sizeof(line), "%10s %8s %9s %8d %6d %8d  ",
                  offset(step.time, start).c_str(), fixed(step.demandCores, 3).c_str(),
                  fixed(step.recordedReplicas, 1).c_str(), step.currentReplicas, step.readyReplicas,
                  step.desiredReplicas);
    out += line + step.reason + "\n";
  }
  auto row = [&](const char* name, const std::string& replayed, const std::string& recorded) {
    std::snprintf(line, sizeof(line), "%-28s %14s %14s\n", name, replayed.c_str(),
                  recorded.c_str());
    out += line;
  };
  const auto& a = replay.replayed;
  const auto& b = replay.recorded;
  auto share = [](const ReplayMeasurements& m) {
    return m.seconds > 0 ? fixed(100.0 * m.underProvisionedSeconds / m.seconds, 1) + "%" : "-";
  };
  out += "\n";
  row("", "policy", "recorded");
  row("time under-provisioned (s)", fixed(a.underProvisionedSeconds, 1),
      fixed(b.underProvisionedSeconds, 1));
  row("  share of the run", share(a), share(b));
  row("shortfall (core-s)", fixed(a.shortfallCoreSeconds, 1), fixed(b.shortfallCoreSeconds, 1));
  row("mean slack", fixed(100.0 * a.meanSlack, 1) + "%", fixed(100.0 * b.meanSlack, 1) + "%");
  row("slack (core-s)", fixed(a.slackCoreSeconds, 1), fixed(b.slackCoreSeconds, 1));
  row("scale actions", std::to_string(a.actions), std::to_string(b.actions));
  row("mean replicas", fixed(a.meanReplicas, 2), fixed(b.meanReplicas, 2));
  row("peak replicas", fixed(a.peakReplicas, 0), fixed(b.peakReplicas, 0));
  return out;
}

int runReplayCommand(const ReplayCommandOptions& options, std::ostream& out, std::ostream& err) {
  ReplayOptions replayOptions;
  auto delay = parseDuration(options.readinessDelay);
  if (!delay) {
    err << "replay: --readiness-delay: " << delay.error().message << "\n";
    return 2;
  }
  replayOptions.readinessDelay = std::chrono::duration_cast<std::chrono::milliseconds>(*delay);
  if (!options.capacityPerReplica.empty()) {
    auto capacity = parseQuantity(options.capacityPerReplica);
    if (!capacity || *capacity <= 0) {
      err << "replay: --capacity-per-replica " << singleQuoted(options.capacityPerReplica)
          << " is not a positive CPU quantity (800m, 1.5)\n";
      return 2;
    }
    replayOptions.capacityPerReplicaCores = *capacity;
  }
  auto config = loadPolicyConfig(options.configPath);
  if (!config) {
    err << "replay: " << config.error().message << "\n";
    return 2;
  }
  // The flag's values are checked by CLI11; an empty one keeps each workload's own mode.
  if (const auto mode = scaling::parsePredictiveMode(options.predictive)) {
    for (auto& workload : config->workloads) workload.policy.predictive.mode = *mode;
  }
  if (const auto demand = scaling::parseCpuDemand(options.demand)) {
    for (auto& workload : config->workloads) workload.policy.cpuDemand = *demand;
  }
  auto samples = loadReplayHistory(options.historyPath);
  if (!samples) {
    err << "replay: " << samples.error().message << "\n";
    return 2;
  }
  auto workloads = selectWorkloads(*config, *samples, options.workload, err);
  if (!workloads) {
    err << "replay: " << workloads.error().message << "\n";
    return 2;
  }
  json all = json::array();
  bool first = true;
  for (const WorkloadConfig* workload : *workloads) {
    auto replay = replayWorkload(*workload, *samples, replayOptions);
    if (!replay) {
      err << "replay: " << replay.error().message << "\n";
      return 2;
    }
    if (options.json) {
      all.push_back(replayToJson(*replay, options.changesOnly));
    } else {
      out << (first ? "" : "\n") << replayToText(*replay, options.changesOnly);
      first = false;
    }
  }
  if (options.json) out << json{{"workloads", std::move(all)}}.dump(2) << "\n";
  return 0;
}

// `fleetscale-aggregator replay --history <store.db|CSV> --config policy.yaml [...]`
int replayMain(int argc, char** argv) {
  CLI::App app{"replay a policy over recorded history and measure it (docs/replay.md)",
               "fleetscale-aggregator replay"};
  ReplayCommandOptions options;
  app.add_option("--history", options.historyPath, "aggregator.db store or CSV file")->required();
  app.add_option("--config", options.configPath, "policy file")->required();
  app.add_option("--workload", options.workload, "namespace/name (default: every one)");
  app.add_option("--readiness-delay", options.readinessDelay,
                 "from asking for a replica to it serving")
      ->capture_default_str();
  app.add_option("--capacity-per-replica", options.capacityPerReplica,
                 "CPU one ready replica serves (default: its request)");
  app.add_option("--predictive", options.predictive,
                 "every workload's predictive scaling: off, observe or on (default: the policy's)")
      ->check(CLI::IsMember({"off", "observe", "on"}));
  app.add_option("--demand", options.demand,
                 "every workload's CPU figure: usage (as the HPA) or throttling-aware (usage "
                 "plus the unmet demand the history recorded; default: the policy's)")
      ->check(CLI::IsMember({"usage", "throttling-aware"}));
  app.add_flag("--json", options.json, "print JSON");
  app.add_flag("--changes-only", options.changesOnly, "print only the steps that scale");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return runReplayCommand(options, std::cout, std::cerr);
}

}  // namespace fleetscale::aggregator
