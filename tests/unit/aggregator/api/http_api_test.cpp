// The JSON API through the router, over a real fleet state, store and history.
#include "fleetscale/aggregator/api/http_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleetscale/aggregator/api/fleet_metrics.h"
#include "fleetscale/testing/batch_builder.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

class HttpApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteStoreOptions options;
    options.stateDir = dir_.path();
    auto store = SqliteStore::open(options, nullptr, clock_);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    AgentIdentity identity{"a1", "n1", "aws", "", "", "", ""};
    identity.protocolVersion = 2;
    const auto session = fleet_.agentConnected(identity);
    testing::DecodedBatch decoded;
    testing::decodeInto(
        testing::makeBatch(1, {{"c1", "web-1"}, {"c2", "web-2"}, {"c3", "api-1", "api"}}), decoded);
    ASSERT_EQ(fleet_.applyBatch(session, decoded.view, clock_.wallNow()).outcome,
              BatchOutcome::kAccepted);
    snapshots_.set(std::make_shared<const FleetSnapshot>(fleet_.snapshot(clock_.wallNow())));
    RollupRow row;
    row.workload = WorkloadKey{"shop", "Deployment", "web"};
    row.cluster = "aws";
    row.bucketStartUnixMs = toUnixMillis(clock_.wallNow()) - 20'000;
    row.cpuUsageCores = 0.9;
    history_.add({row});
    EventRecord event;
    event.timeUnixMs = toUnixMillis(clock_.wallNow());
    event.kind = kEventAgentConnected;
    event.cluster = "aws";
    event.agentId = "a1";
    event.message = "hello";
    store_->recordEvent(event);
    store_->flush();
    addApiRoutes(router_, context_);
  }

  std::pair<int, json> get(const std::string& target) {
    HttpRequest request;
    request.method = "GET";
    const auto question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) {
      for (const auto& pair : std::vector<std::string>{target.substr(question + 1)}) {
        std::size_t start = 0;
        while (start < pair.size()) {
          const auto amp = pair.find('&', start);
          const auto item = pair.substr(start, amp - start);
          const auto eq = item.find('=');
          request.query[item.substr(0, eq)] = item.substr(eq + 1);
          if (amp == std::string::npos) break;
          start = amp + 1;
        }
      }
    }
    auto response = router_.handle(request);
    return {response.status, json::parse(response.body, nullptr, false)};
  }

  fleetscale::testing::TempDir dir_;
  ManualClock clock_;
  FleetState fleet_;
  SnapshotHolder snapshots_;
  AggregatorMetrics metrics_;
  WorkloadHistory history_{std::chrono::minutes(15)};
  std::unique_ptr<SqliteStore> store_;
  std::atomic<bool> ready_{true};
  ApiContext context_{fleet_, snapshots_, metrics_, nullptr, history_, clock_, ready_};
  HttpRouter router_;
};

TEST_F(HttpApiRoutesTest, WorkloadsClustersAndDetail) {
  auto [status, workloads] = get("/api/v1/workloads");
  ASSERT_EQ(status, 200);
  ASSERT_EQ(workloads["items"].size(), 2u);
  EXPECT_EQ(workloads["items"][1]["name"], "web");
  EXPECT_EQ(workloads["items"][1]["replicas"], 2);
  EXPECT_EQ(workloads["items"][1]["clusters"][0]["cluster"], "aws");
  EXPECT_EQ(get("/api/v1/workloads?namespace=other").second["items"].size(), 0u);
  EXPECT_EQ(get("/api/v1/workloads?cluster=gcp").second["items"].size(), 0u);
  EXPECT_EQ(get("/api/v1/workloads?limit=1").second["items"].size(), 1u);
  EXPECT_EQ(get("/api/v1/workloads?limit=0").first, 400);

  auto [detailStatus, web] = get("/api/v1/workloads/shop/web");
  ASSERT_EQ(detailStatus, 200);
  EXPECT_EQ(web["pods"].size(), 2u);
  ASSERT_EQ(web["history"].size(), 1u) << "recent history comes with the workload";
  EXPECT_EQ(web["history"][0]["cpu_usage_cores"], 0.9);
  EXPECT_EQ(get("/api/v1/workloads/shop/web?since=10s").second["history"].size(), 0u);
  EXPECT_EQ(get("/api/v1/workloads/shop/nope").first, 404);
  EXPECT_EQ(get("/api/v1/workloads/shop/web?since=soon").first, 400);

  auto [clustersStatus, clusters] = get("/api/v1/clusters");
  ASSERT_EQ(clustersStatus, 200);
  EXPECT_EQ(clusters["items"][0]["name"], "aws");
  EXPECT_EQ(clusters["items"][0]["health"], "healthy");
  EXPECT_EQ(clusters["items"][0]["workloads"], 2);
}

