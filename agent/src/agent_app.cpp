#include "fleetscale/agent/agent_app.h"

#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fleetscale/agent/agent_metrics.h"
#include "fleetscale/agent/batch_fan_out.h"
#include "fleetscale/agent/batch_queue.h"
#include "fleetscale/agent/cgroup_layout.h"
#include "fleetscale/agent/metadata_sources.h"
#include "fleetscale/agent/pod_scraper.h"
#include "fleetscale/agent/sampler.h"
#include "fleetscale/agent/sqlite_spool.h"
#include "fleetscale/agent/stream_client.h"
#include "fleetscale/shared/asio_http_client.h"
#include "fleetscale/shared/asio_listen.h"
#include "fleetscale/shared/batch_ranges.h"
#include "fleetscale/shared/compact_batch.h"
#include "fleetscale/shared/http_server.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/protocol.h"
#include "fleetscale/shared/quantity.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/tls.h"
#include "fleetscale/shared/token.h"
#include "fleetscale/shared/version.h"

namespace fleetscale::agent {
namespace {

constexpr const char* kServiceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";
constexpr const char* kServiceAccountCa = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
constexpr const char* kDockerSocket = "/var/run/docker.sock";
constexpr const char* kPodmanSocket = "/run/podman/podman.sock";

// The fastest tick: aggregators allow a sequence to move one batch per 10 ms of silence past what
// the agent's queue explains (docs/protocol.md, "Sequence epochs").

// Flag values turned into types; a bad one is a usage error (exit 2) naming the flag.
struct Settings {
  std::chrono::nanoseconds interval{};
  std::chrono::nanoseconds rediscover{};
  std::chrono::nanoseconds memoryStatMaxAge{};
  std::chrono::nanoseconds metadataInterval{};
  std::chrono::milliseconds metadataTimeout{};
  ScrapeOptions scrape;
  SpoolLimits spoolLimits;
  std::vector<HostPort> aggregators;
  std::optional<HostPort> metricsListen;
  std::uint32_t maxProtocolVersion = kCompactProtocolVersion;
  StreamCompression compression = StreamCompression::kNone;
};

Result<Settings> parseSettings(const AgentOptions& o) {
  Settings s;
  const auto duration = [](const std::string& flag, const std::string& text, bool positive,
                           std::chrono::nanoseconds& out,
                           std::chrono::nanoseconds max = kMaxDuration) -> Status {
    auto value = parseDuration(text, std::chrono::nanoseconds(0), max);
    if (!value) return Error{flag + ": " + value.error().message};
    if (positive && value->count() <= 0) return Error{flag + ": must be positive"};
    out = *value;
    return {};
  };
  std::chrono::nanoseconds timeout{}, maxAge{}, scrapeTimeout{};
  for (const Status& status :
       {duration("--interval", o.interval, true, s.interval, kMaxBatchInterval),
        duration("--rediscover-interval", o.rediscoverInterval, false, s.rediscover),
        duration("--memory-stat-interval", o.memoryStatInterval, false, s.memoryStatMaxAge),
        duration("--metadata-interval", o.metadataInterval, true, s.metadataInterval),
        duration("--metadata-timeout", o.metadataTimeout, true, timeout),
        duration("--spool-max-age", o.spoolMaxAge, false, maxAge),
        duration("--scrape-timeout", o.scrapeTimeout, true, scrapeTimeout)}) {
    if (!status) return Error{status.message()};
  }
  // The aggregator refuses batches whose interval lies outside these bounds (batch_ranges.h).
  // Aggregators also bound how far a sequence may move by that rate (issue 20).
  if (s.interval < kMinBatchInterval) {
    return Error{"--interval: must be at least " + formatDuration(kMinBatchInterval)};
  }
  s.metadataTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  // A round of scrapes takes at most half a tick and ends as the tick samples, so what the
  // tick sends is at most half an interval old.
  const auto millis = [](std::chrono::nanoseconds d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d);
  };
  s.scrape.interval = millis(s.interval);
  s.scrape.budget = std::max(std::chrono::milliseconds(1), millis(s.interval / 2));
  s.scrape.timeout = std::min(millis(scrapeTimeout), s.scrape.budget);
  s.scrape.maxAge = 3 * s.scrape.interval;
  s.scrape.maxSeriesPerPod = o.scrapeMaxSeries;
  s.scrape.maxTargets = o.scrapeMaxPods;
  auto scrapeBytes = parseQuantityCeil(o.scrapeMaxBytes);
  if (!scrapeBytes || *scrapeBytes == 0) {
    return Error{"--scrape-max-bytes: " +
                 (scrapeBytes ? std::string("must be positive") : scrapeBytes.error().message)};
  }
  s.scrape.maxBytes = *scrapeBytes;
  s.spoolLimits.maxAge = std::chrono::duration_cast<std::chrono::seconds>(maxAge);
  s.spoolLimits.maxBatches = std::max<std::size_t>(1, o.queueCapacity);
  auto maxBytes = parseQuantityCeil(o.spoolMaxBytes);
  if (!maxBytes) return Error{"--spool-max-bytes: " + maxBytes.error().message};
  s.spoolLimits.maxBytes = *maxBytes;
  auto aggregators = parseAggregatorList(o.aggregator);
  if (!aggregators) return Error{"--aggregator: " + aggregators.error().message};
  s.aggregators = std::move(*aggregators);
  if (!o.metricsListen.empty() && o.metricsListen != "none") {
    auto listen = parseHostPort(o.metricsListen);
    if (!listen) return Error{"--metrics-listen: " + listen.error().message};
    s.metricsListen = *listen;
  }
  auto maxProtocolVersion = parseMaxProtocolVersion(o.maxProtocolVersion);
  if (!maxProtocolVersion) return maxProtocolVersion.error();
  s.maxProtocolVersion = *maxProtocolVersion;
  auto compression = parseStreamCompression(o.streamCompression);
  if (!compression) return compression.error();
  s.compression = *compression;
  const std::string& m = o.metadata;
  if (m != "auto" && m != "kubelet" && m != "docker" && m != "podman" && m != "none") {
    return Error{"--metadata: expected auto, kubelet, docker, podman or none, got " +
                 fleetscale::singleQuoted(m)};
  }
  return s;
}

// What the node's agent is called unless --agent-id or a spool says otherwise: derived from
// where it runs, so a restarted or replaced agent (a DaemonSet rollout, a crash without a spool)
// is the same agent to the aggregator, never a second one for the node.
std::string defaultAgentId(const std::string& cluster, const std::string& node) {
  return cluster + "/" + node;
}

bool fileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// The metadata source the options ask for, with the HTTP client it uses (owned here, used only
// by the metadata thread).
struct MetadataSetup {
  std::unique_ptr<HttpClient> client;
  std::unique_ptr<MetadataSource> source;
};

std::string defaultKubeletUrl(const std::string& node) {
  const char* nodeIp = std::getenv("NODE_IP");
  std::string host = nodeIp != nullptr && *nodeIp != '\0' ? nodeIp : node;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
  return "https://" + host + ":10250";
}

MetadataSetup makeMetadataSource(const AgentOptions& o, const Settings& s,
                                 const std::string& node) {
  auto log = componentLogger("agent");
  MetadataSetup setup;
  const bool inKubernetes = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
  const bool kubelet =
      o.metadata == "kubelet" || (o.metadata == "auto" && (!o.kubeletUrl.empty() || inKubernetes));
  if (kubelet) {
    TlsClientOptions tls;
    tls.caFile = !o.kubeletCaFile.empty()        ? o.kubeletCaFile
                 : fileExists(kServiceAccountCa) ? kServiceAccountCa
                                                 : "";
    tls.insecureSkipVerify = o.kubeletInsecureSkipVerify;
    if (tls.insecureSkipVerify) {
      log->warn(
          "--kubelet-insecure-skip-verify: the kubelet's certificate is NOT verified; "
          "anyone on the path can feed this agent false pod metadata. For labs only.");
    }
    KubeletSourceOptions options;
    options.url = !o.kubeletUrl.empty() ? o.kubeletUrl : defaultKubeletUrl(node);
    while (!options.url.empty() && options.url.back() == '/') options.url.pop_back();
    options.tokenFile = !o.kubeletTokenFile.empty()        ? o.kubeletTokenFile
                        : fileExists(kServiceAccountToken) ? kServiceAccountToken
                                                           : "";
    options.timeout = s.metadataTimeout;
    log->info("metadata from the kubelet at {} every {} (token {}, CA {})", options.url,
              o.metadataInterval, options.tokenFile.empty() ? "none" : options.tokenFile,
              tls.insecureSkipVerify ? "not verified"
              : tls.caFile.empty()   ? "system"
                                     : tls.caFile);
    setup.client = std::make_unique<AsioHttpClient>(tls);
    setup.source = std::make_unique<KubeletMetadataSource>(*setup.client, options);
    return setup;
  }
  if (o.metadata == "none" || o.metadata == "kubelet") return setup;
  EngineSourceOptions options;
  options.timeout = s.metadataTimeout;
  if (!o.dockerSocket.empty()) {
    options.socketPath = underRoot(o.hostRoot, o.dockerSocket);
  } else if (o.metadata != "podman" && fileExists(underRoot(o.hostRoot, kDockerSocket))) {
    options.socketPath = underRoot(o.hostRoot, kDockerSocket);
  } else if (o.metadata != "docker" && fileExists(underRoot(o.hostRoot, kPodmanSocket))) {
    options.socketPath = underRoot(o.hostRoot, kPodmanSocket);
  } else if (o.metadata == "auto") {
    return setup;  // a host without a container engine: cgroups only
  } else {
    options.socketPath =
        underRoot(o.hostRoot, o.metadata == "podman" ? kPodmanSocket : kDockerSocket);
  }
  options.runtime =
      o.metadata == "podman" ||
              (o.metadata == "auto" && options.socketPath.find("podman") != std::string::npos)
          ? "podman"
          : "docker";
  log->info("metadata from the {} engine API on {} every {}", options.runtime, options.socketPath,
            o.metadataInterval);
  setup.client = std::make_unique<AsioHttpClient>();
  setup.source = std::make_unique<EngineMetadataSource>(*setup.client, options);
  return setup;
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
    if (sample.has_cpu_throttled_seconds_per_second()) {
      entry["cpu_throttled_seconds_per_second"] = sample.cpu_throttled_seconds_per_second();
    }
    if (sample.has_memory_limit_bytes()) entry["memory_limit_bytes"] = sample.memory_limit_bytes();
    const auto& meta = sample.metadata();
    const auto text = [&](const char* key, const std::string& value) {
      if (!value.empty()) entry[key] = value;
    };
    text("pod", meta.pod());
    text("pod_uid", meta.pod_uid());
    text("namespace", meta.namespace_());
    text("container", meta.container());
    text("workload_kind", meta.workload_kind());
    text("workload", meta.workload());
    text("qos_class", meta.qos_class());
    if (meta.has_cpu_request_cores()) entry["cpu_request_cores"] = meta.cpu_request_cores();
    if (meta.has_memory_request_bytes())
      entry["memory_request_bytes"] = meta.memory_request_bytes();
    if (meta.has_ready()) entry["ready"] = meta.ready();
    containers.push_back(std::move(entry));
  }
  nlohmann::json out{{"node", node}, {"containers", std::move(containers)}};
  if (batch.pod_metrics_size() > 0) {
    nlohmann::json pods = nlohmann::json::array();
    for (const auto& pod : batch.pod_metrics()) {
      nlohmann::json series = nlohmann::json::array();
      for (const auto& one : pod.series()) {
        nlohmann::json labels = nlohmann::json::object();
        for (int i = 0; i + 1 < one.labels_size(); i += 2)
          labels[one.labels(i)] = one.labels(i + 1);
        series.push_back({{"name", one.name()}, {"labels", labels}, {"value", one.value()}});
      }
      pods.push_back({{"pod_uid", pod.pod_uid()}, {"series", std::move(series)}});
    }
    out["pod_metrics"] = std::move(pods);
  }
  const auto& totals = batch.node();
  out["node_cpu_capacity_cores"] = totals.cpu_capacity_cores();
  if (totals.has_cpu_usage_cores()) out["node_cpu_usage_cores"] = totals.cpu_usage_cores();
  out["node_memory_capacity_bytes"] = totals.memory_capacity_bytes();
  out["node_memory_usage_bytes"] = totals.memory_usage_bytes();
  return out;
}

