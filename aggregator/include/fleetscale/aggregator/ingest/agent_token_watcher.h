// Keeps an IngestServer's per-cluster agent tokens in step with --agent-tokens-dir, without a
// restart and without dropping connected agents: reload() on SIGHUP, and a check every
// `interval` picks up a rotated Secret (the kubelet updates its volume within a minute or so).
// Fails closed (mergeAgentTokens). Changes and problems are logged once each, recorded as
// config_reload events and shown in the ingest metrics; tokens never are.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/aggregator/ingest/agent_tokens.h"
#include "fleetscale/aggregator/ingest/ingest_metrics.h"
#include "fleetscale/aggregator/ingest/ingest_server.h"
#include "fleetscale/aggregator/store/store.h"
#include "fleetscale/shared/clock.h"

namespace fleetscale::aggregator {

// Thread-safety: every method may be called from any thread; readings are serialized. The
// timer runs on `io`. Lifetime: as IngestServer's, the watcher (and `server`, `metrics`, `clock`,
// `store`, which may be null) must outlive every handler on `io`: until its threads have
// returned from run(); stop() alone does not wait.
class AgentTokenWatcher {
 public:
  AgentTokenWatcher(boost::asio::io_context& io, std::string dir, AgentTokens initial,
                    IngestServer& server, IngestMetrics& metrics, const Clock& clock, Store* store,
                    std::chrono::milliseconds interval = std::chrono::seconds(5));
  ~AgentTokenWatcher();
  AgentTokenWatcher(const AgentTokenWatcher&) = delete;
  AgentTokenWatcher& operator=(const AgentTokenWatcher&) = delete;

  void start();
  void stop();
  // Reads the directory now and hands the server what changed. `trigger` names the cause in
  // the log ("SIGHUP", "change"): a SIGHUP always logs its outcome, a periodic check only news.
  AgentTokensUpdate reload(std::string_view trigger);

 private:
  void schedule();

  const std::string dir_;
  IngestServer& server_;
  IngestMetrics& metrics_;
  const Clock& clock_;
  Store* store_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  AgentTokens current_;                // under mutex_
  std::vector<std::string> problems_;  // of the last reading, under mutex_
  boost::asio::steady_timer timer_;    // under mutex_
  bool stopped_ = true;                // under mutex_
};

}  // namespace fleetscale::aggregator
