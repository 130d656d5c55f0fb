#include "fleetscale/sim/sim_app.h"

#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/version.h"
#include "fleetscale/sim/fleet_simulator.h"
#include "fleetscale/sim/node_writer.h"
#include "fleetscale/sim/status_view.h"
#include "fleetscale/sim/virtual_engine.h"

namespace fleetscale::sim {
namespace {

struct RunOptions {
  std::string scenario;
  std::string stateDir;
  std::string duration;
  std::string readyFile;
  std::string reportJson;
  std::string binDir;
  std::string aggregator;
  std::string statusInterval = "5s";
  std::string childLogLevel = "info";
  bool noAgents = false;
  bool noAggregator = false;
  std::string baseline;
  std::string demand;
  std::string predictive;
  std::string predictiveDownscaleStabilization;
  bool virtualTime = false;
  std::string seriesInterval;
  std::string rightsizingBaseline;
  bool oomOnSharedMemory = false;
};

// One line per workload: demand, ready capacity and replicas per cluster.
std::string statusLine(const nlohmann::json& state) {
  char head[32];
  std::snprintf(head, sizeof(head), "t=%5.1fs", state.value("seconds", 0.0));
  std::string out;
  for (const auto& w : state["workloads"]) {
    char numbers[96];
    std::snprintf(numbers, sizeof(numbers), " demand %.2f, ready capacity %.2f cores;",
                  w.value("demand_cores", 0.0), w.value("ready_capacity_cores", 0.0));
    std::string line = std::string(head) + "  " + w.value("workload", "") + numbers;
    for (const auto& [cluster, r] : w["clusters"].items()) {
      line += " " + cluster + " " + std::to_string(r.value("ready", 0)) + "/" +
              std::to_string(r.value("desired", 0)) + (r.value("alive", true) ? "" : " (dead)");
    }
    out += line + "\n";
  }
  return out;
}

double cpuSecondsOfThisProcess() {
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(self.ru_utime) + seconds(self.ru_stime);
}

// The scenario on a simulated clock, in this process: no servers, no agents, no aggregator.
int runVirtual(const RunOptions& options, Scenario scenario) {
  if (!options.aggregator.empty() || !options.readyFile.empty() || !options.stateDir.empty()) {
    std::cerr << "fleetscale-sim: --virtual-time starts no processes and no servers: "
                 "--aggregator, --ready-file and --state-dir do not apply\n";
    return 2;
  }
  if (options.noAgents) scenario.agents.enabled = false;
  if (options.noAggregator) scenario.aggregator.enabled = false;
  VirtualOptions virtualOptions;
  virtualOptions.hpaBaseline = options.baseline == "hpa";
  if (!options.rightsizingBaseline.empty()) {
    virtualOptions.rightsizing = parseRightsizingBaseline(options.rightsizingBaseline);
  }
  if (!options.duration.empty()) {
    auto duration = parseDuration(options.duration);
    if (!duration || duration->count() <= 0) {
      std::cerr << "fleetscale-sim: --duration: "
                << (duration ? "must be positive in virtual time" : duration.error().message)
                << "\n";
      return 2;
    }
    virtualOptions.durationSeconds = std::chrono::duration<double>(*duration).count();
  }
  double seriesEvery = 0;
  if (!options.seriesInterval.empty()) {
    auto every = parseDuration(options.seriesInterval);
    if (!every) {
      std::cerr << "fleetscale-sim: --report-series-interval: " << every.error().message << "\n";
      return 2;
    }
    seriesEvery = std::chrono::duration<double>(*every).count();
  }
  const auto wallStart = std::chrono::steady_clock::now();
  const double cpuStart = cpuSecondsOfThisProcess();
  auto engine = VirtualEngine::create(scenario, virtualOptions);
  if (!engine) {
    std::cerr << "fleetscale-sim: " << engine.error().message << "\n";
    return 2;
  }
  std::cout << "fleetscale-sim: scenario '" << scenario.name << "' in virtual time, "
            << scenario.clusters.size() << " clusters, scaled by "
            << (virtualOptions.hpaBaseline ? "the HPA-like baseline" : "the aggregator's pipeline")
            << "\n"
            << std::flush;
  (*engine)->run();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  const double cpu = cpuSecondsOfThisProcess() - cpuStart;
  nlohmann::json report = (*engine)->reportJson(seriesEvery);
  const double simulated = report.value("duration_seconds", 0.0);
  report["cost"] = {{"wall_seconds", wall},
                    {"simulator_cpu_seconds", cpu},
                    {"simulated_seconds", simulated},
                    {"speedup", wall > 0 ? simulated / wall : 0.0}};
  std::cout << "\n" << reportTable((*engine)->report());
  std::printf("\nCost: %.0f simulated seconds in %.1f s wall (%.0fx), %.1f CPU seconds\n",
              simulated, wall, wall > 0 ? simulated / wall : 0.0, cpu);
  if (!options.reportJson.empty()) {
    if (Status status = writeFileAtomic(options.reportJson, report.dump(2) + "\n"); !status) {
      std::cerr << "fleetscale-sim: --report-json: " << status.message() << "\n";
      return 1;
    }
  }
  return 0;
}

int run(const RunOptions& options) {
  auto log = componentLogger("sim");
  auto scenario = loadScenario(options.scenario);
  if (!scenario) {
    std::cerr << "fleetscale-sim: " << scenario.error().message << "\n";
    return 2;
  }
  if (!options.demand.empty()) {
    for (auto& workload : scenario->workloads) {
      if (workload.autoscale) workload.autoscale->demand = options.demand;
    }
  }
  if (!options.predictive.empty()) {
    for (auto& workload : scenario->workloads) {
      if (workload.autoscale) workload.autoscale->predictive = options.predictive;
    }
  }
  if (!options.predictiveDownscaleStabilization.empty()) {
    for (auto& workload : scenario->workloads) {
      if (workload.autoscale)
        workload.autoscale->predictiveDownscaleStabilization =
            options.predictiveDownscaleStabilization;
    }
  }
  if (options.oomOnSharedMemory) {
    for (auto& workload : scenario->workloads) workload.oomOnSharedMemory = true;
  }
  if (options.virtualTime) return runVirtual(options, std::move(*scenario));
  if (!options.rightsizingBaseline.empty()) {
    std::cerr << "fleetscale-sim: --rightsizing-baseline needs --virtual-time\n";
    return 2;
  }
  SimulatorOptions simOptions;
  simOptions.stateDir = options.stateDir;
  simOptions.binDir = options.binDir;
  simOptions.externalAggregator = options.aggregator;
  simOptions.childLogLevel = options.childLogLevel;
  if (options.noAgents) simOptions.agents = false;
  if (options.noAggregator) simOptions.aggregator = false;
  simOptions.hpaBaseline = options.baseline == "hpa";
  if (!options.duration.empty()) {
    auto duration = parseDuration(options.duration);
    if (!duration) {
      std::cerr << "fleetscale-sim: --duration: " << duration.error().message << "\n";
      return 2;
    }
    simOptions.durationSeconds = std::chrono::duration<double>(*duration).count();
  }
  auto statusEvery = parseDuration(options.statusInterval);
  if (!statusEvery) {
    std::cerr << "fleetscale-sim: --status-interval: " << statusEvery.error().message << "\n";
    return 2;
  }

  // Signals are taken synchronously below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  static SystemClock clock;
  FleetSimulator simulator(std::move(*scenario), simOptions, clock);
  if (Status status = simulator.start(); !status) {
    std::cerr << "fleetscale-sim: " << status.message() << "\n";
    simulator.stop();
    return 1;
  }
  const std::string ready = simulator.endpointsJson().dump(2) + "\n";
  if (!options.readyFile.empty()) {
    if (Status status = writeFileAtomic(options.readyFile, ready); !status) {
      std::cerr << "fleetscale-sim: --ready-file: " << status.message() << "\n";
    }
  }
  std::cout << "fleetscale-sim: scenario '" << simulator.scenario().name << "', "
            << simulator.scenario().clusters.size() << " clusters; state in "
            << simulator.stateDir() << "\n";
  for (const auto& cluster : simulator.endpoints()) {
    std::cout << "  " << cluster.name << ": API " << cluster.apiUrl << ", kubeconfig "
              << cluster.kubeconfig << ", " << cluster.nodes.size() << " nodes\n";
  }
  for (int i = 0; i < simulator.aggregatorCount(); ++i) {
    std::cout << "  aggregator-" << i
              << ": http://127.0.0.1:" << simulator.aggregatorPorts(i)->second << "\n";
  }
  std::cout << std::flush;

  auto nextStatus = std::chrono::steady_clock::now() + *statusEvery;
  bool interrupted = false;
  while (!simulator.finished()) {
    timespec wait{0, 200'000'000};
    const int signal = sigtimedwait(&signals, nullptr, &wait);
    if (signal == SIGINT || signal == SIGTERM) {
      interrupted = true;
      std::cout << "\nfleetscale-sim: signal " << signal << ", stopping\n";
      break;
    }
    if (statusEvery->count() > 0 && std::chrono::steady_clock::now() >= nextStatus) {
      nextStatus += *statusEvery;
      std::cout << statusLine(simulator.stateJson()) << std::flush;
    }
  }
  nlohmann::json report = simulator.reportJson();
  report["cost"] = simulator.costJson();
  simulator.stop();
  std::cout << "\n" << reportTable(simulator.report());
  const auto& cost = report["cost"];
  std::printf("\nCost: %.1f s wall; CPU seconds: simulator %.1f, %d agents %.1f, aggregator %.1f\n",
              cost.value("wall_seconds", 0.0), cost.value("simulator_cpu_seconds", 0.0),
              cost.value("agents_running", 0), cost.value("agents_cpu_seconds", 0.0),
              cost.value("aggregator_cpu_seconds", 0.0));
  if (!options.reportJson.empty()) {
    if (Status status = writeFileAtomic(options.reportJson, report.dump(2) + "\n"); !status) {
      std::cerr << "fleetscale-sim: --report-json: " << status.message() << "\n";
      return 1;
    }
  }
  return interrupted ? 130 : 0;
}

nlohmann::json fetchJson(CurlHttpClient& client, const std::string& url,
                         const std::string& token = "") {
  HttpClientRequest request;
  request.url = url;
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  request.totalTimeout = std::chrono::seconds(3);
  auto response = client.send(request);
  if (!response || response->status != 200) return nullptr;
  return nlohmann::json::parse(response->body, nullptr, false);
}

int status(const std::string& control) {
  CurlHttpClient client;
  const nlohmann::json state = fetchJson(client, control + "/v1/state");
  const nlohmann::json endpoints = fetchJson(client, control + "/v1/endpoints");
  if (!state.is_object() || !endpoints.is_object()) {
    std::cerr << "fleetscale-sim: no simulator answers at " << control << "\n";
    return 1;
  }
  // With several aggregators, the first (in instance order) that answers: a standby keeps the
  // full fleet state too, and the leader may be the one that was just killed.
  nlohmann::json nodes, containers, scaling;
  for (const auto& aggregator : endpoints.value("aggregators", nlohmann::json::array())) {
    const std::string url = aggregator.value("url", "");
    // With aggregator.secure-api: HTTPS from the simulator's CA, and the viewer token.
    TlsClientOptions tls;
    tls.caFile = aggregator.value("ca_file", "");
    CurlHttpClient api(tls);
    const auto viewer = readSecretFile(aggregator.value("viewer_token_file", ""));
    const std::string token = viewer ? *viewer : "";
    nodes = fetchJson(api, url + "/api/v1/nodes", token);
    if (nodes.is_null()) continue;
    containers = fetchJson(api, url + "/api/v1/containers", token);
    scaling = fetchJson(api, url + "/api/v1/status", token);
    break;
  }
  std::printf("scenario %s, t=%.0fs%s\n\n", endpoints.value("scenario", "").c_str(),
              state.value("seconds", 0.0), state.value("finished", false) ? " (finished)" : "");
  std::cout << renderFleetStatus(state, nodes, containers, std::chrono::system_clock::now());
  if (const std::string view = renderScalingStatus(scaling); !view.empty()) {
    std::cout << "\nThe aggregator's decisions:\n" << view;
  }
  return 0;
}

int check(const std::string& path) {
  auto scenario = loadScenario(path);
  if (!scenario) {
    std::cerr << "fleetscale-sim: " << scenario.error().message << "\n";
    return 2;
  }
  std::cout << path << ": scenario '" << scenario->name << "', " << scenario->durationSeconds
            << " s, " << scenario->clusters.size() << " clusters, " << scenario->workloads.size()
            << " workloads, " << scenario->faults.size() << " faults\n";
  for (const auto& c : scenario->clusters) {
    std::cout << "  cluster " << c.name << ": " << c.cloud << "/" << c.region << ", " << c.nodes
              << " nodes, cgroup v" << c.cgroupVersion << " " << toString(c.driver) << "\n";
  }
  for (const auto& w : scenario->workloads) {
    std::cout << "  workload " << w.namespaceName << "/" << w.name << " (" << toString(w.kind)
              << "):";
    for (const auto& [cluster, replicas] : w.replicas)
      std::cout << " " << cluster << "=" << replicas;
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int simMain(int argc, char** argv) {
  CLI::App app{
      "fleetscale-sim: a simulated fleet of Kubernetes clusters (fake API servers and "
      "kubelets, cgroup trees driven by a load model) for the real fleetscale agent and "
      "aggregator",
      "fleetscale-sim"};
  CommonOptions common;
  addCommonOptions(app, common);
  app.set_version_flag("--version", std::string("fleetscale-sim ") + kVersion);
  app.require_subcommand(1);

  RunOptions runOptions;
  CLI::App* runCommand = app.add_subcommand("run", "run a scenario until its duration or Ctrl-C");
  runCommand->add_option("scenario", runOptions.scenario, "scenario YAML file")->required();
  runCommand->add_option("--state-dir", runOptions.stateDir,
                         "keep certificates, kubeconfigs, trees, logs and the report here "
                         "(default: a temporary directory, removed at the end)");
  runCommand->add_option("--duration", runOptions.duration,
                         "override the scenario's duration (0 = until Ctrl-C)");
  runCommand->add_option("--ready-file", runOptions.readyFile,
                         "write the endpoints (API URLs, kubeconfigs, tokens, ports) here as JSON");
  runCommand->add_option("--report-json", runOptions.reportJson,
                         "write the measurements here as JSON at the end");
  runCommand->add_option("--bin-dir", runOptions.binDir,
                         "where fleetscale-agent and fleetscale-aggregator are (default: next to "
                         "fleetscale-sim)");
  runCommand->add_option("--aggregator", runOptions.aggregator,
                         "stream to these aggregators (HOST:PORT[,HOST:PORT...]) instead of "
                         "starting any");
  runCommand->add_flag("--no-agents", runOptions.noAgents, "start no agents");
  runCommand->add_flag("--no-aggregator", runOptions.noAggregator, "start no aggregator");
  runCommand
      ->add_option("--baseline", runOptions.baseline,
                   "hpa: scale the autoscaled workloads as Kubernetes' HPA would (15 s metrics, "
                   "15 s sync), the aggregator only observing")
      ->check(CLI::IsMember({"hpa"}));
  runCommand
      ->add_option("--demand", runOptions.demand,
                   "every autoscaled workload's CPU figure: usage (as the HPA) or "
                   "throttling-aware (usage plus throttled time when capped; the default)")
      ->check(CLI::IsMember({"usage", "throttling-aware"}));
  runCommand
      ->add_option("--predictive", runOptions.predictive,
                   "every autoscaled workload's predictive scaling: off, observe (forecast, "
                   "never act) or on (provision for the forecast over the look-ahead)")
      ->check(CLI::IsMember({"off", "observe", "on"}));
  runCommand->add_option("--predictive-downscale-stabilization",
                         runOptions.predictiveDownscaleStabilization,
                         "with --predictive on: the downscale stabilization window once the "
                         "forecast floors the decision (the policy's predictive "
                         "downscaleStabilization; default: the policy's window)");
  runCommand->add_option("--report-series-interval", runOptions.seriesInterval,
                         "with --virtual-time: keep one sample per this interval in the report's "
                         "series (the figures use every sample); default: every sample");
  runCommand
      ->add_option("--rightsizing-baseline", runOptions.rightsizingBaseline,
                   "with --virtual-time: run the right-sizing recommender and apply it to every "
                   "workload as original (never: the scenario's requests), vpa (VPA's defaults, "
                   "by eviction) or fleetscale (in place); the report gains \"rightsizing\"")
      ->check(CLI::IsMember({"original", "vpa", "fleetscale"}));
  runCommand->add_flag("--oom-on-shared-memory", runOptions.oomOnSharedMemory,
                       "every workload's oom-on-shared-memory: a replica's share of load.memory "
                       "above its memory limit is OOM-killed, not capped");
  runCommand->add_flag(
      "--virtual-time", runOptions.virtualTime,
      "run on a simulated clock in this process, as fast as it goes: the fleet model, the agents' "
      "samples derived from it, the aggregator's pipeline, placement and health logic (or the "
      "HPA-like baseline); no servers, agents or aggregator processes");
  runCommand
      ->add_option("--status-interval", runOptions.statusInterval,
                   "print workload status this often (0 = never)")
      ->capture_default_str();
  runCommand
      ->add_option("--child-log-level", runOptions.childLogLevel,
                   "--log-level for the agents and the aggregator")
      ->capture_default_str();

  std::string control;
  CLI::App* statusCommand = app.add_subcommand(
      "status", "show a running simulator's workloads next to what its aggregator measured");
  statusCommand
      ->add_option("control-url", control,
                   "the simulator's control API (control_url in its ready file)")
      ->required();

  std::string checkPath;
  CLI::App* checkCommand = app.add_subcommand("check", "parse a scenario and summarize it");
  checkCommand->add_option("scenario", checkPath, "scenario YAML file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (Status status = applyLogging(common); !status) {
    std::cerr << "fleetscale-sim: " << status.message() << "\n";
    return 2;
  }
  if (*runCommand) return run(runOptions);
  if (*statusCommand) return status(control);
  return check(checkPath);
}

}  // namespace fleetscale::sim
