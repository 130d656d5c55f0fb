#include "fleetscale/aggregator/policy/policy_holder.h"

namespace fleetscale::aggregator {

PolicyHolder::PolicyHolder(std::string path)
    : path_(std::move(path)), current_(std::make_shared<const PolicyConfig>()) {}

Status PolicyHolder::reload() {
  if (path_.empty()) return {};
  auto loaded = loadPolicyConfig(path_);
  if (!loaded) return Error{loaded.error().message};
  set(std::move(*loaded));
  return {};
}

std::shared_ptr<const PolicyConfig> PolicyHolder::get() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void PolicyHolder::set(PolicyConfig config) {
  auto next = std::make_shared<const PolicyConfig>(std::move(config));
  std::lock_guard lock(mutex_);
  current_ = std::move(next);
  ++generation_;
}

std::uint64_t PolicyHolder::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

}  // namespace fleetscale::aggregator
