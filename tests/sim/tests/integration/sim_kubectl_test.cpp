// The real kubectl (/usr/bin/kubectl) against the simulator's fake kube-apiserver: get, scale,
// raw discovery, a stale replace answered 409, 401/403 for bad or powerless tokens, client
// certificates instead of tokens, the Leases of leader election, and other autoscalers'
// HorizontalPodAutoscalers and KEDA ScaledObjects, in-place resize through pods/{name}/resize,
// set-based label selectors, LimitRanges and ResourceQuotas refusing resizes.
#include <gtest/gtest.h>

#include <algorithm>

#include "fleetscale/testing/wait.h"
#include "sim_test_support.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;
using namespace testsupport;

class SimKubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kubectlAvailable()) GTEST_SKIP() << "kubectl is not installed (/usr/bin/kubectl)";
    Scenario scenario;
    scenario.name = "kubectl";
    scenario.clusters.push_back(cluster("aws-us-east-1", "aws", CgroupDriver::kSystemd, 2, 2));
    scenario.clusters.push_back(cluster("gcp-europe-west1", "gcp", CgroupDriver::kCgroupfs, 1, 2));
    scenario.workloads.push_back(
        workload("checkout", {{"aws-us-east-1", 3}, {"gcp-europe-west1", 2}}, 2));
    WorkloadSpec db = workload("db", {{"gcp-europe-west1", 1}}, 0.5);
    db.kind = WorkloadKind::kStatefulSet;
    db.foreignAutoscaler =
        ForeignAutoscalerSpec{ForeignAutoscalerKind::kScaledObject, {"gcp-europe-west1"}};
    scenario.workloads.push_back(db);
    simulator_ = std::make_unique<FleetSimulator>(scenario, options(state_.path()), clock_);
    ASSERT_TRUE(simulator_->start());
    aws_ = simulator_->findEndpoints("aws-us-east-1");
    ASSERT_NE(aws_, nullptr);
  }
  void TearDown() override {
    if (simulator_) simulator_->stop();
  }

  testing::CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", aws_->kubeconfig});
    return kubectl(home_.path(), std::move(args));
  }

  SystemClock clock_;
  testing::TempDir state_{"sim-kubectl"};
  testing::TempDir home_{"sim-kubectl-home"};
  std::unique_ptr<FleetSimulator> simulator_;
  const ClusterEndpoints* aws_ = nullptr;
};

TEST_F(SimKubectlTest, GetDeploymentsInAllNamespaces) {
  const auto result = run({"get", "deploy", "-A"});
  ASSERT_EQ(result.status, 0) << result.errors;
  EXPECT_NE(result.output.find("NAMESPACE   NAME       READY   UP-TO-DATE   AVAILABLE   AGE"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("shop        checkout   3/3     3            3"), std::string::npos)
      << result.output;

  // The other cluster, through the fleet kubeconfig's context, with a StatefulSet.
  const auto gcp = kubectl(
      home_.path(), {"--kubeconfig", simulator_->stateDir() + "/fleet.kubeconfig", "--context",
                     "gcp-europe-west1", "get", "sts,deploy", "-n", "shop", "-o", "name"});
  ASSERT_EQ(gcp.status, 0) << gcp.errors;
  EXPECT_EQ(gcp.output, "statefulset.apps/db\ndeployment.apps/checkout\n");
}

TEST_F(SimKubectlTest, ServerTokenAndCaFlagsWorkWithoutAKubeconfig) {
  const auto result =
      kubectl(home_.path(), {"--kubeconfig", "/dev/null", "--server", aws_->apiUrl, "--token",
                             token(*aws_, "admin"), "--certificate-authority", aws_->caFile, "get",
                             "deploy", "-A", "-o", "json"});
  ASSERT_EQ(result.status, 0) << result.errors;
  const json list = json::parse(result.output);
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "checkout");
  EXPECT_EQ(list["items"][0]["spec"]["replicas"], 3);
}

