// fleetscale-agent as a whole: options, startup steps, the tick loop, shutdown. main() only
// calls runAgent().
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "fleetscale/shared/options.h"

namespace fleetscale::agent {

struct AgentOptions {
  CommonOptions common;
  std::string aggregator = "127.0.0.1:7070";
  std::string interval = "1s";
  std::string cluster = "default";
  std::string cloud;
  std::string region;
  std::string zone;
  std::string node;       // default: hostname
  std::string agentId;    // default: <node>-<random>
  std::string tokenFile;  // file holding the stream auth token
  std::string hostRoot = "/";
  std::string cgroupRoot = "/sys/fs/cgroup";
  std::string
      mountInfo;  // default: <host-root>/proc/self/mountinfo (or /proc/1/... under a host root)
  bool includeSystemdServices = false;
  std::string rediscoverInterval = "5s";
  std::size_t queueCapacity = 3600;
  std::uint32_t maxFrameBytes = 4 * 1024 * 1024;
  bool once = false;
  // TLS to the aggregator: on with --tls or any other --tls-* flag.
  bool tls = false;
  std::string tlsCaFile, tlsCertFile, tlsKeyFile, tlsServerName;
};

void addAgentOptions(CLI::App& app, AgentOptions& options);

// Runs until SIGTERM/SIGINT (or, with --once, after one measured interval). Returns the exit code.
int runAgent(const AgentOptions& options);

// Entry point used by main(): parses the command line and runs.
int agentMain(int argc, char** argv);

}  // namespace fleetscale::agent
