// The scraper against real HTTP servers on 127.0.0.1: a pod that answers, and pods that hang,
// answer 100 MB, answer garbage or 404. Each costs a bounded time and memory, is counted, and
// never holds up attach(), which the tick calls.
#include "fleetscale/agent/pod_scraper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "fleetscale/shared/asio_http_client.h"
#include "fleetscale/testing/test_http_server.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::agent {
namespace {

using std::chrono::milliseconds;

std::uint64_t resultCount(const ScrapeCounters& counters, ScrapeResult result) {
  return counters.results[static_cast<int>(result)];
}

class PodScraperTest : public ::testing::Test {
 protected:
  PodScraperTest()
      : pods_([this](HttpRequest& request) {
          if (request.path == "/metrics") {
            requests_ += 10;
            return HttpResponse::text(200,
                                      "# TYPE http_requests_total counter\n"
                                      "http_requests_total " +
                                          std::to_string(requests_.load()) + "\nqueue 3\n");
          }
          if (request.path == "/huge") return HttpResponse::text(200, std::string(100 << 20, '7'));
          if (request.path == "/garbage") return HttpResponse::text(200, "\x01\x02{{{ not metrics");
          return HttpResponse::text(404, "not found");
        }),
        hanging_(
            [this](HttpRequest&) {
              ++hangingRequests_;
              return HttpResponse::text(200, "queue 1\n");
            },
            hangingOptions()) {}

  static HttpServerOptions hangingOptions() {
    HttpServerOptions options;
    options.responseDelay = [] { return milliseconds(std::chrono::minutes(1)); };
    return options;
  }

  ScrapeTarget target(const std::string& uid, const std::string& url) const {
    return ScrapeTarget{uid, "pod-" + uid, "shop", url, {}};
  }
  void publish(std::vector<ScrapeTarget> targets) {
    MetadataSnapshot snapshot;
    snapshot.scrapeTargets = std::move(targets);
    store_.publish(std::move(snapshot));
  }
  static std::set<std::string> attachedPods(const PodScraper& scraper) {
    v1::SampleBatch batch;
    scraper.attach(batch);
    std::set<std::string> pods;
    for (const auto& pod : batch.pod_metrics()) pods.insert(pod.pod_uid());
    return pods;
  }

  SystemClock clock_;
  MetadataStore store_{clock_};
  AsioHttpClient http_;
  std::atomic<int> requests_{0};
  std::atomic<int> hangingRequests_{0};
  testing::TestHttpServer pods_;
  testing::TestHttpServer hanging_;
};

TEST_F(PodScraperTest, SendsGaugesAndCounterRatesOfTheLatestScrape) {
  publish({target("good", pods_.url("/metrics"))});
  PodScraper scraper(http_, store_, clock_, ScrapeOptions{});
  scraper.scrapeRound();
  scraper.scrapeRound();
  v1::SampleBatch batch;
  scraper.attach(batch);
  ASSERT_EQ(batch.pod_metrics_size(), 1);
  const auto& pod = batch.pod_metrics(0);
  EXPECT_EQ(pod.pod_uid(), "good");
  std::set<std::string> names;
  for (const auto& series : pod.series()) {
    names.insert(series.name());
    if (series.name() == "http_requests_per_second") {
      EXPECT_GT(series.value(), 0);
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"http_requests_per_second", "queue"}));
  EXPECT_EQ(resultCount(scraper.counters(), ScrapeResult::kOk), 2u);
  EXPECT_EQ(scraper.counters().targets, 1u);
}

TEST_F(PodScraperTest, BadEndpointsCostBoundedTimeAreCountedAndBackedOff) {
  publish({target("hangs", hanging_.url("/metrics")), target("huge", pods_.url("/huge")),
           target("garbage", pods_.url("/garbage")), target("gone", pods_.url("/nothing")),
           target("good", pods_.url("/metrics"))});
  ScrapeOptions options;
  options.timeout = milliseconds(300);
  options.budget = milliseconds(5000);
  options.maxBytes = 1 << 20;
  PodScraper scraper(http_, store_, clock_, options);
  const auto started = std::chrono::steady_clock::now();
  scraper.scrapeRound();
  const auto took = std::chrono::steady_clock::now() - started;
  // The hanging pod costs its timeout; 100 MB is cut off after 1 MiB. Generous: a loaded host.
  EXPECT_LT(took, milliseconds(3000));
  auto counters = scraper.counters();
  EXPECT_EQ(resultCount(counters, ScrapeResult::kTimeout), 1u);
  EXPECT_EQ(resultCount(counters, ScrapeResult::kTooLarge), 1u);
  EXPECT_EQ(resultCount(counters, ScrapeResult::kParse), 1u);
  EXPECT_EQ(resultCount(counters, ScrapeResult::kHttpStatus), 1u);
  EXPECT_EQ(resultCount(counters, ScrapeResult::kOk), 1u);
  EXPECT_LT(counters.bytes, 2u << 20) << "the oversized answer is not read, let alone kept";
  EXPECT_EQ(attachedPods(scraper), (std::set<std::string>{"good"}));

  // The failed ones back off: the next round tries only the good pod.
  scraper.scrapeRound();
  counters = scraper.counters();
  EXPECT_EQ(resultCount(counters, ScrapeResult::kSkipped), 4u);
  EXPECT_EQ(resultCount(counters, ScrapeResult::kOk), 2u);
  EXPECT_EQ(hangingRequests_.load(), 1);
}

TEST_F(PodScraperTest, ARoundStopsAtItsBudgetAndTheNextStartsWhereItStopped) {
  publish({target("a", hanging_.url("/a")), target("b", hanging_.url("/b")),
           target("c", hanging_.url("/c"))});
  ScrapeOptions options;
  options.timeout = milliseconds(300);
  options.budget = milliseconds(450);
  options.backoff = milliseconds(0);
  PodScraper scraper(http_, store_, clock_, options);
  scraper.scrapeRound();
  auto counters = scraper.counters();
  EXPECT_EQ(resultCount(counters, ScrapeResult::kTimeout), 2u) << "300 ms, then what is left";
  EXPECT_EQ(resultCount(counters, ScrapeResult::kSkipped), 1u);
  const int afterFirst = hangingRequests_.load();
  scraper.scrapeRound();
  counters = scraper.counters();
  EXPECT_EQ(resultCount(counters, ScrapeResult::kTimeout), 4u);
  EXPECT_EQ(resultCount(counters, ScrapeResult::kSkipped), 2u);
  // c, which the first round did not reach, went first; then a, with what was left.
  EXPECT_TRUE(testing::waitFor([&] { return hangingRequests_.load() == afterFirst + 2; }));
}

TEST_F(PodScraperTest, AttachNeverWaitsForAScrapeInFlight) {
  publish({target("hangs", hanging_.url("/metrics"))});
  // Long timeouts: a round in flight for seconds while attach() is called.
  ScrapeOptions options;
  options.budget = options.timeout = milliseconds(1500);
  options.interval = milliseconds(2000);
  PodScraper scraper(http_, store_, clock_, options);
  scraper.start();
  ASSERT_TRUE(
      testing::waitFor([&] { return hangingRequests_.load() >= 1; }, std::chrono::seconds(10)));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(attachedPods(scraper).empty());
  (void)scraper.counters();
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(500));
  scraper.stop();
}

}  // namespace
}  // namespace fleetscale::agent
