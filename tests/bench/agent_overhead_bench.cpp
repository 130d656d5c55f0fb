// What the agent's collection costs, against the floor the issue sets: a bare loop of pread(2)
// on kept-open descriptors of exactly the files needed. Runs at 1 s ticks, like the agent, on
//   real   N container cgroups this benchmark creates (root only; removed at exit), and
//   v2     a cgroup v2 tree of N containers written from the real-format fixtures,
// for N = 100 and 1000, measuring thread CPU time per container-sample of
//   floor exact      pread of the per-tick files, memory.stat, /proc/stat and /proc/meminfo every
//                    tick, the limit files every 5th tick, no parsing: exactly the reads of
//   agent exact      Sampler::sample() with memory.stat every tick (--memory-stat-interval 0):
//                    discovery every 5 s, reads, parsing, rates, batch building;
//   floor default    the same floor with memory.stat every 10th tick: exactly the reads of
//   agent default    the default schedule on idle containers (memory.stat at its 10 s max age).
// Each agent variant's ratio is against the floor above it. The variants run one after another,
// each for the same number of 1 s ticks. Then it runs the real fleetscale-agent binary against a
// real fleetscale-aggregator for 12 s and reports its RSS and whole-process CPU (encoding, spool
// and sending included). With --aggregators K the agent streams to K real aggregators (warm
// standbys, docs/agent.md); --process-only skips the in-process variants, --process-seconds sets
// the measured time; --protocols 1,2,2z measures the process once per stream protocol variant
// (1: --max-protocol-version 1; 2: version 2 with --stream-compression none; 2z: version 2 with
// zstd, the default), one after the other on the same tree.
//
// Usage: agent_overhead_bench [--ticks 10] [--containers N] [--only real|v2] [--no-process]
// [--process-only] [--process-seconds 10] [--aggregators 1] [--protocols 2z]
// [--benchmark_out=FILE] (other
// --benchmark_* flags from scripts/bench.sh are accepted and ignored). Results:
// docs/benchmarks.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/cgroup_reader.h"
#include "fleetscale/agent/sampler.h"
#include "fleetscale/shared/text.h"

#ifndef FLEETSCALE_FIXTURES_DIR  // set by CMake; this fallback serves tools reading the source
#define FLEETSCALE_FIXTURES_DIR "tests/fixtures"
#endif

namespace fs = std::filesystem;
using namespace fleetscale;
using namespace fleetscale::agent;

namespace {

std::int64_t threadCpuNs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::string randomHex(std::mt19937_64& random) {
  std::string id;
  for (int i = 0; i < 64; ++i) id.push_back("0123456789abcdef"[random() % 16]);
  return id;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The files the agent reads, by hierarchy directory (see cgroup_reader.cpp).
struct FileSet {
  std::vector<std::string> perTick;  // absolute paths
  std::vector<std::string> memoryStat;
  std::vector<std::string> limits;
};

// A tree of N containers and the files the floor reads from it.
struct Tree {
  std::string name;
  CgroupLayout layout;
  std::vector<std::string> cgroups;  // relative paths
  FileSet files;
  std::vector<std::string> created;  // directories to remove, deepest last
  bool removeOnExit = false;
};

void addFiles(Tree& tree, const std::string& relative) {
  const CgroupLayout& l = tree.layout;
  if (l.version == CgroupVersion::kV2) {
    const std::string dir = l.unified + relative + "/";
    for (const char* f : {"cpu.stat", "memory.current", "memory.events"}) {
      tree.files.perTick.push_back(dir + f);
    }
    for (const char* f : {"cpu.pressure", "memory.pressure"}) {
      if (fs::exists(dir + f)) tree.files.perTick.push_back(dir + f);
    }
    tree.files.memoryStat.push_back(dir + "memory.stat");
    for (const char* f : {"cpu.max", "cpu.weight", "memory.max"}) {
      tree.files.limits.push_back(dir + f);
    }
    return;
  }
  const std::string acct = l.cpuacct + relative + "/", cpu = l.cpu + relative + "/",
                    mem = l.memory + relative + "/";
  for (const std::string& path : {acct + "cpuacct.usage", acct + "cpuacct.stat", cpu + "cpu.stat",
                                  mem + "memory.usage_in_bytes", mem + "memory.oom_control"}) {
    tree.files.perTick.push_back(path);
  }
  tree.files.memoryStat.push_back(mem + "memory.stat");
  for (const std::string& path : {cpu + "cpu.cfs_quota_us", cpu + "cpu.cfs_period_us",
                                  cpu + "cpu.shares", mem + "memory.limit_in_bytes"}) {
    tree.files.limits.push_back(path);
  }
}

// N containers, ten per pod, as the systemd driver with containerd lays them out.
std::vector<std::string> containerPaths(std::size_t n, std::mt19937_64& random) {
  std::vector<std::string> paths;
  std::string uid;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 10 == 0) {
      uid = randomHex(random).substr(0, 32);
      for (int dash : {8, 13, 18, 23}) uid.insert(uid.begin() + dash, '_');
    }
    paths.push_back("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid +
                    ".slice/cri-containerd-" + randomHex(random) + ".scope");
  }
  return paths;
}

