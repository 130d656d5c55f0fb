// The aggregator's ingest path: decoding and folding batches in process, memory per tracked
// container, the per-tick rollup, and end to end against the real fleetscale-aggregator with
// fleetscale-loadgen playing the fleet (both from this build's bin directory).
// Figures and how to read them: docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fleetscale/aggregator/state/fleet_state.h"
#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/framing.h"
#include "fleetscale/shared/text.h"
#include "loadgen.h"
#include "realistic_node.h"

namespace {

using namespace fleetscale;
using aggregator::AgentIdentity;
using aggregator::FleetState;

std::string encodedBatch(int agent, int containers, std::uint64_t sequence) {
  loadgen::LoadgenOptions options;
  options.containers = containers;
  options.workloads = 200;
  const auto tmpl = loadgen::makeTemplate(options, agent, 0);
  const std::string frame = loadgen::framePrefix(tmpl, sequence, 1'700'000'000'000, 1.0);
  return frame.substr(kFrameHeaderBytes) + tmpl.containers;  // the payload
}

// Decoding with every string checked (range(1) = 0) or with string checks deferred to the fold
// (range(1) = 1), which checks only containers that changed since the last tick.
void BM_DecodeBatchView(benchmark::State& state) {
  const std::string payload = encodedBatch(1, static_cast<int>(state.range(0)), 1);
  const auto checks = state.range(1) == 0 ? StringChecks::kNow : StringChecks::kDeferred;
  BatchView view;
  for (auto _ : state) benchmark::DoNotOptimize(decodeBatchEnvelope(payload, view, checks).ok());
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.size()));
}
BENCHMARK(BM_DecodeBatchView)->Args({100, 0})->Args({100, 1})->Args({1000, 1});

// What an ingest thread does per batch: decode, then fold into the node's records.
void BM_DecodeAndFold(benchmark::State& state) {
  const int containers = static_cast<int>(state.range(0));
  std::string payload = encodedBatch(1, containers, 1);
  FleetState fleet;
  const auto session = fleet.agentConnected(AgentIdentity{"a", "n", "c", "", "", "", ""});
  BatchView view;
  std::uint64_t sequence = 0;
  const WallTime now = std::chrono::system_clock::now();
  for (auto _ : state) {
    (void)decodeBatchEnvelope(payload, view, StringChecks::kDeferred);
    view.sequence = ++sequence;  // a fresh batch each time, as the agent's next tick
    benchmark::DoNotOptimize(fleet.applyBatch(session, view, now).outcome);
  }
  state.SetItemsProcessed(state.iterations() * containers);
}
BENCHMARK(BM_DecodeAndFold)->Arg(100)->Arg(1000);

// Decode and fold of a realistic node's batches (realistic_node.h: figures that move every tick),
// in version 1 (range(1) = 1) or as one version 2 connection's compact batches (range(1) = 2),
// so the two versions are compared on the same batches.
void BM_DecodeAndFoldRealistic(benchmark::State& state) {
  const int containers = static_cast<int>(state.range(0));
  const bool compact = state.range(1) == 2;
  constexpr int kTicks = 60;
  bench::RealisticNode node(containers, 0);
  CompactBatchEncoder encoder;
  std::vector<std::string> payloads;
  for (int t = 0; t < kTicks; ++t) {
    v1::Envelope envelope;
    *envelope.mutable_batch() = node.tick();
    const std::string payload = envelope.SerializeAsString();
    payloads.push_back(compact ? *encoder.encode(payload) : payload);
  }
  FleetState fleet;
  const auto session = fleet.agentConnected(AgentIdentity{"a", "n", "c", "", "", "", ""});
  BatchView view;
  std::uint64_t sequence = 0;
  const WallTime now = std::chrono::system_clock::now();
  for (auto _ : state) {
    // A connection's batches in order: each pass is a new connection (a fresh table).
    CompactBatchDecoder decoder;
    for (const auto& payload : payloads) {
      (void)decodeBatchEnvelope(payload, view, StringChecks::kDeferred);
      if (compact) (void)decoder.expand(view);
      view.sequence = ++sequence;
      benchmark::DoNotOptimize(fleet.applyBatch(session, view, now).outcome);
    }
  }
  state.SetItemsProcessed(state.iterations() * kTicks * containers);
}
BENCHMARK(BM_DecodeAndFoldRealistic)
    ->ArgNames({"containers", "protocol"})
    ->ArgsProduct({{100, 1000}, {1, 2}})
    ->Unit(benchmark::kMillisecond);

