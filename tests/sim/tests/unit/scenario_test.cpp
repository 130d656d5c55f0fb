#include "fleetscale/sim/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

namespace fleetscale::sim {
namespace {

constexpr const char* kScenario = R"(
name: unit
duration: 30s
tick: 20ms
defaults:
  nodes: 2
  node-capacity: {cpu: 8, memory: 32Gi}
  scheduling-delay: 500ms
clusters:
  - name: aws-us-east-1
    cloud: aws
    region: us-east-1
    cgroup: {driver: systemd, version: 2}
  - name: gcp-europe-west1
    cloud: gcp
    region: europe-west1
    nodes: 3
    node-allocatable: {cpu: 7500m, memory: 30Gi}
    cgroup: {driver: cgroupfs, version: 1}
    readiness-delay: 4s
workloads:
  - name: checkout
    namespace: shop
    replicas: {aws-us-east-1: 3}
    resources:
      requests: {cpu: 500m, memory: 256Mi}
      limits: {cpu: 1}
    requests-per-core: 250
    load:
      cpu: {curve: step, initial: 1, steps: [{at: 10s, value: 3}]}
      memory: 512Mi
  - name: db
    kind: StatefulSet
    replicas: 2
    clusters: [gcp-europe-west1]
    resources:
      requests: {cpu: 1}
faults:
  - {at: 20s, fault: revive-cluster, cluster: aws-us-east-1}
  - {at: 10s, fault: kill-cluster, cluster: aws-us-east-1}
  - {at: 12s, fault: slow-api, cluster: gcp-europe-west1, latency: 300ms, for: 5s}
)";

TEST(ScenarioTest, ParsesClustersWorkloadsAndFaults) {
  auto scenario = parseScenario(kScenario);
  ASSERT_TRUE(scenario) << scenario.error().message;
  EXPECT_EQ(scenario->name, "unit");
  EXPECT_DOUBLE_EQ(scenario->durationSeconds, 30);
  EXPECT_DOUBLE_EQ(scenario->tickSeconds, 0.02);
  ASSERT_EQ(scenario->clusters.size(), 2u);
  const ClusterSpec& aws = scenario->clusters[0];
  EXPECT_EQ(aws.nodes, 2);  // from defaults
  EXPECT_DOUBLE_EQ(aws.capacity.cpuCores, 8);
  EXPECT_DOUBLE_EQ(aws.allocatable.cpuCores, 8);
  EXPECT_DOUBLE_EQ(aws.schedulingDelaySeconds, 0.5);
  EXPECT_EQ(aws.driver, CgroupDriver::kSystemd);
  EXPECT_EQ(aws.cgroupVersion, 2);
  const ClusterSpec& gcp = scenario->clusters[1];
  EXPECT_EQ(gcp.nodes, 3);
  EXPECT_DOUBLE_EQ(gcp.allocatable.cpuCores, 7.5);
  EXPECT_DOUBLE_EQ(gcp.capacity.memoryBytes, 32.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(gcp.driver, CgroupDriver::kCgroupfs);
  EXPECT_EQ(gcp.cgroupVersion, 1);
  EXPECT_DOUBLE_EQ(gcp.readinessDelaySeconds, 4);

  ASSERT_EQ(scenario->workloads.size(), 2u);
  const WorkloadSpec& checkout = scenario->workloads[0];
  EXPECT_EQ(checkout.namespaceName, "shop");
  EXPECT_EQ(checkout.replicas, (std::map<std::string, int>{{"aws-us-east-1", 3}}));
  EXPECT_DOUBLE_EQ(*checkout.resources.cpuRequest, 0.5);
  EXPECT_DOUBLE_EQ(checkout.replicaCapacity(), 1);  // the limit
  EXPECT_DOUBLE_EQ(checkout.cpu.at(5), 1);
  EXPECT_DOUBLE_EQ(checkout.cpu.at(11), 3);
  EXPECT_DOUBLE_EQ(checkout.memory.at(0), 512.0 * 1024 * 1024);
  ASSERT_TRUE(checkout.requestsPerCore);
  EXPECT_DOUBLE_EQ(*checkout.requestsPerCore, 250);
  const WorkloadSpec& db = scenario->workloads[1];
  EXPECT_FALSE(db.requestsPerCore) << "no pod metrics endpoint unless asked";
  EXPECT_EQ(db.kind, WorkloadKind::kStatefulSet);
  EXPECT_EQ(db.namespaceName, "default");
  EXPECT_EQ(db.replicas, (std::map<std::string, int>{{"gcp-europe-west1", 2}}));
  EXPECT_DOUBLE_EQ(db.replicaCapacity(), 1);  // the request, without a limit

  ASSERT_EQ(scenario->faults.size(), 3u);  // sorted by time
  EXPECT_EQ(scenario->faults[0].kind, FaultKind::kKillCluster);
  EXPECT_EQ(scenario->faults[1].kind, FaultKind::kSlowApi);
  EXPECT_DOUBLE_EQ(scenario->faults[1].latencySeconds, 0.3);
  EXPECT_DOUBLE_EQ(*scenario->faults[1].forSeconds, 5);
  EXPECT_EQ(scenario->faults[2].kind, FaultKind::kReviveCluster);
}

TEST(ScenarioTest, ErrorsNameTheLineAndTheKey) {
  auto typo = parseScenario("clusters:\n  - name: a\n    node: 3\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("line 3"), std::string::npos) << typo.error().message;
  EXPECT_NE(typo.error().message.find("clusters[0].node"), std::string::npos);
  EXPECT_NE(typo.error().message.find("unknown key"), std::string::npos);

  const std::pair<const char*, const char*> cases[] = {
      {"clusters: []\n", "at least one cluster"},
      {"clusters:\n  - name: A_B\n", "DNS label"},
      {"clusters:\n  - name: a\n    cgroup: {version: 3}\n", "expected 1 or 2"},
      {"clusters:\n  - name: a\n    cgroup: {driver: docker}\n", "systemd or cgroupfs"},
      {"clusters:\n  - name: a\nworkloads:\n  - name: w\n", "capacity-per-replica"},
      {"clusters:\n  - name: a\nworkloads:\n  - name: w\n    clusters: [b]\n    "
       "capacity-per-replica: 1\n",
       "no cluster named 'b'"},
      {"clusters:\n  - name: a\nfaults:\n  - {at: 1s, fault: explode, cluster: a}\n",
       "unknown fault"},
      {"clusters:\n  - name: a\nfaults:\n  - {at: 1s, fault: kill-cluster, cluster: b}\n",
       "no cluster named 'b'"},
      {"clusters:\n  - name: a\nfaults:\n  - {at: 1s, fault: failing-api, cluster: a, rate: 2}\n",
       "0..1"},
      {"clusters:\n  - name: a\nworkloads:\n  - name: w\n    capacity-per-replica: 1\n    load: "
       "{cpu: {curve: wave}}\n",
       "unknown curve"},
      {"clusters:\n  - name: a\nworkloads:\n  - name: w\n    resources: {requests: {cpu: 2}, "
       "limits: {cpu: 1}}\n",
       "request above limit"},
      {"clusters:\n  - name: a\nworkloads:\n  - name: w\n    capacity-per-replica: 1\n    "
       "requests-per-core: 0\n",
       "workloads[0].requests-per-core: expected a number above 0"},
      {"clusters:\n  - name: a\nworkloads:\n  - name: w\n    capacity-per-replica: 1\n    "
       "requests-per-core: lots\n",
       "workloads[0].requests-per-core: expected a number"},
      {"duration: soon\nclusters:\n  - name: a\n", "not a duration"},
      {"clusters:\n  - name: a\naggregator: {instances: 0}\n", "expected an integer >= 1"},
      {"clusters:\n  - name: a\naggregator: {instances: 10}\n", "expected 1..9"},
      {"clusters:\n  - name: a\naggregator: {args: [--lease-kubeconfig, '{kubeconfig:b}']}\n",
       "no cluster named 'b' in '{kubeconfig:b}'"},
      {"clusters: [\n", "YAML"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto scenario = parseScenario(yaml);
    ASSERT_FALSE(scenario) << yaml;
    EXPECT_NE(scenario.error().message.find(expected), std::string::npos)
        << yaml << " -> " << scenario.error().message;
  }
}

TEST(ScenarioTest, RecordedCurveReadsItsCsvRelativeToTheScenario) {
  const std::string dir = FLEETSCALE_SIM_TEST_DATA_DIR;
  auto scenario = parseScenario(
      "clusters:\n  - name: a\nworkloads:\n  - name: w\n    capacity-per-replica: 1\n"
      "    load: {cpu: {curve: recorded, file: load.csv, interpolate: hold, scale: 2}}\n",
      dir);
  ASSERT_TRUE(scenario) << scenario.error().message;
  const LoadCurve& cpu = scenario->workloads[0].cpu;
  EXPECT_EQ(cpu.kind, LoadCurve::Kind::kRecorded);
  EXPECT_FALSE(cpu.interpolate);
  EXPECT_DOUBLE_EQ(cpu.at(0), 2.4);   // 1.2 cores, scaled by 2
  EXPECT_DOUBLE_EQ(cpu.at(15), 3.6);  // held at the 10 s point
  auto offset = parseScenario(
      "clusters:\n  - name: a\nworkloads:\n  - name: w\n    capacity-per-replica: 1\n"
      "    load: {cpu: {curve: recorded, file: load.csv, interpolate: hold, offset: 10s}}\n",
      dir);
  ASSERT_TRUE(offset) << offset.error().message;
  EXPECT_DOUBLE_EQ(offset->workloads[0].cpu.at(0), 1.8) << "second 0 replays the 10 s point";
  auto missing = parseScenario(
      "clusters:\n  - name: a\nworkloads:\n  - name: w\n    capacity-per-replica: 1\n"
      "    load: {cpu: {curve: recorded, file: nope.csv}}\n",
      dir);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.csv"), std::string::npos);
}

// The week-long trace scenarios replay real time scales: at least a week, two clusters, three
// workloads, each recorded curve long enough for the whole run from its offset (none falls off
// the end of its file and holds the last value for days).
TEST(ScenarioTest, TheWeekScenariosReplayAWeekOfTraceForEachWorkload) {
  int count = 0;
  for (const char* name : {"week-nasa", "week-wikipedia", "week-azure", "week-synthetic"}) {
    ++count;
    auto scenario = loadScenario(std::string(FLEETSCALE_SCENARIOS_DIR) + "/" + name + ".yaml");
    ASSERT_TRUE(scenario) << name << ": " << scenario.error().message;
    EXPECT_GE(scenario->durationSeconds, 7 * 86400) << name;
    EXPECT_EQ(scenario->clusters.size(), 2u) << name;
    ASSERT_EQ(scenario->workloads.size(), 3u) << name;
    std::set<double> offsets;
    for (const auto& workload : scenario->workloads) {
      const LoadCurve& cpu = workload.cpu;
      ASSERT_EQ(cpu.kind, LoadCurve::Kind::kRecorded) << name << " " << workload.name;
      EXPECT_FALSE(cpu.loop);
      EXPECT_GE(cpu.points.back().seconds, cpu.phase + scenario->durationSeconds - 3600)
          << name << " " << workload.name << ": the trace ends before the run does";
      EXPECT_TRUE(workload.autoscale) << name << " " << workload.name;
      offsets.insert(cpu.phase);
    }
    EXPECT_EQ(offsets.size(), 3u) << name << ": each workload replays its own week";
  }
  EXPECT_EQ(count, 4);
}

// The aggregator's HTTP API is a lab's (anonymous reads) unless the scenario asks for HTTPS and
// tokens as in production.
TEST(ScenarioTest, ClustersStartWithLimitRangesAndResourceQuotas) {
  auto scenario = parseScenario(R"(
clusters:
  - name: a
    limit-ranges:
      - {name: bounds, namespace: shop, min: {cpu: 100m}, max: {cpu: "2", memory: 1Gi}}
    resource-quotas:
      - {name: compute, hard: {requests.cpu: "4", pods: "10"}}
)");
  ASSERT_TRUE(scenario) << scenario.error().message;
  const ClusterSpec& cluster = scenario->clusters[0];
  ASSERT_EQ(cluster.limitRanges.size(), 1u);
  EXPECT_EQ(cluster.limitRanges[0].namespaceName, "shop");
  EXPECT_EQ(cluster.limitRanges[0].min, (std::map<std::string, std::string>{{"cpu", "100m"}}));
  EXPECT_EQ(cluster.limitRanges[0].max.at("memory"), "1Gi");
  ASSERT_EQ(cluster.resourceQuotas.size(), 1u);
  EXPECT_EQ(cluster.resourceQuotas[0].namespaceName, "default");
  EXPECT_EQ(cluster.resourceQuotas[0].hard.at("requests.cpu"), "4");

  const std::pair<const char*, const char*> cases[] = {
      {"clusters:\n  - name: a\n    limit-ranges: {name: x}\n", "limit-ranges: expected a list"},
      {"clusters:\n  - name: a\n    limit-ranges:\n      - {name: x, max: {gpu: 1}}\n",
       "limit-ranges[0].max.gpu: expected cpu or memory"},
      {"clusters:\n  - name: a\n    limit-ranges:\n      - {name: x, max: {cpu: lots}}\n",
       "limit-ranges[0].max.cpu: expected a quantity"},
      {"clusters:\n  - name: a\n    limit-ranges:\n      - {max: {cpu: 1}}\n", "needs a DNS label"},
      {"clusters:\n  - name: a\n    limit-ranges:\n      - {name: x, min: {cpu: 2}, max: {cpu: "
       "1}}\n",
       "limit-ranges[0].min.cpu: above max.cpu (1)"},
      {"clusters:\n  - name: a\n    resource-quotas:\n      - {name: q, hard: {cpu: 1}}\n"
       "      - {name: q, hard: {cpu: 2}}\n",
       "resource-quotas[1].name: another entry has this name in namespace default"},
      {"clusters:\n  - name: a\n    resource-quotas:\n      - {name: q}\n",
       "resource-quotas[0].hard: is required"},
      {"clusters:\n  - name: a\n    resource-quotas:\n      - {name: q, hard: {}, scope: x}\n",
       "resource-quotas[0].scope: unknown key"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto bad = parseScenario(yaml);
    ASSERT_FALSE(bad) << yaml;
    EXPECT_NE(bad.error().message.find(expected), std::string::npos)
        << yaml << " -> " << bad.error().message;
  }
}

TEST(ScenarioTest, AggregatorSecureApiIsOffByDefault) {
  auto lab = parseScenario("clusters:\n  - name: a\n");
  ASSERT_TRUE(lab);
  EXPECT_FALSE(lab->aggregator.secureApi);
  auto secure = parseScenario("clusters:\n  - name: a\naggregator: {secure-api: true}\n");
  ASSERT_TRUE(secure) << secure.error().message;
  EXPECT_TRUE(secure->aggregator.secureApi);
  EXPECT_FALSE(parseScenario("clusters:\n  - name: a\naggregator: {secure-api: maybe}\n"));
}

TEST(ScenarioTest, AggregatorInstancesAndArgumentPlaceholders) {
  auto single = parseScenario("clusters:\n  - name: a\n");
  ASSERT_TRUE(single);
  EXPECT_EQ(single->aggregator.instances, 1);
  auto pair = parseScenario(
      "clusters:\n  - name: aws\naggregator:\n  instances: 2\n  args: [--leader-election, "
      "kubernetes, --lease-kubeconfig, '{kubeconfig:aws}', --etcd-data, '{state}/etcd/{id}']\n");
  ASSERT_TRUE(pair) << pair.error().message;
  EXPECT_EQ(pair->aggregator.instances, 2);
  EXPECT_EQ(pair->aggregator.extraArgs[3], "{kubeconfig:aws}");  // expanded at start

  const std::map<std::string, std::string> values = {
      {"state", "/s"}, {"id", "aggregator-1"}, {"kubeconfig:aws", "/s/aws.kubeconfig"}};
  EXPECT_EQ(expandAggregatorArg("{kubeconfig:aws}", values).value(), "/s/aws.kubeconfig");
  EXPECT_EQ(expandAggregatorArg("{state}/etcd/{id}.log", values).value(),
            "/s/etcd/aggregator-1.log");
  EXPECT_EQ(expandAggregatorArg("{\"json\": {}} {other} {", values).value(),
            "{\"json\": {}} {other} {");
  EXPECT_FALSE(expandAggregatorArg("--x={kubeconfig:gcp}", values));
}

// Issue 16: agents of each cluster with a token of their own (the aggregator's --agent-tokens-dir).
TEST(ScenarioTest, AgentAuthIsASharedTokenOrOnePerCluster) {
  auto shared = parseScenario("clusters:\n  - name: a\n");
  ASSERT_TRUE(shared);
  EXPECT_FALSE(shared->agents.clusterTokens);
  auto perCluster = parseScenario("clusters:\n  - name: a\nagents: {auth: cluster-tokens}\n");
  ASSERT_TRUE(perCluster) << perCluster.error().message;
  EXPECT_TRUE(perCluster->agents.clusterTokens);
  auto typo = parseScenario("clusters:\n  - name: a\nagents: {auth: cluster-token}\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("agents.auth"), std::string::npos) << typo.error().message;
}

// Issue 17: a fleet of agents that offer protocol version 2, only 1, or both (a rollout).
TEST(ScenarioTest, AgentProtocolIsTwoOneOrMixed) {
  using Protocol = AgentSettings::Protocol;
  EXPECT_EQ(parseScenario("clusters:\n  - name: a\n")->agents.protocol, Protocol::kTwo);
  EXPECT_EQ(parseScenario("clusters:\n  - name: a\nagents: {protocol: 1}\n")->agents.protocol,
            Protocol::kOne);
  EXPECT_EQ(parseScenario("clusters:\n  - name: a\nagents: {protocol: mixed}\n")->agents.protocol,
            Protocol::kMixed);
  auto typo = parseScenario("clusters:\n  - name: a\nagents: {protocol: 3}\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("agents.protocol"), std::string::npos)
      << typo.error().message;
}

TEST(ScenarioTest, AggregatorAuthAndTokenLifetimePerCluster) {
  auto plain = parseScenario("clusters:\n  - name: a\n");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->clusters[0].aggregatorAuth, AggregatorAuth::kToken);
  EXPECT_DOUBLE_EQ(plain->clusters[0].tokenLifetimeSeconds, 20);

  // A lifetime in `defaults` serves the clusters that choose exec-expiring; the others ignore it.
  auto scenario = parseScenario(R"(
defaults:
  aggregator-auth: exec-expiring
  token-lifetime: 5s
clusters:
  - name: expiring
  - name: quick
    token-lifetime: 1s
  - name: certificate
    aggregator-auth: exec-certificate
  - name: exec-token
    aggregator-auth: exec-token
  - name: token
    aggregator-auth: token
)");
  ASSERT_TRUE(scenario) << scenario.error().message;
  const std::pair<AggregatorAuth, double> expected[] = {
      {AggregatorAuth::kExecExpiring, 5},    {AggregatorAuth::kExecExpiring, 1},
      {AggregatorAuth::kExecCertificate, 5}, {AggregatorAuth::kExecToken, 5},
      {AggregatorAuth::kToken, 5},
  };
  ASSERT_EQ(scenario->clusters.size(), std::size(expected));
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_EQ(scenario->clusters[i].aggregatorAuth, expected[i].first) << i;
    EXPECT_DOUBLE_EQ(scenario->clusters[i].tokenLifetimeSeconds, expected[i].second) << i;
  }
  for (const auto auth : {AggregatorAuth::kToken, AggregatorAuth::kExecToken,
                          AggregatorAuth::kExecCertificate, AggregatorAuth::kExecExpiring}) {
    EXPECT_EQ(parseAggregatorAuth(toString(auth)), auth);
  }

  const std::pair<const char*, const char*> errors[] = {
      {"clusters:\n  - name: a\n    aggregator-auth: oidc\n",
       "clusters[0].aggregator-auth: expected token, exec-token, exec-certificate or "
       "exec-expiring"},
      {"clusters:\n  - name: a\n    aggregator-auth: [exec-token]\n", "expected a string"},
      {"clusters:\n  - name: a\n    token-lifetime: 5s\n",
       "clusters[0].token-lifetime: applies only to aggregator-auth: exec-expiring"},
      {"clusters:\n  - name: a\n    aggregator-auth: exec-token\n    token-lifetime: 5s\n",
       "applies only to aggregator-auth: exec-expiring"},
      {"clusters:\n  - name: a\n    aggregator-auth: exec-expiring\n    token-lifetime: "
       "500ms\n",
       "clusters[0].token-lifetime: expected 1s..24h"},
      {"clusters:\n  - name: a\n    aggregator-auth: exec-expiring\n    token-lifetime: 25h\n",
       "expected 1s..24h"},
      {"clusters:\n  - name: a\n    aggregator-auth: exec-expiring\n    token-lifetime: "
       "soon\n",
       "not a duration"},
      {"defaults: {token-lifetime: 0s}\nclusters:\n  - name: a\n", "defaults.token-lifetime"},
  };
  for (const auto& [yaml, message] : errors) {
    auto parsed = parseScenario(yaml);
    ASSERT_FALSE(parsed) << yaml;
    EXPECT_NE(parsed.error().message.find(message), std::string::npos)
        << yaml << " -> " << parsed.error().message;
  }
}

TEST(ScenarioTest, ForeignAutoscalersDefaultToEveryClusterOfTheirWorkload) {
  auto scenario = parseScenario(R"(
clusters:
  - name: a
  - name: b
  - name: c
workloads:
  - name: web
    clusters: [a, b]
    capacity-per-replica: 1
    foreign-autoscaler: {kind: HorizontalPodAutoscaler}
  - name: api
    replicas: {a: 1, b: 0, c: 2}
    capacity-per-replica: 1
    foreign-autoscaler:
      kind: ScaledObject
      clusters: [c, b]
  - name: plain
    capacity-per-replica: 1
)");
  ASSERT_TRUE(scenario) << scenario.error().message;
  const auto& web = scenario->workloads[0];
  ASSERT_TRUE(web.foreignAutoscaler);
  EXPECT_EQ(web.foreignAutoscaler->kind, ForeignAutoscalerKind::kHorizontalPodAutoscaler);
  EXPECT_EQ(web.foreignAutoscaler->clusters, (std::vector<std::string>{"a", "b"}));
  const auto& api = scenario->workloads[1];
  ASSERT_TRUE(api.foreignAutoscaler);
  EXPECT_EQ(api.foreignAutoscaler->kind, ForeignAutoscalerKind::kScaledObject);
  EXPECT_EQ(api.foreignAutoscaler->clusters, (std::vector<std::string>{"c", "b"}));
  EXPECT_FALSE(scenario->workloads[2].foreignAutoscaler);
  EXPECT_EQ(toString(ForeignAutoscalerKind::kScaledObject), "ScaledObject");

  const std::string workload =
      "clusters:\n  - name: a\n  - name: b\nworkloads:\n  - name: w\n    clusters: [a]\n    "
      "capacity-per-replica: 1\n    foreign-autoscaler: ";
  const std::pair<std::string, const char*> errors[] = {
      {"{kind: VerticalPodAutoscaler}",
       "workloads[0].foreign-autoscaler.kind: expected HorizontalPodAutoscaler or ScaledObject"},
      {"{clusters: [a]}", "expected HorizontalPodAutoscaler or ScaledObject"},
      {"{kind: ScaledObject, clusters: [b]}",
       "workloads[0].foreign-autoscaler.clusters: the workload does not run in 'b'"},
      {"{kind: ScaledObject, clusters: [a, a]}", "duplicate 'a'"},
      {"{kind: ScaledObject, min-replicas: 2}", "unknown key"},
      {"ScaledObject", "workloads[0].foreign-autoscaler: expected a mapping"},
  };
  for (const auto& [value, message] : errors) {
    auto parsed = parseScenario(workload + value + "\n");
    ASSERT_FALSE(parsed) << value;
    EXPECT_NE(parsed.error().message.find(message), std::string::npos)
        << value << " -> " << parsed.error().message;
  }
}

TEST(ScenarioTest, ParsesAFaultFromJson) {
  auto fault = parseFault(R"({"fault": "partition-agents", "cluster": "a", "for": "3s"})");
  ASSERT_TRUE(fault) << fault.error().message;
  EXPECT_EQ(fault->kind, FaultKind::kPartitionAgents);
  EXPECT_DOUBLE_EQ(*fault->forSeconds, 3);
  EXPECT_FALSE(parseFault(R"({"fault": "kill-cluster"})"));  // needs a cluster
  auto garbage = parseFault(R"({"fault": "kubelet-garbage", "cluster": "a", "mode": "fun"})");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("mode"), std::string::npos);
}

TEST(ScenarioTest, ParsesARolloutOfAgents) {
  auto rollout =
      parseFault(R"({"fault": "rollout-agents", "cluster": "a", "pause": "2s", "nodes": ["1"]})");
  ASSERT_TRUE(rollout) << rollout.error().message;
  EXPECT_EQ(rollout->kind, FaultKind::kRolloutAgents);
  EXPECT_DOUBLE_EQ(rollout->pauseSeconds, 2);
  EXPECT_EQ(rollout->nodes, std::vector<std::string>{"1"});
  EXPECT_EQ(toString(rollout->kind), "rollout-agents");
  EXPECT_DOUBLE_EQ(parseFault(R"({"fault": "rollout-agents", "cluster": "a"})")->pauseSeconds, 1)
      << "the default pause";
  auto timed = parseFault(R"({"fault": "rollout-agents", "cluster": "a", "for": "5s"})");
  ASSERT_FALSE(timed);
  EXPECT_NE(timed.error().message.find("ends by itself"), std::string::npos);
  EXPECT_FALSE(parseFault(R"({"fault": "rollout-agents", "cluster": "a", "pause": "-1s"})"));
}

TEST(ScenarioTest, ResizeAndOomKeys) {
  auto scenario = parseScenario(R"(
clusters:
  - name: new
    resize-delay: 2s
  - name: old
    kubernetes-version: v1.32.4
workloads:
  - name: hog
    resources:
      requests: {cpu: 500m, memory: 128Mi}
      limits: {cpu: 1, memory: 256Mi}
    resize-policy: {memory: RestartContainer}
    oom-on-shared-memory: true
    load:
      memory-per-replica: 300Mi
faults:
  - {at: 5s, fault: resize-forbidden, cluster: new, for: 10s}
  - {at: 6s, fault: resize-unsupported, cluster: new}
)");
  ASSERT_TRUE(scenario) << scenario.error().message;
  EXPECT_DOUBLE_EQ(scenario->clusters[0].resizeDelaySeconds, 2);
  EXPECT_EQ(scenario->clusters[0].kubernetesVersion, "v1.34.2");  // the default serves resize
  EXPECT_DOUBLE_EQ(scenario->clusters[1].resizeDelaySeconds, 0.5);
  const WorkloadSpec& hog = scenario->workloads[0];
  EXPECT_TRUE(hog.resizePolicy.shown);
  EXPECT_FALSE(hog.resizePolicy.restartOnCpu);
  EXPECT_TRUE(hog.resizePolicy.restartOnMemory);
  EXPECT_TRUE(hog.oomOnSharedMemory);
  ASSERT_TRUE(hog.memoryPerReplica);
  EXPECT_DOUBLE_EQ(hog.memoryPerReplica->at(0), 300.0 * 1024 * 1024);
  EXPECT_EQ(scenario->faults[0].kind, FaultKind::kResizeForbidden);
  EXPECT_EQ(scenario->faults[1].kind, FaultKind::kResizeUnsupported);
  EXPECT_EQ(toString(FaultKind::kResizeUnsupported), "resize-unsupported");

  auto bad = parseScenario(R"(
clusters: [{name: a}]
workloads:
  - name: w
    resources: {requests: {cpu: 1}}
    resize-policy: {cpu: Sometimes}
)");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("resize-policy.cpu"), std::string::npos);
  auto fromJson = parseFault(R"({"fault": "resize-forbidden", "cluster": "a"})");
  ASSERT_TRUE(fromJson) << fromJson.error().message;
  EXPECT_EQ(fromJson->kind, FaultKind::kResizeForbidden);
}

// The measurements' windowed clairvoyant keeps the workload's own scale-down window.
TEST(ScenarioTest, ReadsTheScaleDownWindowOfTheBehavior) {
  const auto withBehavior = [](const std::string& behavior) {
    return parseScenario(R"(
clusters: [{name: a}]
workloads:
  - name: w
    resources: {requests: {cpu: 1}}
    autoscale: {min-replicas: 1, max-replicas: 4, cpu-utilization: 80, behavior: )" +
                         behavior + "}\n");
  };
  auto defaulted = withBehavior("{scaleUp: {stabilizationWindowSeconds: 0}}");
  ASSERT_TRUE(defaulted) << defaulted.error().message;
  EXPECT_DOUBLE_EQ(defaulted->workloads[0].autoscale->scaleDownWindowSeconds, 300);
  auto shortened = withBehavior("{scaleDown: {stabilizationWindowSeconds: 60}}");
  ASSERT_TRUE(shortened) << shortened.error().message;
  EXPECT_DOUBLE_EQ(shortened->workloads[0].autoscale->scaleDownWindowSeconds, 60);
  auto bad = withBehavior("{scaleDown: {stabilizationWindowSeconds: soon}}");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("stabilizationWindowSeconds: expected seconds from 0 to 3600"),
            std::string::npos)
      << bad.error().message;
}

TEST(ScenarioTest, EveryShippedScenarioParses) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FLEETSCALE_SCENARIOS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    auto scenario = loadScenario(entry.path().string());
    EXPECT_TRUE(scenario) << entry.path() << ": " << scenario.error().message;
  }
  EXPECT_GE(count, 3);
}

// docs/simulator.md's annotated scenario is what users copy: it must be one the simulator takes.
TEST(ScenarioTest, TheDocumentedExampleScenarioParses) {
  std::ifstream in(std::filesystem::path(FLEETSCALE_SCENARIOS_DIR) / "../../../docs/simulator.md");
  ASSERT_TRUE(in) << "docs/simulator.md not found";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string start = "```yaml\nname: ";
  const auto begin = doc.find(start);
  ASSERT_NE(begin, std::string::npos) << "no ```yaml block starting with `name:`";
  const auto end = doc.find("```", begin + start.size());
  ASSERT_NE(end, std::string::npos);
  const std::string yaml = doc.substr(begin + 8, end - begin - 8);
  ASSERT_NE(yaml.find("workloads:"), std::string::npos);
  auto scenario = parseScenario(yaml);
  EXPECT_TRUE(scenario) << scenario.error().message;
}

}  // namespace
}  // namespace fleetscale::sim
