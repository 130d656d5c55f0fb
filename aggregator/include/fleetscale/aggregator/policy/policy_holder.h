// The running policy, swapped atomically on reload (SIGHUP or POST /api/v1/reload). A file with
// an error is rejected and the running policy stays.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

// Thread-safe.
class PolicyHolder {
 public:
  explicit PolicyHolder(std::string path = "");
  // The path "" means no policy file: an empty policy (observe only).
  Status reload();
  std::shared_ptr<const PolicyConfig> get() const;
  void set(PolicyConfig config);  // for tests and embedded use
  const std::string& path() const { return path_; }
  std::uint64_t generation() const;  // bumped by every successful load

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const PolicyConfig> current_;
  std::uint64_t generation_ = 0;
};

}  // namespace fleetscale::aggregator
