#include "fleetscale/agent/agent_app.h"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "fleetscale/agent/batch_queue.h"
#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/sampler.h"
#include "fleetscale/agent/stream_client.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::agent {
namespace {

std::string randomSuffix() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> pick(0, 0xffff);
  char text[16];
  std::snprintf(text, sizeof(text), "%04x%04x", pick(device), pick(device));
  return text;
}

nlohmann::json onceJson(const std::string& node, const v1::SampleBatch& batch) {
  nlohmann::json containers = nlohmann::json::array();
  for (const auto& sample : batch.containers()) {
    nlohmann::json entry{{"id", sample.id()},
                         {"cgroup", sample.cgroup()},
                         {"runtime", sample.runtime()},
                         {"memory_usage_bytes", sample.memory_usage_bytes()},
                         {"memory_working_set_bytes", sample.memory_working_set_bytes()}};
    entry["cpu_cores"] = sample.has_cpu_cores() ? nlohmann::json(sample.cpu_cores()) : nullptr;
    if (sample.has_cpu_limit_cores()) entry["cpu_limit_cores"] = sample.cpu_limit_cores();
    if (sample.has_memory_limit_bytes()) entry["memory_limit_bytes"] = sample.memory_limit_bytes();
    if (!sample.metadata().pod_uid().empty()) entry["pod_uid"] = sample.metadata().pod_uid();
    containers.push_back(std::move(entry));
  }
  nlohmann::json out{{"node", node}, {"containers", std::move(containers)}};
  const auto& totals = batch.node();
  out["node_cpu_capacity_cores"] = totals.cpu_capacity_cores();
  if (totals.has_cpu_usage_cores()) out["node_cpu_usage_cores"] = totals.cpu_usage_cores();
  out["node_memory_usage_bytes"] = totals.memory_usage_bytes();
  return out;
}

}  // namespace

void addAgentOptions(CLI::App& app, AgentOptions& o) {
  addCommonOptions(app, o.common);
  app.add_option("--aggregator", o.aggregator, "aggregator stream address HOST:PORT")
      ->capture_default_str();
  app.add_option("--interval", o.interval, "sampling interval (1s, 500ms, ...)")
      ->capture_default_str();
  app.add_option("--cluster", o.cluster, "cluster this node belongs to")->capture_default_str();
  app.add_option("--cloud", o.cloud, "cloud provider (aws, gcp, azure, onprem, ...)");
  app.add_option("--region", o.region, "cloud region");
  app.add_option("--zone", o.zone, "availability zone");
  app.add_option("--node", o.node, "node name (default: hostname)");
  app.add_option("--agent-id", o.agentId, "stable agent identity (default: <node>-<random>)");
  app.add_option("--token-file", o.tokenFile, "file with the token the aggregator expects");
  app.add_option("--host-root", o.hostRoot,
                 "prefix for /proc and /sys paths (e.g. /host in a container)")
      ->capture_default_str();
  app.add_option("--cgroup-root", o.cgroupRoot, "cgroup filesystem root, under --host-root")
      ->capture_default_str();
  app.add_option(
      "--mountinfo", o.mountInfo,
      "mountinfo file to find cgroup hierarchies in (default: <host-root>/proc/self/mountinfo)");
  app.add_flag("--include-systemd-services", o.includeSystemdServices,
               "treat system.slice/*.service units as containers (VM fleets)");
  app.add_option("--rediscover-interval", o.rediscoverInterval,
                 "how often to look for new containers")
      ->capture_default_str();
  app.add_option("--queue-capacity", o.queueCapacity,
                 "unacked batches kept while the aggregator is unreachable")
      ->capture_default_str();
  app.add_option("--max-frame-bytes", o.maxFrameBytes, "largest frame sent")->capture_default_str();
  app.add_flag("--once", o.once, "sample twice one interval apart, print JSON, exit");
  app.add_flag("--tls", o.tls,
               "connect to the aggregator with TLS (system CAs unless --tls-ca-file)");
  app.add_option("--tls-ca-file", o.tlsCaFile,
                 "PEM CA to verify the aggregator with (implies --tls)");
  app.add_option("--tls-cert-file", o.tlsCertFile,
                 "PEM client certificate for mutual TLS (implies --tls)");
  app.add_option("--tls-key-file", o.tlsKeyFile, "PEM private key for --tls-cert-file");
  app.add_option("--tls-server-name", o.tlsServerName,
                 "name the aggregator's certificate must carry (default: the --aggregator host)");
}

