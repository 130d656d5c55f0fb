#include "fleetscale/aggregator/scaling/startup.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator::scaling {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const WallTime kT0{seconds(1'700'000'000)};

TEST(StartupTrackerTest, MeasuresFromTheRequestToThatManyReadyReplicas) {
  StartupTracker tracker;
  EXPECT_FALSE(tracker.startupTime("aws"));
  tracker.scaleWritten("aws", 2, 5, kT0);
  tracker.readySeen("aws", 4, kT0 + seconds(30));
  EXPECT_FALSE(tracker.startupTime("aws")) << "not all ready yet";
  tracker.readySeen("aws", 5, kT0 + seconds(40));
  EXPECT_EQ(tracker.startupTime("aws"), milliseconds(40'000));
  EXPECT_EQ(tracker.measurements("aws"), 1u);
  // A second, faster start weighs a quarter.
  tracker.scaleWritten("aws", 5, 6, kT0 + seconds(100));
  tracker.readySeen("aws", 6, kT0 + seconds(120));
  EXPECT_EQ(tracker.startupTime("aws"), milliseconds(35'000));
}

TEST(StartupTrackerTest, ARaiseWhileMeasuringKeepsTheFirstClockAndACutCancels) {
  StartupTracker tracker;
  tracker.scaleWritten("gcp", 2, 4, kT0);
  tracker.scaleWritten("gcp", 4, 8, kT0 + seconds(10));
  tracker.readySeen("gcp", 4, kT0 + seconds(25));
  EXPECT_EQ(tracker.startupTime("gcp"), milliseconds(25'000));
  tracker.scaleWritten("gcp", 8, 10, kT0 + seconds(30));
  tracker.scaleWritten("gcp", 10, 3, kT0 + seconds(31));
  tracker.readySeen("gcp", 10, kT0 + seconds(90));
  EXPECT_EQ(tracker.measurements("gcp"), 1u) << "the cut cancelled the measurement";
}

TEST(StartupTrackerTest, PodsThatNeverBecomeReadyAreNoStartUpTime) {
  StartupTracker tracker;
  tracker.scaleWritten("azure", 1, 3, kT0);
  tracker.readySeen("azure", 3, kT0 + StartupTracker::kGiveUpAfter + seconds(1));
  EXPECT_FALSE(tracker.startupTime("azure"));
}

TEST(StartupTrackerTest, TheSlowestClusterSetsTheFleetLookAhead) {
  StartupTracker tracker;
  tracker.scaleWritten("aws", 1, 2, kT0);
  tracker.readySeen("aws", 2, kT0 + seconds(20));
  tracker.scaleWritten("gcp", 1, 2, kT0);
  tracker.readySeen("gcp", 2, kT0 + seconds(70));
  EXPECT_EQ(tracker.slowest(), milliseconds(70'000));
}

}  // namespace
}  // namespace fleetscale::aggregator::scaling