TEST_F(SimKubectlTest, ClientCertificatesAuthenticateWithoutAToken) {
  auto withCertificate = [&](const std::string& role, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--kubeconfig", "/dev/null", "--server", aws_->apiUrl, "--certificate-authority",
                 aws_->caFile, "--client-certificate", aws_->clientCertificateFiles.at(role),
                 "--client-key", aws_->clientKeyFiles.at(role)});
    return kubectl(home_.path(), std::move(args));
  };
  const auto scaled =
      withCertificate("controller", {"-n", "shop", "scale", "deploy/checkout", "--replicas=4"});
  ASSERT_EQ(scaled.status, 0) << scaled.errors;
  const auto writes = simulator_->writes("aws-us-east-1")->records();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].user, "system:serviceaccount:fleetscale:fleetscale-aggregator");
  EXPECT_EQ(writes[0].replicasAfter, 4);
  const auto refused = withCertificate("none", {"get", "deploy", "-n", "shop"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.errors.find("User \"system:serviceaccount:default:default\" cannot list"),
            std::string::npos)
      << refused.errors;
}

TEST_F(SimKubectlTest, ScaleChangesReplicasAndPodsFollow) {
  const auto result = run({"-n", "shop", "scale", "deploy/checkout", "--replicas=5"});
  ASSERT_EQ(result.status, 0) << result.errors;
  EXPECT_EQ(result.output, "deployment.apps/checkout scaled\n");
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return run({"-n", "shop", "get", "deploy", "checkout"}).output.find("5/5") !=
               std::string::npos;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(250)));
  const auto pods = run({"-n", "shop", "get", "pods", "-o", "name"});
  EXPECT_EQ(std::count(pods.output.begin(), pods.output.end(), '\n'), 5) << pods.output;

  const auto writes = simulator_->writes("aws-us-east-1")->records();
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes.back().method, "PATCH");
  EXPECT_EQ(writes.back().path, "/apis/apps/v1/namespaces/shop/deployments/checkout/scale");
  EXPECT_EQ(writes.back().user, "kubernetes-admin");
  EXPECT_EQ(writes.back().replicasBefore, 3);
  EXPECT_EQ(writes.back().replicasAfter, 5);
  auto log = readFile(aws_->writeLog);
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("\"replicas_after\":5"), std::string::npos);
}

TEST_F(SimKubectlTest, PatchTheResizeSubresourceResizesInPlace) {
  const auto pods = run({"-n", "shop", "get", "pods", "-l", "app=checkout", "-o",
                         "jsonpath={.items[0].metadata.name}"});
  ASSERT_EQ(pods.status, 0) << pods.errors;
  const std::string pod = pods.output;
  ASSERT_FALSE(pod.empty());
  // A merge patch replaces the containers list, so it names every quantity it keeps.
  const auto merge = run(
      {"-n", "shop", "patch", "pod", pod, "--subresource", "resize", "--type", "merge", "-p",
       R"({"spec":{"containers":[{"name":"checkout","resources":{"requests":{"cpu":"300m","memory":"128Mi"},"limits":{"cpu":"600m","memory":"512Mi"}}}]}})"});
  ASSERT_EQ(merge.status, 0) << merge.errors;
  EXPECT_EQ(merge.output, "pod/" + pod + " patched\n");
  // Strategic merge (kubectl's default) changes only what it names.
  const auto strategic = run(
      {"-n", "shop", "patch", "pod", pod, "--subresource", "resize", "-p",
       R"({"spec":{"containers":[{"name":"checkout","resources":{"limits":{"cpu":"700m"}}}]}})"});
  ASSERT_EQ(strategic.status, 0) << strategic.errors;
  // The kubelet applies it: the status shows the new values, with no restart.
  auto statusLimit = [&] {
    return run({"-n", "shop", "get", "pod", pod, "-o",
                "jsonpath={.status.containerStatuses[0].resources.limits.cpu}/"
                "{.status.containerStatuses[0].restartCount}/{.status.conditions[*].type}"})
        .output;
  };
  ASSERT_TRUE(testing::waitFor([&] { return statusLimit().rfind("700m/0/", 0) == 0; },
                               std::chrono::seconds(20), std::chrono::milliseconds(200)))
      << statusLimit();
  EXPECT_EQ(statusLimit().find("PodResize"), std::string::npos) << statusLimit();
  // A QoS class change is refused with the API server's message.
  const auto qos = run(
      {"-n", "shop", "patch", "pod", pod, "--subresource", "resize", "-p",
       R"({"spec":{"containers":[{"name":"checkout","resources":{"requests":{"cpu":"700m","memory":"512Mi"}}}]}})"});
  EXPECT_NE(qos.status, 0);
  EXPECT_NE(qos.errors.find("Pod QOS Class may not change"), std::string::npos) << qos.errors;
  const auto writes = simulator_->writes("aws-us-east-1")->records();
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes.back().path.rfind("/api/v1/namespaces/shop/pods/" + pod + "/resize", 0), 0u);
}

