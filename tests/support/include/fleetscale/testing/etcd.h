// A real etcd cluster on loopback (Debian's etcd-server), for leader-election tests: 1 or 3
// members with their own data directories, started healthy, and faults on single members
// (SIGKILL, SIGSTOP/SIGCONT: a member that hangs).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fleetscale/testing/process.h"
#include "fleetscale/testing/temp_dir.h"

namespace fleetscale::testing {

class EtcdCluster {
 public:
  // Starts `members` members and waits until each reports healthy; throws when it cannot.
  explicit EtcdCluster(int members = 1);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Where the etcd binary is ("" when it is not installed: scripts/install-deps.sh adds it).
  static std::string binary();

  std::string clientUrl(int member) const;
  std::string endpoints() const;  // every member's client URL, comma-separated
  std::uint16_t clientPort(int member) const { return clientPorts_.at(member); }
  int size() const { return static_cast<int>(clientPorts_.size()); }

  // The member that is the raft leader now (-1 when none answers).
  int raftLeader() const;
  void kill(int member);
  void pause(int member);  // SIGSTOP: the member accepts connections but never answers
  void resume(int member);

 private:
  TempDir dir_{"fleetscale-etcd"};
  std::vector<std::uint16_t> clientPorts_;
  std::vector<std::unique_ptr<Process>> members_;
};

// A TCP port on 127.0.0.1 nobody listens on right now.
std::uint16_t unusedLoopbackPort();

}  // namespace fleetscale::testing
