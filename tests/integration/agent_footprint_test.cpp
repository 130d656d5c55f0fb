// What the agent binary loads on every node: its resident memory is mostly shared libraries,
// so the libraries it needs are part of its footprint (docs/benchmarks.md).
#include <gtest/gtest.h>

#include "fleetscale/testing/process.h"

namespace fleetscale {
namespace {

TEST(AgentFootprintTest, TheAgentDoesNotLoadLibcurl) {
  const auto dynamic =
      testing::runCommand("/usr/bin/readelf", {"-d", testing::binaryPath("fleetscale-agent")});
  ASSERT_EQ(dynamic.status, 0) << dynamic.errors;
  ASSERT_NE(dynamic.output.find("(NEEDED)"), std::string::npos) << dynamic.output;
  EXPECT_EQ(dynamic.output.find("libcurl"), std::string::npos)
      << "libcurl brings GnuTLS, LDAP and Kerberos into every node's RSS: " << dynamic.output;
  EXPECT_NE(dynamic.output.find("libssl"), std::string::npos) << "TLS through OpenSSL";
}

}  // namespace
}  // namespace fleetscale
