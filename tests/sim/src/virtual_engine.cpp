#include "fleetscale/sim/virtual_engine.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "fleetscale/aggregator/pipeline/decision_pipeline.h"
#include "fleetscale/aggregator/pipeline/workload_observation.h"
#include "fleetscale/aggregator/policy/policy_config.h"
#include "fleetscale/aggregator/state/rollup.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/hpa_baseline.h"
#include "fleetscale/sim/policy_writer.h"

namespace fleetscale::sim {
namespace {

namespace agg = fleetscale::aggregator;
using agg::scaling::HealthSignals;
using agg::scaling::HealthState;

// Who writes, as the API servers' write logs name them.
constexpr const char* kAggregatorUser = "system:serviceaccount:fleetscale:fleetscale-aggregator";
constexpr const char* kHpaUser = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";

// A disconnected agent's node is forgotten after this long (the aggregator's --forget-after).
constexpr double kForgetAfterSeconds = 600;
// From the agents' sampling instant to a decision on their round: fold and a look at the nodes.
constexpr double kRoundLatencySeconds = 0.01;

// The value of the last `--flag VALUE` or `--flag=VALUE` in `args`; "" when absent.
std::string flagValue(const std::vector<std::string>& args, std::string_view flag) {
  std::string value;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == flag && i + 1 < args.size()) {
      value = args[++i];
    } else if (arg.size() > flag.size() && arg.compare(0, flag.size(), flag) == 0 &&
               arg[flag.size()] == '=') {
      value = arg.substr(flag.size() + 1);
    }
  }
  return value;
}

std::int64_t wallMillis(WallTime origin, SimTime at) {
  return toUnixMillis(origin + std::chrono::duration_cast<WallTime::duration>(at));
}

// The kubelet writes its timestamps in RFC 3339 with whole seconds: what the agents read.
std::int64_t kubeletMillis(WallTime origin, SimTime at) {
  const std::int64_t millis = wallMillis(origin, at);
  return millis - ((millis % 1000) + 1000) % 1000;
}

SimTime every(double seconds) { return fromSeconds(seconds); }

// The next time on the schedule `phase + k * period` strictly after `t`.
SimTime nextAfter(SimTime t, SimTime phase, SimTime period) {
  if (t < phase) return phase;
  return phase + ((t - phase) / period + 1) * period;
}

// What the kubelet's /pods told an agent about one pod at its last refresh.
struct PodMeta {
  std::string name;
  agg::WorkloadKey workload;
  std::int64_t startMs = 0;  // status.startTime: when the pod was bound
  std::int64_t readyMs = 0;  // the Ready condition's transition, when Ready
  // The container has started, so the kubelet lists its id: the agent can label its cgroup.
  bool containerListed = false;
  bool pending = false;  // bound, container not started: phase Pending
  bool containerReady = false;
  std::int64_t containerStartMs = 0;  // state.running.startedAt
  std::optional<double> cpuRequest;
  std::optional<double> memoryRequest;
};

// The counters an agent read from a container at its previous sample.
struct TrackedContainer {
  double cpuNs = 0;
  double throttledNs = 0;
  SimTime at{};
  bool sampled = false;
};

struct ReportedPod {
  agg::WorkloadKey workload;
  agg::PodSample sample;
};

// What the aggregator holds of one agent: its latest batch.
struct AgentRecord {
  int cluster = 0;
  std::optional<SimTime> lastSeen;
  bool connected = true;
  int containers = 0;
  std::vector<ReportedPod> pods;
};

// One node's agent (the real one's sampler, discovery and metadata refresher) and the record the
// aggregator keeps of it.
struct NodeAgent {
  int cluster = 0;
  std::string node;
  double cpuCapacityCores = 0;
  double cpuAllocatableCores = 0;
  double memoryCapacityBytes = 0;
  double memoryAllocatableBytes = 0;
  bool down = false;      // killed by flap-agents
  bool flapping = false;  // flap-agents in force
  double flapPeriodSeconds = 0;
  SimTime nextFlap{};
  bool garbage = false;  // the kubelet answers /pods with garbage: the metadata stays as it was
  SimTime nextSample{};
  SimTime nextRefresh{};
  std::optional<SimTime> lastDiscovery;
  std::map<std::string, TrackedContainer> tracked;  // by pod uid
  std::map<std::string, PodMeta> metadata;          // by pod uid
  AgentRecord record;
};

// One cluster as faults leave it, and as the aggregator sees it: probes, health, scale reads.
struct ClusterState {
  std::string name;
  bool killed = false;
  bool apiPartitioned = false;
  bool agentsPartitioned = false;
  bool apiReachable = false;  // the latest probe
  std::optional<SimTime> lastProbeOk;
  agg::scaling::ClusterHealth health;
  // Watched workloads' spec.replicas as last read or written, and when.
  std::map<agg::WorkloadKey, std::optional<std::pair<int, SimTime>>> scales;

  ClusterState(std::string clusterName, agg::scaling::HealthThresholds thresholds)
      : name(std::move(clusterName)), health(thresholds) {}
  bool apiUp() const { return !killed && !apiPartitioned; }
};

