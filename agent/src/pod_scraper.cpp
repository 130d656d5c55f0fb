#include "fleetscale/agent/pod_scraper.h"

#include <algorithm>
#include <functional>
#include <set>

#include "fleetscale/agent/exposition.h"
#include "fleetscale/shared/logging.h"

namespace fleetscale::agent {
namespace {

using std::chrono::milliseconds;

milliseconds millisUntil(SteadyTime deadline, SteadyTime now) {
  return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(deadline - now));
}

}  // namespace

const char* scrapeResultLabel(ScrapeResult result) {
  switch (result) {
    case ScrapeResult::kOk:
      return "ok";
    case ScrapeResult::kTimeout:
      return "timeout";
    case ScrapeResult::kTooLarge:
      return "too_large";
    case ScrapeResult::kTransport:
      return "transport";
    case ScrapeResult::kHttpStatus:
      return "http_status";
    case ScrapeResult::kParse:
      return "parse";
    case ScrapeResult::kSkipped:
      return "skipped";
  }
  return "unknown";
}

PodScraper::PodScraper(HttpClient& http, const MetadataStore& metadata, const Clock& clock,
                       ScrapeOptions options)
    : http_(http),
      metadata_(metadata),
      clock_(clock),
      options_(options),
      builder_(options.maxSeriesPerPod),
      failureLog_(clock, std::chrono::minutes(1)) {}

PodScraper::~PodScraper() { stop(); }

void PodScraper::start() {
  thread_ = std::thread([this] { run(); });
}

void PodScraper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PodScraper::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Each round ends by the next whole interval, when the tick samples.
    const WallTime wallNow = clock_.wallNow();
    const WallTime roundStart = nextSamplingRound(wallNow + options_.budget, options_.interval) -
                                std::chrono::duration_cast<WallTime::duration>(options_.budget);
    if (wake_.wait_for(lock, roundStart - wallNow, [this] { return stopping_; })) break;
    lock.unlock();
    scrapeRound();
    lock.lock();
  }
}

void PodScraper::scrapeRound() {
  const auto snapshot = metadata_.current();
  static const std::vector<ScrapeTarget> kNone;
  const std::vector<ScrapeTarget>& all = snapshot ? snapshot->scrapeTargets : kNone;
  const SteadyTime started = clock_.now();
  const SteadyTime deadline = started + options_.budget;
  std::set<std::string> live;
  std::array<std::uint64_t, kScrapeResults.size()> outcomes{};
  const std::size_t count = std::min(all.size(), options_.maxTargets);
  outcomes[static_cast<int>(ScrapeResult::kSkipped)] += all.size() - count;
  if (rotation_ >= count) rotation_ = 0;
  std::size_t reached = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const ScrapeTarget& target = all[(rotation_ + i) % count];
    live.insert(target.podUid);
    TargetState& state = targets_[target.podUid];
    const SteadyTime now = clock_.now();
    if ((state.retryAt && now < *state.retryAt) || now >= deadline) {
      ++outcomes[static_cast<int>(ScrapeResult::kSkipped)];
      continue;
    }
    reached = i + 1;
    const ScrapeResult result =
        scrapeOne(target, std::min(options_.timeout, millisUntil(deadline, now)));
    ++outcomes[static_cast<int>(result)];
    if (result == ScrapeResult::kOk) {
      state = TargetState{};
    } else {
      state.failures = std::min(state.failures + 1, 5);
      state.retryAt = clock_.now() + options_.backoff * (1 << (state.failures - 1));
    }
  }
  // Targets this round did not reach go first next round.
  if (count > 0) rotation_ = (rotation_ + reached) % count;
  std::erase_if(targets_, [&](const auto& entry) { return !live.contains(entry.first); });
  builder_.retain(live);
  const double seconds = std::chrono::duration<double>(clock_.now() - started).count();
  std::lock_guard lock(mutex_);
  std::erase_if(latest_, [&](const auto& entry) { return !live.contains(entry.first); });
  for (std::size_t i = 0; i < outcomes.size(); ++i) counters_.results[i] += outcomes[i];
  counters_.seconds += seconds;
  counters_.targets = all.size();
}

ScrapeResult PodScraper::scrapeOne(const ScrapeTarget& target, milliseconds timeout) {
  HttpClientRequest request;
  request.url = target.url;
  request.headers = {{"Accept", "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"}};
  request.connectTimeout = timeout;
  request.totalTimeout = timeout;
  request.maxResponseBytes = options_.maxBytes;
  auto response = http_.send(request);
  ScrapeResult result = ScrapeResult::kOk;
  std::string problem;
  std::optional<PodSeriesResult> series;
  if (!response) {
    problem = response.error().message;
    result = response.error().code == kHttpTimedOut   ? ScrapeResult::kTimeout
             : response.error().code == kHttpTooLarge ? ScrapeResult::kTooLarge
                                                      : ScrapeResult::kTransport;
  } else if (response->status != 200) {
    problem = "HTTP " + std::to_string(response->status);
    result = ScrapeResult::kHttpStatus;
  } else {
    std::set<std::string, std::less<>> wanted(target.metrics.begin(), target.metrics.end());
    std::function<bool(std::string_view)> filter;
    if (!wanted.empty()) filter = [&](std::string_view name) { return wanted.contains(name); };
    auto exposition = parseExposition(response->body, ExpositionLimits{}, filter);
    if (!exposition) {
      problem = exposition.error().message;
      result = ScrapeResult::kParse;
    } else {
      series = builder_.build(target.podUid, *exposition, clock_.wallNow());
      series->dropped += exposition->skippedLines;
    }
  }
  if (!problem.empty()) {
    std::uint64_t suppressed = 0;
    if (failureLog_.allow(&suppressed)) {
      componentLogger("scrape")->warn("pod {}/{}: {}: {} ({} more failures not logged)",
                                      target.namespaceName, target.pod, target.url, problem,
                                      suppressed);
    }
  }
  std::lock_guard lock(mutex_);
  if (response) counters_.bytes += response->body.size();
  if (series) {
    counters_.seriesDropped += series->dropped;
    latest_.insert_or_assign(target.podUid, std::move(series->metrics));
  }
  return result;
}

void PodScraper::attach(v1::SampleBatch& batch) const {
  const std::int64_t oldest = toUnixMillis(clock_.wallNow()) - options_.maxAge.count();
  std::lock_guard lock(mutex_);
  for (const auto& [uid, metrics] : latest_) {
    if (metrics.scraped_unix_ms() >= oldest) *batch.add_pod_metrics() = metrics;
  }
}

ScrapeCounters PodScraper::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace fleetscale::agent
