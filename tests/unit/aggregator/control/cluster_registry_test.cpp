#include "fleetscale/aggregator/control/cluster_registry.h"

#include <gtest/gtest.h>

namespace fleetscale::aggregator {
namespace {

class CountingActuator final : public Actuator {
 public:
  explicit CountingActuator(int replicas) : replicas_(replicas) {}
  ActuationOutcome getScale(const WorkloadKey&) override {
    ++reads;
    ActuationOutcome outcome;
    outcome.status.specReplicas = replicas_;
    return outcome;
  }
  ActuationOutcome setScale(const ScaleRequest&) override { return {}; }
  int reads = 0;

 private:
  int replicas_;
};

ClusterConfig cluster(const std::string& name) {
  ClusterConfig config;
  config.name = name;
  config.access.kind = ClusterAccess::Kind::kServer;
  return config;
}

struct Fixture {
  ManualClock clock;
  std::map<std::string, bool> reachable{{"aws", true}, {"gcp", true}};
  std::map<std::string, CountingActuator*> actuators;
  ClusterRegistry registry{
      ClusterConnector{[this](const ClusterConfig& c) -> Result<std::unique_ptr<Actuator>> {
                         if (c.name == "broken") return Error{"no credentials"};
                         auto actuator = std::make_unique<CountingActuator>(3);
                         actuators[c.name] = actuator.get();
                         return std::unique_ptr<Actuator>(std::move(actuator));
                       },
                       [this](const ClusterConfig& c) -> Result<std::function<bool()>> {
                         return std::function<bool()>(
                             [this, name = c.name] { return reachable[name]; });
                       }},
      scaling::HealthThresholds{}, clock};
};

const WorkloadKey kWeb{"shop", "Deployment", "web"};

TEST(ClusterRegistryTest, ProbesFeedHealthAndScalesAreReadWhenStale) {
  Fixture f;
  f.registry.configure({cluster("aws"), cluster("gcp")});
  f.registry.watch("aws", kWeb);
  f.registry.refresh(std::chrono::seconds(5));
  ASSERT_TRUE(f.registry.scale("aws", kWeb));
  EXPECT_EQ(f.registry.scale("aws", kWeb)->status.specReplicas, 3);
  f.registry.refresh(std::chrono::seconds(5));
  EXPECT_EQ(f.actuators["aws"]->reads, 1) << "fresh cache: no second read";
  f.clock.advance(std::chrono::seconds(6));
  f.registry.refresh(std::chrono::seconds(5));
  EXPECT_EQ(f.actuators["aws"]->reads, 2);

  // gcp goes dark: API down and no agents for more than 10 s -> failed.
  f.reachable["gcp"] = false;
  f.registry.refresh(std::chrono::seconds(5));
  auto transitions = f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}});
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(transitions[0].cluster, "gcp");
  EXPECT_EQ(transitions[0].change.to, scaling::HealthState::kSuspect);
  f.clock.advance(std::chrono::seconds(11));
  transitions = f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}});
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(f.registry.health("gcp"), scaling::HealthState::kFailed);
  EXPECT_EQ(f.registry.health("aws"), scaling::HealthState::kHealthy);
}

TEST(ClusterRegistryTest, AClusterFailsTenSecondsAfterItsLastSignOfLife) {
  using scaling::HealthState;
  using std::chrono::seconds;
  Fixture f;
  f.registry.configure({cluster("aws"), cluster("gcp")});
  f.registry.refresh(seconds(5));  // the API answers
  f.reachable["gcp"] = false;
  f.clock.advance(seconds(4));
  f.registry.refresh(seconds(5));  // and now it does not
  // Its newest agent batch is 6 s old, the API last answered 4 s ago: silent for 4 s.
  f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}}, {{"gcp", seconds(6)}});
  EXPECT_EQ(f.registry.health("gcp"), HealthState::kSuspect);
  f.clock.advance(seconds(5));
  f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}}, {{"gcp", seconds(11)}});
  EXPECT_EQ(f.registry.health("gcp"), HealthState::kSuspect) << "9 s since the API answered";
  f.clock.advance(seconds(1));
  f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}}, {{"gcp", seconds(12)}});
  EXPECT_EQ(f.registry.health("gcp"), HealthState::kFailed);
  EXPECT_FALSE(f.registry.noClusterReachable());
}

// Every cluster silent at once is far likelier the aggregator's own network than every cloud:
// nothing fails (so nothing fails over or shrinks), and once the aggregator is back in touch a
// cluster that is still silent gets the full failedAfter before it fails.
TEST(ClusterRegistryTest, WhenNoClusterIsReachableNoneFails) {
  using scaling::HealthState;
  using std::chrono::seconds;
  Fixture f;
  f.registry.configure({cluster("aws"), cluster("gcp")});
  f.registry.refresh(seconds(5));
  f.reachable = {{"aws", false}, {"gcp", false}};
  f.registry.refresh(seconds(5));
  for (int second = 1; second <= 30; ++second) {
    f.clock.advance(seconds(1));
    f.registry.updateHealth({{"aws", 0.0}, {"gcp", 0.0}},
                            {{"aws", seconds(second)}, {"gcp", seconds(second)}});
    ASSERT_EQ(f.registry.health("aws"), HealthState::kSuspect) << second << " s";
    ASSERT_EQ(f.registry.health("gcp"), HealthState::kSuspect) << second << " s";
  }
  EXPECT_TRUE(f.registry.noClusterReachable());
  // aws answers again; gcp stays silent and fails 10 s later, not at once.
  f.reachable["aws"] = true;
  f.registry.refresh(seconds(5));
  f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}}, {{"gcp", seconds(31)}});
  EXPECT_FALSE(f.registry.noClusterReachable());
  EXPECT_EQ(f.registry.health("aws"), HealthState::kHealthy);
  EXPECT_EQ(f.registry.health("gcp"), HealthState::kSuspect);
  f.clock.advance(seconds(9));
  f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}}, {{"gcp", seconds(40)}});
  EXPECT_EQ(f.registry.health("gcp"), HealthState::kSuspect);
  f.clock.advance(seconds(1));
  f.registry.updateHealth({{"aws", 1.0}, {"gcp", 0.0}}, {{"gcp", seconds(41)}});
  EXPECT_EQ(f.registry.health("gcp"), HealthState::kFailed);
}

TEST(ClusterRegistryTest, ReconfigureKeepsStateAndReportsConnectionErrors) {
  Fixture f;
  f.registry.configure({cluster("aws")});
  EXPECT_TRUE(f.registry.setDraining("aws", true));
  f.registry.configure({cluster("aws"), cluster("broken")});
  EXPECT_TRUE(f.registry.draining("aws")) << "kept across a reload";
  EXPECT_EQ(f.registry.actuator("broken"), nullptr);
  const auto status = f.registry.status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[1].name, "broken");
  EXPECT_EQ(status[1].error, "no credentials");
  f.registry.configure({cluster("broken")});
  EXPECT_EQ(f.registry.actuator("aws"), nullptr) << "removed from the policy";
  EXPECT_FALSE(f.registry.setDraining("nowhere", true));
}

}  // namespace
}  // namespace fleetscale::aggregator
