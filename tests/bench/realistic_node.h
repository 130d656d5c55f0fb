// A node's batches over time, for measuring the wire: realistic identities and metadata, and
// figures that move the way busy containers' figures move from one 1 s tick to the next. The model
// (docs/benchmarks.md, "Protocol version 2"):
// - ids are 64 hex digits, cgroups kubepods paths, pods `<workload>-<hash>-<suffix>` with UIDs,
//   images `registry.example.com/<team>/<workload>:<version>`, requests and limits set, every
//   fourth pod with a sidecar (`istio-proxy`);
// - CPU per container: a median of 0.1 core (log-normal across containers), each tick +-20%
//   (normal), rounded to millionths as the agent sends it; user about 80% of it;
// - cpu_usage_ns_total grows by what the tick used; memory working set, usage and RSS each move
//   on about half the ticks by whole pages (a few to a few dozen);
// - one container in ten has a CPU limit and is throttled on one tick in five; a third show CPU
//   pressure (PSI totals grow); memory pressure is rare;
// - churn (when asked): every `churnEverySeconds`, one container in a hundred (at least one) stops
//   and a new pod's container starts; a new container becomes Ready 3 s later (its metadata
//   changes).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "fleetscale/v1/fleetscale.pb.h"

namespace fleetscale::bench {

class RealisticNode {
 public:
  RealisticNode(int containers, int churnEverySeconds, std::uint32_t seed = 42)
      : random_(seed), churnEvery_(churnEverySeconds) {
    for (int i = 0; i < containers; ++i) containers_.push_back(newContainer(0));
  }

  // The next tick's batch, as the agent's sampler fills it.
  const v1::SampleBatch& tick() {
    ++tick_;
    if (churnEvery_ > 0 && tick_ % churnEvery_ == 0) churn();
    batch_.Clear();
    batch_.set_sequence(tick_);
    batch_.set_timestamp_unix_ms(1'700'000'000'000 + static_cast<std::int64_t>(tick_) * 1000);
    batch_.set_interval_seconds(1);
    auto* node = batch_.mutable_node();
    node->set_cpu_capacity_cores(16);
    node->set_cpu_allocatable_cores(15.5);
    node->set_memory_capacity_bytes(64ull << 30);
    node->set_memory_allocatable_bytes(62ull << 30);
    double used = 0;
    for (Container& c : containers_) used += step(c);
    node->set_cpu_usage_cores(std::round(used * 1e6) / 1e6);
    node->set_memory_usage_bytes((20ull << 30) + 4096 * (tick_ % 97));
    for (Container& c : containers_) fill(c, *batch_.add_containers());
    return batch_;
  }

  std::size_t containers() const { return containers_.size(); }

 private:
  struct Container {
    std::string id, cgroup, workload, pod, podUid, name, image;
    double baseCores = 0.1, userShare = 0.8, cores = 0;
    std::uint64_t usageNs = 0, workingSet = 0, inactiveFile = 0, rss = 0;
    std::uint64_t throttledPeriods = 0, throttledNs = 0;
    double cpuSome = 0, cpuFull = 0, memorySome = 0;
    bool limited = false, pressured = false, ready = true, fresh = false;
    std::uint64_t startedTick = 0;
    double throttledPeriodsRate = 0, throttledSecondsRate = 0;
    bool hasRates = false;
  };

  std::string hex(int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(digits), '0');
    for (char& ch : out) ch = kHex[random_() % 16];
    return out;
  }