// Issue 19: `limit` was ignored on /api/v1/clusters.
TEST_F(HttpApiRoutesTest, ClustersHonourLimit) {
  const auto session = fleet_.agentConnected(AgentIdentity{"g1", "n9", "gcp", "", "", "", ""});
  testing::DecodedBatch decoded;
  testing::decodeInto(testing::makeBatch(1, {{"g-c1", "web-9"}}), decoded);
  ASSERT_EQ(fleet_.applyBatch(session, decoded.view, clock_.wallNow()).outcome,
            BatchOutcome::kAccepted);
  snapshots_.set(std::make_shared<const FleetSnapshot>(fleet_.snapshot(clock_.wallNow())));
  EXPECT_EQ(get("/api/v1/clusters").second["items"].size(), 2u);
  EXPECT_EQ(get("/api/v1/clusters?limit=1").second["items"].size(), 1u);
  EXPECT_EQ(get("/api/v1/clusters?limit=0").first, 400);
  EXPECT_EQ(get("/api/v1/clusters?limit=lots").first, 400);
}

// Issue 19: since=2562048h overflowed and returned nothing; now it is a 400 that says why.
TEST_F(HttpApiRoutesTest, ASinceBeyondTenYearsIs400) {
  auto [status, body] = get("/api/v1/workloads/shop/web?since=2562048h");
  EXPECT_EQ(status, 400);
  EXPECT_NE(body["error"].get<std::string>().find("longer than the maximum duration"),
            std::string::npos)
      << body;
  EXPECT_EQ(get("/api/v1/workloads/shop/web?since=87600h").first, 200);
}

TEST_F(HttpApiRoutesTest, NodesAndContainers) {
  auto [status, nodes] = get("/api/v1/nodes?cluster=aws");
  ASSERT_EQ(status, 200);
  ASSERT_EQ(nodes["items"].size(), 1u);
  EXPECT_EQ(nodes["items"][0]["batches_accepted"], 1);
  EXPECT_FALSE(nodes["items"][0]["stale"].get<bool>());
  EXPECT_EQ(nodes["items"][0]["protocol_version"], 2) << "its connection's";
  EXPECT_EQ(get("/api/v1/nodes?cluster=gcp").second["items"].size(), 0u);
  EXPECT_EQ(get("/api/v1/containers?workload=api").second["items"].size(), 1u);
  EXPECT_EQ(get("/api/v1/containers?limit=2").second["items"].size(), 2u);
  clock_.advance(std::chrono::seconds(10));
  EXPECT_TRUE(get("/api/v1/containers").second["items"][0]["stale"].get<bool>())
      << "staleness is computed at request time";
}

TEST_F(HttpApiRoutesTest, EventsAndDecisionsNeedTheStore) {
  EXPECT_EQ(get("/api/v1/events").first, 503);
  ApiContext withStore{fleet_, snapshots_, metrics_, store_.get(), history_, clock_, ready_};
  HttpRouter router;
  addApiRoutes(router, withStore);
  HttpRequest request;
  request.method = "GET";
  request.path = "/api/v1/events";
  request.query["kind"] = "agent_connected";
  auto events = json::parse(router.handle(request).body);
  ASSERT_EQ(events["items"].size(), 1u);
  EXPECT_EQ(events["items"][0]["message"], "hello");
  request.path = "/api/v1/decisions";
  request.query = {{"limit", "5"}};
  auto decisions = router.handle(request);
  EXPECT_EQ(decisions.status, 200);
  EXPECT_EQ(json::parse(decisions.body)["items"].size(), 0u);
  request.query = {{"since", "whenever"}};
  EXPECT_EQ(router.handle(request).status, 400);
  request.query = {{"since", "2562048h"}};
  EXPECT_EQ(router.handle(request).status, 400);
}