WorkloadKind kindOf(const std::string& kind) {
  return kind == "StatefulSet" ? WorkloadKind::kStatefulSet : WorkloadKind::kDeployment;
}

agg::PolicyConfig policyOf(const Scenario& scenario) {
  // The policy the simulator writes for the aggregator (kubeconfig paths are not read here).
  std::vector<PolicyCluster> clusters;
  for (const auto& cluster : scenario.clusters) clusters.push_back({cluster.name, "unused", ""});
  auto policy =
      agg::parsePolicyConfig(aggregatorPolicyYaml(scenario, clusters), "virtual-time policy");
  if (!policy) throw std::invalid_argument(policy.error().message);
  return std::move(*policy);
}

}  // namespace

Result<VirtualTiming> virtualTiming(const Scenario& scenario) {
  VirtualTiming timing;
  const auto& agentArgs = scenario.agents.extraArgs;
  const auto& aggregatorArgs = scenario.aggregator.extraArgs;
  // Later arguments win, as the processes' command lines have them: the scenario's own keys
  // first, then its args.
  auto pick = [](const std::string& key, const std::string& arg) {
    return arg.empty() ? key : arg;
  };
  struct Setting {
    const char* name;
    std::string text;
    double* seconds;
  };
  double failedAfter = -1;
  double healthyAfter = -1;
  double debounce = 0.25;  // the aggregator's --decision-debounce default
  const std::vector<Setting> settings = {
      {"--interval", pick(scenario.agents.interval, flagValue(agentArgs, "--interval")),
       &timing.agentIntervalSeconds},
      {"--rediscover-interval",
       pick(scenario.agents.rediscoverInterval, flagValue(agentArgs, "--rediscover-interval")),
       &timing.rediscoverSeconds},
      {"--metadata-interval", flagValue(agentArgs, "--metadata-interval"), &timing.metadataSeconds},
      {"--tick", flagValue(aggregatorArgs, "--tick"), &timing.decisionSeconds},
      {"--probe-interval",
       pick(scenario.aggregator.probeInterval, flagValue(aggregatorArgs, "--probe-interval")),
       &timing.probeSeconds},
      {"--scale-refresh", flagValue(aggregatorArgs, "--scale-refresh"),
       &timing.scaleRefreshSeconds},
      {"--failed-after",
       pick(scenario.aggregator.failedAfter, flagValue(aggregatorArgs, "--failed-after")),
       &failedAfter},
      {"--healthy-after",
       pick(scenario.aggregator.healthyAfter, flagValue(aggregatorArgs, "--healthy-after")),
       &healthyAfter},
      {"--decision-debounce", flagValue(aggregatorArgs, "--decision-debounce"), &debounce},
  };
  for (const auto& setting : settings) {
    if (setting.text.empty()) continue;
    auto parsed = parseDuration(setting.text);
    if (!parsed) return Error{std::string(setting.name) + ": " + parsed.error().message};
    *setting.seconds = std::chrono::duration<double>(*parsed).count();
  }
  for (const auto& setting : settings) {
    if (setting.seconds != &failedAfter && setting.seconds != &healthyAfter &&
        setting.seconds != &debounce && *setting.seconds <= 0) {
      return Error{std::string(setting.name) + ": must be positive in virtual time"};
    }
  }
  using std::chrono::milliseconds;
  if (failedAfter >= 0) {
    timing.health.failedAfter = milliseconds(std::llround(failedAfter * 1000));
  }
  if (healthyAfter >= 0) {
    timing.health.healthyAfter = milliseconds(std::llround(healthyAfter * 1000));
  }
  // Deciding on arrival, the aggregator decides once the agents' sampling round is in; here
  // every agent samples at the same instant and its batch arrives at once, so the round is in
  // straight away (kRoundLatencySeconds: the fold and a look at the nodes). On its tick alone,
  // half an agent interval after the round on average.
  timing.decisionPhaseSeconds =
      debounce > 0 ? std::fmod(timing.agentPhaseSeconds + std::min(debounce, kRoundLatencySeconds),
                               timing.decisionSeconds)
                   : std::fmod(timing.agentPhaseSeconds + timing.agentIntervalSeconds / 2,
                               timing.decisionSeconds);
  return timing;
}

Status checkVirtualFaults(const Scenario& scenario) {
  for (const auto& fault : scenario.faults) {
    if (fault.kind == FaultKind::kSlowApi || fault.kind == FaultKind::kFailingApi ||
        fault.kind == FaultKind::kConflictStorm || fault.kind == FaultKind::kResizeUnsupported ||
        fault.kind == FaultKind::kResizeForbidden) {
      return Error{"fault " + std::string(toString(fault.kind)) + " at " +
                   std::to_string(fault.atSeconds) +
                   " s acts on single API requests, which virtual time does not simulate; run the "
                   "scenario in real time"};
    }
    if (fault.kind == FaultKind::kRolloutAgents) {
      return Error{"fault rollout-agents at " + std::to_string(fault.atSeconds) +
                   " s restarts agent processes one by one, which virtual time does not simulate "
                   "yet; run the scenario in real time"};
    }
  }
  return {};
}

struct VirtualEngine::Impl {
  Impl(const Scenario& s, VirtualOptions o, VirtualTiming t)
      : scenario(s), options(o), timing(t), model(scenario, options.origin) {}

