// Placement as tables: weights, minimums, maximums, capacity, rounding, and stability when the
// total moves by one.
#include "fleetscale/aggregator/scaling/placement.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

ClusterSlot slot(std::string name, double weight, std::int32_t min = 0,
                 std::optional<std::int32_t> max = {}, std::optional<std::int32_t> capacity = {},
                 int preference = 0) {
  return ClusterSlot{std::move(name), weight, min, max, capacity, preference};
}

TEST(PlacementTest, AllocationTable) {
  struct Case {
    std::string name;
    std::int32_t total;
    std::vector<ClusterSlot> slots;
    Allocation expected;
    std::int32_t unplaced = 0;
  };
  const std::vector<Case> cases = {
      {"equal weights, even", 4, {slot("aws", 1), slot("gcp", 1)}, {{"aws", 2}, {"gcp", 2}}},
      {"equal weights, odd: preference breaks the tie",
       5,
       {slot("aws", 1, 0, {}, {}, 1), slot("gcp", 1, 0, {}, {}, 0)},
       {{"aws", 2}, {"gcp", 3}}},
      {"equal weights, odd, same preference: name order",
       5,
       {slot("gcp", 1), slot("aws", 1)},
       {{"aws", 3}, {"gcp", 2}}},
      {"weights 2:1", 9, {slot("aws", 2), slot("gcp", 1)}, {{"aws", 6}, {"gcp", 3}}},
      {"largest remainder",
       10,
       {slot("a", 1), slot("b", 1), slot("c", 1)},
       {{"a", 4}, {"b", 3}, {"c", 3}}},
      {"largest remainder with weights",
       7,
       {slot("a", 5), slot("b", 3), slot("c", 2)},
       {{"a", 4}, {"b", 2}, {"c", 1}}},
      {"minimums first", 3, {slot("aws", 1, 2), slot("gcp", 3, 2)}, {{"aws", 2}, {"gcp", 1}}},
      {"minimum beyond the total goes to the preferred",
       1,
       {slot("aws", 1, 1, {}, {}, 1), slot("gcp", 1, 1, {}, {}, 0)},
       {{"aws", 0}, {"gcp", 1}}},
      {"maximum spills over", 10, {slot("aws", 1, 0, 3), slot("gcp", 1)}, {{"aws", 3}, {"gcp", 7}}},
      {"capacity spills over",
       10,
       {slot("aws", 3, 0, {}, 2), slot("gcp", 1)},
       {{"aws", 2}, {"gcp", 8}}},
      {"everything full: unplaced",
       10,
       {slot("aws", 1, 0, 3), slot("gcp", 1, 0, {}, 4)},
       {{"aws", 3}, {"gcp", 4}},
       3},
      {"zero weight gets only its minimum",
       6,
       {slot("aws", 0, 1), slot("gcp", 1)},
       {{"aws", 1}, {"gcp", 5}}},
      {"standby gets nothing while the weighted clusters have room",
       6,
       {slot("aws", 1), slot("gcp", 0)},
       {{"aws", 6}, {"gcp", 0}}},
      {"standby takes what the weighted clusters cannot",
       10,
       {slot("aws", 1, 0, 4), slot("gcp", 0)},
       {{"aws", 4}, {"gcp", 6}}},
      {"standbys share the overflow equally, preference breaks the tie",
       6,
       {slot("aws", 1, 0, 1), slot("b", 0, 0, {}, {}, 2), slot("c", 0, 0, {}, {}, 1)},
       {{"aws", 1}, {"b", 2}, {"c", 3}}},
      {"only standbys", 3, {slot("a", 0), slot("b", 0)}, {{"a", 2}, {"b", 1}}},
      {"standby full too: unplaced",
       10,
       {slot("aws", 1, 0, 4), slot("gcp", 0, 0, 5)},
       {{"aws", 4}, {"gcp", 5}},
       1},
      {"single cluster", 7, {slot("aws", 1)}, {{"aws", 7}}},
      {"zero total", 0, {slot("aws", 1), slot("gcp", 1)}, {{"aws", 0}, {"gcp", 0}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto result = allocate(c.total, c.slots);
    EXPECT_EQ(result.replicas, c.expected);
    EXPECT_EQ(result.unplaced, c.unplaced);
  }
}

TEST(PlacementTest, ChangingTheTotalByOneChangesExactlyOneCluster) {
  const std::vector<ClusterSlot> slots = {slot("a", 3, 1), slot("b", 2), slot("c", 1, 0, 4)};
  Allocation current = allocate(6, slots).replicas;
  for (std::int32_t total = 7; total <= 40; ++total) {
    const Allocation next = adjustTotal(current, total, slots);
    int changed = 0;
    for (const auto& [cluster, replicas] : next) {
      EXPECT_GE(replicas, current[cluster]) << "scaling up never takes replicas from a cluster";
      changed += replicas != current[cluster];
    }
    EXPECT_EQ(changed, 1) << "total " << total;
    EXPECT_EQ(totalOf(next), total);
    current = next;
  }
  for (std::int32_t total = 39; total >= 1; --total) {
    const Allocation next = adjustTotal(current, total, slots);
    int changed = 0;
    for (const auto& [cluster, replicas] : next) {
      EXPECT_LE(replicas, current[cluster]);
      changed += replicas != current[cluster];
    }
    EXPECT_EQ(changed, 1) << "total " << total;
    current = next;
  }
  EXPECT_GE(current["a"], 1) << "minimum kept";
}

TEST(PlacementTest, AdjustingStaysCloseToTheTarget) {
  const std::vector<ClusterSlot> slots = {slot("a", 1), slot("b", 1)};
  // From a lopsided start, growth goes to the cluster below its share.
  const Allocation next = adjustTotal({{"a", 6}, {"b", 0}}, 8, slots);
  EXPECT_EQ(next, (Allocation{{"a", 6}, {"b", 2}}));
  const Allocation shrunk = adjustTotal({{"a", 6}, {"b", 2}}, 6, slots);
  EXPECT_EQ(shrunk, (Allocation{{"a", 4}, {"b", 2}})) << "shrink where above the target";
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
