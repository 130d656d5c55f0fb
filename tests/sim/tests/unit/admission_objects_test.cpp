#include "fleetscale/sim/admission_objects.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

constexpr double kMi = 1024.0 * 1024.0;

json limitRange(const std::string& name, const json& limits) {
  auto decoded = decodeLimitRange(
      json{{"metadata", {{"name", name}}}, {"spec", {{"limits", limits}}}}, "shop", "", nullptr);
  if (!decoded.ok()) throw std::runtime_error(decoded.error->message);
  return decoded.object;
}

json quota(const std::string& name, const json& hard) {
  auto decoded = decodeResourceQuota(
      json{{"metadata", {{"name", name}}}, {"spec", {{"hard", hard}}}}, "shop", "", nullptr);
  if (!decoded.ok()) throw std::runtime_error(decoded.error->message);
  return decoded.object;
}

ContainerResources resources(std::optional<double> cpuRequest, std::optional<double> cpuLimit,
                             std::optional<double> memoryRequest,
                             std::optional<double> memoryLimit) {
  return {cpuRequest, cpuLimit, memoryRequest, memoryLimit};
}

TEST(AdmissionObjectsTest, LimitRangerWordsEachContainerViolation) {
  const std::vector<json> ranges = {
      limitRange("bounds", json::array({{{"type", "Container"},
                                         {"min", {{"cpu", "100m"}, {"memory", "64Mi"}}},
                                         {"max", {{"cpu", "2"}, {"memory", "1Gi"}}}}}))};
  struct Case {
    ContainerResources resources;
    std::string why;  // "" = admitted
  };
  const std::vector<Case> cases = {
      {resources(0.5, 1, 128 * kMi, 256 * kMi), ""},
      {resources(0.5, 4, 128 * kMi, 256 * kMi),
       "maximum cpu usage per Container is 2, but limit is 4"},
      {resources(3, std::nullopt, 128 * kMi, 256 * kMi),
       "maximum cpu usage per Container is 2.  No limit is specified"},
      {resources(0.05, 1, 128 * kMi, 256 * kMi),
       "minimum cpu usage per Container is 100m, but request is 50m"},
      {resources(0.5, 1, 128 * kMi, 2048 * kMi),
       "maximum memory usage per Container is 1Gi, but limit is 2Gi"},
      // A request the pod lacks is its limit, as the API server defaulted it.
      {resources(std::nullopt, 1, std::nullopt, 32 * kMi),
       "minimum memory usage per Container is 64Mi, but request is 32Mi"},
      {resources(0.05, 4, 128 * kMi, 256 * kMi),
       "[minimum cpu usage per Container is 100m, but request is 50m, maximum cpu usage per "
       "Container is 2, but limit is 4]"},
  };
  for (const auto& c : cases) {
    const auto refused = limitRangeRefusal("web-0", c.resources, ranges);
    if (c.why.empty()) {
      EXPECT_FALSE(refused) << refused->message;
      continue;
    }
    ASSERT_TRUE(refused) << c.why;
    EXPECT_EQ(refused->code, 403);
    EXPECT_EQ(refused->reason, "Forbidden");
    EXPECT_EQ(refused->message, "pods \"web-0\" is forbidden: " + c.why);
  }
}

TEST(AdmissionObjectsTest, TheFirstLimitRangeByNameAnswersAndOtherTypesAreNotEnforced) {
  const std::vector<json> ranges = {
      limitRange("zz", json::array({{{"type", "Container"}, {"max", {{"cpu", "1"}}}}})),
      limitRange("aa", json::array({{{"type", "Container"}, {"max", {{"cpu", "500m"}}}},
                                    {{"type", "Pod"}, {"max", {{"cpu", "1m"}}}}}))};
  const auto refused = limitRangeRefusal("web-0", resources(0.5, 2, {}, {}), ranges);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->message,
            "pods \"web-0\" is forbidden: maximum cpu usage per Container is 500m, but limit is 2");
  EXPECT_FALSE(limitRangeRefusal("web-0", resources(0.25, 0.5, {}, {}), ranges));
}

TEST(AdmissionObjectsTest, QuotaRefusesOnlyGrowthPastAHardLimit) {
  const std::vector<json> quotas = {
      quota("compute", {{"requests.cpu", "2"}, {"limits.memory", "1Gi"}, {"pods", "10"}}),
      quota("requests", {{"memory", "512Mi"}})};
  QuotaUsage used;
  used.requestsCpu = 1.5;
  used.requestsMemory = 256 * kMi;
  used.limitsMemory = 768 * kMi;
  const auto before = resources(0.5, 1, 128 * kMi, 256 * kMi);
  struct Case {
    ContainerResources after;
    std::string why;
  };
  const std::vector<Case> cases = {
      {before, ""},
      {resources(1, 1, 128 * kMi, 256 * kMi), ""},  // 2 of 2
      {resources(0.25, 1, 64 * kMi, 128 * kMi), ""},
      {resources(1.5, 2, 128 * kMi, 256 * kMi),
       "exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=1500m, limited: "
       "requests.cpu=2"},
      {resources(1.5, 2, 128 * kMi, 768 * kMi),
       "exceeded quota: compute, requested: limits.memory=512Mi,requests.cpu=1, used: "
       "limits.memory=768Mi,requests.cpu=1500m, limited: limits.memory=1Gi,requests.cpu=2"},
      // `memory` is the requests' other name.
      {resources(0.5, 1, 512 * kMi, 512 * kMi),
       "exceeded quota: requests, requested: memory=384Mi, used: memory=256Mi, limited: "
       "memory=512Mi"},
  };
  for (const auto& c : cases) {
    const auto refused = quotaRefusal("web-0", before, c.after, quotas, used);
    if (c.why.empty()) {
      EXPECT_FALSE(refused) << refused->message;
      continue;
    }
    ASSERT_TRUE(refused) << c.why;
    EXPECT_EQ(refused->code, 403);
    EXPECT_EQ(refused->message, "pods \"web-0\" is forbidden: " + c.why);
  }
}

