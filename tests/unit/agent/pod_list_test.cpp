#include "fleetscale/agent/pod_list.h"

#include <gtest/gtest.h>

#include "fleetscale/shared/text.h"
#include "fleetscale/testing/process.h"

namespace fleetscale::agent {
namespace {

const std::string kNewRelicId = "69d7203a8f2d2d027ffa51d61002eac63357f22a17403363ef79e66d1c3146b2";
const std::string kControllerManagerId =
    "4c3ce07424670ccd46561eb1498a2759de4da4a7c2cd460fef147afefe4db150";

// A GET /pods answer from a 2018 minikube (docker:// ids), verbatim: tests/fixtures/SOURCES.md.
TEST(PodListTest, ParsesARealKubeletAnswer) {
  auto text = readFile(testing::fixturePath("kubelet/pods_docker-era_minikube.json"));
  ASSERT_TRUE(text.ok());
  auto snapshot = parsePodList(*text);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->pods.size(), 4u);
  ASSERT_EQ(snapshot->containers.size(), 2u) << "only started containers have ids";
  EXPECT_EQ(snapshot->skippedEntries, 0u);

  const KnownContainer& agent = snapshot->containers.at(kNewRelicId);
  EXPECT_EQ(agent.runtime, "docker");
  const v1::ContainerMetadata& m = agent.metadata;
  EXPECT_EQ(m.pod(), "newrelic-infra-rz225");
  EXPECT_EQ(m.namespace_(), "kube-system");
  EXPECT_EQ(m.pod_uid(), "d2026c86-11a3-11e8-a084-080027352a02");
  EXPECT_EQ(m.container(), "newrelic-infra");
  EXPECT_EQ(m.workload_kind(), "DaemonSet");
  EXPECT_EQ(m.workload(), "newrelic-infra");
  EXPECT_EQ(m.image(), "newrelic/ohaik:1.0.0-beta3");
  ASSERT_TRUE(m.has_ready());
  EXPECT_TRUE(m.ready());
  EXPECT_EQ(m.restart_count(), 6u);
  EXPECT_EQ(m.start_time_unix_ms(), 1519744876000) << "the running container's startedAt";
  EXPECT_EQ(m.pod_ready_time_unix_ms(), 1519744878000);
  EXPECT_EQ(m.pod_phase(), "Running");
  EXPECT_EQ(m.qos_class(), "Burstable");
  EXPECT_DOUBLE_EQ(m.cpu_request_cores(), 0.1);
  EXPECT_EQ(m.memory_request_bytes(), 100u << 20);
  EXPECT_FALSE(m.has_cpu_limit_cores());
  EXPECT_EQ(m.memory_limit_bytes(), 100u << 20);

  // A static pod: no owner reference.
  const v1::ContainerMetadata& staticPod = snapshot->containers.at(kControllerManagerId).metadata;
  EXPECT_EQ(staticPod.pod(), "kube-controller-manager-minikube");
  EXPECT_EQ(staticPod.workload_kind(), "");
  EXPECT_DOUBLE_EQ(staticPod.cpu_request_cores(), 0.2);
  EXPECT_FALSE(staticPod.has_memory_request_bytes());

  // Pods from before Kubernetes 1.11: the ReplicaSet name carries the encoded decimal hash.
  const auto& pending = snapshot->pods.at("f89b6c09-11a3-11e8-a084-080027352a02");
  EXPECT_EQ(pending.pod_phase(), "Pending");
  EXPECT_EQ(pending.workload_kind(), "Deployment");
  EXPECT_EQ(pending.workload(), "kube-state-metrics");
  const auto& failed = snapshot->pods.at("dc378485-4565-11e9-822c-080027ecada5");
  EXPECT_EQ(failed.pod_phase(), "Failed");
  EXPECT_EQ(failed.workload(), "sh");
  EXPECT_EQ(failed.container(), "") << "pod-level entries name no container";

