#include "fleetscale/sim/quantity.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

TEST(QuantityTest, ParsesTheSuffixesKubernetesAccepts) {
  const std::pair<const char*, double> cases[] = {
      {"500m", 0.5},
      {"2", 2.0},
      {"1.5", 1.5},
      {"100Mi", 100.0 * 1048576},
      {"1Gi", 1073741824.0},
      {"1G", 1e9},
      {"128974848", 128974848.0},
      {"129M", 129e6},
      {"123Mi", 128974848.0},
      {"1e3", 1000.0},
      {"250u", 250e-6},
      {"3k", 3000.0},
      {"+2", 2.0},
      {".5", 0.5},
      {"1Ki", 1024.0},
  };
  for (const auto& [text, expected] : cases) {
    auto value = parseQuantity(text);
    ASSERT_TRUE(value) << text << ": " << value.error().message;
    EXPECT_DOUBLE_EQ(*value, expected) << text;
  }
}

TEST(QuantityTest, RejectsWhatKubernetesRejects) {
  for (const char* text : {"", "-1", "abc", "1.2.3", "5X", "1Mii", "m", "1e99", "Mi"}) {
    EXPECT_FALSE(parseQuantity(text)) << text;
  }
}

TEST(QuantityTest, FormatsCanonically) {
  EXPECT_EQ(formatCpu(0.5), "500m");
  EXPECT_EQ(formatCpu(2), "2");
  EXPECT_EQ(formatCpu(0.0001), "1m");  // rounded up, as the API server does for CPU
  EXPECT_EQ(formatCpu(1.25), "1250m");
  EXPECT_EQ(formatMemory(256.0 * 1048576), "256Mi");
  EXPECT_EQ(formatMemory(1073741824.0), "1Gi");
  EXPECT_EQ(formatMemory(1000), "1000");
  EXPECT_EQ(formatMemory(0), "0");
  EXPECT_EQ(toMilliCores(0.1), 100);
}

}  // namespace
}  // namespace fleetscale::sim
