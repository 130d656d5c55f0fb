// Lease bodies as the API server decodes and validates them, and MicroTime.
#include "fleetscale/sim/lease_object.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

TEST(MicroTimeTest, SixFractionalDigitsAndAZoneNormalisedToUtc) {
  EXPECT_EQ(normalizeMicroTime("2024-08-14T19:29:05.123456Z"), "2024-08-14T19:29:05.123456Z");
  EXPECT_EQ(normalizeMicroTime("2024-08-14T21:29:05.000001+02:00"), "2024-08-14T19:29:05.000001Z");
  EXPECT_EQ(normalizeMicroTime("2024-12-31T23:30:00.500000-01:00"), "2025-01-01T00:30:00.500000Z");
  // Past 2262 a nanosecond clock overflows; the API server still accepts these (found by fuzzing).
  EXPECT_EQ(normalizeMicroTime("2272-08-14T19:29:05.000007Z"), "2272-08-14T19:29:05.000007Z");
  for (const char* bad :
       {"2024-08-14T19:29:05Z", "2024-08-14T19:29:05.12345Z", "2024-08-14T19:29:05.1234567Z",
        "2024-08-14T19:29:05.123456", "2023-02-29T00:00:00.000000Z", "2024-13-01T00:00:00.000000Z",
        "2024-08-14 19:29:05.123456Z", "2024-08-14T19:29:05.123456+2:00", ""}) {
    EXPECT_FALSE(normalizeMicroTime(bad)) << bad;
  }
  EXPECT_EQ(formatMicroTime(WallTime{} + std::chrono::microseconds(1'500'000)),
            "1970-01-01T00:00:01.500000Z");
}

TEST(DecodeLeaseTest, KeepsTheV1FieldsAndDropsTheRest) {
  const json body = {{"kind", "Lease"},
                     {"metadata", {{"name", "lock"}, {"labels", {{"app", "fleetscale"}}}}},
                     {"spec",
                      {{"holderIdentity", "aggregator-0"},
                       {"leaseDurationSeconds", 15},
                       {"renewTime", "2024-08-14T19:29:05.123456Z"},
                       {"leaseTransitions", 3},
                       {"preferredHolder", "x"},
                       {"somethingElse", 1}}},
                     {"status", {{"x", 1}}}};
  const ApiResult decoded = decodeLease(body, "fleetscale", "");
  ASSERT_TRUE(decoded.ok()) << decoded.error->message;
  EXPECT_EQ(decoded.object["metadata"]["namespace"], "fleetscale");
  EXPECT_EQ(decoded.object["metadata"]["labels"]["app"], "fleetscale");
  EXPECT_EQ(decoded.object["spec"], json({{"holderIdentity", "aggregator-0"},
                                          {"leaseDurationSeconds", 15},
                                          {"renewTime", "2024-08-14T19:29:05.123456Z"},
                                          {"leaseTransitions", 3}}));
  EXPECT_FALSE(decoded.object.contains("status"));
}

TEST(DecodeLeaseTest, WrongTypesAre400AndInvalidValues422) {
  auto codeOf = [](const json& body, const std::string& urlName = "") {
    const ApiResult result = decodeLease(body, "fleetscale", urlName);
    return result.ok() ? 0 : result.error->code;
  };
  const json lease = {{"metadata", {{"name", "lock"}}}, {"spec", json::object()}};
  auto with = [&](const json& patch) {
    json changed = lease;
    changed.merge_patch(patch);
    return changed;
  };
  EXPECT_EQ(codeOf(lease), 0);
  EXPECT_EQ(codeOf(with({{"spec", {{"holderIdentity", 5}}}})), 400);
  EXPECT_EQ(codeOf(with({{"spec", {{"leaseDurationSeconds", "10"}}}})), 400);
  EXPECT_EQ(codeOf(with({{"spec", {{"leaseDurationSeconds", 4294967296LL}}}})), 400);
  EXPECT_EQ(codeOf(with({{"spec", {{"renewTime", "yesterday"}}}})), 400);
  EXPECT_EQ(codeOf(with({{"metadata", {{"labels", {{"a", 1}}}}}})), 400);
  EXPECT_EQ(codeOf(with({{"kind", "ConfigMap"}})), 400);
  EXPECT_EQ(codeOf(with({{"metadata", {{"namespace", "other"}}}})), 400);
  EXPECT_EQ(codeOf(lease, "other-name"), 400);
  EXPECT_EQ(codeOf(json::array()), 400);
  EXPECT_EQ(codeOf(with({{"spec", {{"leaseDurationSeconds", 0}}}})), 422);
  EXPECT_EQ(codeOf(with({{"spec", {{"leaseTransitions", -1}}}})), 422);
  EXPECT_EQ(codeOf(with({{"metadata", {{"name", "Not_A_Name"}}}})), 422);
  EXPECT_EQ(codeOf(with({{"metadata", {{"name", "ends-with-dot."}}}})), 422);
  EXPECT_EQ(codeOf(with({{"metadata", {{"name", nullptr}}}})), 422);  // name required
  EXPECT_EQ(codeOf(with({{"metadata", {{"name", nullptr}, {"generateName", "lock-"}}}})), 0);
  EXPECT_EQ(decodeLease(std::string_view("{not json"), "fleetscale", "").error->code, 400);
  const ApiResult invalid = decodeLease(with({{"spec", {{"leaseDurationSeconds", -5}}}}), "ns", "");
  EXPECT_EQ(invalid.error->message,
            "Lease.coordination.k8s.io \"lock\" is invalid: spec.leaseDurationSeconds: Invalid "
            "value: -5: must be greater than 0");
}

}  // namespace
}  // namespace fleetscale::sim