  // The Pending pod has no container started: it is listed for the HPA's unready count; the
  // Failed one is not (the HPA ignores failed pods).
  ASSERT_EQ(snapshot->pendingPods.size(), 1u);
  EXPECT_EQ(snapshot->pendingPods[0].pod_uid(), "f89b6c09-11a3-11e8-a084-080027352a02");
  EXPECT_EQ(snapshot->pendingPods[0].workload(), "kube-state-metrics");
}

TEST(PodListTest, DeletionAndPendingPods) {
  const std::string text = R"({"kind":"PodList","items":[
    {"metadata":{"name":"web-1","namespace":"shop","uid":"u1",
                 "deletionTimestamp":"2026-12-06T10:00:30Z"},
     "status":{"phase":"Running","containerStatuses":[
       {"name":"app","containerID":"containerd://c1","ready":true}]}},
    {"metadata":{"name":"web-2","namespace":"shop","uid":"u2"},
     "spec":{"containers":[
       {"name":"app","resources":{"requests":{"cpu":"250m","memory":"64Mi"}}},
       {"name":"proxy","resources":{"requests":{"cpu":"50m"}}}]},
     "status":{"phase":"Pending","containerStatuses":[
       {"name":"app","ready":false,"state":{"waiting":{"reason":"ContainerCreating"}}}]}},
    {"metadata":{"name":"web-3","namespace":"shop","uid":"u3"},
     "status":{"phase":"Pending","initContainerStatuses":[
       {"name":"init","containerID":"containerd://c3","ready":false}]}},
    {"metadata":{"name":"web-4","namespace":"shop","uid":"u4",
                 "deletionTimestamp":"2026-12-06T10:00:31.5Z"},
     "status":{"phase":"Pending"}}]})";
  auto snapshot = parsePodList(text);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->containers.at("c1").metadata.deletion_unix_ms(), 1796551230000);
  EXPECT_EQ(snapshot->pods.at("u2").deletion_unix_ms(), 0);
  // web-3 runs an init container: it is sampled, so it is no pending pod without containers.
  ASSERT_EQ(snapshot->pendingPods.size(), 2u);
  EXPECT_EQ(snapshot->pendingPods[0].pod(), "web-2");
  EXPECT_EQ(snapshot->pendingPods[0].pod_phase(), "Pending");
  EXPECT_DOUBLE_EQ(snapshot->pendingPods[0].cpu_request_cores(), 0.3) << "summed as the HPA does";
  EXPECT_FALSE(snapshot->pendingPods[0].has_memory_request_bytes()) << "the proxy has none";
  EXPECT_FALSE(snapshot->pendingPods[1].has_cpu_request_cores()) << "no spec: unknown";
  EXPECT_EQ(snapshot->pendingPods[1].pod(), "web-4");
  EXPECT_EQ(snapshot->pendingPods[1].deletion_unix_ms(), 1796551231500);
}

// Written for fleetscale in the shape of a current kubelet's answer (SYNTHETIC values, see
// tests/fixtures/SOURCES.md): containerd and CRI-O ids, every owner kind, a sidecar init
// container, a container not yet started, members the parser must drop, unusable entries.
std::string modernPodList() {
  return *readFile(testing::fixturePath("kubelet/pods_synthetic_current.json"));
}

TEST(PodListTest, ResolvesEveryOwnerKindAndContainerKind) {
  auto snapshot = parsePodList(modernPodList());
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  const auto& containers = snapshot->containers;
  const std::string web = "aaaa000000000000000000000000000000000000000000000000000000000001";
  ASSERT_TRUE(containers.count(web));
  const auto& app = containers.at(web);
  EXPECT_EQ(app.runtime, "containerd");
  EXPECT_EQ(app.metadata.workload_kind(), "Deployment") << "controller ref, not the first ref";
  EXPECT_EQ(app.metadata.workload(), "web");
  EXPECT_EQ(app.metadata.container(), "app");
  EXPECT_EQ(app.metadata.restart_count(), 2u);
  EXPECT_EQ(app.metadata.start_time_unix_ms(), 1714557605250);
  EXPECT_EQ(app.metadata.pod_ready_time_unix_ms(), 1714557607000);
  EXPECT_DOUBLE_EQ(app.metadata.cpu_limit_cores(), 1.0);
  EXPECT_EQ(app.metadata.memory_limit_bytes(), 256u << 20);

  const auto& sidecar =
      containers.at("aaaa000000000000000000000000000000000000000000000000000000000002");
  EXPECT_EQ(sidecar.metadata.container(), "proxy");
  EXPECT_DOUBLE_EQ(sidecar.metadata.cpu_request_cores(), 0.05) << "spec from initContainers";
  EXPECT_EQ(sidecar.metadata.memory_request_bytes(), 64u << 20);
  EXPECT_TRUE(containers.count("aaaa000000000000000000000000000000000000000000000000000000000003"))
      << "a finished init container still has a cgroup until it is removed";

  const auto& db =
      containers.at("bbbb000000000000000000000000000000000000000000000000000000000001");
  EXPECT_EQ(db.runtime, "cri-o");
  EXPECT_EQ(db.metadata.workload_kind(), "StatefulSet");
  EXPECT_EQ(db.metadata.workload(), "db");
  EXPECT_FALSE(db.metadata.ready());
  EXPECT_EQ(db.metadata.memory_request_bytes(), 4ULL << 30);
  EXPECT_EQ(db.metadata.start_time_unix_ms(), 0) << "not running";

  EXPECT_EQ(snapshot->pods.at("u-job").workload_kind(), "Job");
  EXPECT_EQ(snapshot->pods.at("u-job").workload(), "report-28571234");
  EXPECT_EQ(snapshot->pods.at("u-rs").workload_kind(), "ReplicaSet")
      << "hash label does not match the name: a bare ReplicaSet";
  EXPECT_EQ(snapshot->pods.at("u-ds").workload_kind(), "DaemonSet");
  EXPECT_EQ(snapshot->pods.size(), 5u);
  EXPECT_EQ(containers.size(), 4u) << "the not-yet-started container has no id";
  EXPECT_EQ(snapshot->skippedEntries, 3u) << "a string item, a pod without uid, 'docker://'";
}