  Scenario scenario;
  VirtualOptions options;
  VirtualTiming timing;
  FleetModel model;
  bool aggregatorDecides = false;
  agg::PolicyConfig policy;
  std::unique_ptr<HpaBaseline> baseline;
  std::unique_ptr<VirtualRightsizing> rightsizing;
  std::vector<NodeAgent> agents;
  std::vector<AgentRecord> forgottenLater;  // records of agents that were restarted
  std::vector<ClusterState> clusters;
  std::map<agg::WorkloadKey, agg::WorkloadMemory> memories;
  Timeline timeline;
  std::vector<VirtualWrite> writes;
  std::vector<FaultSpec> scheduled;                    // in time order, not yet applied
  std::vector<std::pair<SimTime, FaultSpec>> endings;  // faults with `for`

  SimTime tick{};
  SimTime duration{};
  std::int64_t ticks = 0;  // run so far; the next one is at ticks * tick
  SimTime last{-1};
  SimTime nextDecision{};
  SimTime nextProbe{};
  SimTime nextTimelineSample{};
  std::vector<std::pair<std::uint64_t, bool>> recordedState;  // per cluster, at the last sample
  std::uint64_t decisions = 0;
  std::optional<agg::FleetSnapshot> lastSnapshot;

  SimTime sampleEvery() const { return every(timing.agentIntervalSeconds); }
  WallTime wallAt(SimTime at) const {
    return options.origin + std::chrono::duration_cast<WallTime::duration>(at);
  }
  ClusterState& stateOf(const std::string& cluster) {
    for (auto& state : clusters) {
      if (state.name == cluster) return state;
    }
    throw std::out_of_range(cluster);
  }

  void setUp();
  void runTick(SimTime t);
  void applyFaults(SimTime t);
  void applyFault(const FaultSpec& fault, bool ending, SimTime t);
  void startAgent(NodeAgent& agent, SimTime t);
  void flapAgents(SimTime t);
  void sample(NodeAgent& agent, SimTime t);
  void refreshMetadata(NodeAgent& agent, SimTime t);
  void probe(SimTime t);
  agg::FleetSnapshot snapshot(SimTime t) const;
  void updateHealth(const agg::FleetSnapshot& snapshot, SimTime t);
  void decide(SimTime t);
  void decideWorkload(const agg::WorkloadConfig& workload, const agg::FleetSnapshot& snapshot,
                      const agg::PipelineContext& context, SimTime t);
  void stepBaseline(SimTime t);
  bool write(const std::string& cluster, const std::string& namespaceName, const std::string& name,
             WorkloadKind kind, int replicas, const std::string& user, const std::string& reason,
             SimTime t);
  void record(SimTime t, bool force);
};

void VirtualEngine::Impl::setUp() {
  tick = every(scenario.tickSeconds);
  const double seconds = options.durationSeconds.value_or(scenario.durationSeconds);
  duration = fromSeconds(seconds);
  for (const auto& cluster : scenario.clusters) clusters.emplace_back(cluster.name, timing.health);
  scheduled = scenario.faults;
  std::stable_sort(scheduled.begin(), scheduled.end(), [](const FaultSpec& a, const FaultSpec& b) {
    return a.atSeconds < b.atSeconds;
  });
  if (scenario.agents.enabled) {
    for (std::size_t c = 0; c < model.clusters().size(); ++c) {
      for (const auto& node : model.clusters()[c].nodes()) {
        NodeAgent agent;
        agent.cluster = static_cast<int>(c);
        agent.node = node.name;
        agent.cpuCapacityCores = node.capacity.cpuCores;
        agent.cpuAllocatableCores = node.allocatable.cpuCores;
        agent.memoryCapacityBytes = node.capacity.memoryBytes;
        agent.memoryAllocatableBytes = node.allocatable.memoryBytes;
        agent.record.cluster = static_cast<int>(c);
        agents.push_back(std::move(agent));
      }
    }
  }
  if (options.hpaBaseline) {
    if (scenario.autoscaled()) {
      BaselineOptions baselineOptions;
      baselineOptions.scrapePhaseSeconds = timing.baselineScrapePhaseSeconds;
      baseline = std::make_unique<HpaBaseline>(scenario, baselineOptions);
    }
  } else if (scenario.autoscaled() && scenario.aggregator.enabled) {
    aggregatorDecides = true;
    policy = policyOf(scenario);
  }
  if (options.rightsizing) {
    std::optional<agg::PolicyConfig> horizontal;
    if (scenario.autoscaled()) horizontal = aggregatorDecides ? policy : policyOf(scenario);
    rightsizing = std::make_unique<VirtualRightsizing>(
        scenario, horizontal ? &*horizontal : nullptr, *options.rightsizing);
  }
  const SimTime phase = every(timing.decisionPhaseSeconds);
  nextDecision = phase;
  nextProbe = phase;
  for (auto& agent : agents) {
    agent.nextSample = every(timing.agentPhaseSeconds);
    agent.nextRefresh = agent.nextSample;
  }
}

