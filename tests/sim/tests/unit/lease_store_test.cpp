// The Leases an API server stores: versions, no-op writes, preconditions, generateName.
#include "fleetscale/sim/lease_store.h"

#include <gtest/gtest.h>

#include "fleetscale/sim/lease_object.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

class LeaseStoreTest : public ::testing::Test {
 protected:
  json decoded(const json& body, const std::string& urlName = "") {
    const ApiResult result = decodeLease(body, "fleetscale", urlName);
    EXPECT_TRUE(result.ok()) << result.error->message;
    return result.object;
  }
  std::string versionOf(const std::string& name) {
    return (*store_.find("fleetscale", name))["metadata"]["resourceVersion"];
  }

  LeaseStore store_{7};
  std::uint64_t version_ = 100;
  LeaseStore::NextVersion next_ = [this] { return ++version_; };
  const WallTime now_ = WallTime{} + std::chrono::hours(24 * 365 * 54);
};

TEST_F(LeaseStoreTest, EveryChangeTakesTheNextVersionAndNoOpsKeepTheirs) {
  const json lease = {{"metadata", {{"name", "lock"}}}, {"spec", {{"holderIdentity", "a"}}}};
  const ApiResult created = store_.create("fleetscale", decoded(lease), now_, next_);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created.object["metadata"]["resourceVersion"], "101");
  EXPECT_EQ(created.object["metadata"]["creationTimestamp"], rfc3339(now_));

  // Unconditional (no resourceVersion sent) and changing: a new version.
  const json renewed = {{"metadata", {{"name", "lock"}}}, {"spec", {{"holderIdentity", "b"}}}};
  ASSERT_TRUE(store_.update("fleetscale", "lock", decoded(renewed, "lock"), next_).ok());
  EXPECT_EQ(versionOf("lock"), "102");
  // The same content again changes nothing, so the version stays.
  ASSERT_TRUE(store_.update("fleetscale", "lock", decoded(renewed, "lock"), next_).ok());
  EXPECT_EQ(versionOf("lock"), "102");
  EXPECT_EQ(version_, 102u);

  // A write against an older version fails and leaves everything as it was.
  const json stale = {{"metadata", {{"name", "lock"}, {"resourceVersion", "101"}}},
                      {"spec", {{"holderIdentity", "c"}}}};
  const ApiResult conflict = store_.update("fleetscale", "lock", decoded(stale, "lock"), next_);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error->reason, "Conflict");
  EXPECT_EQ((*store_.find("fleetscale", "lock"))["spec"]["holderIdentity"], "b");
  EXPECT_EQ(version_, 102u);

  EXPECT_EQ(store_.create("fleetscale", decoded(lease), now_, next_).error->reason,
            "AlreadyExists");
  EXPECT_EQ(
      store_
          .update("fleetscale", "gone", decoded({{"metadata", {{"name", "gone"}}}}, "gone"), next_)
          .error->code,
      404);
}

TEST_F(LeaseStoreTest, DeleteHonoursPreconditionsAndGenerateNameMakesANewName) {
  const json lease = {{"metadata", {{"generateName", "lock-"}}}};
  const ApiResult created = store_.create("fleetscale", decoded(lease), now_, next_);
  ASSERT_TRUE(created.ok());
  const std::string name = created.object["metadata"]["name"];
  EXPECT_EQ(name.rfind("lock-", 0), 0u);
  EXPECT_EQ(name.size(), 10u);

  const ApiResult refused =
      store_.remove("fleetscale", name, {{"preconditions", {{"resourceVersion", "1"}}}}, next_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error->code, 409);
  EXPECT_NE(refused.error->message.find("Precondition failed: ResourceVersion in precondition: 1"),
            std::string::npos);
  const ApiResult removed = store_.remove(
      "fleetscale", name, {{"preconditions", {{"uid", created.object["metadata"]["uid"]}}}}, next_);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(store_.find("fleetscale", name), nullptr);
  EXPECT_TRUE(store_.list("").empty());
  EXPECT_EQ(store_.remove("fleetscale", name, nullptr, next_).error->code, 404);
}

TEST_F(LeaseStoreTest, ListsByNamespace) {
  for (const char* ns : {"fleetscale", "kube-system"}) {
    const ApiResult decodedLease = decodeLease(json{{"metadata", {{"name", "lock"}}}}, ns, "");
    ASSERT_TRUE(store_.create(ns, decodedLease.object, now_, next_).ok());
  }
  EXPECT_EQ(store_.list("").size(), 2u);
  ASSERT_EQ(store_.list("kube-system").size(), 1u);
  EXPECT_EQ(store_.list("kube-system")[0]["metadata"]["namespace"], "kube-system");
}

}  // namespace
}  // namespace fleetscale::sim
