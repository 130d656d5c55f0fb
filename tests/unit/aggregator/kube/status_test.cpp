// errorDetail: what an API server's refusal says, for the messages the actuator and the Lease
// backend log and store. A Kubernetes Status gives its message; anything else is shown as it
// came, cut to 200 bytes.
#include "fleetscale/aggregator/kube/status.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

TEST(ErrorDetailTest, AStatusGivesItsMessage) {
  EXPECT_EQ(errorDetail(R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                        R"("message":"deployments.apps \"web\" not found","reason":"NotFound",)"
                        R"("code":404})"),
            "deployments.apps \"web\" not found");
  // Any object with a message string: other API servers in front answer so too.
  EXPECT_EQ(errorDetail(R"({"message":"rate limited"})"), "rate limited");
}

TEST(ErrorDetailTest, OtherBodiesAreShownAsTheyCame) {
  EXPECT_EQ(errorDetail("upstream connect error"), "upstream connect error");
  EXPECT_EQ(errorDetail(""), "");
  // JSON without a message string is not a Status.
  EXPECT_EQ(errorDetail(R"({"error":"no"})"), R"({"error":"no"})");
  EXPECT_EQ(errorDetail(R"({"message":404})"), R"({"message":404})");
  EXPECT_EQ(errorDetail(R"(["message"])"), R"(["message"])");
}

TEST(ErrorDetailTest, LongBodiesAreCutTo200Bytes) {
  const std::string page = "<html>" + std::string(500, 'x') + "</html>";
  const std::string detail = errorDetail(page);
  EXPECT_EQ(detail.size(), 200u);
  EXPECT_EQ(detail, page.substr(0, 200));
  // A Status message is never cut: it is what says what to fix.
  const std::string message(300, 'm');
  EXPECT_EQ(errorDetail(R"({"kind":"Status","message":")" + message + "\"}"), message);
}

}  // namespace
}  // namespace fleetscale::aggregator
