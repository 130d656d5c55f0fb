#include "fleetscale/agent/control_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fleetscale::agent {
namespace {

constexpr std::size_t kInitialBuffer = 16 * 1024;  // memory.stat is under 4 KiB on 6.x kernels
constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
constexpr std::size_t kReservedDescriptors = 512;

std::string joinPath(std::string_view root, std::string_view relative, const char* name) {
  std::string path;
  path.reserve(root.size() + relative.size() + 1 + std::strlen(name));
  path.append(root).append(relative).push_back('/');
  path.append(name);
  return path;
}

Error readError(std::string_view root, std::string_view relative, const char* name, int code) {
  // A removed cgroup's kept descriptor reads ENODEV; callers only need "gone".
  const int reported = code == ENODEV ? ENOENT : code;
  return Error{joinPath(root, relative, name) + ": " + std::strerror(code), reported};
}

// Reads from offset 0 to end of file into `buffer`; returns the byte count or -errno. A read
// shorter than asked for is the end of the file (for regular files and for the kernel's
// seq_file, which generates the whole content and copies out as much as fits), so a small
// control file costs one pread(2).
long readWhole(int fd, std::string& buffer) {
  if (buffer.size() < kInitialBuffer) buffer.resize(kInitialBuffer);
  std::size_t total = 0;
  while (true) {
    const std::size_t wanted = buffer.size() - total;
    const ssize_t got = ::pread(fd, buffer.data() + total, wanted, static_cast<off_t>(total));
    if (got < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    total += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < wanted) return static_cast<long>(total);
    if (buffer.size() >= kMaxFileBytes) return -EFBIG;
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace

FileAccess fileAccessFor(const std::string& directory) {
  struct statfs info {};
  if (::statfs(directory.c_str(), &info) != 0) return FileAccess::kReopen;
  const auto type = static_cast<unsigned long>(info.f_type);
  return type == CGROUP_SUPER_MAGIC || type == CGROUP2_SUPER_MAGIC || type == PROC_SUPER_MAGIC
             ? FileAccess::kKeepOpen
             : FileAccess::kReopen;
}

std::size_t FileReadContext::defaultMaxKeptDescriptors() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 65536;
  return limit.rlim_cur > kReservedDescriptors * 2 ? limit.rlim_cur - kReservedDescriptors
                                                   : limit.rlim_cur / 2;
}

ControlFile::~ControlFile() {
  // Owners call close(context) so the budget stays right; this only guards against leaks.
  if (fd_ >= 0) ::close(fd_);
}

ControlFile::ControlFile(ControlFile&& other) noexcept
    : name_(other.name_), fd_(other.fd_), absent_(other.absent_) {
  other.fd_ = -1;
}

void ControlFile::close(FileReadContext& context) {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  --context.keptDescriptors;
}

Result<std::string_view> ControlFile::read(std::string_view root, std::string_view relative,
                                           FileReadContext& context) {
  int fd = fd_;
  bool temporary = false;
  if (fd < 0) {
    fd = ::open(joinPath(root, relative, name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return readError(root, relative, name_, errno);
    if (context.access == FileAccess::kKeepOpen &&
        context.keptDescriptors < context.maxKeptDescriptors) {
      fd_ = fd;
      ++context.keptDescriptors;
    } else {
      temporary = true;
    }
  }
  const long got = readWhole(fd, context.buffer);
  if (temporary) ::close(fd);
  if (got < 0) return readError(root, relative, name_, static_cast<int>(-got));
  return std::string_view(context.buffer.data(), static_cast<std::size_t>(got));
}

}  // namespace fleetscale::agent