// The queue unacked batches wait in, and the agent id they belong to: the spool's (a restarted
// agent continues its identity and sequence), unless --agent-id names one.
struct Delivery {
  std::unique_ptr<BatchQueue> queue;
  SqliteSpool* spool = nullptr;  // queue, when it is a spool
  std::string agentId;
};

Result<Delivery> openDelivery(const AgentOptions& o, const Settings& s, const std::string& node,
                              const Clock& clock) {
  auto log = componentLogger("agent");
  Delivery delivery;
  const std::string derived = defaultAgentId(o.cluster, node);
  if (o.spoolPath.empty()) {
    delivery.queue = std::make_unique<MemoryBatchQueue>(s.spoolLimits.maxBatches);
    delivery.agentId = !o.agentId.empty() ? o.agentId : derived;
    log->info(
        "no --spool-path: unacked batches are kept in memory and lost if the agent stops; "
        "sequence epoch {} for this run",
        delivery.queue->sequenceEpoch());
    return delivery;
  }
  auto spool = SqliteSpool::open(o.spoolPath, s.spoolLimits, clock);
  if (!spool) return spool.error();
  delivery.spool = spool->get();
  const std::string& stored = (*spool)->agentId();
  delivery.agentId = !o.agentId.empty() ? o.agentId : !stored.empty() ? stored : derived;
  if (!stored.empty() && stored != delivery.agentId) {
    log->warn(
        "--agent-id {} replaces {} stored in the spool; spooled batches are sent under the "
        "new id",
        delivery.agentId, stored);
  }
  if (Status status = (*spool)->setAgentId(delivery.agentId); !status) {
    return Error{"spool " + o.spoolPath + ": " + status.message()};
  }
  log->info("spool {}: {} unacked batches, next sequence {} (sequence epoch {})", o.spoolPath,
            (*spool)->size(), (*spool)->nextSequence(), (*spool)->sequenceEpoch());
  delivery.queue = std::move(*spool);
  return delivery;
}

