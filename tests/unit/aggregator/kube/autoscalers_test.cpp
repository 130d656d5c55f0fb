#include "fleetscale/aggregator/kube/autoscalers.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fleetscale::aggregator