// 1,000 nodes x 100 containers: heap bytes per tracked container, and one rollup of them all.
void BM_SnapshotOf100kContainers(benchmark::State& state) {
  const std::size_t heapBefore = mallinfo2().uordblks;
  auto fleet = std::make_unique<FleetState>();
  {
    BatchView view;
    for (int agent = 0; agent < 1000; ++agent) {
      const std::string payload = encodedBatch(agent, 100, 1);
      (void)decodeBatchEnvelope(payload, view);
      const auto session = fleet->agentConnected(
          AgentIdentity{"agent-" + std::to_string(agent), "node-" + std::to_string(agent),
                        "cluster-" + std::to_string(agent % 2), "", "", "", ""});
      (void)fleet->applyBatch(session, view, std::chrono::system_clock::now());
    }
  }
  malloc_trim(0);
  const double bytes = static_cast<double>(mallinfo2().uordblks - heapBefore);
  const double containers = static_cast<double>(fleet->containerCount());
  for (auto _ : state) {
    benchmark::DoNotOptimize(fleet->snapshot(std::chrono::system_clock::now()).workloads.size());
  }
  state.counters["heap_bytes_per_container"] = bytes / containers;
  state.counters["containers"] = containers;
}
BENCHMARK(BM_SnapshotOf100kContainers)->Unit(benchmark::kMillisecond);