TEST_F(SimKubectlTest, SetBasedSelectorsFilterLists) {
  const auto in =
      run({"-n", "shop", "get", "pods", "-l", "app in (checkout, other)", "-o", "name"});
  ASSERT_EQ(in.status, 0) << in.errors;
  EXPECT_EQ(std::count(in.output.begin(), in.output.end(), '\n'), 3) << in.output;
  const auto notIn = run({"-n", "shop", "get", "pods", "-l", "app notin (checkout)", "-o", "name"});
  ASSERT_EQ(notIn.status, 0) << notIn.errors;
  EXPECT_EQ(notIn.output, "") << notIn.output;
}

TEST_F(SimKubectlTest, LimitRangesAndQuotasApplyGetAndRefuseResizes) {
  const std::string file = home_.file("admission.yaml");
  testing::writeFile(file, R"(apiVersion: v1
kind: LimitRange
metadata:
  name: bounds
  namespace: shop
spec:
  limits:
    - type: Container
      max: {cpu: "1500m"}
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
  namespace: shop
spec:
  hard: {requests.cpu: "2", limits.cpu: "6"}
)");
  const auto applied = run({"apply", "--validate=false", "-f", file});
  ASSERT_EQ(applied.status, 0) << applied.errors;
  EXPECT_EQ(applied.output, "limitrange/bounds created\nresourcequota/compute created\n");
  const auto again = run({"apply", "--validate=false", "-f", file});
  ASSERT_EQ(again.status, 0) << again.errors;
  EXPECT_EQ(again.output, "limitrange/bounds unchanged\nresourcequota/compute unchanged\n");

  const auto quota = run({"-n", "shop", "get", "quota"});
  ASSERT_EQ(quota.status, 0) << quota.errors;
  // Three checkout pods at 500m (limit 1) in aws.
  EXPECT_NE(quota.output.find("requests.cpu: 1500m/2"), std::string::npos) << quota.output;
  EXPECT_NE(quota.output.find("limits.cpu: 3/6"), std::string::npos) << quota.output;
  const auto limits = run({"-n", "shop", "get", "limits", "-o", "name"});
  EXPECT_EQ(limits.output, "limitrange/bounds\n") << limits.errors;

  const auto pods = run({"-n", "shop", "get", "pods", "-l", "app=checkout", "-o",
                         "jsonpath={.items[0].metadata.name}"});
  ASSERT_EQ(pods.status, 0) << pods.errors;
  const std::string pod = pods.output;
  auto resize = [&](const std::string& resources) {
    return run({"-n", "shop", "patch", "pod", pod, "--subresource", "resize", "-p",
                R"({"spec":{"containers":[{"name":"checkout","resources":)" + resources + "}]}}"});
  };
  const auto overLimit = resize(R"({"limits":{"cpu":"2"}})");
  EXPECT_NE(overLimit.status, 0);
  EXPECT_NE(overLimit.errors.find("Error from server (Forbidden): pods \"" + pod +
                                  "\" is forbidden: maximum cpu usage per Container is 1500m, "
                                  "but limit is 2"),
            std::string::npos)
      << overLimit.errors;
  const auto overQuota = resize(R"({"requests":{"cpu":"1500m"},"limits":{"cpu":"1500m"}})");
  EXPECT_NE(overQuota.status, 0);
  EXPECT_NE(overQuota.errors.find("is forbidden: exceeded quota: compute, requested: "
                                  "requests.cpu=1, used: requests.cpu=1500m, limited: "
                                  "requests.cpu=2"),
            std::string::npos)
      << overQuota.errors;
  const auto within = resize(R"({"requests":{"cpu":"1"},"limits":{"cpu":"1500m"}})");
  EXPECT_EQ(within.status, 0) << within.errors;
}