Tree fixtureTree(const std::string& root, std::size_t n, std::mt19937_64& random) {
  Tree tree;
  tree.name = "v2 fixture";
  tree.layout = CgroupLayout{CgroupVersion::kV2, root, "", "", ""};
  fs::create_directories(root);
  writeText(root + "/cgroup.controllers", "cpuset cpu io memory pids\n");
  const std::string fixtures = FLEETSCALE_FIXTURES_DIR;
  const std::string v2 = fixtures + "/cgroup-v2/datadog-agent/";
  for (const auto& relative : containerPaths(n, random)) {
    const std::string dir = root + relative;
    fs::create_directories(dir);
    for (const char* f : {"cpu.stat", "memory.current", "memory.events", "cpu.pressure",
                          "memory.pressure", "cpu.max", "cpu.weight", "memory.max"}) {
      fs::copy_file(v2 + f, dir + "/" + f);
    }
    fs::copy_file(fixtures + "/cgroup-v2/datadog-agent-kernel-6.8/memory.stat",
                  dir + "/memory.stat");
    tree.cgroups.push_back(relative);
    addFiles(tree, relative);
  }
  return tree;
}

// Real cgroups in every hierarchy the agent reads. Empty of processes: the files cost the same
// to generate, and the benchmark disturbs nothing.
std::optional<Tree> realTree(std::size_t n, std::mt19937_64& random, std::string& why) {
  if (::geteuid() != 0) {
    why = "not root";
    return std::nullopt;
  }
  auto layout = detectLayout("/proc/self/mountinfo", "/sys/fs/cgroup", "/");
  if (!layout) {
    why = layout.error().message;
    return std::nullopt;
  }
  Tree tree;
  tree.layout = *layout;
  tree.removeOnExit = true;
  std::vector<std::string> roots;
  if (layout->version == CgroupVersion::kV2) {
    roots = {layout->unified};
    writeText(layout->unified + "/cgroup.subtree_control", "+cpu +memory");
  } else {
    for (const auto& root : {layout->cpu, layout->cpuacct, layout->memory}) {
      if (!root.empty() && std::find(roots.begin(), roots.end(), root) == roots.end()) {
        roots.push_back(root);
      }
    }
  }
  tree.name = layout->version == CgroupVersion::kV2 ? "real v2" : "real v1";
  const std::string bench = "/fleetscale-bench-" + std::to_string(::getpid()) + ".slice";
  for (const auto& relative : containerPaths(n, random)) {
    const std::string full = bench + relative;
    for (const auto& root : roots) {
      // Create each level so subtree_control can be enabled on the way down (v2).
      std::string path = root;
      for (const auto& part : splitFields(full, "/")) {
        path.push_back('/');
        path.append(part);
        if (fs::exists(path)) continue;
        fs::create_directory(path);
        tree.created.push_back(path);
        if (layout->version == CgroupVersion::kV2 &&
            part.find(".scope") == std::string_view::npos) {
          writeText(path + "/cgroup.subtree_control", "+cpu +memory");
        }
      }
    }
    tree.cgroups.push_back(full);
    addFiles(tree, full);
  }
  return tree;
}

void removeTree(Tree& tree) {
  if (!tree.removeOnExit) return;
  for (auto it = tree.created.rbegin(); it != tree.created.rend(); ++it) ::rmdir(it->c_str());
  tree.created.clear();
}

// Ctrl-C must not leave cgroups behind: rmdir(2) is async-signal-safe, and the list is complete
// before the measurements (the only time a signal is likely) start.
const std::vector<std::string>* cgroupsToRemove = nullptr;

