// Noticing that files were replaced or rewritten, for secrets and certificates that rotate under
// a running daemon (cert-manager, a Kubernetes Secret volume swapping its ..data symlink).
#pragma once

#include <string>
#include <vector>

namespace fleetscale {

// Watches a set of paths by their stat() (device, inode, size, modification and change times;
// symlinks followed, so a swapped link counts). Cheap enough to poll every few seconds.
// Not thread-safe: one owner polls it.
class FileChangeWatch {
 public:
  // Takes the paths' current state as the baseline; empty paths are ignored.
  explicit FileChangeWatch(std::vector<std::string> paths);

  // Whether any path changed (or appeared, or went away) since the last call or construction.
  bool changed();

 private:
  std::string fingerprint() const;

  std::vector<std::string> paths_;
  std::string last_;
};

}  // namespace fleetscale