void VirtualEngine::Impl::runTick(SimTime t) {
  applyFaults(t);
  flapAgents(t);
  model.step(t);
  if (rightsizing && last >= SimTime{0}) rightsizing->meter(model, t, t - last);
  for (auto& agent : agents) {
    const ClusterState& cluster = clusters[agent.cluster];
    if (cluster.killed || agent.down) continue;  // frozen or not running: its clock stands still
    // Samples first: a metadata refresh published at the same instant applies from the next one.
    if (t >= agent.nextSample) {
      sample(agent, t);
      agent.nextSample = nextAfter(t, agent.nextSample, sampleEvery());
    }
    if (t >= agent.nextRefresh) {
      if (!agent.garbage) refreshMetadata(agent, t);
      agent.nextRefresh = nextAfter(t, agent.nextRefresh, every(timing.metadataSeconds));
    }
  }
  if (aggregatorDecides) {
    if (t >= nextProbe) {
      probe(t);
      nextProbe = nextAfter(t, nextProbe, every(timing.probeSeconds));
    }
    if (t >= nextDecision) {
      decide(t);
      nextDecision = nextAfter(t, nextDecision, every(timing.decisionSeconds));
    }
  } else if (rightsizing && t >= nextDecision) {
    // No decisions, but the state loop still ticks and feeds the recommender.
    rightsizing->observe(snapshot(t), t);
    nextDecision = nextAfter(t, nextDecision, every(timing.decisionSeconds));
  }
  if (rightsizing) rightsizing->apply(model, t);
  if (baseline) stepBaseline(t);
  last = t;
  record(t, false);
}