TEST_F(SimKubectlTest, RawDiscoveryListsTheScaleSubresource) {
  const auto result = run({"get", "--raw", "/apis/apps/v1"});
  ASSERT_EQ(result.status, 0) << result.errors;
  const json resources = json::parse(result.output);
  EXPECT_EQ(resources["groupVersion"], "apps/v1");
  bool scale = false;
  for (const auto& resource : resources["resources"]) {
    if (resource["name"] == "deployments/scale") {
      scale = resource["kind"] == "Scale" && resource["group"] == "autoscaling";
    }
  }
  EXPECT_TRUE(scale) << result.output;
}

TEST_F(SimKubectlTest, ReplacingWithAStaleResourceVersionIsAConflict) {
  const auto object = run({"-n", "shop", "get", "deploy", "checkout", "-o", "json"});
  ASSERT_EQ(object.status, 0) << object.errors;
  json stale = json::parse(object.output);
  // Someone else scales first, so the copy in hand is stale.
  ASSERT_EQ(run({"-n", "shop", "scale", "deploy/checkout", "--replicas=4"}).status, 0);
  stale["spec"]["replicas"] = 6;
  const std::string file = home_.file("stale.json");
  testing::writeFile(file, stale.dump());
  const auto replace = run({"replace", "--validate=false", "-f", file});
  EXPECT_NE(replace.status, 0);
  EXPECT_NE(replace.errors.find("Error from server (Conflict)"), std::string::npos)
      << replace.errors;
  EXPECT_NE(replace.errors.find("the object has been modified"), std::string::npos);
  EXPECT_EQ(json::parse(run({"-n", "shop", "get", "deploy", "checkout", "-o", "json"})
                            .output)["spec"]["replicas"],
            4);
}

