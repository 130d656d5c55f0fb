#include "fleetscale/shared/quantity.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fleetscale {
namespace {

TEST(QuantityTest, CpuValues) {
  const struct {
    std::string text;
    double cores;
  } cases[] = {
      {"100m", 0.1},       {"1", 1},       {"0.5", 0.5},    {"1.5", 1.5},
      {"250m", 0.25},      {"2000m", 2},   {"0", 0},        {"+3", 3},
      {".5", 0.5},         {"5.", 5},      {"1e3", 1000},   {"1E3", 1000},
      {"5e-3", 0.005},     {"1e+2", 100},  {"1k", 1000},    {"500u", 0.0005},
      {"1000000n", 0.001}, {"-1", -1},     {"0.1", 0.1},    {"48m", 0.048},
      {"101m", 0.101},     {"0.100", 0.1}, {"1.050", 1.05},
  };
  for (const auto& c : cases) {
    auto value = parseQuantity(c.text);
    ASSERT_TRUE(value.ok()) << c.text << ": " << value.error().message;
    EXPECT_DOUBLE_EQ(*value, c.cores) << c.text;
  }
}

TEST(QuantityTest, MemoryValuesRoundUpLikeQuantityValue) {
  const struct {
    std::string text;
    std::uint64_t bytes;
  } cases[] = {
      {"128974848", 128974848},
      {"129e6", 129000000},
      {"129M", 129000000},
      {"123Mi", 123ULL << 20},
      {"100Mi", 104857600},
      {"1Ki", 1024},
      {"1.5Ki", 1536},
      {"1.1Gi", 1181116007},  // 1181116006.4, rounded up
      {"1Gi", 1ULL << 30},
      {"2Ti", 2ULL << 40},
      {"1Pi", 1ULL << 50},
      {"1Ei", 1ULL << 60},
      {"1E", 1000000000000000000ULL},  // a lone E is exa, not an exponent
      {"1k", 1000},
      {"100m", 1},  // 0.1 byte
      {"0", 0},
      {"0.0", 0},
      {"1e-30", 1},
      {"18446744073709551615", 18446744073709551615ULL},
      {"1.00000000000000000000000000000", 1},  // trailing zeros are not precision
  };
  for (const auto& c : cases) {
    auto value = parseQuantityCeil(c.text);
    ASSERT_TRUE(value.ok()) << c.text << ": " << value.error().message;
    EXPECT_EQ(*value, c.bytes) << c.text;
  }
}

TEST(QuantityTest, RejectsWhatKubernetesRejects) {
  for (const std::string text :
       {"", " ", "m", "Ki", "1.2.3", "1 Mi", "1mi", "1KI", "1e", "1e1.5", "1x", "--1", "1Mi ",
        "abc", "1e999", "12345678901234567890123", ".", "+", "1Kii"}) {
    EXPECT_FALSE(parseQuantity(text).ok()) << "'" << text << "'";
    EXPECT_FALSE(parseQuantityCeil(text).ok()) << "'" << text << "'";
  }
  EXPECT_FALSE(parseQuantityCeil("-1").ok()) << "a negative byte count";
  EXPECT_FALSE(parseQuantityCeil("18446744073709551616").ok()) << "2^64";
  EXPECT_FALSE(parseQuantityCeil("20Ei").ok()) << "beyond 2^64";
  EXPECT_FALSE(parseQuantityCeil("1e20").ok());
}

TEST(QuantityTest, MilliValues) {
  struct Case {
    const char* text;
    std::int64_t milli;
  };
  for (const auto& c : std::vector<Case>{{"500m", 500},
                                         {"1", 1000},
                                         {"0.1", 100},
                                         {"0.3", 300},
                                         {"1.5", 1500},
                                         {"2k", 2'000'000},
                                         {"1Ki", 1'024'000},
                                         {"256Mi", 268'435'456'000},
                                         {"1.5Gi", 1'610'612'736'000},
                                         {"2G", 2'000'000'000'000},
                                         {"100n", 1},  // rounded up, as MilliValue()
                                         {"250u", 1},
                                         {"1e3", 1'000'000},
                                         {"1E-3", 1},
                                         {"+3", 3000},
                                         {"-2", -2000},
                                         {"0", 0}}) {
    auto parsed = parseQuantityMilli(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, c.milli) << c.text;
  }
}

TEST(QuantityTest, MilliRejectsMalformedAndOversized) {
  for (const char* text :
       {"", "m", "1.2.3", "12x", "1Kb", "1e", "1e999", "abc", "1 Gi", "--1", "1.5.Gi", " 7 "}) {
    EXPECT_FALSE(parseQuantityMilli(text).ok()) << text;
  }
  EXPECT_FALSE(parseQuantityMilli("9E").ok()) << "beyond int64 milli-units";
  EXPECT_FALSE(parseQuantityMilli("99999999999999999999999999999").ok());
}

}  // namespace
}  // namespace fleetscale