void VirtualEngine::Impl::applyFaults(SimTime t) {
  std::vector<std::pair<FaultSpec, bool>> due;
  while (!scheduled.empty() && fromSeconds(scheduled.front().atSeconds) <= t) {
    due.emplace_back(scheduled.front(), false);
    scheduled.erase(scheduled.begin());
  }
  for (auto it = endings.begin(); it != endings.end();) {
    if (it->first <= t) {
      due.emplace_back(it->second, true);
      it = endings.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [fault, ending] : due) applyFault(fault, ending, t);
}

void VirtualEngine::Impl::applyFault(const FaultSpec& fault, bool ending, SimTime t) {
  for (std::size_t c = 0; c < clusters.size(); ++c) {
    ClusterState& cluster = clusters[c];
    if (!fault.cluster.empty() && cluster.name != fault.cluster) continue;
    auto eachNode = [&](auto&& change) {
      int index = 0;
      for (auto& agent : agents) {
        if (agent.cluster != static_cast<int>(c)) continue;
        const bool selected =
            fault.nodes.empty() ||
            std::any_of(fault.nodes.begin(), fault.nodes.end(), [&](const std::string& node) {
              return node == agent.node || node == std::to_string(index);
            });
        if (selected) change(agent);
        ++index;
      }
    };
    switch (fault.kind) {
      case FaultKind::kKillCluster:
        cluster.killed = !ending;
        break;
      case FaultKind::kReviveCluster:
        cluster.killed = false;
        break;
      case FaultKind::kPartitionApi:
        cluster.apiPartitioned = !ending;
        break;
      case FaultKind::kPartitionAgents:
        cluster.agentsPartitioned = !ending;
        break;
      case FaultKind::kFlapAgents:
        eachNode([&](NodeAgent& agent) {
          agent.flapping = !ending;
          agent.flapPeriodSeconds = fault.periodSeconds;
          agent.nextFlap = t;
          if (ending && agent.down) startAgent(agent, t);
        });
        break;
      case FaultKind::kKubeletGarbage:
        eachNode([&](NodeAgent& agent) { agent.garbage = !ending; });
        break;
      case FaultKind::kHeal:
        cluster.apiPartitioned = false;
        cluster.agentsPartitioned = false;
        eachNode([&](NodeAgent& agent) {
          agent.flapping = false;
          agent.garbage = false;
          if (agent.down) startAgent(agent, t);
        });
        break;
      case FaultKind::kSlowApi:
      case FaultKind::kFailingApi:
      case FaultKind::kConflictStorm:
      case FaultKind::kRolloutAgents:
      case FaultKind::kResizeUnsupported:
      case FaultKind::kResizeForbidden:
        break;  // refused by checkVirtualFaults
    }
    model.setAlive(cluster.name, !cluster.killed, t);
  }
  timeline.faults.push_back({toSeconds(t), fault.kind, fault.cluster, ending});
  if (!ending && fault.forSeconds && fault.kind != FaultKind::kReviveCluster &&
      fault.kind != FaultKind::kHeal) {
    endings.emplace_back(t + fromSeconds(*fault.forSeconds), fault);
  }
}

// A new agent process on the node: a new identity (the aggregator keeps the old one's record
// until it forgets it), nothing tracked, the kubelet asked at once.
void VirtualEngine::Impl::startAgent(NodeAgent& agent, SimTime t) {
  if (agent.record.lastSeen) {
    AgentRecord old = std::move(agent.record);
    old.connected = false;
    forgottenLater.push_back(std::move(old));
  }
  agent.record = AgentRecord{};
  agent.record.cluster = agent.cluster;
  agent.down = false;
  agent.tracked.clear();
  agent.metadata.clear();
  agent.lastDiscovery.reset();
  agent.nextSample = t;
  agent.nextRefresh = t;
  if (!agent.garbage) refreshMetadata(agent, t);
}

void VirtualEngine::Impl::flapAgents(SimTime t) {
  for (auto& agent : agents) {
    if (!agent.flapping || t < agent.nextFlap || clusters[agent.cluster].killed) continue;
    agent.nextFlap = t + fromSeconds(agent.flapPeriodSeconds / 2);
    if (agent.down) {
      startAgent(agent, t);
    } else {
      agent.down = true;
      agent.record.connected = false;
    }
  }
}

void VirtualEngine::Impl::refreshMetadata(NodeAgent& agent, SimTime t) {
  const ClusterModel& cluster = model.clusters()[agent.cluster];
  const WallTime origin = options.origin;
  agent.metadata.clear();
  for (const auto& pod : cluster.pods()) {
    if (pod.node != agent.node || pod.isSystem()) continue;  // kube-proxy decides nothing
    PodMeta meta;
    meta.name = pod.name;
    meta.workload = {pod.namespaceName, std::string(toString(pod.kind)), pod.workload};
    meta.startMs = kubeletMillis(origin, pod.scheduledAt.value_or(pod.createdAt));
    // A container waiting out a crash back-off is listed too (state waiting, its last id).
    const bool running = pod.started(t);
    const bool ready = pod.ready(t);
    if (ready) meta.readyMs = kubeletMillis(origin, *pod.readyAt);
    meta.containerListed = running;
    meta.pending = !running;
    meta.containerReady = ready;
    if (running && pod.runningAt && *pod.runningAt <= t) {
      meta.containerStartMs = kubeletMillis(origin, *pod.runningAt);
    }
    const ContainerResources& resources = pod.container.resources;
    meta.cpuRequest = resources.cpuRequest;
    if (resources.memoryRequest) meta.memoryRequest = std::ceil(*resources.memoryRequest);
    agent.metadata.emplace(pod.uid, std::move(meta));
  }
}

void VirtualEngine::Impl::sample(NodeAgent& agent, SimTime t) {
  const ClusterModel& cluster = model.clusters()[agent.cluster];
  std::unordered_map<std::string_view, const PodState*> here;
  for (const auto& pod : cluster.pods()) {
    if (pod.node == agent.node && !pod.isSystem()) here.emplace(pod.uid, &pod);
  }
  // Discovery: the running containers' cgroups, every rediscover interval.
  if (!agent.lastDiscovery || t - *agent.lastDiscovery >= fromSeconds(timing.rediscoverSeconds)) {
    // Through a crash back-off the container's cgroup stays (its counters standing still).
    for (const auto& [uid, pod] : here) {
      if (pod->started(t)) agent.tracked.try_emplace(std::string(uid));
    }
    agent.lastDiscovery = t;
  }
  std::vector<ReportedPod> reported;
  for (auto it = agent.tracked.begin(); it != agent.tracked.end();) {
    const auto found = here.find(it->first);
    if (found == here.end() || !found->second->started(t)) {
      it = agent.tracked.erase(it);  // its cgroup is gone
      continue;
    }
    const PodState& pod = *found->second;
    TrackedContainer& previous = it->second;
    agg::ContainerContribution container;
    // Rates over the interval since the previous read, as the agent computes them from cpu.stat
    // (usage and throttled time): none on a container's first read.
    if (previous.sampled && t > previous.at) {
      const double seconds = toSeconds(t - previous.at);
      container.cpuUsageCores = (pod.counters.cpuNs - previous.cpuNs) / 1e9 / seconds;
      container.cpuThrottledCores =
          (pod.counters.throttledNs - previous.throttledNs) / 1e9 / seconds;
    }
    previous = {pod.counters.cpuNs, pod.counters.throttledNs, t, true};
    // The agent reads the limit from the cgroup's cpu.max (cfs_quota_us) on every tick.
    if (pod.actual.cpuLimit) container.cpuLimitCores = *pod.actual.cpuLimit;
    // And memory.max, memory.events' oom_kill; the restart count is the kubelet's.
    if (pod.actual.memoryLimit) container.memoryLimitBytes = *pod.actual.memoryLimit;
    container.oomKillsTotal = pod.counters.oomKills;
    container.restartCount = static_cast<std::uint32_t>(pod.restartCount);
    ++it;
    const auto meta = agent.metadata.find(pod.uid);
    // Without the pod in the metadata the agent does not know the workload: the aggregator
    // attributes the container to none.
    if (meta == agent.metadata.end()) continue;
    const PodMeta& m = meta->second;
    container.memoryUsageBytes = pod.counters.memoryBytes;
    container.podReadyTimeUnixMs = m.readyMs;
    container.listed = m.containerListed;
    container.podPending = m.pending;
    if (m.containerListed) {
      container.name = pod.container.name;
      if (m.cpuRequest) container.cpuRequestCores = *m.cpuRequest;
      if (m.memoryRequest) container.memoryRequestBytes = *m.memoryRequest;
      container.ready = m.containerReady;
      container.startTimeUnixMs = m.containerStartMs;
    } else {
      // Started after the last refresh: only the pod's labels, no request, no readiness.
      container.startTimeUnixMs = m.startMs;
    }
    ReportedPod out;
    out.workload = m.workload;
    out.sample.cluster = cluster.name();
    out.sample.node = agent.node;
    out.sample.pod = m.name;
    out.sample.add(container);
    out.sample.finish();
    reported.push_back(std::move(out));
  }
  // The kubelet's Pending pods whose container has no cgroup yet (SampleBatch.pending_pods).
  for (const auto& [uid, m] : agent.metadata) {
    if (!m.pending || agent.tracked.contains(uid)) continue;
    ReportedPod out;
    out.workload = m.workload;
    out.sample.cluster = cluster.name();
    out.sample.node = agent.node;
    out.sample.pod = m.name;
    out.sample.pending = true;
    out.sample.ready = false;
    out.sample.cpuRequestCores = m.cpuRequest.value_or(kAbsent);
    out.sample.memoryRequestBytes = m.memoryRequest.value_or(kAbsent);
    reported.push_back(std::move(out));
  }
  if (clusters[agent.cluster].agentsPartitioned) return;  // the relay holds the batch
  agent.record.lastSeen = t;
  agent.record.connected = true;
  agent.record.containers = static_cast<int>(agent.tracked.size());
  agent.record.pods = std::move(reported);
}

void VirtualEngine::Impl::probe(SimTime t) {
  for (auto& cluster : clusters) {
    cluster.apiReachable = cluster.apiUp();
    if (!cluster.apiReachable) continue;
    cluster.lastProbeOk = t;
    const ClusterModel* clusterModel = model.findCluster(cluster.name);
    for (auto& [workload, cached] : cluster.scales) {
      if (cached && t - cached->second < fromSeconds(timing.scaleRefreshSeconds)) continue;
      const WorkloadObject* object =
          clusterModel->find(kindOf(workload.kind), workload.namespaceName, workload.name);
      if (object != nullptr) cached = std::pair{object->replicas, t};
    }
  }
}

agg::FleetSnapshot VirtualEngine::Impl::snapshot(SimTime t) const {
  const WallTime now = wallAt(t);
  const double interval = timing.agentIntervalSeconds;
  agg::FleetSnapshot out;
  out.takenAt = now;
  WallTime newestRound{};
  for (const auto& agent : agents) {
    if (agent.record.lastSeen && !agg::isStale(wallAt(*agent.record.lastSeen), interval, now))
      newestRound = std::max(newestRound, wallAt(*agent.record.lastSeen));
  }
  std::vector<agg::NodeContribution> nodes;
  std::map<agg::WorkloadKey, std::vector<agg::PodSample>> pods;
  auto add = [&](const AgentRecord& record, const NodeAgent* agent) {
    if (!record.lastSeen) return;
    const WallTime seen = wallAt(*record.lastSeen);
    if (!record.connected && t - *record.lastSeen > fromSeconds(kForgetAfterSeconds)) return;
    const bool stale = agg::isStale(seen, interval, now);
    // Every agent here samples on the clock, in the same rounds.
    const bool late = stale || agg::isLate(seen, interval, now) ||
                      agg::isBehindRound(seen, interval, newestRound);
    agg::NodeContribution node;
    node.cluster = model.clusters()[record.cluster].name();
    node.stale = stale;
    node.lastSeen = seen;
    node.connected = record.connected;
    node.containers = record.containers;
    if (agent != nullptr) {
      node.totals.cpuCapacityCores = agent->cpuCapacityCores;
      node.totals.cpuAllocatableCores = agent->cpuAllocatableCores;
      node.totals.memoryCapacityBytes = static_cast<std::uint64_t>(agent->memoryCapacityBytes);
      node.totals.memoryAllocatableBytes =
          static_cast<std::uint64_t>(agent->memoryAllocatableBytes);
    }
    nodes.push_back(std::move(node));
    for (const auto& pod : record.pods) {
      agg::PodSample sample = pod.sample;
      sample.stale = stale;
      sample.late = late;
      pods[pod.workload].push_back(std::move(sample));
    }
  };
  for (const auto& agent : agents) add(agent.record, &agent);
  for (const auto& record : forgottenLater) add(record, nullptr);
  for (auto& [key, samples] : pods) {
    out.workloads.push_back(agg::rollupWorkload(key, std::move(samples)));
  }
  out.clusters = agg::summarizeClusters(nodes);
  return out;
}

// As the aggregator's cluster registry does (ClusterRegistry::updateHealth): agent coverage and
// the latest probe per cluster, the silence counted from the last sign of either.
void VirtualEngine::Impl::updateHealth(const agg::FleetSnapshot& snapshot, SimTime t) {
  std::vector<HealthSignals> all;
  for (auto& cluster : clusters) {
    HealthSignals signals;
    signals.apiReachable = cluster.apiReachable;
    for (const auto& seen : snapshot.clusters) {
      if (seen.name != cluster.name) continue;
      signals.agentCoverage =
          seen.nodes > 0 ? static_cast<double>(seen.nodes - seen.staleNodes) / seen.nodes : 0.0;
      if (seen.lastSeen != WallTime{}) {
        auto silent =
            std::chrono::duration_cast<std::chrono::milliseconds>(snapshot.takenAt - seen.lastSeen);
        if (cluster.lastProbeOk) {
          silent = std::min(silent, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        t - *cluster.lastProbeOk));
        }
        signals.silentFor = std::max(silent, std::chrono::milliseconds(0));
      }
    }
    all.push_back(signals);
  }
  const bool cutOff = agg::scaling::noClusterReachable(all, timing.health);
  const SteadyTime now{std::chrono::duration_cast<SteadyTime::duration>(t)};
  for (std::size_t i = 0; i < clusters.size(); ++i) clusters[i].health.update(all[i], now, cutOff);
}