// The per-tick rollup of a fleet of 10,000 containers in 200 workloads after range(0) one-off
// workload names (CronJob runs, 100 per batch of one node) have come and gone, with the names
// unused for the forget delay forgotten (range(1) = 1) or not yet (0). What a tick costs should
// follow the live workloads, not every name ever reported.
void BM_SnapshotAfterOneOffNames(benchmark::State& state) {
  const auto oneOffNames = static_cast<int>(state.range(0));
  const bool forget = state.range(1) == 1;
  auto fleet = std::make_unique<FleetState>();
  const auto now = std::chrono::system_clock::now();
  BatchView view;
  for (int agent = 0; agent < 100; ++agent) {
    const std::string payload = encodedBatch(agent, 100, 1);
    (void)decodeBatchEnvelope(payload, view);
    const auto session = fleet->agentConnected(
        AgentIdentity{"agent-" + std::to_string(agent), "node-" + std::to_string(agent),
                      "cluster-" + std::to_string(agent % 2), "", "", "", ""});
    (void)fleet->applyBatch(session, view, now);
  }
  const std::size_t heapBefore = mallinfo2().uordblks;
  const auto cron =
      fleet->agentConnected(AgentIdentity{"cron", "cron", "cluster-0", "", "", "", ""});
  loadgen::LoadgenOptions jobs;
  jobs.containers = 100;
  jobs.workloads = INT32_MAX;  // every container its own workload name
  const int runs = oneOffNames / jobs.containers;
  for (int run = 0; run < runs; ++run) {
    const auto tmpl = loadgen::makeTemplate(jobs, 1000 + run, 0);
    const auto sequence = static_cast<std::uint64_t>(run + 1);
    const std::string payload =
        loadgen::framePrefix(tmpl, sequence, 1'700'000'000'000, 1.0).substr(kFrameHeaderBytes) +
        tmpl.containers;
    (void)decodeBatchEnvelope(payload, view);
    (void)fleet->applyBatch(cron, view, now);
  }
  const std::string noJobs = encodedBatch(0, 0, static_cast<std::uint64_t>(runs) + 1);
  (void)decodeBatchEnvelope(noJobs, view);  // the last job ends
  (void)fleet->applyBatch(cron, view, now);
  if (forget) {
    fleet->forgetUnusedWorkloadNames(now, std::chrono::minutes(10));
    fleet->forgetUnusedWorkloadNames(now + std::chrono::minutes(11), std::chrono::minutes(10));
  }
  malloc_trim(0);
  const double heap = static_cast<double>(mallinfo2().uordblks) - static_cast<double>(heapBefore);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fleet->snapshot(now).workloads.size());
  }
  state.counters["workload_names"] = static_cast<double>(fleet->workloadNameCount());
  state.counters["names_heap_MB"] = heap / 1e6;
}
BENCHMARK(BM_SnapshotAfterOneOffNames)
    ->Args({0, 0})
    ->Args({200'000, 0})
    ->Args({200'000, 1})
    ->Unit(benchmark::kMillisecond);

// --- end to end ----------------------------------------------------------------------------

std::string binDir() { return std::filesystem::read_symlink("/proc/self/exe").parent_path(); }

pid_t spawn(const std::vector<std::string>& argv, const std::string& stdoutPath) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = open("/dev/null", O_WRONLY);
    dup2(out, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    std::vector<char*> raw;
    for (const auto& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  return pid;
}

// User + system CPU seconds the process has used.
double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double rssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;
  }
  return 0;
}

// Cumulative buckets of one histogram from /metrics: upper bound -> count.
std::map<double, double> histogram(const std::string& metrics, const std::string& name) {
  std::map<double, double> buckets;
  std::istringstream lines(metrics);
  std::string line;
  const std::string prefix = name + "_bucket{le=\"";
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const auto close = line.find('"', prefix.size());
    const std::string bound = line.substr(prefix.size(), close - prefix.size());
    const double upper = bound == "+Inf" ? 1e9 : std::stod(bound);
    buckets[upper] = std::stod(line.substr(line.rfind(' ') + 1));
  }
  return buckets;
}

// The sum of every series of counter `name` (all label values) in an exposition.
double counterSum(const std::string& metrics, const std::string& name) {
  std::istringstream lines(metrics);
  std::string line;
  double sum = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next == ' ' || next == '{') sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// The quantile of the observations between two scrapes, interpolated within its bucket.
double quantile(const std::map<double, double>& before, const std::map<double, double>& after,
                double q) {
  const double total = after.rbegin()->second - (before.empty() ? 0 : before.rbegin()->second);
  double previousBound = 0, previousCount = 0;
  for (const auto& [bound, count] : after) {
    const double delta = count - (before.count(bound) ? before.at(bound) : 0);
    if (delta >= q * total) {
      const double inBucket = delta - previousCount;
      const double fraction = inBucket > 0 ? (q * total - previousCount) / inBucket : 1;
      return previousBound + (bound - previousBound) * fraction;
    }
    previousBound = bound;
    previousCount = delta;
  }
  return previousBound;
}

std::string scrape(int port) {
  CurlHttpClient http;
  HttpClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  auto response = http.send(request);
  return response ? response->body : "";
}

struct Aggregator {
  pid_t pid = -1;
  int ingestPort = 0, httpPort = 0;
  std::string dir;
  Aggregator() {
    char pattern[] = "/tmp/fleetscale-bench-XXXXXX";
    dir = mkdtemp(pattern);
    pid = spawn({binDir() + "/fleetscale-aggregator", "--listen", "127.0.0.1:0", "--http-listen",
                 "127.0.0.1:0", "--http-anonymous-reads", "--threads", "2", "--state-dir",
                 dir + "/state", "--ready-file", dir + "/ready.json", "--max-frames-per-second",
                 "10000", "--log-level", "warn"},
                dir + "/aggregator.out");
    for (int i = 0; i < 500 && ingestPort == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a child's startup
      auto text = readFile(dir + "/ready.json");
      if (!text) continue;
      auto json = nlohmann::json::parse(*text, nullptr, false);
      if (json.is_discarded()) continue;
      ingestPort = json["ingest_port"];
      httpPort = json["http_port"];
    }
  }
  ~Aggregator() {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    std::filesystem::remove_all(dir);
  }
};

// Runs the load generator against a fresh aggregator and reports what the targets ask.
void runEndToEnd(benchmark::State& state, const std::vector<std::string>& loadArgs, double warmupS,
                 double durationS) {
  for (auto _ : state) {
    Aggregator aggregator;
    if (aggregator.ingestPort == 0) {
      state.SkipWithError("aggregator did not start");
      return;
    }
    const double rssIdle = rssBytes(aggregator.pid);
    std::vector<std::string> argv{binDir() + "/fleetscale-loadgen",
                                  "--aggregator",
                                  "127.0.0.1:" + std::to_string(aggregator.ingestPort),
                                  "--warmup",
                                  std::to_string(warmupS) + "s",
                                  "--duration",
                                  std::to_string(durationS) + "s",
                                  "--threads",
                                  "1"};
    argv.insert(argv.end(), loadArgs.begin(), loadArgs.end());
    const std::string reportPath = aggregator.dir + "/loadgen.json";
    const pid_t load = spawn(argv, reportPath);
    // The measured window is the load generator's: after its warmup, for its duration.
    std::this_thread::sleep_for(std::chrono::duration<double>(warmupS));
    const std::string metricsBefore = scrape(aggregator.httpPort);
    const double cpuBefore = cpuSeconds(aggregator.pid);
    const double loadCpuBefore = cpuSeconds(load);
    const auto started = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(durationS));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double cpu = (cpuSeconds(aggregator.pid) - cpuBefore) / elapsed;
    const double loadCpu = (cpuSeconds(load) - loadCpuBefore) / elapsed;
    const std::string metricsAfter = scrape(aggregator.httpPort);
    const double rssLoaded = rssBytes(aggregator.pid);
    int status = 0;
    waitpid(load, &status, 0);
    auto report = nlohmann::json::parse(readFile(reportPath).ok() ? *readFile(reportPath) : "{}",
                                        nullptr, false);
    if (report.is_discarded() || !report.contains("samples_per_second")) {
      state.SkipWithError("load generator failed");
      return;
    }
    const auto ageBefore = histogram(metricsBefore, "fleetscale_ingest_batch_age_seconds");
    const auto ageAfter = histogram(metricsAfter, "fleetscale_ingest_batch_age_seconds");
    state.counters["aggregator_cpu_percent_of_core"] = cpu * 100;
    state.counters["loadgen_cpu_percent_of_core"] = loadCpu * 100;
    state.counters["samples_per_second"] = report["samples_per_second"].get<double>();
    state.counters["ingest_to_state_p99_ms"] =
        ageAfter.empty() ? -1 : quantile(ageBefore, ageAfter, 0.99) * 1000;
    state.counters["ack_p99_ms"] = report["ack_latency_p99_ms"].get<double>();
    const double samples = counterSum(metricsAfter, "fleetscale_ingest_samples_total") -
                           counterSum(metricsBefore, "fleetscale_ingest_samples_total");
    const double bytes = counterSum(metricsAfter, "fleetscale_ingest_bytes_total") -
                         counterSum(metricsBefore, "fleetscale_ingest_bytes_total");
    state.counters["wire_bytes_per_sample"] = samples > 0 ? bytes / samples : -1;
    state.counters["rss_mib_under_load"] = rssLoaded / (1 << 20);
    state.counters["rss_mib_idle"] = rssIdle / (1 << 20);
  }
}

// range(0): the stream protocol version the load generator speaks (2: with zstd, the load
// generator's default).
void BM_EndToEnd_1000AgentsX100ContainersAt1s(benchmark::State& state) {
  runEndToEnd(state,
              {"--agents", "1000", "--containers", "100", "--interval", "1s", "--workloads", "500",
               "--protocol", std::to_string(state.range(0))},
              8, 15);
}
BENCHMARK(BM_EndToEnd_1000AgentsX100ContainersAt1s)
    ->ArgName("protocol")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

// As fast as acks allow: the maximum sustained container-samples per second.
void BM_EndToEnd_Saturated(benchmark::State& state) {
  runEndToEnd(state,
              {"--agents", "200", "--containers", std::to_string(state.range(0)), "--window", "8",
               "--workloads", "500", "--protocol", std::to_string(state.range(1))},
              4, 15);
}
BENCHMARK(BM_EndToEnd_Saturated)
    ->ArgNames({"containers", "protocol"})
    ->ArgsProduct({{100, 1000}, {1, 2}})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
