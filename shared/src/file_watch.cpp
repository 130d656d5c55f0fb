#include "fleetscale/shared/file_watch.h"

#include <sys/stat.h>

#include <utility>

namespace fleetscale {

FileChangeWatch::FileChangeWatch(std::vector<std::string> paths) : paths_(std::move(paths)) {
  std::erase_if(paths_, [](const std::string& path) { return path.empty(); });
  last_ = fingerprint();
}

bool FileChangeWatch::changed() {
  std::string now = fingerprint();
  if (now == last_) return false;
  last_ = std::move(now);
  return true;
}

std::string FileChangeWatch::fingerprint() const {
  std::string out;
  for (const std::string& path : paths_) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
      out += "-;";
      continue;
    }
    for (const long long value :
         {static_cast<long long>(info.st_dev), static_cast<long long>(info.st_ino),
          static_cast<long long>(info.st_size), static_cast<long long>(info.st_mtim.tv_sec),
          static_cast<long long>(info.st_mtim.tv_nsec), static_cast<long long>(info.st_ctim.tv_sec),
          static_cast<long long>(info.st_ctim.tv_nsec)}) {
      out += std::to_string(value);
      out += ',';
    }
    out += ';';
  }
  return out;
}

}  // namespace fleetscale
