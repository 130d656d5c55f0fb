#include "fleetscale/aggregator/api/route_support.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fleetscale::aggregator {
namespace {

TEST(RouteSupportTest, SinceAcceptsDurationsRfc3339AndMillis) {
  const WallTime now{std::chrono::seconds(1'700'000'000)};
  struct Case {
    std::string text;
    std::int64_t expected;  // -1: an error
  };
  for (const auto& c : std::vector<Case>{
           {"15m", 1'700'000'000'000 - 15 * 60 * 1000},
           {"1h", 1'700'000'000'000 - 3600 * 1000},
           {"1699999999000", 1'699'999'999'000},
           {"2023-11-14T22:13:20Z", 1'700'000'000'000},
           {"2023-11-14T22:13:20.250Z", 1'700'000'000'250},
           {"2023-11-15T00:13:20+02:00", 1'700'000'000'000},
           {"2023-11-14T22:13:20", -1},
           {"yesterday", -1},
           {"2023-11-14T22:13:20Zjunk", -1},
       }) {
    auto parsed = parseSince(c.text, now);
    if (c.expected < 0) {
      EXPECT_FALSE(parsed.ok()) << c.text;
    } else {
      ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.error().message;
      EXPECT_EQ(*parsed, c.expected) << c.text;
    }
  }
}

TEST(RouteSupportTest, ListQueryChecksLimitAndSince) {
  const WallTime now{std::chrono::seconds(1'700'000'000)};
  HttpRequest request;
  EXPECT_EQ(parseListQuery(request, now).limit, kDefaultLimit);
  EXPECT_EQ(parseListQuery(request, now, 1000).limit, 1000u);
  request.query = {{"limit", "5"}, {"since", "1m"}};
  const auto query = parseListQuery(request, now);
  EXPECT_TRUE(query.error.empty()) << query.error;
  EXPECT_EQ(query.limit, 5u);
  EXPECT_EQ(query.sinceUnixMs, 1'700'000'000'000 - 60'000);
  request.query = {{"limit", "0"}};
  EXPECT_EQ(parseListQuery(request, now).error, "limit must be a number from 1 to 100000");
  request.query = {{"since", "later"}};
  EXPECT_EQ(parseListQuery(request, now).error.rfind("since: ", 0), 0u);
}

}  // namespace
}  // namespace fleetscale::aggregator
