// HorizontalPodAutoscaler and ScaledObject bodies as the API server decodes, defaults and
// validates them, and the objects a scenario's foreign-autoscaler starts with.
#include "fleetscale/sim/autoscaler_objects.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

json hpaBody() {
  return json::parse(R"({
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "labels": {"team": "shop"}},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}
  })");
}

json scaledObjectBody() {
  return json::parse(R"({
    "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
    "metadata": {"name": "web"},
    "spec": {"scaleTargetRef": {"name": "web"}, "maxReplicaCount": 8,
             "triggers": [{"type": "cpu", "metricType": "Utilization",
                           "metadata": {"value": "60"}}]}
  })");
}

TEST(HorizontalPodAutoscalerTest, KeepsTheBodyAndAddsV2DefaultsAndAFreshStatus) {
  const ApiResult decoded = decodeHorizontalPodAutoscaler(hpaBody(), "shop", "", nullptr);
  ASSERT_TRUE(decoded.ok()) << decoded.error->message;
  const json& hpa = decoded.object;
  EXPECT_EQ(hpa["metadata"]["namespace"], "shop");
  EXPECT_EQ(hpa["metadata"]["labels"]["team"], "shop");
  EXPECT_EQ(hpa["spec"]["minReplicas"], 1);
  EXPECT_EQ(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
  EXPECT_EQ(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
  EXPECT_EQ(hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 60);  // as sent
  EXPECT_EQ(hpa["status"], json::parse(R"({"currentMetrics": null, "desiredReplicas": 0})"));

  // An update keeps the stored status whatever the body says (status is a subresource).
  json stored = hpa;
  stored["status"] = {{"currentReplicas", 3}, {"desiredReplicas", 4}};
  json body = hpaBody();
  body["status"] = {{"desiredReplicas", 99}};
  const ApiResult updated = decodeHorizontalPodAutoscaler(body, "shop", "web", &stored);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated.object["status"], stored["status"]);
}

TEST(HorizontalPodAutoscalerTest, ValidationAnswers422InTheApiServersWords) {
  json body = hpaBody();
  body["spec"]["maxReplicas"] = 0;
  ApiResult result = decodeHorizontalPodAutoscaler(body, "shop", "", nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->code, 422);
  EXPECT_EQ(result.error->reason, "Invalid");
  // minReplicas defaults to 1, so 0 is also below it, as the API server says too.
  EXPECT_EQ(result.error->message,
            "HorizontalPodAutoscaler.autoscaling \"web\" is invalid: [spec.maxReplicas: Invalid "
            "value: 0: must be greater than 0, spec.maxReplicas: Invalid value: 0: must be "
            "greater than or equal to `minReplicas`]");
  EXPECT_EQ(result.error->details["kind"], "HorizontalPodAutoscaler");
  EXPECT_EQ(result.error->details["group"], "autoscaling");
  EXPECT_EQ(result.error->details["causes"][0]["field"], "spec.maxReplicas");
  EXPECT_EQ(result.error->details["causes"][0]["reason"], "FieldValueInvalid");

  // Several problems are listed together, in the validator's order.
  body = hpaBody();
  body["spec"]["minReplicas"] = 3;
  body["spec"]["maxReplicas"] = 2;
  body["spec"]["scaleTargetRef"].erase("kind");
  body["spec"]["scaleTargetRef"].erase("name");
  result = decodeHorizontalPodAutoscaler(body, "shop", "", nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->message,
            "HorizontalPodAutoscaler.autoscaling \"web\" is invalid: [spec.maxReplicas: Invalid "
            "value: 2: must be greater than or equal to `minReplicas`, spec.scaleTargetRef.kind: "
            "Required value, spec.scaleTargetRef.name: Required value]");
  EXPECT_EQ(result.error->details["causes"].size(), 3u);
  EXPECT_EQ(result.error->details["causes"][1]["reason"], "FieldValueRequired");

  body = hpaBody();
  body["spec"]["minReplicas"] = 6;
  result = decodeHorizontalPodAutoscaler(body, "shop", "", nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->message,
            "HorizontalPodAutoscaler.autoscaling \"web\" is invalid: spec.maxReplicas: Invalid "
            "value: 5: must be greater than or equal to `minReplicas`");
  body["spec"]["minReplicas"] = 0;
  EXPECT_EQ(
      decodeHorizontalPodAutoscaler(body, "shop", "", nullptr).error->details["causes"][0]["field"],
      "spec.minReplicas");

  body = hpaBody();
  body["metadata"]["name"] = "Web_1";
  EXPECT_EQ(decodeHorizontalPodAutoscaler(body, "shop", "", nullptr).error->code, 422);
  body["metadata"].erase("name");
  EXPECT_NE(decodeHorizontalPodAutoscaler(body, "shop", "", nullptr)
                .error->message.find("metadata.name: Required value: name or generateName"),
            std::string::npos);
}

TEST(HorizontalPodAutoscalerTest, BodiesThatDoNotDecodeAre400) {
  json body = hpaBody();
  body["spec"]["maxReplicas"] = "five";
  ApiResult result = decodeHorizontalPodAutoscaler(body, "shop", "", nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->code, 400);
  EXPECT_EQ(result.error->message,
            "HorizontalPodAutoscaler in version \"v2\" cannot be handled as a "
            "HorizontalPodAutoscaler: json: cannot unmarshal string into Go struct field "
            "HorizontalPodAutoscalerSpec.spec.maxReplicas of type int32");
  body = hpaBody();
  body["kind"] = "Deployment";
  EXPECT_EQ(decodeHorizontalPodAutoscaler(body, "shop", "", nullptr).error->code, 400);
  body = hpaBody();
  body["metadata"]["namespace"] = "shop";
  EXPECT_EQ(decodeHorizontalPodAutoscaler(body, "other", "", nullptr).error->message,
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
  EXPECT_EQ(decodeHorizontalPodAutoscaler(body, "shop", "api", nullptr).error->message,
            "the name of the object (web) does not match the name on the URL (api)");
  EXPECT_EQ(decodeHorizontalPodAutoscaler(json::array(), "shop", "", nullptr).error->code, 400);
}

TEST(ScaledObjectTest, KeepsTheTargetAsSentAndRecordsKedasDefaultTargetInStatus) {
  const ApiResult decoded = decodeScaledObject(scaledObjectBody(), "shop", "", nullptr);
  ASSERT_TRUE(decoded.ok()) << decoded.error->message;
  const json& scaledObject = decoded.object;
  // The API server does not default the target's kind; KEDA reads an absent one as Deployment.
  EXPECT_FALSE(scaledObject["spec"]["scaleTargetRef"].contains("kind"));
  EXPECT_EQ(scaledObject["status"]["scaleTargetKind"], "apps/v1.Deployment");
  EXPECT_EQ(scaledObject["status"]["scaleTargetGVKR"],
            json::parse(R"({"group": "apps", "version": "v1", "kind": "Deployment",
                            "resource": "deployments"})"));
  EXPECT_EQ(scaledObject["spec"]["triggers"][0]["metadata"]["value"], "60");

  json statefulSet = scaledObjectBody();
  statefulSet["spec"]["scaleTargetRef"]["kind"] = "StatefulSet";
  EXPECT_EQ(
      decodeScaledObject(statefulSet, "shop", "", nullptr).object["status"]["scaleTargetKind"],
      "apps/v1.StatefulSet");
}

TEST(ScaledObjectTest, TheCrdSchemaIsChecked) {
  json body = scaledObjectBody();
  body["spec"]["scaleTargetRef"].erase("name");
  ApiResult result = decodeScaledObject(body, "shop", "", nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->code, 422);
  EXPECT_EQ(result.error->message,
            "ScaledObject.keda.sh \"web\" is invalid: spec.scaleTargetRef.name: Required value");
  EXPECT_EQ(result.error->details["group"], "keda.sh");

  body = scaledObjectBody();
  body["spec"]["maxReplicaCount"] = "8";
  result = decodeScaledObject(body, "shop", "", nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->message,
            "ScaledObject.keda.sh \"web\" is invalid: spec.maxReplicaCount: Invalid value: "
            "\"string\": spec.maxReplicaCount in body must be of type integer: \"string\"");
  EXPECT_EQ(result.error->details["causes"][0]["reason"], "FieldValueTypeInvalid");

  body = scaledObjectBody();
  body["spec"].erase("triggers");
  EXPECT_EQ(decodeScaledObject(body, "shop", "", nullptr).error->details["causes"][0]["field"],
            "spec.triggers");
  body["spec"]["triggers"] = json::array({json::object()});
  EXPECT_EQ(decodeScaledObject(body, "shop", "", nullptr).error->message,
            "ScaledObject.keda.sh \"web\" is invalid: [spec.triggers[0].type: Required value, "
            "spec.triggers[0].metadata: Required value]");
  body.erase("spec");
  EXPECT_EQ(decodeScaledObject(body, "shop", "", nullptr).error->message,
            "ScaledObject.keda.sh \"web\" is invalid: spec: Required value");
}

TEST(ForeignAutoscalerTest, BodiesTargetTheWorkloadAndPassValidation) {
  WorkloadSpec workload;
  workload.name = "db";
  workload.namespaceName = "shop";
  workload.kind = WorkloadKind::kStatefulSet;
  workload.replicas = {{"a", 3}, {"b", 12}};
  const ApiResult hpa = decodeHorizontalPodAutoscaler(
      foreignAutoscalerBody(workload, ForeignAutoscalerKind::kHorizontalPodAutoscaler), "shop", "",
      nullptr);
  ASSERT_TRUE(hpa.ok()) << hpa.error->message;
  EXPECT_EQ(hpa.object["metadata"]["name"], "db");
  EXPECT_EQ(hpa.object["spec"]["scaleTargetRef"],
            json::parse(R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"})"));
  EXPECT_EQ(hpa.object["spec"]["maxReplicas"], 12);  // never below what the workload starts with

  const ApiResult scaledObject = decodeScaledObject(
      foreignAutoscalerBody(workload, ForeignAutoscalerKind::kScaledObject), "shop", "", nullptr);
  ASSERT_TRUE(scaledObject.ok()) << scaledObject.error->message;
  EXPECT_EQ(scaledObject.object["status"]["scaleTargetKind"], "apps/v1.StatefulSet");

  workload.kind = WorkloadKind::kDeployment;
  const json deployment = foreignAutoscalerBody(workload, ForeignAutoscalerKind::kScaledObject);
  EXPECT_EQ(deployment["spec"]["scaleTargetRef"], json::parse(R"({"name": "db"})"));
}

}  // namespace
}  // namespace fleetscale::sim