void VirtualEngine::Impl::decide(SimTime t) {
  agg::FleetSnapshot fleet = snapshot(t);
  updateHealth(fleet, t);
  agg::PipelineContext context;
  context.now = fleet.takenAt;
  // Every cluster a decision may ask about: the policy's (the scenario's) and those the agents
  // report from, with what they request there (as ScalingLoop::beginPass gathers them).
  for (const auto& cluster : clusters) {
    agg::ClusterConditions& conditions = context.clusters[cluster.name];
    conditions.health = cluster.health.state();
  }
  for (const auto& seen : fleet.clusters) {
    agg::ClusterConditions& conditions = context.clusters[seen.name];
    conditions.resources.cpuAllocatableCores = seen.cpuAllocatableCores;
    conditions.resources.memoryAllocatableBytes = seen.memoryAllocatableBytes;
  }
  for (const auto& workload : fleet.workloads) {
    for (const auto& rollup : workload.clusters) {
      agg::ClusterConditions& conditions = context.clusters[rollup.cluster];
      conditions.resources.cpuRequestedCores += rollup.cpuRequestCores;
      conditions.resources.memoryRequestedBytes += rollup.memoryRequestBytes;
    }
  }
  for (const auto& workload : policy.workloads) decideWorkload(workload, fleet, context, t);
  ++decisions;
  if (rightsizing) rightsizing->observe(fleet, t);
  lastSnapshot = std::move(fleet);
}