int runAgent(const AgentOptions& options) {
  auto log = componentLogger("agent");
  auto interval = parseDuration(options.interval);
  auto rediscover = parseDuration(options.rediscoverInterval);
  if (!interval || interval->count() <= 0) {
    log->error("--interval: {}", interval ? "must be positive" : interval.error().message);
    return 2;
  }
  if (!rediscover) {
    log->error("--rediscover-interval: {}", rediscover.error().message);
    return 2;
  }
  auto aggregator = parseHostPort(options.aggregator);
  if (!aggregator) {
    log->error("--aggregator: {}", aggregator.error().message);
    return 2;
  }
  const std::string node = options.node.empty() ? localHostName() : options.node;
  const std::string cgroupRoot = underRoot(options.hostRoot, options.cgroupRoot);
  const std::string mountInfo =
      !options.mountInfo.empty()
          ? options.mountInfo
          : (options.hostRoot == "/" ? "/proc/self/mountinfo"
                                     : underRoot(options.hostRoot, "/proc/1/mountinfo"));
  auto layout = detectLayout(mountInfo, cgroupRoot, options.hostRoot);
  if (!layout) {
    log->error("cannot find cgroups: {}", layout.error().message);
    return 1;
  }
  log->info("fleetscale-agent {} on node {}: {}", kVersion, node, layout->describe());

  SystemClock clock;
  SamplerOptions samplerOptions;
  samplerOptions.discovery.includeSystemdServices = options.includeSystemdServices;
  samplerOptions.rediscoverEvery = *rediscover;
  samplerOptions.hostRoot = options.hostRoot;
  Sampler sampler(*layout, makeCgroupReader(*layout), samplerOptions, clock);

  if (options.once) {
    (void)sampler.sample();
    std::this_thread::sleep_for(*interval);
    const auto batch = sampler.sample();
    std::cout << onceJson(node, batch).dump(2) << std::endl;
    return 0;
  }

  auto token = readSecretFile(options.tokenFile);
  if (!token) {
    log->error("--token-file: {}", token.error().message);
    return 2;
  }

  boost::asio::io_context io(1);
  MemoryBatchQueue queue(options.queueCapacity);
  StreamClientOptions streamOptions;
  streamOptions.aggregator = *aggregator;
  streamOptions.maxFrameBytes = options.maxFrameBytes;
  auto& hello = streamOptions.hello;
  hello.set_agent_id(options.agentId.empty() ? node + "-" + randomSuffix() : options.agentId);
  hello.set_node(node);
  hello.set_cluster(options.cluster);
  hello.set_cloud(options.cloud);
  hello.set_region(options.region);
  hello.set_zone(options.zone);
  hello.set_agent_version(kVersion);
  hello.set_auth_token(*token);
  if (options.tls || !options.tlsCaFile.empty() || !options.tlsCertFile.empty() ||
      !options.tlsKeyFile.empty() || !options.tlsServerName.empty()) {
    auto tls = makeTlsClientContext(
        TlsClientFiles{options.tlsCaFile, options.tlsCertFile, options.tlsKeyFile});
    if (!tls) {
      log->error("TLS: {}", tls.error().message);
      return 2;
    }
    streamOptions.tls = *tls;
    streamOptions.tlsServerName = options.tlsServerName;
  }
  StreamClient client(io, streamOptions, queue);

  boost::asio::steady_timer ticker(io);
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(*interval);
  auto nextTick = std::chrono::steady_clock::now();
  std::function<void()> tick = [&] {
    auto batch = sampler.sample();
    batch.set_interval_seconds(std::chrono::duration<double>(*interval).count());
    queue.append(std::move(batch));
    client.batchAvailable();
    // Fixed-rate schedule: a slow tick does not push every later tick back.
    nextTick += period;
    const auto now = std::chrono::steady_clock::now();
    if (nextTick < now) nextTick = now;
    ticker.expires_at(nextTick);
    ticker.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log->info("signal {} received, stopping", signal);
    ticker.cancel();
    client.stop();
    io.stop();
  });

  log->info("streaming to {} every {}", aggregator->toString(), options.interval);
  client.start();
  tick();
  io.run();
  log->info("stopped after {} ticks; {} batches unacknowledged", sampler.counters().ticks,
            queue.size());
  spdlog::default_logger()->flush();
  return 0;
}

int agentMain(int argc, char** argv) {
  CLI::App app{
      "fleetscale-agent: reads per-container CPU and memory from cgroups and streams "
      "them to the fleetscale aggregator",
      "fleetscale-agent"};
  AgentOptions options;
  addAgentOptions(app, options);
  app.set_version_flag("--version", std::string("fleetscale-agent ") + kVersion);
  if (auto code = parseCommandLine(app, argc, argv)) return *code;
  if (Status status = applyLogging(options.common); !status) {
    std::cerr << "fleetscale-agent: " << status.message() << "\n";
    return 2;
  }
  return runAgent(options);
}

}  // namespace fleetscale::agent
