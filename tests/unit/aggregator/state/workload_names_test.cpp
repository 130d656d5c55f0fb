#include "fleetscale/aggregator/state/workload_names.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

using std::chrono::minutes;

const WallTime kT0{std::chrono::seconds(1'700'000'000)};
const auto kAfter = minutes(10);

// One sweep: `inUse` lists the ids the records hold.
std::size_t sweep(WorkloadNames& names, const std::vector<WorkloadNames::Id>& inUse, WallTime now) {
  const auto token = names.beginSweep();
  std::vector<bool> used;
  for (const auto id : inUse) {
    if (used.size() <= id) used.resize(id + 1);
    used[id] = true;
  }
  return names.endSweep(token, used, now, kAfter);
}

TEST(WorkloadNamesTest, OneIdPerName) {
  WorkloadNames names;
  const auto web = names.intern("shop", "Deployment", "web");
  const auto api = names.intern("shop", "Deployment", "api");
  EXPECT_NE(web, api);
  EXPECT_EQ(names.intern("shop", "Deployment", "web"), web);
  EXPECT_NE(names.intern("shop", "StatefulSet", "web"), web) << "the kind is part of the name";
  EXPECT_EQ(names.keys({api, web}), (std::vector<WorkloadKey>{{"shop", "Deployment", "api"},
                                                              {"shop", "Deployment", "web"}}));
  EXPECT_EQ(names.size(), 3u);
}

TEST(WorkloadNamesTest, ForgetsANameUnusedForTheWindowAndReusesItsId) {
  WorkloadNames names;
  const auto job = names.intern("batch", "Job", "report-28901");
  const auto web = names.intern("shop", "Deployment", "web");
  EXPECT_EQ(sweep(names, {job, web}, kT0), 0u);
  EXPECT_EQ(sweep(names, {web}, kT0 + minutes(5)), 0u) << "unused for 5 of 10 minutes";
  EXPECT_EQ(sweep(names, {web}, kT0 + minutes(11)), 1u) << "unused for 11 minutes";
  EXPECT_EQ(names.size(), 1u);
  const auto next = names.intern("batch", "Job", "report-28902");
  EXPECT_EQ(next, job) << "the forgotten id is reused";
  EXPECT_EQ(names.keys({next, web})[0].name, "report-28902");
  EXPECT_EQ(names.intern("shop", "Deployment", "web"), web) << "a name in use keeps its id";
}

TEST(WorkloadNamesTest, ANameInternedDuringTheSweepIsNotForgotten) {
  WorkloadNames names;
  const auto old = names.intern("batch", "Job", "report-1");
  EXPECT_EQ(sweep(names, {}, kT0), 0u);
  // The pass over the records missed it (a batch folded right after the pass read its node).
  const auto token = names.beginSweep();
  EXPECT_EQ(names.intern("batch", "Job", "report-1"), old);
  EXPECT_EQ(names.endSweep(token, {}, kT0 + minutes(30), kAfter), 0u);
  EXPECT_EQ(names.size(), 1u);
  // Not used since: it counts as seen up to the next sweep, and is forgotten a window after that.
  EXPECT_EQ(sweep(names, {}, kT0 + minutes(35)), 0u);
  EXPECT_EQ(sweep(names, {}, kT0 + minutes(44)), 0u);
  EXPECT_EQ(sweep(names, {}, kT0 + minutes(46)), 1u);
}

TEST(WorkloadNamesTest, ANameInternedBetweenSweepsGetsTheWholeWindow) {
  WorkloadNames names;
  EXPECT_EQ(sweep(names, {}, kT0), 0u);
  // Interned and dropped again by its container before the next pass.
  names.intern("batch", "Job", "report-2");
  EXPECT_EQ(sweep(names, {}, kT0 + minutes(1)), 0u);
  EXPECT_EQ(sweep(names, {}, kT0 + minutes(9)), 0u);
  EXPECT_EQ(sweep(names, {}, kT0 + minutes(12)), 1u);
}

}  // namespace
}  // namespace fleetscale::aggregator
