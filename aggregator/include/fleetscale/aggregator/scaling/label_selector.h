// A Kubernetes label selector (metav1.LabelSelector: matchLabels and matchExpressions with In,
// NotIn, Exists, DoesNotExist), as an HPA metric's `selector` narrows the series of a Pods,
// Object or External metric. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale::aggregator::scaling {

using Labels = std::map<std::string, std::string>;

struct LabelRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kIn;
  std::vector<std::string> values;  // In, NotIn: at least one; Exists, DoesNotExist: none
};
// A matchExpressions `operator` as the API spells it ("In", "NotIn", "Exists", "DoesNotExist");
// nullopt for any other word.
std::optional<LabelRequirement::Operator> parseLabelOperator(std::string_view name);

// The empty selector matches everything, as metav1.LabelSelectorAsSelector makes it.
struct LabelSelector {
  Labels matchLabels;
  std::vector<LabelRequirement> matchExpressions;

  bool empty() const { return matchLabels.empty() && matchExpressions.empty(); }
  bool matches(const Labels& labels) const;
  // "queue=orders,tier in (a,b)", as kubectl prints selectors; "" for the empty one.
  std::string describe() const;
};

}  // namespace fleetscale::aggregator::scaling
