// Parsing /proc/<pid>/mountinfo (proc(5)) and finding the cgroup hierarchies in it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetscale::agent {

struct MountInfoEntry {
  std::string root;        // the mounted subtree (field 4), unescaped
  std::string mountPoint;  // field 5, unescaped
  std::string fsType;      // after the " - " separator
  std::string source;
  std::vector<std::string> superOptions;  // comma-separated list, e.g. {"rw", "cpu", "cpuacct"}
};

// One line; std::nullopt when the line is malformed. Undoes the kernel's octal escapes
// (\040 space, \011 tab, \012 newline, \134 backslash).
std::optional<MountInfoEntry> parseMountInfoLine(std::string_view line);

// All well-formed lines; malformed ones are skipped and counted in `malformedLines`.
std::vector<MountInfoEntry> parseMountInfo(std::string_view text, int* malformedLines = nullptr);

}  // namespace fleetscale::agent
