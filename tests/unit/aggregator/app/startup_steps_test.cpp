#include "fleetscale/aggregator/app/startup_steps.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fleetscale::aggregator {
namespace {

// Steps that write "+name" when they start and "-name" when they stop into one journal.
class StartupStepsTest : public ::testing::Test {
 protected:
  Step step(const std::string& name, const StepResult& result = StepResult::ok()) {
    return Step{name,
                [this, name, result] {
                  journal_.push_back("+" + name);
                  return result;
                },
                [this, name] { journal_.push_back("-" + name); }};
  }
  StartupOutcome run(const std::vector<Step>& steps) { return runSteps(steps, log_); }
  std::string logged() const { return logText_.str(); }

  std::vector<std::string> journal_;
  std::ostringstream logText_;
  spdlog::logger log_{"startup-test", std::make_shared<spdlog::sinks::ostream_sink_st>(logText_)};
};

TEST_F(StartupStepsTest, StartsInOrderAndStopsInReverse) {
  const auto outcome = run({step("store"), step("listeners"), step("serve")});
  EXPECT_TRUE(outcome.completed);
  EXPECT_EQ(outcome.exitCode, 0);
  EXPECT_EQ(journal_, (std::vector<std::string>{"+store", "+listeners", "+serve", "-serve",
                                                "-listeners", "-store"}));
}

TEST_F(StartupStepsTest, FatalStepStopsOnlyTheStepsThatStarted) {
  const auto outcome =
      run({step("store"), step("restore"),
           step("listeners", StepResult::fatal(1, "port 7070 is in use")), step("serve")});
  EXPECT_FALSE(outcome.completed);
  EXPECT_EQ(outcome.exitCode, 1);
  EXPECT_EQ(journal_,
            (std::vector<std::string>{"+store", "+restore", "+listeners", "-restore", "-store"}))
      << "the failed step undoes itself; later steps never start";
  EXPECT_NE(logged().find("port 7070 is in use"), std::string::npos) << logged();
}

TEST_F(StartupStepsTest, ExitStopsStartingWithoutAnError) {
  const auto outcome = run({step("options"), step("check", StepResult::exit(0)), step("serve")});
  EXPECT_FALSE(outcome.completed);
  EXPECT_EQ(outcome.exitCode, 0);
  EXPECT_EQ(journal_, (std::vector<std::string>{"+options", "+check", "-options"}));
  EXPECT_EQ(logged().find("[error]"), std::string::npos) << logged();
}

TEST_F(StartupStepsTest, ExceptionIsFatalAndTeardownStillRuns) {
  std::vector<Step> steps{step("store"), Step{"listeners", []() -> StepResult {
                                                throw std::runtime_error("bind: address in use");
                                              }}};
  const auto outcome = run(steps);
  EXPECT_EQ(outcome.exitCode, 1);
  EXPECT_EQ(journal_, (std::vector<std::string>{"+store", "-store"}));
  EXPECT_NE(logged().find("bind: address in use"), std::string::npos) << logged();
}

TEST_F(StartupStepsTest, EveryStopRunsEvenWhenOneThrows) {
  std::vector<Step> steps{step("store"),
                          Step{"loops", [] { return StepResult::ok(); },
                               [] { throw std::runtime_error("thread did not join"); }},
                          Step{"ready", [] { return StepResult::ok(); }}};  // nothing to undo
  const auto outcome = run(steps);
  EXPECT_TRUE(outcome.completed);
  EXPECT_EQ(journal_, (std::vector<std::string>{"+store", "-store"}));
  EXPECT_NE(logged().find("stopping loops: thread did not join"), std::string::npos) << logged();
}

}  // namespace
}  // namespace fleetscale::aggregator
