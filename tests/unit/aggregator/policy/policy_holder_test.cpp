// The running policy: loaded from its file, swapped whole on reload, kept when the new file is
// wrong or gone, and counted in generations (bumped by every successful load, never by a
// failed one).
#include "fleetscale/aggregator/policy/policy_holder.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fleetscale/testing/policy_fixtures.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::aggregator {
namespace {

std::string policyWithMax(int maxReplicas) {
  return "workloads:\n"
         "  - namespace: shop\n"
         "    name: web\n"
         "    maxReplicas: " +
         std::to_string(maxReplicas) +
         "\n"
         "    metrics:\n"
         "      - type: Resource\n"
         "        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n";
}

int maxReplicasOfWeb(const PolicyHolder& holder) {
  const auto policy = holder.get();
  const WorkloadConfig* web = policy->findWorkload("shop", "web");
  return web == nullptr ? -1 : web->policy.maxReplicas;
}

class PolicyHolderTest : public ::testing::Test {
 protected:
  testing::TempDir dir_{"policy-holder"};
  std::string path_ = dir_.file("policy.yaml");
};

TEST_F(PolicyHolderTest, StartsEmptyAtGenerationZero) {
  PolicyHolder holder(path_);
  EXPECT_EQ(holder.generation(), 0u);
  EXPECT_TRUE(holder.get()->workloads.empty());
  EXPECT_EQ(holder.path(), path_);
}

TEST_F(PolicyHolderTest, ReloadReadsTheFileAndBumpsTheGeneration) {
  testing::writeFile(path_, policyWithMax(8));
  PolicyHolder holder(path_);
  ASSERT_TRUE(holder.reload()) << holder.reload().message();
  EXPECT_EQ(holder.generation(), 1u);
  EXPECT_EQ(maxReplicasOfWeb(holder), 8);

  testing::writeFile(path_, policyWithMax(12));
  ASSERT_TRUE(holder.reload());
  EXPECT_EQ(holder.generation(), 2u);
  EXPECT_EQ(maxReplicasOfWeb(holder), 12);
}

TEST_F(PolicyHolderTest, ABrokenFileIsRejectedAndTheRunningPolicyStays) {
  testing::writeFile(path_, policyWithMax(8));
  PolicyHolder holder(path_);
  ASSERT_TRUE(holder.reload());
  const auto running = holder.get();

  testing::writeFile(path_, "workloads:\n  - namespace: shop\n    maxReplicas: lots\n");
  const Status broken = holder.reload();
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.message().find("policy.yaml"), std::string::npos)
      << "names the file: " << broken.message();
  EXPECT_EQ(holder.get(), running) << "the same policy object, not a copy";
  EXPECT_EQ(holder.generation(), 1u);

  std::filesystem::remove(path_);
  EXPECT_FALSE(holder.reload().ok());
  EXPECT_EQ(holder.get(), running);
  EXPECT_EQ(holder.generation(), 1u);
}

TEST_F(PolicyHolderTest, AReaderKeepsThePolicyItGotAcrossAReload) {
  testing::writeFile(path_, policyWithMax(8));
  PolicyHolder holder(path_);
  ASSERT_TRUE(holder.reload());
  const auto before = holder.get();
  testing::writeFile(path_, policyWithMax(3));
  ASSERT_TRUE(holder.reload());
  EXPECT_EQ(before->findWorkload("shop", "web")->policy.maxReplicas, 8);
  EXPECT_EQ(maxReplicasOfWeb(holder), 3);
}

TEST_F(PolicyHolderTest, WithoutAFileReloadKeepsTheEmptyPolicy) {
  PolicyHolder holder;
  EXPECT_TRUE(holder.reload().ok());
  EXPECT_TRUE(holder.get()->workloads.empty());
  EXPECT_EQ(holder.generation(), 0u) << "nothing was loaded";
}

TEST_F(PolicyHolderTest, SetReplacesThePolicyAndBumpsTheGeneration) {
  PolicyHolder holder;
  PolicyConfig config;
  config.workloads.push_back(testing::shopWebAtHalfCpu(6));
  holder.set(config);
  EXPECT_EQ(holder.generation(), 1u);
  EXPECT_EQ(maxReplicasOfWeb(holder), 6);
}

}  // namespace
}  // namespace fleetscale::aggregator
