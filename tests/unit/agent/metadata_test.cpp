#include "fleetscale/agent/metadata.h"

#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "fleetscale/agent/cgroup_reader.h"
#include "fleetscale/agent/metadata_sources.h"
#include "fleetscale/agent/sampler.h"
#include "fleetscale/shared/asio_http_client.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/cgroup_tree.h"
#include "fleetscale/testing/fake_docker.h"
#include "fleetscale/testing/fake_kubelet.h"
#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Mode = testing::FakeKubelet::Mode;

const std::string kNewRelicId = "69d7203a8f2d2d027ffa51d61002eac63357f22a17403363ef79e66d1c3146b2";

std::string podListFixture() {
  return *readFile(testing::fixturePath("kubelet/pods_docker-era_minikube.json"));
}

// Answers with the next scripted result; for the store and refresher logic alone.
class ScriptedSource final : public MetadataSource {
 public:
  const char* name() const override { return "scripted"; }
  Result<MetadataSnapshot> fetch() override {
    ++fetches;
    if (script.empty()) return Error{"script ran out", static_cast<int>(MetadataFailure::kParse)};
    auto next = std::move(script.front());
    script.pop_front();
    return next;
  }
  std::deque<Result<MetadataSnapshot>> script;
  std::atomic<int> fetches{0};
};

MetadataSnapshot snapshotWith(const std::string& id, const std::string& pod) {
  MetadataSnapshot snapshot;
  snapshot.containers[id].metadata.set_pod(pod);
  return snapshot;
}

TEST(MetadataStoreTest, FailedRefreshKeepsThePreviousSnapshotAndGoesStale) {
  ManualClock clock;
  MetadataStore store(clock);
  ScriptedSource source;
  MetadataRefresher refresher(source, store, clock, seconds(5));
  EXPECT_EQ(store.current(), nullptr);

  source.script.push_back(snapshotWith("c1", "web-1"));
  ASSERT_TRUE(refresher.refreshOnce().ok());
  EXPECT_EQ(store.current()->containers.at("c1").metadata.pod(), "web-1");
  EXPECT_EQ(store.stalenessSeconds(), 0.0);

  source.script.push_back(Error{"HTTP 500", static_cast<int>(MetadataFailure::kHttpStatus)});
  source.script.push_back(Error{"timed out", static_cast<int>(MetadataFailure::kTransport)});
  clock.advance(seconds(5));
  EXPECT_FALSE(refresher.refreshOnce().ok());
  clock.advance(seconds(5));
  EXPECT_FALSE(refresher.refreshOnce().ok());
  EXPECT_EQ(store.current()->containers.at("c1").metadata.pod(), "web-1") << "kept";
  EXPECT_DOUBLE_EQ(store.stalenessSeconds(), 10.0);
  EXPECT_EQ(store.failures(MetadataFailure::kHttpStatus), 1u);
  EXPECT_EQ(store.failures(MetadataFailure::kTransport), 1u);
  EXPECT_EQ(store.consecutiveFailures(), 2u);

  source.script.push_back(snapshotWith("c2", "web-2"));
  ASSERT_TRUE(refresher.refreshOnce().ok());
  EXPECT_EQ(store.current()->containers.count("c1"), 0u) << "a refresh replaces, not merges";
  EXPECT_EQ(store.consecutiveFailures(), 0u);
  EXPECT_EQ(store.refreshes(), 2u);
}

TEST(MetadataStoreTest, RefresherThreadRefreshesUntilStopped) {
  SystemClock clock;
  MetadataStore store(clock);
  ScriptedSource source;
  for (int i = 0; i < 1000; ++i) source.script.push_back(snapshotWith("c", "p"));
  MetadataRefresher refresher(source, store, clock, milliseconds(5));
  refresher.start();
  EXPECT_TRUE(testing::waitFor([&] { return store.refreshes() >= 3; }));
  refresher.stop();
  const int fetches = source.fetches;
  EXPECT_EQ(source.fetches, fetches) << "no fetch after stop()";
}

class KubeletSourceTest : public ::testing::Test {
 protected:
  Result<MetadataSnapshot> fetch(const std::string& tokenFile, milliseconds timeout = seconds(5)) {
    TlsClientOptions tls;
    tls.caFile = kubelet_.caFile();
    AsioHttpClient client(tls);
    KubeletMetadataSource source(client, {kubelet_.url(), tokenFile, timeout});
    return source.fetch();
  }
  static MetadataFailure failureOf(const Result<MetadataSnapshot>& result) {
    return static_cast<MetadataFailure>(result.error().code);
  }

  testing::FakeKubelet kubelet_{podListFixture()};
};

TEST_F(KubeletSourceTest, FetchesPodsOverHttpsWithTheToken) {
  auto snapshot = fetch(kubelet_.tokenFile());
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->containers.at(kNewRelicId).metadata.pod(), "newrelic-infra-rz225");
}

