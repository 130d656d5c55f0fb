#include "fleetscale/sim/shared_fleet.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fleetscale/sim/autoscaler_objects.h"

namespace fleetscale::sim {
namespace {

const Identity kController{"system:serviceaccount:fleetscale:fleetscale-aggregator",
                           Role::kController};

// The controller (the aggregator) reads them and, as --take-over-hpa's extra rule allows,
// updates them; creating and deleting them is the admin's.
TEST(MayAccessApiTest, OtherAutoscalersAreTheControllersToReadAndUpdateAndTheAdminsToOwn) {
  for (const char* resource : {"horizontalpodautoscalers", "scaledobjects"}) {
    for (const char* verb : {"get", "list", "watch", "update", "patch"}) {
      EXPECT_TRUE(mayAccessApi(Role::kController, verb, resource)) << verb << " " << resource;
    }
    for (const char* verb : {"create", "delete", "deletecollection"}) {
      EXPECT_FALSE(mayAccessApi(Role::kController, verb, resource)) << verb << " " << resource;
    }
    for (const char* verb : {"create", "update", "patch", "delete", "deletecollection"}) {
      EXPECT_TRUE(mayAccessApi(Role::kAdmin, verb, resource)) << verb << " " << resource;
    }
    EXPECT_FALSE(mayAccessApi(Role::kNone, "get", resource));
  }
}

TEST(SharedFleetTest, ForeignAutoscalersAreStoredInTheirClustersFromTheStart) {
  Scenario scenario;
  for (const char* name : {"a", "b"}) {
    ClusterSpec cluster;
    cluster.name = name;
    cluster.nodes = 1;
    scenario.clusters.push_back(cluster);
  }
  WorkloadSpec web;
  web.name = "web";
  web.namespaceName = "shop";
  web.replicas = {{"a", 2}, {"b", 1}};
  web.capacityPerReplica = 1;
  web.foreignAutoscaler = ForeignAutoscalerSpec{ForeignAutoscalerKind::kScaledObject, {"b"}};
  scenario.workloads.push_back(web);
  WorkloadSpec api = web;
  api.name = "api";
  api.foreignAutoscaler =
      ForeignAutoscalerSpec{ForeignAutoscalerKind::kHorizontalPodAutoscaler, {"a", "b"}};
  scenario.workloads.push_back(api);

  SystemClock clock;
  SharedFleet fleet(scenario, clock);
  std::lock_guard lock(fleet.mutex);
  EXPECT_TRUE(fleet.scaledObjects.at("a").list("").empty());
  const auto scaledObjects = fleet.scaledObjects.at("b").list("shop");
  ASSERT_EQ(scaledObjects.size(), 1u);
  EXPECT_EQ(scaledObjects[0]["metadata"]["name"], "web");
  EXPECT_EQ(scaledObjects[0]["spec"]["scaleTargetRef"]["name"], "web");
  EXPECT_EQ(scaledObjects[0]["status"]["scaleTargetKind"], "apps/v1.Deployment");
  for (const char* cluster : {"a", "b"}) {
    const nlohmann::json* hpa = fleet.horizontalPodAutoscalers.at(cluster).find("shop", "api");
    ASSERT_NE(hpa, nullptr) << cluster;
    EXPECT_EQ((*hpa)["spec"]["scaleTargetRef"]["kind"], "Deployment");
    EXPECT_FALSE((*hpa)["metadata"].value("uid", "").empty());
    // Versions come from the cluster's one sequence, as every other object's do.
    EXPECT_LE(std::stoull((*hpa)["metadata"]["resourceVersion"].get<std::string>()),
              fleet.model.findCluster(cluster)->resourceVersion());
  }
  EXPECT_EQ(fleet.objectStore(kScaledObjectResource, "b"), &fleet.scaledObjects.at("b"));
  EXPECT_EQ(fleet.objectStore(kLeaseResource, "nowhere"), nullptr);
}

TEST(TokenBookTest, AuthenticatesBearerTokensOnly) {
  TokenBook book;
  book.add("t1", kController);
  ASSERT_TRUE(book.authenticate("Bearer t1"));
  EXPECT_EQ(book.authenticate("bearer t1")->user, kController.user);  // the scheme's case
  EXPECT_FALSE(book.authenticate("Bearer T1"));                       // the token's case
  EXPECT_FALSE(book.authenticate("Basic t1"));
  EXPECT_FALSE(book.authenticate("Bearer "));
  EXPECT_FALSE(book.authenticate(""));
  EXPECT_EQ(book.tokenFor(Role::kController), "t1");
  EXPECT_EQ(book.tokenFor(Role::kAdmin), "");
  EXPECT_EQ(book.certificateIdentity(kController.user).role, Role::kController);
  EXPECT_EQ(book.certificateIdentity("stranger").role, Role::kNone);
}

TEST(TokenBookTest, ARotationAcceptsTheNewTokenAndRefusesTheOld) {
  TokenBook book;
  book.add("old", kController);
  book.add("new", kController);
  ASSERT_TRUE(book.revoke("old"));
  EXPECT_FALSE(book.authenticate("Bearer old"));
  ASSERT_TRUE(book.authenticate("Bearer new"));
  EXPECT_EQ(book.authenticate("Bearer new")->role, Role::kController);
  EXPECT_TRUE(book.wasRevoked("Bearer old"));
  EXPECT_FALSE(book.wasRevoked("Bearer new"));
  EXPECT_FALSE(book.wasRevoked("Bearer never-issued"));
  EXPECT_FALSE(book.revoke("old"));
  EXPECT_EQ(book.tokenFor(Role::kController), "new");
  // The identity stays reachable by client certificate after its tokens rotate.
  EXPECT_EQ(book.certificateIdentity(kController.user).role, Role::kController);
}

TEST(TokenBookTest, RemembersOnlyTheLatestRevocations) {
  TokenBook book;
  const std::size_t count = TokenBook::kRememberedRevocations + 3;
  for (std::size_t i = 0; i < count; ++i) book.add("t" + std::to_string(i), kController);
  for (std::size_t i = 0; i < count; ++i) ASSERT_TRUE(book.revoke("t" + std::to_string(i)));
  EXPECT_FALSE(book.wasRevoked("Bearer t0"));  // forgotten: its 401 counts as an unknown token
  EXPECT_TRUE(book.wasRevoked("Bearer t" + std::to_string(count - 1)));
}

// Requests authenticate on the I/O threads while the clock loop rotates: every request sees
// either token, never a torn book.
TEST(TokenBookTest, RotatesWhileOtherThreadsAuthenticate) {
  TokenBook book;
  book.add("token-0", kController);
  book.add("agent", {"system:serviceaccount:fleetscale:fleetscale-agent", Role::kAgent});
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        if (!book.authenticate("Bearer agent")) ++failures;
        (void)book.authenticate("Bearer token-0");
      }
    });
  }
  for (int i = 1; i <= 2000; ++i) {
    book.add("token-" + std::to_string(i), kController);
    ASSERT_TRUE(book.revoke("token-" + std::to_string(i - 1)));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(book.authenticate("Bearer token-2000"));
  EXPECT_FALSE(book.authenticate("Bearer token-1999"));
}

}  // namespace
}  // namespace fleetscale::sim
