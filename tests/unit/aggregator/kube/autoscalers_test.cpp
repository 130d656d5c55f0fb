#include "fleetscale/aggregator/kube/autoscalers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fleetscale::aggregator {
namespace {

TEST(AutoscalerListTest, TargetsOfHpasAndScaledObjects) {
  auto hpas = parseAutoscalerList(
      R"({"kind":"HorizontalPodAutoscalerList","items":[
           {"metadata":{"name":"web","namespace":"shop"},
            "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"StatefulSet","name":"db"}}},
           {"metadata":{"name":"no-target","namespace":"shop"},"spec":{}}]})",
      "HorizontalPodAutoscaler");
  ASSERT_TRUE(hpas.ok()) << hpas.error().message;
  ASSERT_EQ(hpas->size(), 1u) << "an item without a target is skipped";
  EXPECT_EQ((*hpas)[0].targetKind, "StatefulSet");
  EXPECT_EQ((*hpas)[0].targetName, "db");
  EXPECT_EQ((*hpas)[0].describe(), "HorizontalPodAutoscaler shop/web");

  auto scaledObjects = parseAutoscalerList(
      R"({"items":[{"metadata":{"name":"q","namespace":"jobs"},
                    "spec":{"scaleTargetRef":{"name":"worker"}}}]})",
      "ScaledObject");
  ASSERT_TRUE(scaledObjects.ok());
  EXPECT_EQ((*scaledObjects)[0].targetKind, "Deployment") << "KEDA's default kind";

  auto none = parseAutoscalerList(R"({"kind":"HorizontalPodAutoscalerList","items":null})",
                                  "HorizontalPodAutoscaler");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(AutoscalerListTest, AnythingElseIsAnError) {
  for (const char* bad :
       {"", "<html>502</html>", "[]", R"({"kind":"Status"})", R"({"items":{"a":1}})"}) {
    EXPECT_FALSE(parseAutoscalerList(bad, "HorizontalPodAutoscaler").ok()) << bad;
  }
  // Wrong types inside an item are skipped, not a crash.
  auto odd = parseAutoscalerList(R"({"items":[1,"x",{"spec":{"scaleTargetRef":{"name":7}}}]})",
                                 "ScaledObject");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->empty());
}

TEST(AutoscalerListTest, TheHpaKedaMadeNamesItsScaledObject) {
  auto hpas = parseAutoscalerList(
      R"({"items":[{"metadata":{"name":"keda-hpa-q","namespace":"jobs",
                    "ownerReferences":[{"kind":"ScaledObject","name":"q","controller":true}]},
                    "spec":{"scaleTargetRef":{"kind":"Deployment","name":"worker"}}},
                   {"metadata":{"name":"mine","namespace":"jobs",
                    "ownerReferences":[{"kind":"Thing","name":"t"}]},
                    "spec":{"scaleTargetRef":{"kind":"Deployment","name":"api"}}}]})",
      "HorizontalPodAutoscaler");
  ASSERT_TRUE(hpas.ok()) << hpas.error().message;
  ASSERT_EQ(hpas->size(), 2u);
  EXPECT_EQ((*hpas)[0].controlledBy, "ScaledObject");
  EXPECT_EQ((*hpas)[1].controlledBy, "") << "an owner that is not its controller does not count";
}

const char* kHpa = R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
  "metadata":{"name":"web","namespace":"shop","resourceVersion":"17"},
  "spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"},"maxReplicas":10,
          "metrics":[{"type":"Resource"}]}})";

TEST(PinAutoscalerTest, AnHpaIsPinnedToTheCountAndItsOwnBoundsAreKept) {
  auto first = pinAutoscaler(kHpa, "HorizontalPodAutoscaler", 6);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->has_value());
  const auto pinned = nlohmann::json::parse(**first);
  EXPECT_EQ(pinned["spec"]["minReplicas"], 6);
  EXPECT_EQ(pinned["spec"]["maxReplicas"], 6);
  EXPECT_EQ(pinned["metadata"]["annotations"]["fleetscale.io/original-min-replicas"], "1")
      << "minReplicas defaults to 1";
  EXPECT_EQ(pinned["metadata"]["annotations"]["fleetscale.io/original-max-replicas"], "10");
  EXPECT_EQ(pinned["metadata"]["resourceVersion"], "17") << "the PUT is a conditional update";
  EXPECT_EQ(pinned["spec"]["metrics"].size(), 1u) << "everything else is kept";

  // Pinned again to another count: its own bounds stay the recorded ones, not fleetscale's.
  auto second = pinAutoscaler(**first, "HorizontalPodAutoscaler", 3);
  ASSERT_TRUE(second.ok() && second->has_value());
  const auto repinned = nlohmann::json::parse(**second);
  EXPECT_EQ(repinned["spec"]["minReplicas"], 3);
  EXPECT_EQ(repinned["metadata"]["annotations"]["fleetscale.io/original-max-replicas"], "10");

  auto same = pinAutoscaler(**second, "HorizontalPodAutoscaler", 3);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->has_value()) << "already held: nothing to write";

  EXPECT_FALSE(pinAutoscaler(kHpa, "HorizontalPodAutoscaler", 0).ok())
      << "an HPA's minReplicas cannot be 0";
}

TEST(PinAutoscalerTest, AScaledObjectIsPausedAtTheCount) {
  const char* scaledObject = R"({"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject",
    "metadata":{"name":"q","namespace":"jobs","annotations":{"team":"x"}},
    "spec":{"scaleTargetRef":{"name":"worker"},"minReplicaCount":1,"maxReplicaCount":50}})";
  auto paused = pinAutoscaler(scaledObject, "ScaledObject", 0);
  ASSERT_TRUE(paused.ok() && paused->has_value());
  const auto object = nlohmann::json::parse(**paused);
  EXPECT_EQ(object["metadata"]["annotations"]["autoscaling.keda.sh/paused-replicas"], "0");
  EXPECT_EQ(object["metadata"]["annotations"]["team"], "x");
  EXPECT_EQ(object["spec"]["maxReplicaCount"], 50) << "its bounds are left alone";
  auto again = pinAutoscaler(**paused, "ScaledObject", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST(PinAutoscalerTest, AnythingElseIsAnError) {
  for (const char* bad : {"", "[]", R"({"kind":"Status"})",
                          R"({"kind":"HorizontalPodAutoscaler","metadata":{},"spec":[]})",
                          R"({"kind":"HorizontalPodAutoscaler","metadata":{},
                              "spec":{"minReplicas":"two","maxReplicas":3}})",
                          R"({"kind":"HorizontalPodAutoscaler","metadata":{},
                              "spec":{"maxReplicas":1e12}})"}) {
    EXPECT_FALSE(pinAutoscaler(bad, "HorizontalPodAutoscaler", 2).ok()) << bad;
  }
  EXPECT_FALSE(pinAutoscaler(kHpa, "ScaledObject", 2).ok()) << "not the kind asked for";
}

}  // namespace
}  // namespace fleetscale::aggregator