// Issue 19: an event holding bytes that are not UTF-8 (a policy's cluster name, stored by an
// older version) made /api/v1/events answer 500 for the event's whole retention.
TEST_F(HttpApiRoutesTest, EventsWithBadBytesFromAnOlderVersionStill200) {
  {
    auto old = SqliteDatabase::open(store_->path());
    ASSERT_TRUE(old.ok());
    auto insert = (*old)->prepare(
        "INSERT INTO events(ts_ms, kind, cluster, agent_id, workload, message, details) "
        "VALUES(?, 'config_reload', ?, '', '', ?, '{}')");
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE(insert->bind(1, toUnixMillis(clock_.wallNow()))
                    .bind(2, std::string("aws\xff"))
                    .bind(3, std::string("policy reloaded: cluster aws\xff"))
                    .run());
  }
  ApiContext withStore{fleet_, snapshots_, metrics_, store_.get(), history_, clock_, ready_};
  HttpRouter router;
  addApiRoutes(router, withStore);
  HttpRequest request;
  request.method = "GET";
  request.path = "/api/v1/events";
  const auto response = router.handle(request);
  ASSERT_EQ(response.status, 200) << response.body;
  const auto events = json::parse(response.body, nullptr, false);
  ASSERT_TRUE(events.is_object()) << response.body;
  EXPECT_EQ(events["items"][0]["cluster"], "aws\xef\xbf\xbd");
}

// A store that cannot write (full disk) with its error, for /readyz.
class FailingStore final : public Store {
 public:
  void recordProgress(const AgentProgress&) override {}
  void recordNode(const NodeRecord&) override {}
  void recordEvent(EventRecord) override {}
  void recordDecision(DecisionRecord) override {}
  void recordRollups(std::vector<RollupRow>) override {}
  Result<std::vector<AgentProgress>> loadProgress() override {
    return std::vector<AgentProgress>{};
  }
  Result<std::vector<NodeRecord>> loadNodes() override { return std::vector<NodeRecord>{}; }
  Result<std::vector<EventRecord>> events(const EventQuery&) override {
    return std::vector<EventRecord>{};
  }
  Result<std::vector<DecisionRecord>> decisions(const DecisionQuery&) override {
    return std::vector<DecisionRecord>{};
  }
  Result<std::vector<RollupRow>> rollups(const RollupQuery&) override {
    return std::vector<RollupRow>{};
  }
  void flush() override {}
  std::optional<std::string> writeError() const override { return error; }
  std::optional<std::string> error;
};

TEST_F(HttpApiRoutesTest, HealthAndReadiness) {
  EXPECT_EQ(get("/healthz").first, 200);
  HttpRequest request;
  request.method = "GET";
  request.path = "/readyz";
  EXPECT_EQ(router_.handle(request).status, 200);
  ready_ = false;
  EXPECT_EQ(router_.handle(request).status, 503);
}

// Issue 19: on a full disk /readyz stayed 200 while no ack could be given.
TEST_F(HttpApiRoutesTest, ReadinessReflectsAStoreThatCannotWrite) {
  FailingStore store;
  ApiContext context{fleet_, snapshots_, metrics_, &store, history_, clock_, ready_};
  HttpRouter router;
  addApiRoutes(router, context);
  HttpRequest request;
  request.method = "GET";
  request.path = "/readyz";
  EXPECT_EQ(router.handle(request).status, 200);
  store.error = "database or disk is full";
  const auto full = router.handle(request);
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(full.body, "not ready: store: database or disk is full\n");
  store.error.reset();
  EXPECT_EQ(router.handle(request).status, 200) << "ready again once a commit succeeds";

  ApiContext elected{fleet_,   snapshots_, metrics_, &store,
                     history_, clock_,     ready_,   [] { return json{{"role", "leader"}}; }};
  HttpRouter electedRouter;
  addApiRoutes(electedRouter, elected);
  store.error = "disk I/O error";
  const auto answer = electedRouter.handle(request);
  EXPECT_EQ(answer.status, 503);
  const auto body = json::parse(answer.body);
  EXPECT_FALSE(body["ready"].get<bool>());
  EXPECT_EQ(body["storeError"], "disk I/O error");
}

TEST_F(HttpApiRoutesTest, MetricsServeTheRegistryAndTheFleetGauges) {
  auto gauges = std::make_shared<FleetMetrics>(fleet_, snapshots_, clock_, false);
  metrics_.add(gauges);
  HttpRequest request;
  request.method = "GET";
  request.path = "/metrics";
  const auto response = router_.handle(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response.body.find("fleetscale_store_queue_rows 0"), std::string::npos);
  EXPECT_NE(response.body.find("fleetscale_agents_connected{cluster=\"aws\"} 1"), std::string::npos)
      << response.body;
}

}  // namespace
}  // namespace fleetscale::aggregator