TEST(PodListTest, ResolveWorkloadTable) {
  const struct {
    std::string kind, name, hash, wantKind, wantName;
  } cases[] = {
      {"ReplicaSet", "web-5d8f7c9b6f", "5d8f7c9b6f", "Deployment", "web"},
      {"ReplicaSet", "my-app-v2-7c95664875", "3751220431", "Deployment", "my-app-v2"},
      {"ReplicaSet", "web-5d8f7c9b6f", "", "ReplicaSet", "web-5d8f7c9b6f"},
      {"ReplicaSet", "web-5d8f7c9b6f", "other", "ReplicaSet", "web-5d8f7c9b6f"},
      {"ReplicaSet", "5d8f7c9b6f", "5d8f7c9b6f", "ReplicaSet", "5d8f7c9b6f"},
      {"ReplicaSet", "-5d8f7c9b6f", "5d8f7c9b6f", "ReplicaSet", "-5d8f7c9b6f"},
      {"ReplicaSet", "web5d8f7c9b6f", "5d8f7c9b6f", "ReplicaSet", "web5d8f7c9b6f"},
      {"StatefulSet", "db", "", "StatefulSet", "db"},
      {"DaemonSet", "agent", "x", "DaemonSet", "agent"},
      {"Job", "report-1", "", "Job", "report-1"},
      {"", "", "", "", ""},
  };
  for (const auto& c : cases) {
    const Workload workload = resolveWorkload(c.kind, c.name, c.hash);
    EXPECT_EQ(workload.kind, c.wantKind) << c.name;
    EXPECT_EQ(workload.name, c.wantName) << c.name;
  }
}

TEST(PodListTest, ContainerIdsAndTimes) {
  auto id = parseContainerId("containerd://abc");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->runtime, "containerd");
  EXPECT_EQ(id->id, "abc");
  EXPECT_EQ(parseContainerId("cri-o://x")->runtime, "cri-o");
  for (const char* bad : {"", "abc", "://abc", "docker://", "docker://a/b"}) {
    EXPECT_FALSE(parseContainerId(bad)) << bad;
  }
  EXPECT_EQ(*parseRfc3339Millis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parseRfc3339Millis("2018-02-14T16:26:33Z"), 1518625593000);
  EXPECT_EQ(*parseRfc3339Millis("2024-02-29T23:59:59.123456789-05:30"), 1709270999123);
  EXPECT_EQ(*parseRfc3339Millis("2018-02-14T16:26:33.5+00:00"), 1518625593500);
  for (const char* bad :
       {"", "2018-02-14", "2018-02-14T16:26:33", "2018-13-01T00:00:00Z", "2018-02-14T16:26:33.Z",
        "2018-02-14T16:26:33Zjunk", "2018-02-14T16:26:33+0100", "yyyy-02-14T16:26:33Z"}) {
    EXPECT_FALSE(parseRfc3339Millis(bad).ok()) << bad;
  }
}

