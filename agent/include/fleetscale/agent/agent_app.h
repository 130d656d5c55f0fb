// fleetscale-agent as a whole: options, startup steps, the tick loop, shutdown. main() only
// calls agentMain().
//
// Threads: the I/O thread runs the tick timer (sampling), the stream client and the spool; the
// metadata thread refreshes kubelet or engine metadata (see metadata.h for the hand-off); the
// metrics thread serves /metrics and /healthz.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fleetscale/agent/stream_client.h"
#include "fleetscale/shared/net_address.h"
#include "fleetscale/shared/options.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

struct AgentOptions {
  CommonOptions common;
  // Each value is one HOST:PORT or a comma-separated list; the agent streams every batch to
  // every aggregator (active and standbys).
  std::vector<std::string> aggregator{"127.0.0.1:7070"};
  std::string interval = "1s";
  std::string cluster = "default";
  std::string cloud;
  std::string region;
  std::string zone;
  std::string node;       // default: hostname
  std::string agentId;    // default: the spool's, else <cluster>/<node>
  std::string tokenFile;  // file holding the stream auth token
  std::string hostRoot = "/";
  std::string cgroupRoot = "/sys/fs/cgroup";
  std::string
      mountInfo;  // default: <host-root>/proc/self/mountinfo (or /proc/1/... under a host root)
  bool includeSystemdServices = false;
  std::string rediscoverInterval = "5s";
  std::string memoryStatInterval = "10s";

  // Delivery.
  std::string spoolPath;  // "" = in memory only (lost on restart)
  std::size_t queueCapacity = 3600;
  std::string spoolMaxBytes = "256Mi";
  std::string spoolMaxAge = "1h";
  std::uint32_t maxFrameBytes = 4 * 1024 * 1024;
  std::string maxProtocolVersion = "2";  // 1 or 2 (compact batches, when the aggregator agrees)
  // zstd or none (version 2 connections only). none by default: on a node's steady stream zstd
  // saves a tenth of the bytes for 6% more RSS (docs/benchmarks.md, "Protocol version 2").
  std::string streamCompression = "none";

  // Metadata.
  std::string metadata = "auto";  // auto, kubelet, docker, podman, none
  std::string metadataInterval = "5s";
  std::string metadataTimeout = "5s";
  std::string kubeletUrl;        // default: https://$NODE_IP:10250, else https://<node>:10250
  std::string kubeletTokenFile;  // default: the ServiceAccount token, when present
  std::string kubeletCaFile;     // default: the ServiceAccount CA, when present, else system CAs
  bool kubeletInsecureSkipVerify = false;
  std::string dockerSocket;  // default: /var/run/docker.sock, else /run/podman/podman.sock

  // Pods' own metrics endpoints (annotation fleetscale.io/scrape; kubelet metadata only).
  std::string scrapeTimeout = "500ms";
  std::string scrapeMaxBytes = "1Mi";
  std::size_t scrapeMaxSeries = 200;  // per pod
  std::size_t scrapeMaxPods = 250;    // per node; 0 disables scraping

  std::string metricsListen = "127.0.0.1:7071";  // "" disables
  bool once = false;
  // TLS to the aggregator: on with --tls or any other --tls-* flag.
  bool tls = false;
  std::string tlsCaFile, tlsCertFile, tlsKeyFile, tlsServerName;
};

void addAgentOptions(CLI::App& app, AgentOptions& options);

// The aggregator addresses in --aggregator values, in order: each value one HOST:PORT or a
// comma-separated list (spaces around entries ignored). Errors name the bad entry; an empty
// entry, port 0 and an address listed twice are errors.
Result<std::vector<HostPort>> parseAggregatorList(const std::vector<std::string>& values);

// --max-protocol-version ("1" or "2") and --stream-compression ("zstd" or "none"); errors name
// the flag and the value.
Result<std::uint32_t> parseMaxProtocolVersion(const std::string& text);
Result<StreamCompression> parseStreamCompression(const std::string& text);

// Runs until SIGTERM/SIGINT (or, with --once, after one measured interval). Returns the exit code.
int runAgent(const AgentOptions& options);

// Entry point used by main(): parses the command line and runs.
int agentMain(int argc, char** argv);

}  // namespace fleetscale::agent
