#include "fleetscale/sim/load_curve.h"

#include <gtest/gtest.h>

namespace fleetscale::sim {
namespace {

TEST(LoadCurveTest, ConstantStepRampDiurnalSpikeAndSum) {
  EXPECT_DOUBLE_EQ(LoadCurve::constant(2.5).at(100), 2.5);

  LoadCurve step;
  step.kind = LoadCurve::Kind::kStep;
  step.value = 1;
  step.points = {{10, 3}, {20, 2}};
  EXPECT_DOUBLE_EQ(step.at(0), 1);
  EXPECT_DOUBLE_EQ(step.at(9.99), 1);
  EXPECT_DOUBLE_EQ(step.at(10), 3);
  EXPECT_DOUBLE_EQ(step.at(15), 3);
  EXPECT_DOUBLE_EQ(step.at(25), 2);

  LoadCurve ramp;
  ramp.kind = LoadCurve::Kind::kRamp;
  ramp.from = 1;
  ramp.to = 5;
  ramp.start = 10;
  ramp.end = 20;
  EXPECT_DOUBLE_EQ(ramp.at(0), 1);
  EXPECT_DOUBLE_EQ(ramp.at(15), 3);
  EXPECT_DOUBLE_EQ(ramp.at(30), 5);

  LoadCurve diurnal;
  diurnal.kind = LoadCurve::Kind::kDiurnal;
  diurnal.min = 1;
  diurnal.max = 3;
  diurnal.period = 60;
  EXPECT_NEAR(diurnal.at(0), 1, 1e-9);
  EXPECT_NEAR(diurnal.at(15), 2, 1e-9);
  EXPECT_NEAR(diurnal.at(30), 3, 1e-9);
  EXPECT_NEAR(diurnal.at(60), 1, 1e-9);

  LoadCurve spike;
  spike.kind = LoadCurve::Kind::kSpike;
  spike.value = 1;
  spike.peak = 4;
  spike.start = 5;
  spike.duration = 2;
  spike.every = 10;
  EXPECT_DOUBLE_EQ(spike.at(4.9), 1);
  EXPECT_DOUBLE_EQ(spike.at(5), 4);
  EXPECT_DOUBLE_EQ(spike.at(6.9), 4);
  EXPECT_DOUBLE_EQ(spike.at(7), 1);
  EXPECT_DOUBLE_EQ(spike.at(15.5), 4);  // repeats

  LoadCurve sum;
  sum.kind = LoadCurve::Kind::kSum;
  sum.parts = {LoadCurve::constant(1), spike};
  EXPECT_DOUBLE_EQ(sum.at(5.5), 5);
}

TEST(LoadCurveTest, RecordedInterpolatesHoldsAndLoops) {
  LoadCurve recorded;
  recorded.kind = LoadCurve::Kind::kRecorded;
  recorded.points = {{0, 1}, {10, 3}, {20, 1}};
  EXPECT_DOUBLE_EQ(recorded.at(5), 2);
  EXPECT_DOUBLE_EQ(recorded.at(25), 1);
  recorded.interpolate = false;
  EXPECT_DOUBLE_EQ(recorded.at(5), 1);
  recorded.interpolate = true;
  recorded.loop = true;
  EXPECT_DOUBLE_EQ(recorded.at(25), 2);  // 25 -> 5 in a 20 s loop
  recorded.phase = 10;                   // replay from the recording's 10 s on
  EXPECT_DOUBLE_EQ(recorded.at(0), 3);
  EXPECT_DOUBLE_EQ(recorded.at(5), 2);
  EXPECT_DOUBLE_EQ(recorded.at(15), 2);  // 25 -> 5 in the loop
}

TEST(LoadCurveTest, NeverNegative) {
  LoadCurve ramp;
  ramp.kind = LoadCurve::Kind::kRamp;
  ramp.from = -5;
  ramp.to = -1;
  EXPECT_DOUBLE_EQ(ramp.at(0), 0);
}

TEST(LoadCurveTest, ParsesRecordedCsv) {
  auto points = parseLoadCsv("# exported from Prometheus\nt,cores\n0,500m\n5s,1.5\n10,2\n");
  ASSERT_TRUE(points) << points.error().message;
  ASSERT_EQ(points->size(), 3u);
  EXPECT_DOUBLE_EQ((*points)[0].value, 0.5);
  EXPECT_DOUBLE_EQ((*points)[1].seconds, 5);
  EXPECT_DOUBLE_EQ((*points)[2].value, 2);
}

TEST(LoadCurveTest, CsvErrorsNameTheLine) {
  auto backwards = parseLoadCsv("0,1\n5,2\n3,1\n");
  ASSERT_FALSE(backwards);
  EXPECT_NE(backwards.error().message.find("line 3"), std::string::npos);
  auto badValue = parseLoadCsv("0,1\n5,lots\n");
  ASSERT_FALSE(badValue);
  EXPECT_NE(badValue.error().message.find("line 2"), std::string::npos);
  EXPECT_FALSE(parseLoadCsv("# nothing\n"));
}

}  // namespace
}  // namespace fleetscale::sim