// The plugin checks only what the request grows: a namespace already over its CPU quota (the
// quota lowered since) may still grow memory, and not CPU.
TEST(AdmissionObjectsTest, QuotaOverOneLimitStillLetsAnotherGrow) {
  const std::vector<json> quotas = {
      quota("compute", {{"requests.cpu", "1"}, {"requests.memory", "1Gi"}})};
  QuotaUsage used;
  used.requestsCpu = 1.5;
  used.requestsMemory = 256 * kMi;
  const auto before = resources(0.5, 1, 128 * kMi, 256 * kMi);
  EXPECT_FALSE(
      quotaRefusal("web-0", before, resources(0.5, 1, 192 * kMi, 256 * kMi), quotas, used));
  EXPECT_FALSE(
      quotaRefusal("web-0", before, resources(0.25, 1, 128 * kMi, 256 * kMi), quotas, used));
  const auto refused =
      quotaRefusal("web-0", before, resources(0.6, 1, 192 * kMi, 256 * kMi), quotas, used);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->message,
            "pods \"web-0\" is forbidden: exceeded quota: compute, requested: requests.cpu=100m, "
            "used: requests.cpu=1500m, limited: requests.cpu=1");
}

TEST(AdmissionObjectsTest, QuotaStatusShowsHardAndUsed) {
  QuotaUsage used = quotaUsageOf(resources(std::nullopt, 1, 128 * kMi, std::nullopt));
  used += quotaUsageOf(resources(0.5, 1, 128 * kMi, 256 * kMi));
  const json shown = withQuotaStatus(
      quota("q", {{"requests.cpu", "4"}, {"limits.memory", "1Gi"}, {"pods", "3"}}), used);
  EXPECT_EQ(shown["status"]["hard"]["requests.cpu"], "4");
  EXPECT_EQ(shown["status"]["used"]["requests.cpu"], "1500m");   // a missing request is the limit
  EXPECT_EQ(shown["status"]["used"]["limits.memory"], "256Mi");  // a missing limit counts nothing
  EXPECT_EQ(shown["status"]["used"]["pods"], "0");               // not modelled
}

TEST(AdmissionObjectsTest, DecodersRefuseWhatTheApiServerRefuses) {
  const auto decodeRange = [](const std::string& body) {
    return decodeLimitRange(json::parse(body), "shop", "", nullptr);
  };
  EXPECT_EQ(decodeRange(R"({"metadata":{"name":"x"},"spec":{"limits":{}}})").error->code, 400);
  EXPECT_EQ(
      decodeRange(
          R"({"metadata":{"name":"x"},"spec":{"limits":[{"type":"Container","max":{"cpu":"lots"}}]}})")
          .error->code,
      400);
  const auto untyped =
      decodeRange(R"({"metadata":{"name":"x"},"spec":{"limits":[{"max":{"cpu":"1"}}]}})");
  ASSERT_FALSE(untyped.ok());
  EXPECT_EQ(untyped.error->message,
            "LimitRange \"x\" is invalid: spec.limits[0].type: Unsupported value: \"\": supported "
            "values: \"Container\", \"PersistentVolumeClaim\", \"Pod\"");
  EXPECT_EQ(decodeRange(R"({"metadata":{"name":"Bad_Name"},"spec":{}})").error->code, 422);
  EXPECT_EQ(decodeRange(R"({"kind":"ResourceQuota","metadata":{"name":"x"}})").error->code, 400);
  EXPECT_EQ(
      decodeResourceQuota(json::parse(R"({"metadata":{"name":"q"},"spec":{"hard":{"cpu":"x"}}})"),
                          "shop", "", nullptr)
          .error->code,
      400);
  // An update keeps the stored status (a subresource) whatever the body says.
  const json current = {{"status", {{"used", {{"cpu", "1"}}}}}};
  const auto updated = decodeResourceQuota(
      json::parse(R"({"metadata":{"name":"q"},"spec":{"hard":{"cpu":"2"}},"status":{"used":{}}})"),
      "shop", "q", &current);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated.object["status"], current["status"]);
}

}  // namespace
}  // namespace fleetscale::sim
