#include "fleetscale/aggregator/ingest/agent_token_watcher.h"

#include "fleetscale/shared/logging.h"

namespace fleetscale::aggregator {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// "added a; rotated b, c; removed d", or "" when nothing changed.
std::string describeChange(const AgentTokensUpdate& update) {
  std::string out;
  for (const auto& [what, names] :
       {std::pair{"added", &update.added}, std::pair{"rotated", &update.rotated},
        std::pair{"removed", &update.removed}}) {
    if (!names->empty())
      out += (out.empty() ? "" : "; ") + std::string(what) + " " + joined(*names);
  }
  return out;
}

}  // namespace

AgentTokenWatcher::AgentTokenWatcher(boost::asio::io_context& io, std::string dir,
                                     AgentTokens initial, IngestServer& server,
                                     IngestMetrics& metrics, const Clock& clock, Store* store,
                                     std::chrono::milliseconds interval)
    : dir_(std::move(dir)),
      server_(server),
      metrics_(metrics),
      clock_(clock),
      store_(store),
      interval_(interval),
      current_(std::move(initial)),
      timer_(io) {
  metrics_.agentTokenClusters().Set(static_cast<double>(current_.size()));
  metrics_.agentTokenProblems().Set(0);
}

AgentTokenWatcher::~AgentTokenWatcher() { stop(); }

void AgentTokenWatcher::start() {
  std::lock_guard lock(mutex_);
  stopped_ = false;
  schedule();
}

void AgentTokenWatcher::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel(ignored);
}

// Under mutex_.
void AgentTokenWatcher::schedule() {
  if (stopped_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    reload("change");
    std::lock_guard lock(mutex_);
    schedule();
  });
}

AgentTokensUpdate AgentTokenWatcher::reload(std::string_view trigger) {
  std::lock_guard lock(mutex_);
  AgentTokensUpdate update = reloadAgentTokens(dir_, current_);
  const bool sighup = trigger == "SIGHUP";
  const bool newProblems = update.problems != problems_;
  problems_ = update.problems;
  metrics_.agentTokenProblems().Set(static_cast<double>(update.problems.size()));
  if (update.changed()) {
    if (Status status = server_.setAgentTokens(update.tokens); !status) {
      update.problems.push_back(status.message());
    } else {
      current_ = update.tokens;
    }
  }
  metrics_.agentTokenClusters().Set(static_cast<double>(current_.size()));
  if (!update.changed() && !newProblems && !sighup) return update;

  auto log = componentLogger("aggregator.ingest");
  std::string message = "agent tokens from " + dir_ + " (" + std::string(trigger) +
                        "): " + std::to_string(current_.size()) + " clusters";
  if (update.changed()) message += "; " + describeChange(update);
  if (!update.changed() && update.problems.empty()) message += ", unchanged";
  for (const auto& problem : update.problems) message += "; " + problem;
  if (update.problems.empty()) {
    log->info("{}", message);
  } else {
    log->error("{}", message);
  }
  if (store_ != nullptr && (update.changed() || newProblems)) {
    EventRecord event;
    event.timeUnixMs = toUnixMillis(clock_.wallNow());
    event.kind = kEventConfigReload;
    event.message = std::move(message);
    store_->recordEvent(std::move(event));
  }
  return update;
}

}  // namespace fleetscale::aggregator
