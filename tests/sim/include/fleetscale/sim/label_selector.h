// The labelSelector of a list request, as apimachinery's labels.Parse reads it: requirements
// joined by commas, each `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k` (exists) or
// `!k` (does not exist), with spaces allowed between tokens. `k in ()` is the set of the empty
// value. The numeric `k>1` and `k<1` (Gt, Lt) are refused. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale::sim {

class LabelSelector {
 public:
  enum class Operator { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Operator op = Operator::kEquals;
    std::vector<std::string> values;  // one for kEquals and kNotEquals, none for the unary ones
  };

  // "" selects everything. Errors read as the API server's ("unable to parse requirement: ...").
  static Result<LabelSelector> parse(std::string_view text);

  // `labels`: an object's metadata.labels (absent or null: no labels). All requirements ANDed;
  // `k!=v` and `k notin (...)` match an object without `k`, as in Kubernetes.
  bool matches(const nlohmann::json& labels) const;

  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace fleetscale::sim
