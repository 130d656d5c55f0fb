// Exhausts this process's file descriptors, so that the next accept() (or open()) fails with
// EMFILE, for tests of what servers do when they run out.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace fleetscale::testing {

// Lowers the soft RLIMIT_NOFILE to at most `cap` (so hogging stays cheap), restored on
// destruction.
class FileLimit {
 public:
  explicit FileLimit(rlim_t cap) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    struct rlimit low = saved_;
    low.rlim_cur = std::min(saved_.rlim_cur, cap);
    ::setrlimit(RLIMIT_NOFILE, &low);
  }
  ~FileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  FileLimit(const FileLimit&) = delete;
  FileLimit& operator=(const FileLimit&) = delete;

 private:
  struct rlimit saved_ {};
};

// Holds every free descriptor until release() or destruction.
class DescriptorHog {
 public:
  DescriptorHog() {
    while (true) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fds_.push_back(fd);
    }
  }
  ~DescriptorHog() { release(); }
  DescriptorHog(const DescriptorHog&) = delete;
  DescriptorHog& operator=(const DescriptorHog&) = delete;

  void release() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  std::size_t held() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

}  // namespace fleetscale::testing
