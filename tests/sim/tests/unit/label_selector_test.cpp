#include "fleetscale/sim/label_selector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

TEST(LabelSelectorTest, FiltersByEveryOperatorAsKubernetesDoes) {
  const json web = {{"app", "web"}, {"tier", "front"}};
  const json api = {{"app", "api"}, {"tier", "back"}, {"legacy", "yes"}};
  const json bare = json::object();
  struct Case {
    std::string selector;
    bool web, api, bare;
  };
  const std::vector<Case> cases = {
      {"", true, true, true},
      {"app=web", true, false, false},
      {"app==web", true, false, false},
      {"app!=web", false, true, true},  // an object without the label is not equal to it
      {"app", true, true, false},
      {"!legacy", true, false, true},
      {"tier in (front,back)", true, true, false},
      {"tier in (front)", true, false, false},
      {"tier notin (front)", false, true, true},  // nor in any set
      {"app=web,tier in (a,front),!legacy", true, false, false},
      {"  app = web , tier  notin ( back ,x ) ", true, false, false},
      {"app in (web),app notin (web)", false, false, false},
      {"tier in ()", false, false, false},  // the empty value only
      {"tier notin ()", true, true, true},
      {"tier in (,front)", true, false, false},  // a value left out is the empty value
      {"tier in (back,)", false, true, false},
  };
  for (const auto& c : cases) {
    const auto selector = LabelSelector::parse(c.selector);
    ASSERT_TRUE(selector) << c.selector << ": " << selector.error().message;
    EXPECT_EQ(selector->matches(web), c.web) << c.selector;
    EXPECT_EQ(selector->matches(api), c.api) << c.selector;
    EXPECT_EQ(selector->matches(bare), c.bare) << c.selector;
    EXPECT_EQ(selector->matches(json()), c.bare) << c.selector << " (null labels)";
  }
}

TEST(LabelSelectorTest, ReadsTheRequirements) {
  const auto selector = LabelSelector::parse("example.com/tier in (b,a,b),k=,!x");
  ASSERT_TRUE(selector) << selector.error().message;
  ASSERT_EQ(selector->requirements().size(), 3u);
  EXPECT_EQ(selector->requirements()[0].key, "example.com/tier");
  EXPECT_EQ(selector->requirements()[0].op, LabelSelector::Operator::kIn);
  EXPECT_EQ(selector->requirements()[0].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(selector->requirements()[1].op, LabelSelector::Operator::kEquals);
  EXPECT_EQ(selector->requirements()[1].values, (std::vector<std::string>{""}));
  EXPECT_EQ(selector->requirements()[2].op, LabelSelector::Operator::kDoesNotExist);
}

TEST(LabelSelectorTest, ValuesLeftOutOfASetAreTheEmptyValue) {
  const auto selector = LabelSelector::parse("tier in (a,,b,)");
  ASSERT_TRUE(selector) << selector.error().message;
  ASSERT_EQ(selector->requirements().size(), 1u);
  EXPECT_EQ(selector->requirements()[0].values, (std::vector<std::string>{"", "a", "b"}));
  EXPECT_TRUE(selector->matches(json{{"tier", ""}}));
}

TEST(LabelSelectorTest, RefusesMalformedSelectorsSayingWhere) {
  struct Case {
    std::string selector;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"tier in (a,b",
       "unable to parse requirement: found 'end of selector', expected: ',' or ')'"},
      {"tier in a", "unable to parse requirement: found 'a', expected: '('"},
      {"tier between (a)",
       "unable to parse requirement: found 'between', expected: in, notin, =, ==, !="},
      {"tier in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"},
      {"tier in (=a)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"},
      {"=web", "unable to parse requirement: found '=', expected: identifier"},
      {"app=web,", "unable to parse requirement: found 'end of selector', expected: identifier"},
      {"!app=web", "unable to parse requirement: found '=', expected: ',' or end of selector"},
      {"app=web tier=x",
       "unable to parse requirement: found 'tier', expected: ',' or end of selector"},
      {"replicas>1",
       "unable to parse requirement: the numeric operators '>' and '<' are not supported by the "
       "simulator"},
  };
  for (const auto& c : cases) {
    const auto selector = LabelSelector::parse(c.selector);
    ASSERT_FALSE(selector) << c.selector;
    EXPECT_EQ(selector.error().message, c.error) << c.selector;
  }
}

}  // namespace
}  // namespace fleetscale::sim