TEST(PodListTest, BadAnswersAreErrorsNotCrashes) {
  EXPECT_FALSE(parsePodList("").ok());
  EXPECT_FALSE(parsePodList("{").ok());
  EXPECT_FALSE(parsePodList("<html>502 Bad Gateway</html>").ok());
  EXPECT_FALSE(parsePodList("[]").ok());
  EXPECT_FALSE(parsePodList(R"({"kind": "Status", "status": "Failure"})").ok());
  EXPECT_FALSE(parsePodList(R"({"kind": "PodList", "items": 7})").ok());
  EXPECT_TRUE(parsePodList(R"({"kind": "PodList", "items": null})").ok());
  EXPECT_TRUE(parsePodList(R"({"kind": "PodList", "items": []})").ok());
  // Wrong types everywhere a value is read.
  auto odd = parsePodList(R"({"items": [{"metadata": {"uid": 5, "name": []}},
      {"metadata": {"uid": "u", "ownerReferences": {"kind": "Job"}, "labels": [1]},
       "spec": {"containers": {"name": "x"}},
       "status": {"containerStatuses": [{"containerID": 7, "restartCount": -3},
                                        {"containerID": "containerd://c", "restartCount": 1e99,
                                         "ready": "yes", "state": []}]}}]})");
  ASSERT_TRUE(odd.ok()) << odd.error().message;
  EXPECT_EQ(odd->pods.size(), 1u);
  ASSERT_EQ(odd->containers.count("c"), 1u);
  EXPECT_FALSE(odd->containers.at("c").metadata.has_ready());
  // Nesting far beyond a PodList's is cut off rather than followed.
  const std::string deep = R"({"kind":"PodList","items":[{"metadata":{"uid":"u","name":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}}]}";
  auto nested = parsePodList(deep);
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  EXPECT_EQ(nested->pods.at("u").pod(), "");
}

// Pods opt in to being scraped by annotation; only Running pods with an IP are targets.
TEST(PodListTest, ScrapeTargetsFromAnnotations) {
  const auto pod = [](const std::string& name, const std::string& phase, const std::string& ip,
                      const std::string& annotations) {
    return R"({"metadata":{"name":")" + name + R"(","namespace":"shop","uid":"uid-)" + name +
           R"(","annotations":)" + annotations + R"(},"status":{"phase":")" + phase +
           R"(","podIP":")" + ip + R"("}})";
  };
  const std::string list =
      R"({"kind":"PodList","items":[)" +
      pod("web", "Running", "10.1.2.3",
          R"({"fleetscale.io/scrape":"true","fleetscale.io/port":"9102",)"
          R"("fleetscale.io/path":"/stats","fleetscale.io/metrics":"http_requests_total, queue"})") +
      "," +
      pod("plain", "Running", "10.1.2.4",
          R"({"fleetscale.io/scrape":"true","fleetscale.io/port":"8080"})") +
      "," +
      pod("v6", "Running", "fd00::7",
          R"({"fleetscale.io/scrape":"true","fleetscale.io/port":"80"})") +
      "," +
      pod("starting", "Pending", "",
          R"({"fleetscale.io/scrape":"true","fleetscale.io/port":"80"})") +
      "," +
      pod("off", "Running", "10.1.2.5",
          R"({"fleetscale.io/scrape":"false","fleetscale.io/port":"80"})") +
      "," + pod("noport", "Running", "10.1.2.6", R"({"fleetscale.io/scrape":"true"})") + "," +
      pod("badport", "Running", "10.1.2.7",
          R"({"fleetscale.io/scrape":"true","fleetscale.io/port":"70000"})") +
      "," +
      pod("badpath", "Running", "10.1.2.8",
          R"({"fleetscale.io/scrape":"true","fleetscale.io/port":"80","fleetscale.io/path":"metrics"})") +
      "]}";
  auto snapshot = parsePodList(list);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  ASSERT_EQ(snapshot->scrapeTargets.size(), 3u);
  const ScrapeTarget& web = snapshot->scrapeTargets[0];
  EXPECT_EQ(web.podUid, "uid-web");
  EXPECT_EQ(web.pod, "web");
  EXPECT_EQ(web.namespaceName, "shop");
  EXPECT_EQ(web.url, "http://10.1.2.3:9102/stats");
  EXPECT_EQ(web.metrics, (std::vector<std::string>{"http_requests_total", "queue"}));
  EXPECT_EQ(snapshot->scrapeTargets[1].url, "http://10.1.2.4:8080/metrics");
  EXPECT_TRUE(snapshot->scrapeTargets[1].metrics.empty());
  EXPECT_EQ(snapshot->scrapeTargets[2].url, "http://[fd00::7]:80/metrics");
  EXPECT_EQ(snapshot->skippedEntries, 3u) << "no port, a port out of range, a relative path";
}

}  // namespace
}  // namespace fleetscale::agent