// Serves /metrics and /healthz on its own thread, so a slow scrape never delays a tick.
class MetricsServer {
 public:
  MetricsServer(const AgentMetrics& metrics, const HostPort& address)
      : server_(io_, [this](HttpRequest& request) { return router_.handle(request); }) {
    addAgentRoutes(router_, metrics);
    server_.listen(address);  // throws with the address on failure
    thread_ = std::thread([this] { io_.run(); });
  }
  ~MetricsServer() {
    server_.stop();
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return server_.port(); }

 private:
  boost::asio::io_context io_{1};
  HttpRouter router_;
  HttpServer server_;
  std::thread thread_;
};

}  // namespace

Result<std::uint32_t> parseMaxProtocolVersion(const std::string& text) {
  if (text == "1") return kProtocolVersion;
  if (text == "2") return kCompactProtocolVersion;
  return Error{"--max-protocol-version: expected 1 or 2, got " + fleetscale::singleQuoted(text)};
}

Result<StreamCompression> parseStreamCompression(const std::string& text) {
  if (text == kZstdCompression) return StreamCompression::kZstd;
  if (text == "none") return StreamCompression::kNone;
  return Error{"--stream-compression: expected zstd or none, got " +
               fleetscale::singleQuoted(text)};
}

Result<std::vector<HostPort>> parseAggregatorList(const std::vector<std::string>& values) {
  std::vector<HostPort> out;
  for (const std::string& value : values) {
    std::string_view rest = value;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view entry = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (entry.empty()) return Error{"empty address in " + singleQuoted(value)};
      auto address = parseHostPort(entry);
      if (!address) return Error{address.error().message};
      if (address->port == 0) return Error{singleQuoted(entry) + ": port 0"};
      for (const HostPort& earlier : out) {
        if (earlier.toString() == address->toString()) {
          return Error{address->toString() + " is listed twice"};
        }
      }
      out.push_back(std::move(*address));
      if (comma == std::string_view::npos) break;
    }
  }
  if (out.empty()) return Error{"no aggregator address"};
  return out;
}

