#include "fleetscale/sim/patch.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

const json kDeployment = json::parse(R"({
  "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
  "spec": {"replicas": 2, "template": {"spec": {"containers": [
    {"name": "app", "image": "web:1", "resources": {"limits": {"cpu": "1"}}},
    {"name": "sidecar", "image": "proxy:1"}]}}}})");

TEST(PatchTest, ContentTypesMapToPatchTypes) {
  EXPECT_EQ(patchTypeOf("application/merge-patch+json"), PatchType::kMerge);
  EXPECT_EQ(patchTypeOf("application/strategic-merge-patch+json; charset=utf-8"),
            PatchType::kStrategicMerge);
  EXPECT_EQ(patchTypeOf("application/json-patch+json"), PatchType::kJsonPatch);
  EXPECT_EQ(patchTypeOf("application/apply-patch+yaml"), PatchType::kApply);
  EXPECT_EQ(patchTypeOf("application/json"), PatchType::kUnknown);
}

TEST(PatchTest, MergePatchSetsReplicasAndDeletesWithNull) {
  auto result =
      applyPatch(kDeployment, R"({"spec":{"replicas":5},"metadata":{"labels":{"tier":null}}})",
                 PatchType::kMerge);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ((*result)["spec"]["replicas"], 5);
  EXPECT_FALSE((*result)["metadata"]["labels"].contains("tier"));
  // A merge patch replaces lists whole.
  auto lists = applyPatch(
      kDeployment,
      R"({"spec":{"template":{"spec":{"containers":[{"name":"app","image":"web:2"}]}}}})",
      PatchType::kMerge);
  ASSERT_TRUE(lists);
  EXPECT_EQ((*lists)["spec"]["template"]["spec"]["containers"].size(), 1u);
}

TEST(PatchTest, StrategicMergeMergesContainersByName) {
  auto result = applyPatch(
      kDeployment,
      R"({"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"app","image":"web:2"}]}}}})",
      PatchType::kStrategicMerge);
  ASSERT_TRUE(result) << result.error().message;
  const json& containers = (*result)["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["image"], "web:2");
  EXPECT_EQ(containers[0]["resources"]["limits"]["cpu"], "1");  // kept
  EXPECT_EQ(containers[1]["name"], "sidecar");
  EXPECT_EQ((*result)["spec"]["replicas"], 3);

  auto removed = applyPatch(
      kDeployment,
      R"({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}})",
      PatchType::kStrategicMerge);
  ASSERT_TRUE(removed);
  EXPECT_EQ((*removed)["spec"]["template"]["spec"]["containers"].size(), 1u);

  auto replaced = applyPatch(kDeployment, R"({"metadata":{"labels":{"$patch":"replace","x":"y"}}})",
                             PatchType::kStrategicMerge);
  ASSERT_TRUE(replaced);
  EXPECT_EQ((*replaced)["metadata"]["labels"], json({{"x", "y"}}));
}

TEST(PatchTest, JsonPatchAppliesOperationsAndFailsOnAFailedTest) {
  auto result = applyPatch(
      kDeployment,
      R"([{"op":"test","path":"/spec/replicas","value":2},{"op":"replace","path":"/spec/replicas","value":7}])",
      PatchType::kJsonPatch);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ((*result)["spec"]["replicas"], 7);
  EXPECT_FALSE(applyPatch(kDeployment, R"([{"op":"test","path":"/spec/replicas","value":9}])",
                          PatchType::kJsonPatch));
}

TEST(PatchTest, MalformedPatchesAreErrors) {
  EXPECT_FALSE(applyPatch(kDeployment, "{not json", PatchType::kMerge));
  EXPECT_FALSE(applyPatch(kDeployment, "[1,2]", PatchType::kMerge));
  EXPECT_FALSE(applyPatch(kDeployment, R"({"op":"add"})", PatchType::kJsonPatch));
  EXPECT_FALSE(applyPatch(kDeployment, "{}", PatchType::kApply));
}

}  // namespace
}  // namespace fleetscale::sim
