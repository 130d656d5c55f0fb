// Scrapes the Prometheus endpoints of the pods on this node that opted in (ScrapeTarget, from
// the kubelet's pod list) on its own thread, so a slow, huge or broken endpoint never delays a
// tick: the tick only copies the latest results into its batch (attach()).
//
// What one endpoint can cost, whatever it does:
//   time     each scrape is bounded by `timeout`, and a whole round by `budget`; a round starts
//            `budget` before each whole interval, so its results are at most that old when the
//            tick samples. Targets a round did not reach go first in the next one; a target that
//            failed is skipped for a while (`backoff`, doubling per failure up to 16x), so one
//            that hangs does not take every round's budget.
//   memory   at most `maxBytes` of answer is read; an answer that goes on is an error. At most
//            `maxSeriesPerPod` series per pod are kept, and `maxTargets` pods per node scraped.
// Every outcome is counted (ScrapeCounters, fleetscale_agent_scrapes_total{result}).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "fleetscale/agent/metadata.h"
#include "fleetscale/agent/pod_series.h"
#include "fleetscale/shared/clock.h"
#include "fleetscale/shared/http_client.h"
#include "fleetscale/shared/log_throttle.h"

namespace fleetscale::agent {

struct ScrapeOptions {
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{500};
  std::chrono::milliseconds budget{500};
  std::chrono::milliseconds backoff{5000};
  std::size_t maxBytes = 1024 * 1024;
  std::size_t maxSeriesPerPod = 200;
  std::size_t maxTargets = 250;
  // A pod's last result is sent for this long when later scrapes fail or are skipped; after
  // that its metrics are missing, as the HPA treats a pod without metrics.
  std::chrono::milliseconds maxAge{3000};
};

// The `result` label of fleetscale_agent_scrapes_total.
enum class ScrapeResult : int {
  kOk = 0,
  kTimeout,     // no complete answer within the timeout (or what was left of the budget)
  kTooLarge,    // more than maxBytes
  kTransport,   // connection refused, reset, ...
  kHttpStatus,  // an answer other than 200
  kParse,       // not an exposition
  kSkipped,     // not tried: over the round's budget, over maxTargets, or backing off
};
inline constexpr std::array<ScrapeResult, 7> kScrapeResults = {
    ScrapeResult::kOk,        ScrapeResult::kTimeout,    ScrapeResult::kTooLarge,
    ScrapeResult::kTransport, ScrapeResult::kHttpStatus, ScrapeResult::kParse,
    ScrapeResult::kSkipped};
const char* scrapeResultLabel(ScrapeResult result);

struct ScrapeCounters {
  std::array<std::uint64_t, kScrapeResults.size()> results{};
  std::uint64_t bytes = 0;
  std::uint64_t seriesDropped = 0;  // over maxSeriesPerPod, or lines the parser skipped
  double seconds = 0;               // spent scraping
  std::size_t targets = 0;          // in the latest round
};

// Thread-safe: the scraper's thread scrapes, any thread attaches or reads the counters.
class PodScraper {
 public:
  // `http` is used by the scraper's thread only.
  PodScraper(HttpClient& http, const MetadataStore& metadata, const Clock& clock,
             ScrapeOptions options);
  ~PodScraper();
  PodScraper(const PodScraper&) = delete;
  PodScraper& operator=(const PodScraper&) = delete;

  // One round on the calling thread: every target due, within the budget. For tests and
  // --once; do not mix with start().
  void scrapeRound();
  void start();
  // Wakes and joins the thread; a scrape in flight ends first (at most `timeout`).
  void stop();

  // Adds the latest result of every pod scraped within maxAge to `batch`.
  void attach(v1::SampleBatch& batch) const;
  ScrapeCounters counters() const;

 private:
  struct TargetState {
    std::optional<SteadyTime> retryAt;  // backing off until then
    int failures = 0;
  };
  void run();
  ScrapeResult scrapeOne(const ScrapeTarget& target, std::chrono::milliseconds timeout);

  HttpClient& http_;
  const MetadataStore& metadata_;
  const Clock& clock_;
  ScrapeOptions options_;
  // Scraper thread only.
  PodSeriesBuilder builder_;
  std::map<std::string, TargetState> targets_;  // by pod uid
  std::size_t rotation_ = 0;                    // where the next round starts
  LogThrottle failureLog_;

  mutable std::mutex mutex_;                      // guards the results, the counters and stopping_
  std::map<std::string, v1::PodMetrics> latest_;  // by pod uid
  ScrapeCounters counters_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetscale::agent