  Container newContainer(std::uint64_t tick) {
    Container c;
    const int workload = static_cast<int>(random_() % 40);
    c.workload = "service-" + std::to_string(workload);
    c.id = hex(64);
    c.podUid = hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12);
    c.pod = c.workload + "-" + hex(10) + "-" + hex(5);
    const bool sidecar = serial_++ % 4 == 3;
    c.name = sidecar ? "istio-proxy" : "app";
    c.image = sidecar ? "docker.io/istio/proxyv2:1.22.3"
                      : "registry.example.com/team-" + std::to_string(workload % 6) + "/" +
                            c.workload + ":1.4." + std::to_string(workload % 9);
    std::string uidPath = c.podUid;
    for (char& ch : uidPath) {
      if (ch == '-') ch = '_';
    }
    c.cgroup = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidPath +
               ".slice/cri-containerd-" + c.id + ".scope";
    std::lognormal_distribution<double> cores(std::log(0.1), 1.0);
    c.baseCores = std::min(4.0, cores(random_));
    c.userShare = 0.7 + 0.2 * std::uniform_real_distribution<double>()(random_);
    c.workingSet = (64ull << 20) + (random_() % 512) * (1ull << 20);
    c.inactiveFile = (random_() % 64) * (1ull << 20);
    c.rss = c.workingSet * 3 / 4;
    c.usageNs = static_cast<std::uint64_t>(random_() % 1'000'000) * 1'000'000;
    c.limited = random_() % 10 == 0;
    c.pressured = random_() % 3 == 0;
    c.startedTick = tick;
    c.fresh = tick > 0;
    c.ready = !c.fresh;
    return c;
  }

  void churn() {
    const std::size_t replace = std::max<std::size_t>(1, containers_.size() / 100);
    for (std::size_t i = 0; i < replace; ++i) {
      containers_.erase(containers_.begin() + static_cast<long>(random_() % containers_.size()));
      containers_.push_back(newContainer(tick_));
    }
  }

  std::uint64_t pages(int most) {
    return 4096 * (1 + random_() % static_cast<std::uint32_t>(most));
  }

  void move(std::uint64_t& value, int most) {
    if (random_() % 2 == 0) return;
    const std::uint64_t delta = pages(most);
    if (random_() % 2 == 0 || value < delta) {
      value += delta;
    } else {
      value -= delta;
    }
  }

  // Advances the container one tick; returns the cores it used.
  double step(Container& c) {
    std::normal_distribution<double> noise(1.0, 0.2);
    c.cores = std::max(0.0, std::round(c.baseCores * noise(random_) * 1e6) / 1e6);
    c.hasRates = tick_ > c.startedTick + 1;
    c.usageNs += static_cast<std::uint64_t>(c.cores * 1e9);
    move(c.workingSet, 32);
    move(c.inactiveFile, 8);
    move(c.rss, 32);
    c.throttledPeriodsRate = c.throttledSecondsRate = 0;
    if (c.limited && random_() % 5 == 0) {
      c.throttledPeriodsRate = static_cast<double>(1 + random_() % 10);
      c.throttledSecondsRate = std::round(c.throttledPeriodsRate * 0.004 * 1e6) / 1e6;
      c.throttledPeriods += static_cast<std::uint64_t>(c.throttledPeriodsRate);
    }
    if (c.pressured) {
      c.cpuSome += static_cast<double>(random_() % 5000);
      c.cpuFull += static_cast<double>(random_() % 1000);
    }
    if (random_() % 50 == 0) c.memorySome += static_cast<double>(random_() % 200);
    if (c.fresh && tick_ >= c.startedTick + 3) c.ready = true;
    return c.cores;
  }

  void fill(const Container& c, v1::ContainerSample& out) {
    out.set_id(c.id);
    out.set_cgroup(c.cgroup);
    out.set_runtime("containerd");
    auto* m = out.mutable_metadata();
    m->set_pod(c.pod);
    m->set_pod_uid(c.podUid);
    m->set_namespace_("team-" + std::to_string(c.workload.size() % 6));
    m->set_container(c.name);
    m->set_workload_kind("Deployment");
    m->set_workload(c.workload);
    m->set_cpu_request_cores(0.25);
    m->set_memory_request_bytes(256ull << 20);
    m->set_cpu_limit_cores(1);
    m->set_memory_limit_bytes(512ull << 20);
    m->set_ready(c.ready);
    m->set_start_time_unix_ms(1'700'000'000'000 + static_cast<std::int64_t>(c.startedTick) * 1000);
    m->set_pod_phase("Running");
    m->set_qos_class("Burstable");
    m->set_image(c.image);
    if (c.ready) {
      m->set_pod_ready_time_unix_ms(1'700'000'000'000 +
                                    static_cast<std::int64_t>(c.startedTick + 3) * 1000);
    }
    out.set_cpu_usage_ns_total(c.usageNs);
    if (c.hasRates) {
      out.set_cpu_cores(c.cores);
      const double user = std::round(c.cores * c.userShare * 1e6) / 1e6;
      out.set_cpu_user_cores(user);
      out.set_cpu_system_cores(std::max(0.0, std::round((c.cores - user) * 1e6) / 1e6));
      if (c.limited) {
        out.set_cpu_throttled_periods_per_second(c.throttledPeriodsRate);
        out.set_cpu_throttled_seconds_per_second(c.throttledSecondsRate);
      }
    }
    if (c.limited) out.set_cpu_limit_cores(1);
    out.set_cpu_weight(10);
    out.set_memory_usage_bytes(c.workingSet + c.inactiveFile);
    out.set_memory_working_set_bytes(c.workingSet);
    out.set_memory_rss_bytes(c.rss);
    out.set_memory_limit_bytes(512ull << 20);
    out.set_cpu_pressure_some_total_us(c.cpuSome);
    out.set_cpu_pressure_full_total_us(c.cpuFull);
    out.set_memory_pressure_some_total_us(c.memorySome);
    out.set_memory_pressure_full_total_us(0);
  }

  std::mt19937 random_;
  int churnEvery_;
  std::uint64_t tick_ = 0;
  int serial_ = 0;
  std::vector<Container> containers_;
  v1::SampleBatch batch_;
};

}  // namespace fleetscale::bench