TEST_F(KubeletSourceTest, EveryFailureHasItsReason) {
  testing::TempDir dir;
  testing::writeFile(dir.file("wrong"), "not-the-token\n");
  auto wrongToken = fetch(dir.file("wrong"));
  ASSERT_FALSE(wrongToken.ok());
  EXPECT_EQ(failureOf(wrongToken), MetadataFailure::kUnauthorized);
  EXPECT_NE(wrongToken.error().message.find("401"), std::string::npos);

  auto noTokenFile = fetch(dir.file("missing"));
  ASSERT_FALSE(noTokenFile.ok());
  EXPECT_EQ(failureOf(noTokenFile), MetadataFailure::kUnauthorized);

  kubelet_.setMode(Mode::kServerError);
  auto serverError = fetch(kubelet_.tokenFile());
  ASSERT_FALSE(serverError.ok());
  EXPECT_EQ(failureOf(serverError), MetadataFailure::kHttpStatus);
  EXPECT_NE(serverError.error().message.find("500"), std::string::npos);

  kubelet_.setMode(Mode::kGarbage);
  auto garbage = fetch(kubelet_.tokenFile());
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(failureOf(garbage), MetadataFailure::kParse);

  kubelet_.setMode(Mode::kHang);
  auto hang = fetch(kubelet_.tokenFile(), milliseconds(300));
  ASSERT_FALSE(hang.ok());
  EXPECT_EQ(failureOf(hang), MetadataFailure::kTransport) << hang.error().message;
}

TEST_F(KubeletSourceTest, UntrustedCertificateIsATransportFailure) {
  AsioHttpClient client;  // system CAs: the test CA is unknown
  KubeletMetadataSource source(client, {kubelet_.url(), kubelet_.tokenFile(), seconds(5)});
  auto result = source.fetch();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(failureOf(result), MetadataFailure::kTransport);
  TlsClientOptions insecure;
  insecure.insecureSkipVerify = true;
  AsioHttpClient lab(insecure);
  KubeletMetadataSource labSource(lab, {kubelet_.url(), kubelet_.tokenFile(), seconds(5)});
  EXPECT_TRUE(labSource.fetch().ok()) << "--kubelet-insecure-skip-verify";
}

// The issue's promise: a kubelet that hangs never stalls sampling. The sampler runs on this
// thread while the metadata thread is stuck in a request the kubelet never answers.
TEST(MetadataIsolationTest, SamplingContinuesWhileTheKubeletHangs) {
  testing::TempDir root;
  const std::string cgroup =
      "/kubepods/burstable/podd2026c86-11a3-11e8-a084-080027352a02/" + kNewRelicId;
  testing::writeV2Container(root.path(), cgroup, {0, 100, 0, 0});
  auto kubelet = std::make_unique<testing::FakeKubelet>(podListFixture());
  SystemClock clock;
  MetadataStore store(clock);
  TlsClientOptions tls;
  tls.caFile = kubelet->caFile();
  AsioHttpClient client(tls);
  KubeletMetadataSource source(client, {kubelet->url(), kubelet->tokenFile(), seconds(60)});
  MetadataRefresher refresher(source, store, clock, milliseconds(10));

  CgroupLayout layout{CgroupVersion::kV2, root.path(), "", "", ""};
  SamplerOptions options;
  options.hostRoot = root.path();
  Sampler sampler(layout, makeCgroupReader(layout), options, clock, &store);

  refresher.start();
  ASSERT_TRUE(testing::waitFor([&] { return store.refreshes() >= 1; }));
  EXPECT_EQ(sampler.sample().containers(0).metadata().pod(), "newrelic-infra-rz225");

  kubelet->setMode(Mode::kHang);
  const int before = kubelet->requests();
  ASSERT_TRUE(testing::waitFor([&] { return kubelet->requests() > before; }))
      << "the metadata thread is now waiting on a request that will not be answered";
  const auto refreshes = store.refreshes();
  for (int tick = 0; tick < 20; ++tick) {
    auto batch = sampler.sample();
    ASSERT_EQ(batch.containers_size(), 1);
    EXPECT_EQ(batch.containers(0).metadata().pod(), "newrelic-infra-rz225") << "last good data";
  }
  EXPECT_EQ(store.refreshes(), refreshes) << "the fetch was still hanging all along";
  EXPECT_EQ(sampler.counters().ticks, 21u);

  kubelet.reset();  // closes the hanging connection, so stop() need not wait out the timeout
  refresher.stop();
  EXPECT_GE(store.failures(MetadataFailure::kTransport), 1u);
}

TEST(EngineSourceTest, ReadsContainersFromTheEngineSocket) {
  testing::TempDir dir;
  const std::string body =
      R"([{"Id":"8dfafdbc3a40000000000000000000000000000000000000000000000000000a",)"
      R"("Names":["/checkout"],"Image":"shop/checkout:1.4","Created":1714557600,)"
      R"("Labels":{"fleetscale.io/workload":"checkout"}}])";
  const std::string socket = dir.file("docker.sock");
  {
    testing::FakeDockerEngine engine(socket, body);
    AsioHttpClient client;
    EngineMetadataSource source(client, {socket, "podman", seconds(5)});
    EXPECT_STREQ(source.name(), "podman");
    auto snapshot = source.fetch();
    ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
    const auto& known =
        snapshot->containers.at("8dfafdbc3a40000000000000000000000000000000000000000000000000000a");
    EXPECT_EQ(known.runtime, "podman");
    EXPECT_EQ(known.metadata.workload(), "checkout");
    EXPECT_EQ(engine.lastRequestLine(), "GET /containers/json HTTP/1.1");
  }
  AsioHttpClient client;
  EngineMetadataSource missing(client, {dir.file("nothing.sock"), "docker", seconds(1)});
  auto failed = missing.fetch();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(static_cast<MetadataFailure>(failed.error().code), MetadataFailure::kTransport);
}

}  // namespace
}  // namespace fleetscale::agent