void VirtualEngine::Impl::decideWorkload(const agg::WorkloadConfig& workload,
                                         const agg::FleetSnapshot& fleet,
                                         const agg::PipelineContext& context, SimTime t) {
  const agg::WorkloadKey key = workload.key();
  agg::WorkloadInput input;
  input.policy = workload.policy;
  input.placements = agg::placementsOf(workload, policy);
  const agg::WorkloadSnapshot* seen = fleet.find(key);
  if (seen == nullptr)
    seen = fleet.find(agg::WorkloadKey{workload.namespaceName, "", workload.name});
  if (seen != nullptr) {
    input.observation = agg::buildObservation(
        *seen, 0, fleet.takenAt,
        std::chrono::duration_cast<std::chrono::milliseconds>(every(timing.decisionSeconds)),
        workload.policy.cpuDemand);
    if (seen->total.replicasSeen > 0) {
      input.perPod.cpuCores = seen->total.cpuRequestCores / seen->total.replicasSeen;
      input.perPod.memoryBytes = seen->total.memoryRequestBytes / seen->total.replicasSeen;
    }
  }
  for (const auto& placement : input.placements) {
    ClusterState& cluster = stateOf(placement.name);
    const auto cached = cluster.scales.try_emplace(key).first->second;  // watched from now on
    if (cached) input.specReplicas[placement.name] = cached->first;
  }
  const agg::PipelineResult result = agg::runPipeline(context, input, memories[key]);
  for (const auto& [cluster, replicas] : result.writes) {
    const bool applied =
        write(cluster, workload.namespaceName, workload.name, kindOf(workload.kind), replicas,
              kAggregatorUser, result.decision.reason, t);
    if (applied) stateOf(cluster).scales[key] = std::pair{replicas, t};
  }
}

void VirtualEngine::Impl::stepBaseline(SimTime t) {
  for (const auto& w : baseline->step(model, t)) {
    write(w.cluster, w.namespaceName, w.name, w.kind, w.replicas, kHpaUser, w.reason, t);
  }
}

bool VirtualEngine::Impl::write(const std::string& cluster, const std::string& namespaceName,
                                const std::string& name, WorkloadKind kind, int replicas,
                                const std::string& user, const std::string& reason, SimTime t) {
  const std::string workload = namespaceName + "/" + name;
  VirtualWrite record{toSeconds(t), cluster, workload, replicas, false, reason};
  ClusterModel* target = model.findCluster(cluster);
  if (target == nullptr || !stateOf(cluster).apiUp()) {
    writes.push_back(std::move(record));
    return false;
  }
  const WorkloadObject* object = target->find(kind, namespaceName, name);
  const int before = object != nullptr ? object->replicas : 0;
  const ApiResult result = target->setReplicas(kind, namespaceName, name, replicas, "", t);
  record.applied = result.ok();
  writes.push_back(std::move(record));
  if (result.ok() && before != replicas) {
    timeline.actions.push_back({toSeconds(t), cluster, workload, before, replicas, user});
  }
  return result.ok();
}

