#include "fleetscale/agent/agent_app.h"

#include <gtest/gtest.h>

namespace fleetscale::agent {
namespace {

std::vector<std::string> addresses(const std::vector<std::string>& values) {
  auto parsed = parseAggregatorList(values);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  std::vector<std::string> out;
  if (parsed.ok()) {
    for (const auto& address : *parsed) out.push_back(address.toString());
  }
  return out;
}

std::string error(const std::vector<std::string>& values) {
  auto parsed = parseAggregatorList(values);
  return parsed.ok() ? "" : parsed.error().message;
}

using Strings = std::vector<std::string>;

TEST(AggregatorListTest, OneAddressOrSeveralInOrder) {
  EXPECT_EQ(addresses({"127.0.0.1:7070"}), (Strings{"127.0.0.1:7070"}));
  EXPECT_EQ(addresses({"agg-aws:7070,agg-gcp:7070"}), (Strings{"agg-aws:7070", "agg-gcp:7070"}));
  EXPECT_EQ(addresses({" agg-aws:7070 , [fd00::1]:7070"}),
            (Strings{"agg-aws:7070", "[fd00::1]:7070"}));
  // The flag repeated, or a YAML list: one value each.
  EXPECT_EQ(addresses({"a:1", "b:2,c:3"}), (Strings{"a:1", "b:2", "c:3"}));
}

TEST(AggregatorListTest, BadListsAreErrorsNamingTheEntry) {
  EXPECT_NE(error({"a:1,,b:2"}).find("empty address in 'a:1,,b:2'"), std::string::npos);
  EXPECT_NE(error({"a:1,"}).find("empty address"), std::string::npos);
  EXPECT_NE(error({"a:1,a:1"}).find("a:1 is listed twice"), std::string::npos);
  EXPECT_NE(error({"a:1,b"}).find('b'), std::string::npos);
  EXPECT_NE(error({"a:0"}).find("port 0"), std::string::npos);
  EXPECT_FALSE(error({}).empty());
}

TEST(StreamFlagsTest, ProtocolVersionAndCompressionTakeTheirValuesOnly) {
  EXPECT_EQ(parseMaxProtocolVersion("1").value(), 1u);
  EXPECT_EQ(parseMaxProtocolVersion("2").value(), 2u);
  EXPECT_EQ(parseStreamCompression("zstd").value(), StreamCompression::kZstd);
  EXPECT_EQ(parseStreamCompression("none").value(), StreamCompression::kNone);
  for (const char* bad : {"3", "0", "", "v2", "2 "}) {
    auto parsed = parseMaxProtocolVersion(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().message,
              "--max-protocol-version: expected 1 or 2, got '" + std::string(bad) + "'");
  }
  for (const char* bad : {"gzip", "ZSTD", ""}) {
    auto parsed = parseStreamCompression(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().message,
              "--stream-compression: expected zstd or none, got '" + std::string(bad) + "'");
  }
}

}  // namespace
}  // namespace fleetscale::agent