void addAgentOptions(CLI::App& app, AgentOptions& o) {
  addCommonOptions(app, o.common);
  app.add_option("--aggregator", o.aggregator,
                 "aggregator stream address HOST:PORT; several (comma-separated, or the flag "
                 "repeated) for active/standby aggregators: every batch goes to each")
      ->capture_default_str();
  app.add_option("--interval", o.interval, "sampling interval (1s, 500ms, ...; at least 10ms)")
      ->capture_default_str();
  app.add_option("--cluster", o.cluster, "cluster this node belongs to")->capture_default_str();
  app.add_option("--cloud", o.cloud, "cloud provider (aws, gcp, azure, onprem, ...)");
  app.add_option("--region", o.region, "cloud region");
  app.add_option("--zone", o.zone, "availability zone");
  app.add_option("--node", o.node, "node name (default: hostname)");
  app.add_option("--agent-id", o.agentId,
                 "stable agent identity, one per node (default: the one stored in the spool, "
                 "else <cluster>/<node>)");
  app.add_option("--token-file", o.tokenFile, "file with the token the aggregator expects");
  app.add_option("--host-root", o.hostRoot,
                 "prefix for /proc, /sys and engine socket paths (e.g. /host in a container)")
      ->capture_default_str();
  app.add_option("--cgroup-root", o.cgroupRoot, "cgroup filesystem root, under --host-root")
      ->capture_default_str();
  app.add_option(
      "--mountinfo", o.mountInfo,
      "mountinfo file to find cgroup hierarchies in (default: <host-root>/proc/self/mountinfo)");
  app.add_flag("--include-systemd-services", o.includeSystemdServices,
               "treat system.slice/*.service units as containers (VM fleets)");
  app.add_option("--rediscover-interval", o.rediscoverInterval,
                 "how often to look for new containers and re-read limits")
      ->capture_default_str();
  app.add_option("--memory-stat-interval", o.memoryStatInterval,
                 "longest time between memory.stat reads of a container whose memory usage does "
                 "not move (0: every tick)")
      ->capture_default_str();
  app.add_option("--spool-path", o.spoolPath,
                 "SQLite file keeping unacked batches across restarts (default: memory only)");
  app.add_option("--queue-capacity", o.queueCapacity,
                 "unacked batches kept while the aggregator is unreachable")
      ->capture_default_str();
  app.add_option("--spool-max-bytes", o.spoolMaxBytes, "spool size limit (256Mi, 1Gi, ...)")
      ->capture_default_str();
  app.add_option("--spool-max-age", o.spoolMaxAge, "spooled batches older than this are dropped")
      ->capture_default_str();
  app.add_option("--max-frame-bytes", o.maxFrameBytes, "largest frame sent")->capture_default_str();
  app.add_option("--max-protocol-version", o.maxProtocolVersion,
                 "highest stream protocol version offered: 2 sends each container's identity and "
                 "metadata once per connection and deltas after (when the aggregator speaks it), "
                 "1 never offers it")
      ->capture_default_str();
  app.add_option("--stream-compression", o.streamCompression,
                 "compression offered on version 2 connections: zstd (per frame, only when it "
                 "makes the frame smaller; pays on replays and heavy churn) or none")
      ->capture_default_str();
  app.add_option("--metadata", o.metadata,
                 "metadata source: auto (kubelet inside Kubernetes or with --kubelet-url, else "
                 "the docker/podman socket when present), kubelet, docker, podman, none")
      ->capture_default_str();
  app.add_option("--metadata-interval", o.metadataInterval, "metadata refresh interval")
      ->capture_default_str();
  app.add_option("--metadata-timeout", o.metadataTimeout, "timeout of one metadata request")
      ->capture_default_str();
  app.add_option("--kubelet-url", o.kubeletUrl,
                 "kubelet base URL (default: https://$NODE_IP:10250, else https://<node>:10250)");
  app.add_option("--kubelet-token-file", o.kubeletTokenFile,
                 "bearer token for the kubelet (default: the ServiceAccount token)");
  app.add_option("--kubelet-ca-file", o.kubeletCaFile,
                 "CA bundle to verify the kubelet with (default: the ServiceAccount CA, else the "
                 "system CAs)");
  app.add_flag("--kubelet-insecure-skip-verify", o.kubeletInsecureSkipVerify,
               "do not verify the kubelet's certificate (labs only)");
  app.add_option("--docker-socket", o.dockerSocket,
                 "Docker or Podman API socket, under --host-root (default: /var/run/docker.sock, "
                 "else /run/podman/podman.sock)");
  app.add_option("--scrape-timeout", o.scrapeTimeout,
                 "timeout of one scrape of a pod's metrics endpoint (at most half --interval)")
      ->capture_default_str();
  app.add_option("--scrape-max-bytes", o.scrapeMaxBytes,
                 "largest answer read from a pod's metrics endpoint")
      ->capture_default_str();
  app.add_option("--scrape-max-series", o.scrapeMaxSeries,
                 "series sent per scraped pod (annotation fleetscale.io/metrics picks which)")
      ->capture_default_str();
  app.add_option("--scrape-max-pods", o.scrapeMaxPods,
                 "pods scraped per node (annotation fleetscale.io/scrape: \"true\"); 0 disables")
      ->capture_default_str();
  app.add_option("--metrics-listen", o.metricsListen,
                 "HOST:PORT for the agent's /metrics and /healthz (\"none\" disables)")
      ->capture_default_str();
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
  auto settings = parseSettings(options);
  if (!settings) {
    log->error("{}", settings.error().message);
    return 2;
  }
  const Settings& s = *settings;
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
  // Every kept-open cgroup file is a descriptor (about ten per container); the soft limit is
  // often 1024 while the hard limit allows far more.
  const std::uint64_t fileLimit = raiseOpenFileLimit();
  componentLogger("agent")->debug("open file limit {}", fileLimit);
  log->info("fleetscale-agent {} on node {}: {}", kVersion, node, layout->describe());

  SystemClock clock;
  MetadataStore metadataStore(clock);
  MetadataSetup metadata = makeMetadataSource(options, s, node);
  std::optional<MetadataRefresher> refresher;
  if (metadata.source) {
    refresher.emplace(*metadata.source, metadataStore, clock, s.metadataInterval);
  }
  const MetadataStore* labels = refresher ? &metadataStore : nullptr;

  SamplerOptions samplerOptions;
  samplerOptions.discovery.includeSystemdServices = options.includeSystemdServices;
  samplerOptions.rediscoverEvery = s.rediscover;
  samplerOptions.limitsEvery = s.rediscover;
  samplerOptions.memoryStat.maxAge = s.memoryStatMaxAge;
  samplerOptions.hostRoot = options.hostRoot;
  samplerOptions.pendingPodsMaxAge = 3 * s.metadataInterval;
  Sampler sampler(*layout, makeCgroupReader(*layout), samplerOptions, clock, labels);
  // Pods say they want scraping in the kubelet's pod list; other sources list no pods.
  AsioHttpClient scrapeClient;
  std::optional<PodScraper> scraper;
  if (refresher && std::string_view(metadata.source->name()) == "kubelet" &&
      s.scrape.maxTargets > 0) {
    scraper.emplace(scrapeClient, metadataStore, clock, s.scrape);
  }

  if (options.once) {
    (void)sampler.sample();
    // Bounded by --metadata-timeout; a failure is logged and the output goes without metadata.
    if (refresher) (void)refresher->refreshOnce();
    if (scraper) scraper->scrapeRound();  // counters need a second scrape for a rate
    std::this_thread::sleep_for(s.interval);
    if (scraper) scraper->scrapeRound();
    auto batch = sampler.sample();
    if (scraper) scraper->attach(batch);
    std::cout << onceJson(node, batch).dump(2) << std::endl;
    return 0;
  }

  // A named token file must hold a token (fails closed); no --token-file sends none.
  auto token = options.tokenFile.empty() ? Result<std::string>(std::string())
                                         : readTokenFile(options.tokenFile);
  if (!token) {
    log->error("--token-file: {}", token.error().message);
    return 2;
  }
  auto delivery = openDelivery(options, s, node, clock);
  if (!delivery) {
    log->error("{}", delivery.error().message);
    return 1;
  }
  BatchQueue& queue = *delivery->queue;
  BatchFanOut fanOut(queue, s.aggregators.size());

  boost::asio::io_context io(1);
  StreamClientOptions streamOptions;
  streamOptions.maxFrameBytes = options.maxFrameBytes;
  streamOptions.maxProtocolVersion = s.maxProtocolVersion;
  streamOptions.compression = s.compression;
  auto& hello = streamOptions.hello;
  hello.set_agent_id(delivery->agentId);
  hello.set_node(node);
  hello.set_cluster(options.cluster);
  hello.set_cloud(options.cloud);
  hello.set_region(options.region);
  hello.set_zone(options.zone);
  hello.set_agent_version(kVersion);
  hello.set_auth_token(*token);
  streamOptions.tokenFile = options.tokenFile;  // read again before every hello
  hello.set_started_unix_ms(toUnixMillis(clock.wallNow()));
  hello.set_queue_capacity(s.spoolLimits.maxBatches);
  hello.set_clock_aligned_sampling(true);
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
  // One client per aggregator, each with its own connection and cursor on the shared queue.
  std::vector<std::unique_ptr<StreamClient>> clients;
  std::vector<StreamState> streams;
  std::vector<std::string> aggregatorNames;
  std::string aggregatorList;
  for (std::size_t i = 0; i < s.aggregators.size(); ++i) {
    streamOptions.aggregator = s.aggregators[i];
    clients.push_back(std::make_unique<StreamClient>(io, streamOptions, fanOut.cursor(i)));
    streams.push_back(StreamState{clients.back()->counters(), fanOut.cursor(i)});
    aggregatorNames.push_back(s.aggregators[i].toString());
    aggregatorList += (i == 0 ? "" : ", ") + aggregatorNames.back();
  }

  AgentMetrics metrics(clock, s.interval, labels, metadata.source ? metadata.source->name() : "",
                       aggregatorNames);
  std::optional<MetricsServer> metricsServer;
  if (s.metricsListen) {
    // Not fatal: samples matter more than the agent's own metrics (a liveness probe on /healthz
    // then fails, which restarts the agent visibly).
    try {
      metricsServer.emplace(metrics, *s.metricsListen);
      log->info("agent metrics on http://{}:{}/metrics", s.metricsListen->host,
                metricsServer->port());
    } catch (const std::exception& e) {
      log->error("agent metrics disabled: --metrics-listen {}: {}", options.metricsListen,
                 e.what());
    }
  }
  if (refresher) refresher->start();
  if (scraper) scraper->start();

  boost::asio::steady_timer ticker(io);
  v1::SampleBatch batch;  // refilled every tick, so its memory is allocated once
  std::function<void()> tick = [&] {
    const auto started = std::chrono::steady_clock::now();
    sampler.sample(batch);
    if (scraper) scraper->attach(batch);
    metrics.observeCollection(std::chrono::steady_clock::now() - started);
    batch.set_interval_seconds(std::chrono::duration<double>(s.interval).count());
    queue.append(batch);
    for (auto& client : clients) client->batchAvailable();
    metrics.update(AgentState{sampler.counters(), sampler.keptDescriptors(), queue,
                              delivery->spool != nullptr ? delivery->spool->errors() : 0, streams,
                              scraper ? std::optional(scraper->counters()) : std::nullopt});
    // On the wall clock's whole intervals, like every agent: the aggregator decides on rounds.
    const WallTime now = clock.wallNow();
    ticker.expires_after(nextSamplingRound(now, s.interval) - now);
    ticker.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log->info("signal {} received, stopping", signal);
    ticker.cancel();
    for (auto& client : clients) client->stop();
    io.stop();
  });

  log->info("agent {} streaming to {} every {}", delivery->agentId, aggregatorList,
            options.interval);
  for (auto& client : clients) client->start();
  tick();
  io.run();
  if (scraper) scraper->stop();
  if (refresher) refresher->stop();
  metricsServer.reset();
  log->info("stopped after {} ticks; {} batches unacknowledged{}", sampler.counters().ticks,
            queue.size(), delivery->spool != nullptr ? " (kept in the spool)" : "");
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
