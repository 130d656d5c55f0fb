// What the store does differently per kind: generations, and custom resources' refusal of
// unconditional updates.
#include "fleetscale/sim/object_store.h"

#include <gtest/gtest.h>

#include "fleetscale/sim/autoscaler_objects.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

class ObjectStoreTest : public ::testing::Test {
 protected:
  json created(ObjectStore& store, const json& body) {
    const ApiResult result = store.create("shop", body, now_, next_);
    EXPECT_TRUE(result.ok()) << result.error->message;
    return result.object;
  }

  std::uint64_t version_ = 10;
  ObjectStore::NextVersion next_ = [this] { return ++version_; };
  const WallTime now_ = WallTime{} + std::chrono::hours(24 * 365 * 54);
};

TEST_F(ObjectStoreTest, GenerationCountsSpecChangesOnly) {
  ObjectStore store(kHorizontalPodAutoscalerResource, 1);
  json hpa = created(
      store, {{"metadata", {{"name", "web"}, {"generation", 7}}}, {"spec", {{"maxReplicas", 3}}}});
  EXPECT_EQ(hpa["metadata"]["generation"], 1);  // server-owned: the client's 7 is ignored
  EXPECT_EQ(hpa["metadata"]["resourceVersion"], "11");

  hpa["metadata"]["labels"] = {{"team", "shop"}};
  hpa = store.update("shop", "web", hpa, next_).object;
  EXPECT_EQ(hpa["metadata"]["generation"], 1);
  EXPECT_EQ(hpa["metadata"]["resourceVersion"], "12");

  hpa["spec"]["maxReplicas"] = 4;
  hpa = store.update("shop", "web", hpa, next_).object;
  EXPECT_EQ(hpa["metadata"]["generation"], 2);

  ObjectStore leases(ResourceType{.group = "coordination.k8s.io",
                                  .version = "v1",
                                  .kind = "Lease",
                                  .plural = "leases",
                                  .singular = "lease"},
                     1);
  EXPECT_FALSE(created(leases, {{"metadata", {{"name", "a"}}}})["metadata"].contains("generation"));
}

TEST_F(ObjectStoreTest, CustomResourcesRefuseUpdatesWithoutAResourceVersion) {
  ObjectStore store(kScaledObjectResource, 1);
  json scaledObject = created(store, {{"metadata", {{"name", "web"}}}, {"spec", json::object()}});
  json blind = scaledObject;
  blind["metadata"].erase("resourceVersion");
  blind["spec"]["maxReplicaCount"] = 4;
  const ApiResult refused = store.update("shop", "web", blind, next_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error->code, 422);
  EXPECT_EQ(refused.error->message,
            "ScaledObject.keda.sh \"web\" is invalid: metadata.resourceVersion: Invalid value: "
            "0x0: must be specified for an update");
  scaledObject["spec"]["maxReplicaCount"] = 4;
  EXPECT_TRUE(store.update("shop", "web", scaledObject, next_).ok());

  // The built-in HPA takes the same write unconditionally.
  ObjectStore hpas(kHorizontalPodAutoscalerResource, 1);
  created(hpas, {{"metadata", {{"name", "web"}}}, {"spec", json::object()}});
  EXPECT_TRUE(hpas.update("shop", "web", blind, next_).ok());
  EXPECT_EQ(hpas.remove("shop", "nope", nullptr, next_).error->message,
            "horizontalpodautoscalers.autoscaling \"nope\" not found");
}

}  // namespace
}  // namespace fleetscale::sim