// A timeline sample every sample interval, and whenever a cluster changed (a write, a pod made,
// removed or changing stage, a kill or revival), so capacity changes are timed exactly even with
// a long interval.
void VirtualEngine::Impl::record(SimTime t, bool force) {
  const auto& models = model.clusters();
  bool changed = recordedState.size() != models.size();
  for (std::size_t c = 0; !changed && c < models.size(); ++c) {
    changed = recordedState[c] != std::pair{models[c].resourceVersion(), models[c].alive()};
  }
  const bool due = t >= nextTimelineSample;
  if (!force && !due && !changed) return;
  if (!timeline.samples.empty() && timeline.samples.back().seconds == toSeconds(t)) return;
  timeline.samples.push_back(model.sample());
  recordedState.clear();
  for (const auto& cluster : models) {
    recordedState.emplace_back(cluster.resourceVersion(), cluster.alive());
  }
  if (due) {
    nextTimelineSample += every(scenario.sampleIntervalSeconds);
    if (nextTimelineSample <= t) nextTimelineSample = t + every(scenario.sampleIntervalSeconds);
  }
}

Result<std::unique_ptr<VirtualEngine>> VirtualEngine::create(const Scenario& scenario,
                                                             VirtualOptions options) {
  if (Status faults = checkVirtualFaults(scenario); !faults) return Error{faults.message()};
  VirtualTiming timing;
  if (options.timing) {
    timing = *options.timing;
  } else {
    auto derived = virtualTiming(scenario);
    if (!derived) return derived.error();
    timing = *derived;
  }
  if (scenario.tickSeconds <= 0) return Error{"tick: must be positive"};
  auto impl = std::make_unique<Impl>(scenario, options, timing);
  try {
    impl->setUp();
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
  return std::unique_ptr<VirtualEngine>(new VirtualEngine(std::move(impl)));
}

VirtualEngine::VirtualEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VirtualEngine::~VirtualEngine() = default;

void VirtualEngine::run() { runUntil(toSeconds(impl_->duration)); }

void VirtualEngine::runUntil(double seconds) {
  Impl& impl = *impl_;
  const SimTime until = std::min(fromSeconds(seconds), impl.duration);
  while (impl.ticks * impl.tick <= until) {
    const SimTime t = impl.ticks * impl.tick;
    impl.runTick(t);
    ++impl.ticks;
    // The last tick of the run closes the timeline, as real time does at its duration.
    if ((impl.ticks * impl.tick) > impl.duration) impl.record(t, true);
  }
}

bool VirtualEngine::finished() const { return impl_->ticks * impl_->tick > impl_->duration; }
double VirtualEngine::now() const { return toSeconds(std::max(impl_->last, SimTime{0})); }
const Timeline& VirtualEngine::timeline() const { return impl_->timeline; }
const std::vector<VirtualWrite>& VirtualEngine::writes() const { return impl_->writes; }
const FleetModel& VirtualEngine::model() const { return impl_->model; }
const VirtualTiming& VirtualEngine::timing() const { return impl_->timing; }

const agg::FleetSnapshot* VirtualEngine::lastSnapshot() const {
  return impl_->lastSnapshot ? &*impl_->lastSnapshot : nullptr;
}

const VirtualRightsizing* VirtualEngine::rightsizing() const { return impl_->rightsizing.get(); }

agg::scaling::HealthState VirtualEngine::clusterHealth(const std::string& cluster) const {
  for (const auto& state : impl_->clusters) {
    if (state.name == cluster) return state.health.state();
  }
  return HealthState::kFailed;  // as the registry answers for a cluster it does not know
}

Report VirtualEngine::report() const {
  return computeReport(impl_->scenario.name, impl_->timeline, measurementOptions(impl_->scenario));
}

nlohmann::json VirtualEngine::reportJson(double seriesEverySeconds) const {
  const Impl& impl = *impl_;
  nlohmann::json out = sim::reportJson(report(), impl.timeline, seriesEverySeconds);
  const VirtualTiming& t = impl.timing;
  out["virtual_time"] = {{"scaler", impl.options.hpaBaseline ? "hpa-baseline" : "aggregator"},
                         {"ticks", impl.ticks},
                         {"tick_seconds", impl.scenario.tickSeconds},
                         {"decisions", impl.decisions},
                         {"writes", impl.writes.size()},
                         {"timing",
                          {{"agent_interval_seconds", t.agentIntervalSeconds},
                           {"rediscover_seconds", t.rediscoverSeconds},
                           {"metadata_seconds", t.metadataSeconds},
                           {"agent_phase_seconds", t.agentPhaseSeconds},
                           {"baseline_scrape_phase_seconds", t.baselineScrapePhaseSeconds},
                           {"decision_seconds", t.decisionSeconds},
                           {"decision_phase_seconds", t.decisionPhaseSeconds},
                           {"probe_seconds", t.probeSeconds},
                           {"scale_refresh_seconds", t.scaleRefreshSeconds},
                           {"failed_after_seconds", t.health.failedAfter.count() / 1000.0},
                           {"healthy_after_seconds", t.health.healthyAfter.count() / 1000.0}}}};
  if (impl.rightsizing) out["rightsizing"] = impl.rightsizing->reportJson(impl.timeline);
  return out;
}

}  // namespace fleetscale::sim