TEST_F(SimKubectlTest, LeasesCreatedWithTheAggregatorsCredentialsShowInGetLeases) {
  const std::string file = home_.file("lease.json");
  testing::writeFile(file, json{{"apiVersion", "coordination.k8s.io/v1"},
                                {"kind", "Lease"},
                                {"metadata", {{"name", "fleetscale-aggregator"}}},
                                {"spec",
                                 {{"holderIdentity", "aggregator-1"},
                                  {"leaseDurationSeconds", 10},
                                  {"acquireTime", "2024-08-14T19:29:05.000000Z"},
                                  {"renewTime", "2024-08-14T19:29:07.250000Z"},
                                  {"leaseTransitions", 2}}}}
                               .dump());
  // The aggregator's identity may create it (and an agent's may not).
  const auto created =
      kubectl(home_.path(), {"--kubeconfig", aws_->aggregatorKubeconfig, "-n", "fleetscale",
                             "create", "--validate=false", "-f", file});
  ASSERT_EQ(created.status, 0) << created.errors;
  EXPECT_EQ(created.output, "lease.coordination.k8s.io/fleetscale-aggregator created\n");

  const auto table = run({"get", "leases", "-n", "fleetscale"});
  ASSERT_EQ(table.status, 0) << table.errors;
  EXPECT_NE(table.output.find("NAME                    HOLDER         AGE"), std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("fleetscale-aggregator   aggregator-1"), std::string::npos)
      << table.output;

  const auto yaml =
      run({"get", "lease", "fleetscale-aggregator", "-n", "fleetscale", "-o", "yaml"});
  ASSERT_EQ(yaml.status, 0) << yaml.errors;
  for (const char* line :
       {"kind: Lease", "holderIdentity: aggregator-1", "renewTime: \"2024-08-14T19:29:07.250000Z\"",
        "leaseTransitions: 2", "leaseDurationSeconds: 10"}) {
    EXPECT_NE(yaml.output.find(line), std::string::npos) << line << " in\n" << yaml.output;
  }

  const auto agent = run({"--token", token(*aws_, "agent"), "get", "leases", "-n", "fleetscale"});
  EXPECT_NE(agent.status, 0);
  EXPECT_NE(agent.errors.find("Forbidden"), std::string::npos) << agent.errors;
  const auto deleted = run({"delete", "lease", "fleetscale-aggregator", "-n", "fleetscale"});
  ASSERT_EQ(deleted.status, 0) << deleted.errors;
  EXPECT_EQ(run({"get", "leases", "-A", "-o", "name"}).output, "");
}

TEST_F(SimKubectlTest, BadTokensAreUnauthorizedAndPowerlessOnesForbidden) {
  const auto unauthorized = run({"--token", "not-a-token", "get", "deploy", "-A"});
  EXPECT_NE(unauthorized.status, 0);
  // kubectl's wording for a 401 during discovery, as against a real API server.
  EXPECT_NE(unauthorized.errors.find("error: You must be logged in to the server"),
            std::string::npos)
      << unauthorized.errors;

  const auto forbidden = run({"--token", token(*aws_, "none"), "get", "deploy", "-n", "shop"});
  EXPECT_NE(forbidden.status, 0);
  EXPECT_NE(forbidden.errors.find("Error from server (Forbidden)"), std::string::npos)
      << forbidden.errors;
  EXPECT_NE(forbidden.errors.find("cannot list resource \"deployments\""), std::string::npos);

  const auto readOnly = run(
      {"--token", token(*aws_, "agent"), "-n", "shop", "scale", "deploy/checkout", "--replicas=1"});
  EXPECT_NE(readOnly.status, 0);
  EXPECT_NE(readOnly.errors.find("Forbidden"), std::string::npos) << readOnly.errors;
  const auto writes = simulator_->writes("aws-us-east-1")->records();
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes.back().status, 403);  // refused writes are logged too
}

