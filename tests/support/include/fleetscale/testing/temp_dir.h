// A directory under $TMPDIR that is removed with everything in it when the object goes away.
#pragma once

#include <string>

namespace fleetscale::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "fleetscale-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Writes `content` to `path` atomically (temp file + rename), creating parent directories.
// Throws on failure.
void writeFile(const std::string& path, const std::string& content);

}  // namespace fleetscale::testing
