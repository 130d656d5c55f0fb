#include "fleetscale/shared/quantity.h"

#include <gtest/gtest.h>

namespace fleetscale {
namespace {

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
                                         {" 7 ", 7000},
                                         {"0", 0}}) {
    auto parsed = parseQuantityMilli(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, c.milli) << c.text;
  }
}

TEST(QuantityTest, Values) {
  EXPECT_EQ(*parseQuantityValue("1.5Gi"), 1'610'612'736);
  EXPECT_EQ(*parseQuantityValue("100m"), 1) << "rounded up, as Value()";
  EXPECT_EQ(*parseQuantityValue("128974848"), 128'974'848);
  EXPECT_EQ(*parseQuantityValue("129e6"), 129'000'000);
  EXPECT_EQ(*parseQuantityValue("123Mi"), 128'974'848);
}

TEST(QuantityTest, Malformed) {
  for (const char* text :
       {"", "m", "1.2.3", "12x", "1Kb", "1e", "1e999", "abc", "1 Gi", "--1", "1.5.Gi"}) {
    EXPECT_FALSE(parseQuantityMilli(text).ok()) << text;
  }
  EXPECT_FALSE(parseQuantityMilli("9E").ok()) << "beyond int64 milli-units";
  EXPECT_FALSE(parseQuantityMilli("99999999999999999999999999999").ok());
}

}  // namespace
}  // namespace fleetscale
