// Reading cgroup and /proc control files cheaply and correctly.
//
// On cgroupfs and procfs a file is opened once and re-read with pread(2) at offset 0: the kernel
// generates fresh content on every read, so the descriptor stays valid for the cgroup's lifetime
// and the open(2) path walk (about 9 us, eight times a pread of a small counter file) is paid once
// per container instead of once per tick. Anywhere else (cgroup trees that tests and the simulator
// write, replacing files by rename) a kept descriptor would keep reading the replaced file, so
// each read opens the file afresh.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fleetscale/shared/result.h"

namespace fleetscale::agent {

enum class FileAccess {
  kKeepOpen,  // open once, pread at offset 0 every time
  kReopen,    // open, read, close every time
};

// kKeepOpen when `directory` is on a cgroup (v1 or v2) or proc filesystem, else kReopen.
FileAccess fileAccessFor(const std::string& directory);

// State shared by the control files of one reader: the access mode, one read buffer and the
// budget of descriptors it may keep open (past it, files are reopened per read instead, so a low
// RLIMIT_NOFILE costs speed, never data). Not thread-safe: one reader, one thread.
struct FileReadContext {
  explicit FileReadContext(FileAccess accessMode, std::size_t maxKept = defaultMaxKeptDescriptors())
      : access(accessMode), maxKeptDescriptors(maxKept) {}

  // The soft RLIMIT_NOFILE minus a reserve for sockets, the spool and HTTP clients.
  static std::size_t defaultMaxKeptDescriptors();

  FileAccess access;
  std::size_t maxKeptDescriptors;
  std::size_t keptDescriptors = 0;
  std::string buffer;
};

// One control file, named relative to a directory its owner keeps (so a container's ten files
// cost ten small objects, not ten paths). The directory is `root` + `relative` (a hierarchy root
// and a cgroup path), joined only when the file is opened. Close it with close(context) before
// dropping it.
class ControlFile {
 public:
  explicit ControlFile(const char* name) : name_(name) {}
  ~ControlFile();
  ControlFile(ControlFile&& other) noexcept;
  ControlFile& operator=(ControlFile&&) = delete;
  ControlFile(const ControlFile&) = delete;
  ControlFile& operator=(const ControlFile&) = delete;

  // The whole file, in context.buffer (valid until the next read through the same context).
  // Error::code is ENOENT when the file or the cgroup holding it is gone: a kept descriptor of a
  // removed cgroup reads ENODEV, reported as ENOENT too.
  Result<std::string_view> read(std::string_view root, std::string_view relative,
                                FileReadContext& context);
  void close(FileReadContext& context);

  // Optional files the kernel does not provide (no PSI, no cpu controller) are tried once and
  // then skipped.
  bool absent() const { return absent_; }
  void markAbsent() { absent_ = true; }
  const char* name() const { return name_; }

 private:
  const char* name_;
  int fd_ = -1;
  bool absent_ = false;
};

}  // namespace fleetscale::agent