TEST_F(SimKubectlTest, HorizontalPodAutoscalersApplyGetAndDelete) {
  const std::string file = home_.file("hpa.yaml");
  auto writeHpa = [&](int maxReplicas) {
    testing::writeFile(file, R"(apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: checkout
  namespace: shop
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: checkout
  minReplicas: 2
  maxReplicas: )" + std::to_string(maxReplicas) +
                                 R"(
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
)");
  };
  writeHpa(6);
  const auto created = run({"apply", "--validate=false", "-f", file});
  ASSERT_EQ(created.status, 0) << created.errors;
  EXPECT_EQ(created.output, "horizontalpodautoscaler.autoscaling/checkout created\n");
  writeHpa(8);
  const auto configured = run({"apply", "--validate=false", "-f", file});
  ASSERT_EQ(configured.status, 0) << configured.errors;
  EXPECT_EQ(configured.output, "horizontalpodautoscaler.autoscaling/checkout configured\n");

  const auto table = run({"get", "hpa", "-n", "shop"});
  ASSERT_EQ(table.status, 0) << table.errors;
  EXPECT_NE(table.output.find("NAME       REFERENCE             TARGETS              MINPODS   "
                              "MAXPODS   REPLICAS   AGE"),
            std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("checkout   Deployment/checkout   cpu: <unknown>/70%   2         8"),
            std::string::npos)
      << table.output;

  // The aggregator's identity reads them (every namespace) and may not change them.
  const auto aggregator = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", aws_->aggregatorKubeconfig});
    return kubectl(home_.path(), std::move(args));
  };
  const auto read = aggregator({"get", "horizontalpodautoscalers", "-A", "-o", "json"});
  ASSERT_EQ(read.status, 0) << read.errors;
  const json list = json::parse(read.output);
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["spec"]["maxReplicas"], 8);
  EXPECT_EQ(list["items"][0]["spec"]["scaleTargetRef"]["name"], "checkout");
  const auto refused = aggregator({"delete", "hpa", "checkout", "-n", "shop"});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.errors.find("Error from server (Forbidden)"), std::string::npos)
      << refused.errors;

  writeHpa(0);
  const auto rejected = run({"apply", "--validate=false", "-f", file});
  EXPECT_NE(rejected.status, 0);
  EXPECT_NE(rejected.errors.find("spec.maxReplicas: Invalid value: 0: must be greater than 0"),
            std::string::npos)
      << rejected.errors;

  const auto deleted = run({"delete", "hpa", "checkout", "-n", "shop"});
  ASSERT_EQ(deleted.status, 0) << deleted.errors;
  EXPECT_EQ(deleted.output, "horizontalpodautoscaler.autoscaling \"checkout\" deleted\n");
  EXPECT_EQ(run({"get", "hpa", "-A", "-o", "name"}).output, "");
}

TEST_F(SimKubectlTest, ScaledObjectsFromTheScenarioAndFromApply) {
  // The scenario's foreign-autoscaler, in the one cluster it names.
  const auto gcp =
      kubectl(home_.path(), {"--kubeconfig", simulator_->stateDir() + "/fleet.kubeconfig",
                             "--context", "gcp-europe-west1", "get", "so", "-n", "shop"});
  ASSERT_EQ(gcp.status, 0) << gcp.errors;
  EXPECT_NE(gcp.output.find("SCALETARGETKIND       SCALETARGETNAME   MIN   MAX"), std::string::npos)
      << gcp.output;
  EXPECT_NE(gcp.output.find("db     apps/v1.StatefulSet   db                1     10    cpu"),
            std::string::npos)
      << gcp.output;
  EXPECT_EQ(run({"get", "scaledobjects", "-A", "-o", "name"}).output, "");

  const std::string file = home_.file("so.yaml");
  testing::writeFile(file, R"(apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: checkout
  namespace: shop
spec:
  scaleTargetRef:
    name: checkout
  maxReplicaCount: 5
  triggers:
    - type: cpu
      metricType: Utilization
      metadata:
        value: "60"
)");
  const auto created = run({"apply", "--validate=false", "-f", file});
  ASSERT_EQ(created.status, 0) << created.errors;
  EXPECT_EQ(created.output, "scaledobject.keda.sh/checkout created\n");
  const auto relabelled = run({"-n", "shop", "label", "so", "checkout", "team=shop"});
  ASSERT_EQ(relabelled.status, 0) << relabelled.errors;
  const auto yaml = run({"get", "scaledobject", "checkout", "-n", "shop", "-o", "yaml"});
  ASSERT_EQ(yaml.status, 0) << yaml.errors;
  for (const char* line : {"kind: ScaledObject", "team: shop",
                           "scaleTargetKind: apps/v1.Deployment", "value: \"60\""}) {
    EXPECT_NE(yaml.output.find(line), std::string::npos) << line << " in\n" << yaml.output;
  }
  const auto deleted = run({"delete", "so", "checkout", "-n", "shop"});
  ASSERT_EQ(deleted.status, 0) << deleted.errors;
  EXPECT_EQ(deleted.output, "scaledobject.keda.sh \"checkout\" deleted\n");
}

}  // namespace
}  // namespace fleetscale::sim
