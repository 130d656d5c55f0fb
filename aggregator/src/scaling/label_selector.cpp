#include "fleetscale/aggregator/scaling/label_selector.h"

#include <algorithm>

namespace fleetscale::aggregator::scaling {
namespace {

bool satisfied(const LabelRequirement& requirement, const Labels& labels) {
  const auto label = labels.find(requirement.key);
  const bool present = label != labels.end();
  const auto listed = [&] {
    return present && std::find(requirement.values.begin(), requirement.values.end(),
                                label->second) != requirement.values.end();
  };
  switch (requirement.op) {
    case LabelRequirement::Operator::kIn:
      return listed();
    case LabelRequirement::Operator::kNotIn:
      return !listed();  // an absent label is not in any set
    case LabelRequirement::Operator::kExists:
      return present;
    case LabelRequirement::Operator::kDoesNotExist:
      return !present;
  }
  return false;
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) out += (out.empty() ? "" : ",") + value;
  return out;
}

}  // namespace

std::optional<LabelRequirement::Operator> parseLabelOperator(std::string_view name) {
  using Operator = LabelRequirement::Operator;
  if (name == "In") return Operator::kIn;
  if (name == "NotIn") return Operator::kNotIn;
  if (name == "Exists") return Operator::kExists;
  if (name == "DoesNotExist") return Operator::kDoesNotExist;
  return std::nullopt;
}

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& [key, value] : matchLabels) {
    const auto label = labels.find(key);
    if (label == labels.end() || label->second != value) return false;
  }
  return std::all_of(matchExpressions.begin(), matchExpressions.end(),
                     [&](const LabelRequirement& r) { return satisfied(r, labels); });
}

std::string LabelSelector::describe() const {
  std::vector<std::string> parts;
  for (const auto& [key, value] : matchLabels) parts.push_back(key + "=" + value);
  for (const auto& r : matchExpressions) {
    switch (r.op) {
      case LabelRequirement::Operator::kIn:
        parts.push_back(r.key + " in (" + joined(r.values) + ")");
        break;
      case LabelRequirement::Operator::kNotIn:
        parts.push_back(r.key + " notin (" + joined(r.values) + ")");
        break;
      case LabelRequirement::Operator::kExists:
        parts.push_back(r.key);
        break;
      case LabelRequirement::Operator::kDoesNotExist:
        parts.push_back("!" + r.key);
        break;
    }
  }
  return joined(parts);
}

}  // namespace fleetscale::aggregator::scaling