void removeOnSignal(int) {
  if (cgroupsToRemove != nullptr) {
    for (auto it = cgroupsToRemove->rbegin(); it != cgroupsToRemove->rend(); ++it) {
      ::rmdir(it->c_str());
    }
  }
  ::_exit(130);
}

// The floor: kept-open descriptors, one pread each, nothing else. memory.stat every
// `memoryStatEvery` ticks (0: never), the limit files every 5th, like the agent's defaults.
class Floor {
 public:
  Floor(const Tree& tree, std::size_t memoryStatEvery) : memoryStatEvery_(memoryStatEvery) {
    open(tree.files.perTick, perTick_);
    open({"/proc/stat", "/proc/meminfo"}, perTick_);
    if (memoryStatEvery > 0) open(tree.files.memoryStat, memoryStat_);
    open(tree.files.limits, limits_);
  }
  ~Floor() {
    for (const auto* fds : {&perTick_, &memoryStat_, &limits_}) {
      for (int fd : *fds) ::close(fd);
    }
  }
  void tick(std::size_t index) {
    read(perTick_);
    if (memoryStatEvery_ > 0 && index % memoryStatEvery_ == 0) read(memoryStat_);
    if (index % 5 == 0) read(limits_);
  }

 private:
  static void open(const std::vector<std::string>& paths, std::vector<int>& fds) {
    for (const auto& path : paths) fds.push_back(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  void read(const std::vector<int>& fds) {
    for (int fd : fds) {
      if (fd >= 0) bytes_ += ::pread(fd, buffer_.data(), buffer_.size(), 0);
    }
  }
  std::size_t memoryStatEvery_;
  std::vector<int> perTick_, memoryStat_, limits_;
  std::vector<char> buffer_ = std::vector<char>(16 * 1024);
  long bytes_ = 0;
};

Sampler makeSampler(const Tree& tree, std::chrono::nanoseconds memoryStatMaxAge,
                    const Clock& clock) {
  SamplerOptions options;
  options.memoryStat.maxAge = memoryStatMaxAge;
  ReaderOptions reader;
  reader.access = FileAccess::kKeepOpen;  // fixture files are never replaced here
  return Sampler(tree.layout, makeCgroupReader(tree.layout, reader), options, clock);
}

struct Figure {
  std::string name;
  std::int64_t cpuNs = 0;
  std::size_t samples = 0;
  double perContainerNs() const { return samples ? static_cast<double>(cpuNs) / samples : 0; }
};

// Runs `tick` at 1 s intervals and sums its thread CPU time. Tick 0 (opening every descriptor,
// the first discovery) is a one-off and is not counted.
Figure runAtOneSecond(const std::string& name, int ticks,
                      const std::function<std::size_t(int)>& tick) {
  Figure figure{name};
  tick(0);
  auto next = std::chrono::steady_clock::now();
  for (int t = 1; t <= ticks; ++t) {
    next += std::chrono::seconds(1);
    std::this_thread::sleep_until(next);
    const auto start = threadCpuNs();
    figure.samples += tick(t);
    figure.cpuNs += threadCpuNs() - start;
  }
  return figure;
}

// The variants one after another: together their descriptors (about ten per container each)
// would not fit one process's limit at N = 1000.
std::vector<Figure> measure(const Tree& tree, int ticks) {
  SystemClock clock;
  std::vector<Figure> figures;
  const auto floorRun = [&](const char* name, std::size_t memoryStatEvery) {
    Floor floor(tree, memoryStatEvery);
    figures.push_back(runAtOneSecond(name, ticks, [&](int t) {
      floor.tick(static_cast<std::size_t>(t));
      return tree.cgroups.size();
    }));
  };
  const auto agentRun = [&](const char* name, std::chrono::nanoseconds memoryStatMaxAge) {
    Sampler sampler = makeSampler(tree, memoryStatMaxAge, clock);
    v1::SampleBatch batch;
    figures.push_back(runAtOneSecond(name, ticks, [&](int) {
      sampler.sample(batch);
      return static_cast<std::size_t>(batch.containers_size());
    }));
    if (figures.back().samples != tree.cgroups.size() * static_cast<std::size_t>(ticks)) {
      std::cerr << name << " sampled " << figures.back().samples << " of "
                << tree.cgroups.size() * ticks << " container-ticks\n";
    }
  };
  floorRun("floor exact", 1);
  agentRun("agent exact", std::chrono::seconds(0));
  // The containers are idle, so the default schedule reads memory.stat at its maximum age:
  // every 10th tick, which is what this floor does.
  floorRun("floor default", 10);
  agentRun("agent default", std::chrono::seconds(10));
  return figures;
}

std::string binDir() { return fs::read_symlink("/proc/self/exe").parent_path().string(); }

struct ProcessFigures {
  double cpuNsPerSample = 0;
  long rssKiB = 0;
  long peakRssKiB = 0;
  long anonKiB = 0;  // the agent's own memory; the rest of RSS is shared-library pages
  long pssKiB = 0;   // RSS with shared pages divided among the processes mapping them
  std::string note;
};

long statusKiB(pid_t pid, const std::string& key, const char* file = "status") {
  for (std::string_view line : splitLines(readText("/proc/" + std::to_string(pid) + "/" + file))) {
    if (line.substr(0, key.size() + 1) == key + ":") {
      return std::stol(std::string(trim(line.substr(key.size() + 1))));
    }
  }
  return -1;
}

// CPU time of the process's threads, in nanoseconds (schedstat: /proc/<pid>/stat counts whole
// clock ticks, 10 ms, too coarse to compare agents that differ by a few percent).
double processCpuNs(pid_t pid) {
  double total = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const std::string schedstat = readText(task.path().string() + "/schedstat");
    const auto fields = splitFields(schedstat);
    if (!fields.empty()) total += std::stod(std::string(fields[0]));
  }
  return total;
}

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// The real agent binary at 1 s for `seconds` after a 3 s start, streaming to `aggregators` real
// aggregators in stream protocol variant `protocol` (see --protocols).
ProcessFigures measureProcess(const Tree& tree, const std::string& scratch, int aggregators,
                              int seconds, const std::string& protocol) {
  ProcessFigures out;
  std::vector<pid_t> aggregatorPids;
  std::string addresses;
  for (int a = 0; a < aggregators; ++a) {
    const std::string ready = scratch + "/ready-" + std::to_string(a) + ".json";
    fs::remove(ready);
    aggregatorPids.push_back(spawn({binDir() + "/fleetscale-aggregator", "--listen", "127.0.0.1:0",
                                    "--http-listen", "127.0.0.1:0", "--ready-file", ready}));
    int ingest = 0;
    for (int i = 0; i < 100 && ingest == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto json = nlohmann::json::parse(readText(ready), nullptr, false);
      if (json.is_object()) ingest = json["ingest_port"].get<int>();
    }
    addresses += (a == 0 ? "" : ",") + std::string("127.0.0.1:") + std::to_string(ingest);
  }
  std::vector<std::string> args{binDir() + "/fleetscale-agent",
                                "--aggregator",
                                addresses,
                                "--interval",
                                "1s",
                                "--metadata",
                                "none",
                                "--metrics-listen",
                                "none",
                                "--spool-path",
                                scratch + "/spool.db",
                                "--node",
                                "bench",
                                "--max-protocol-version",
                                protocol.substr(0, 1),
                                "--stream-compression",
                                protocol == "2z" ? "zstd" : "none"};
  if (!tree.removeOnExit) {
    args.insert(args.end(), {"--cgroup-root", tree.layout.unified, "--mountinfo", "/dev/null"});
    out.note = "fixture files on ext4 are reopened every read (only cgroupfs keeps them open)";
  }
  const pid_t agent = spawn(args);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // start-up, first discovery, opens
  const double before = processCpuNs(agent);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double after = processCpuNs(agent);
  out.rssKiB = statusKiB(agent, "VmRSS");
  out.peakRssKiB = statusKiB(agent, "VmHWM");
  out.anonKiB = statusKiB(agent, "RssAnon");
  out.pssKiB = statusKiB(agent, "Pss", "smaps_rollup");
  out.cpuNsPerSample = (after - before) / (seconds * static_cast<double>(tree.cgroups.size()));
  stop(agent);
  for (const pid_t aggregator : aggregatorPids) stop(aggregator);
  fs::remove(scratch + "/spool.db");
  return out;
}

int run(int argc, char** argv) {
  // About ten descriptors per container; the usual soft limit is 1024.
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  int ticks = 10;
  std::string jsonOut;
  std::vector<std::size_t> sizes{100, 1000};
  std::string only;  // "real" or "v2": one kind of tree
  bool processes = true;
  bool processOnly = false;
  int processSeconds = 10;
  int aggregators = 1;
  std::vector<std::string> protocols{"2z"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--ticks" && i + 1 < argc) ticks = std::stoi(argv[++i]);
    if (arg == "--containers" && i + 1 < argc) sizes = {std::stoul(argv[++i])};
    if (arg == "--only" && i + 1 < argc) only = argv[++i];
    if (arg == "--no-process") processes = false;
    if (arg == "--process-only") processOnly = true;
    if (arg == "--process-seconds" && i + 1 < argc) processSeconds = std::stoi(argv[++i]);
    if (arg == "--aggregators" && i + 1 < argc) aggregators = std::stoi(argv[++i]);
    if (arg == "--protocols" && i + 1 < argc) {
      protocols.clear();
      for (const auto variant : splitFields(argv[++i], ",")) protocols.emplace_back(variant);
    }
    if (arg.rfind("--benchmark_out=", 0) == 0) jsonOut = arg.substr(16);
  }
  std::mt19937_64 random(42);
  const std::string scratch =
      fs::temp_directory_path().string() + "/fleetscale-bench-" + std::to_string(::getpid());
  fs::create_directories(scratch);
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-12s %5s  %-15s %12s %8s\n", "tree", "N", "variant", "ns/sample", "x floor");
  for (const std::size_t n : sizes) {
    std::vector<Tree> trees;
    if (only != "real")
      trees.push_back(fixtureTree(scratch + "/v2-" + std::to_string(n), n, random));
    std::string why;
    ::signal(SIGINT, removeOnSignal);
    ::signal(SIGTERM, removeOnSignal);
    if (only == "v2") {
      // fixture tree only
    } else if (auto real = realTree(n, random, why)) {
      trees.push_back(std::move(*real));
      cgroupsToRemove = &trees.back().created;
    } else {
      std::printf("real cgroups skipped: %s\n", why.c_str());
    }
    for (auto& tree : trees) {
      const auto figures = processOnly ? std::vector<Figure>{} : measure(tree, ticks);
      double floorNs = 0;
      for (const auto& figure : figures) {
        if (figure.name.rfind("floor", 0) == 0) floorNs = figure.perContainerNs();
        std::printf("%-12s %5zu  %-15s %12.0f %8.2f\n", tree.name.c_str(), n, figure.name.c_str(),
                    figure.perContainerNs(), figure.perContainerNs() / floorNs);
        results.push_back({{"tree", tree.name},
                           {"containers", n},
                           {"variant", figure.name},
                           {"cpu_ns_per_container_sample", figure.perContainerNs()},
                           {"ratio_to_floor", figure.perContainerNs() / floorNs}});
      }
      if (!processes) {
        removeTree(tree);
        continue;
      }
      for (const std::string& protocol : protocols) {
        const ProcessFigures process =
            measureProcess(tree, scratch, aggregators, processSeconds, protocol);
        const std::string variant = "agent process v" + protocol;
        std::printf(
            "%-12s %5zu  %-15s %12.0f   RSS %ld KiB (peak %ld, anonymous %ld, PSS %ld)%s%s\n",
            tree.name.c_str(), n, variant.c_str(), process.cpuNsPerSample, process.rssKiB,
            process.peakRssKiB, process.anonKiB, process.pssKiB, process.note.empty() ? "" : "; ",
            process.note.c_str());
        results.push_back({{"tree", tree.name},
                           {"containers", n},
                           {"variant", "agent process"},
                           {"protocol", protocol},
                           {"aggregators", aggregators},
                           {"cpu_ns_per_container_sample", process.cpuNsPerSample},
                           {"rss_kib", process.rssKiB},
                           {"peak_rss_kib", process.peakRssKiB},
                           {"anonymous_rss_kib", process.anonKiB},
                           {"pss_kib", process.pssKiB}});
      }
      removeTree(tree);
    }
    cgroupsToRemove = nullptr;
  }
  fs::remove_all(scratch);
  if (!jsonOut.empty()) std::ofstream(jsonOut) << results.dump(2) << "\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "agent_overhead_bench: " << e.what() << "\n";
    return 1;
  }
}
