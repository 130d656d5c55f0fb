#include "fleetscale/testing/etcd.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "fleetscale/shared/curl_http_client.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/testing/http.h"
#include "fleetscale/testing/wait.h"

namespace fleetscale::testing {

std::uint16_t unusedLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot pick a loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string EtcdCluster::binary() {
  const char* path = std::getenv("PATH");
  for (auto dir : splitFields(path != nullptr ? path : "/usr/bin", ":")) {
    std::string candidate = std::string(dir) + "/etcd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

EtcdCluster::EtcdCluster(int members) {
  const std::string etcd = binary();
  if (etcd.empty()) {
    throw std::runtime_error(
        "etcd is not installed (Debian's etcd-server; scripts/install-deps.sh)");
  }
  std::vector<std::uint16_t> peerPorts;
  std::string initialCluster;
  for (int i = 0; i < members; ++i) {
    clientPorts_.push_back(unusedLoopbackPort());
    peerPorts.push_back(unusedLoopbackPort());
    initialCluster += (i ? "," : "") + std::string("m") + std::to_string(i) +
                      "=http://127.0.0.1:" + std::to_string(peerPorts.back());
  }
  for (int i = 0; i < members; ++i) {
    const std::string peer = "http://127.0.0.1:" + std::to_string(peerPorts[i]);
    members_.push_back(std::make_unique<Process>(
        etcd, std::vector<std::string>{"--name", "m" + std::to_string(i), "--data-dir",
                                       dir_.file("m" + std::to_string(i)), "--listen-client-urls",
                                       clientUrl(i), "--advertise-client-urls", clientUrl(i),
                                       "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
                                       peer, "--initial-cluster", initialCluster,
                                       "--initial-cluster-state", "new", "--initial-cluster-token",
                                       "fleetscale-test-" + std::to_string(::getpid()), "--logger",
                                       "zap", "--log-level", "error",
                                       // Loopback: a lost raft leader is replaced in about a
                                       // second, not several.
                                       "--heartbeat-interval", "50", "--election-timeout", "500"}));
  }
  for (int i = 0; i < members; ++i) {
    const bool healthy = waitFor(
        [&] {
          return httpGet(clientUrl(i) + "/health").body.find("\"true\"") != std::string::npos;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(50));
    if (!healthy) {
      throw std::runtime_error("etcd member " + std::to_string(i) +
                               " did not become healthy: " + members_[i]->errors());
    }
  }
}

EtcdCluster::~EtcdCluster() {
  for (auto& member : members_) {
    if (!member) continue;
    ::kill(member->pid(), SIGCONT);
    member->stop(SIGKILL);
  }
}

std::string EtcdCluster::clientUrl(int member) const {
  return "http://127.0.0.1:" + std::to_string(clientPorts_.at(member));
}

std::string EtcdCluster::endpoints() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i ? "," : "") + clientUrl(i);
  return out;
}

int EtcdCluster::raftLeader() const {
  CurlHttpClient http;
  for (int i = 0; i < size(); ++i) {
    HttpClientRequest request;
    request.method = "POST";
    request.url = clientUrl(i) + "/v3/maintenance/status";
    request.body = "{}";
    auto response = http.send(request);
    if (!response || response->status != 200) continue;
    const auto status = nlohmann::json::parse(response->body, nullptr, false);
    if (!status.is_object() || !status.contains("header")) continue;
    if (status.value("leader", "") == status["header"].value("member_id", "-")) return i;
  }
  return -1;
}

void EtcdCluster::kill(int member) { members_.at(member)->stop(SIGKILL); }
void EtcdCluster::pause(int member) { ::kill(members_.at(member)->pid(), SIGSTOP); }
void EtcdCluster::resume(int member) { ::kill(members_.at(member)->pid(), SIGCONT); }

}  // namespace fleetscale::testing
