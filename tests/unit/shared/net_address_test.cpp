#include "fleetscale/shared/net_address.h"

#include <gtest/gtest.h>

namespace fleetscale {
namespace {

TEST(NetAddressTest, ParsesHostPortForms) {
  auto plain = parseHostPort("aggregator.example:7070");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "aggregator.example");
  EXPECT_EQ(plain->port, 7070);
  auto any = parseHostPort(":0");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 0);
  auto v6 = parseHostPort("[::1]:7080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->toString(), "[::1]:7080");
}

TEST(NetAddressTest, RejectsBadAddresses) {
  EXPECT_FALSE(parseHostPort("nohost").ok());
  EXPECT_FALSE(parseHostPort("host:99999").ok());
  EXPECT_FALSE(parseHostPort("host:").ok());
  EXPECT_FALSE(parseHostPort("::1:7070").ok()) << "IPv6 needs brackets";
}

}  // namespace
}  // namespace fleetscale
