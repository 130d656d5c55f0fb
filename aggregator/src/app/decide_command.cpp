#include "fleetscale/aggregator/app/decide_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/pipeline/decision_json.h"
#include "fleetscale/aggregator/pipeline/decision_pipeline.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {

using nlohmann::json;
using scaling::Decision;

namespace {

// The snapshot's decision through the pipeline, as a dry run: nothing to write and no scale to
// record in the history. With no clusters nothing is placed; `decide` shows the decision alone.
PipelineResult decideOffline(const WorkloadConfig& workload, const DecisionSnapshot& snapshot,
                             WorkloadMemory& memory) {
  memory.history = snapshot.history;
  memory.fleetReplicas = snapshot.observation.currentReplicas;
  PipelineContext context;
  context.now = snapshot.now;
  context.dryRun = true;
  WorkloadInput input;
  input.policy = workload.policy;
  input.observation = snapshot.observation;
  return runPipeline(context, input, memory);
}

}  // namespace

int runDecideCommand(const std::string& inputPath, const std::string& configPath, std::ostream& out,
                     std::ostream& err) {
  auto text = readFile(inputPath);
  if (!text) {
    err << "decide: " << text.error().message << "\n";
    return 2;
  }
  auto snapshot = parseDecisionSnapshot(*text);
  if (!snapshot) {
    err << "decide: " << inputPath << ": " << snapshot.error().message << "\n";
    return 2;
  }
  std::optional<WorkloadConfig> workload = snapshot->workload;
  if (!configPath.empty()) {
    auto config = loadPolicyConfig(configPath);
    if (!config) {
      err << "decide: " << config.error().message << "\n";
      return 2;
    }
    const WorkloadConfig* found = config->findWorkload(snapshot->namespaceName, snapshot->name);
    if (found == nullptr) {
      err << "decide: " << configPath << " has no workload " << snapshot->namespaceName << "/"
          << snapshot->name << "\n";
      return 2;
    }
    workload = *found;
  }
  if (!workload) {
    err << "decide: no policy: give the snapshot a \"policy\" or pass --config with the workload\n";
    return 2;
  }
  WorkloadMemory memory;
  const Decision decision = decideOffline(*workload, *snapshot, memory).decision;
  out << json{{"workload",
               {{"namespace", workload->namespaceName},
                {"name", workload->name},
                {"kind", workload->kind}}},
              {"decision", decisionToJson(decision)},
              {"history", historyToJson(memory.history)}}
             .dump(2)
      << "\n";
  return decision.error.empty() ? 0 : 1;
}

// `fleetscale-aggregator decide --input snapshot.json [--config policy.yaml]`
int decideMain(int argc, char** argv) {
  CLI::App app{"evaluate one scaling decision offline from a JSON snapshot (docs/decide.md)",
               "fleetscale-aggregator decide"};
  std::string input;
  std::string config;
  app.add_option("--input", input, "snapshot JSON file")->required();
  app.add_option("--config", config, "policy file holding the snapshot's workload");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return runDecideCommand(input, config, std::cout, std::cerr);
}

}  // namespace fleetscale::aggregator
