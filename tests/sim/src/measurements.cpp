#include "fleetscale/sim/measurements.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "fleetscale/sim/status_view.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

constexpr double kEpsilon = 1e-9;

// Width of the interval sample i stands for (left Riemann sum; the last sample has none).
double widthAt(const Timeline& timeline, std::size_t i) {
  if (i + 1 >= timeline.samples.size()) return 0;
  return timeline.samples[i + 1].seconds - timeline.samples[i].seconds;
}

const WorkloadSample* sampleOf(const TimelineSample& sample, const std::string& workload) {
  const auto it = sample.workloads.find(workload);
  return it == sample.workloads.end() ? nullptr : &it->second;
}

int totalReady(const WorkloadSample& sample) {
  int ready = 0;
  for (const auto& [cluster, replicas] : sample.clusters) {
    if (replicas.alive) ready += replicas.ready;
  }
  return ready;
}

// For each action (by index; 0 for other workloads'): the workload's desired replicas summed
// over the live clusters once the action is applied. Desired counts start from the first
// sample's and follow the actions; a cluster is live as the last sample at or before the action
// says.
std::vector<double> liveDesiredAfterActions(const Timeline& timeline, const std::string& workload) {
  std::vector<double> out(timeline.actions.size(), 0);
  std::map<std::string, int> desired;
  std::map<std::string, bool> alive;
  std::size_t next = 0;  // the first sample not yet looked at
  bool seeded = false;
  for (std::size_t a = 0; a < timeline.actions.size(); ++a) {
    const ScaleAction& action = timeline.actions[a];
    if (action.workload != workload) continue;
    for (; next < timeline.samples.size() && timeline.samples[next].seconds <= action.seconds;
         ++next) {
      const WorkloadSample* sample = sampleOf(timeline.samples[next], workload);
      if (!sample) continue;
      for (const auto& [cluster, replicas] : sample->clusters) {
        alive[cluster] = replicas.alive;
        if (!seeded) desired[cluster] = replicas.desired;
      }
      seeded = true;
    }
    desired[action.cluster] = action.to;
    int total = 0;
    for (const auto& [cluster, replicas] : desired) {
      const auto live = alive.find(cluster);
      if (live == alive.end() || live->second) total += replicas;
    }
    out[a] = total;
  }
  return out;
}

std::vector<LoadChange> findLoadChanges(const Timeline& timeline, const std::string& workload,
                                        const MeasurementOptions& options) {
  std::vector<LoadChange> changes;
  std::vector<std::size_t> at;  // sample index of each change
  std::optional<double> reference;
  for (std::size_t i = 0; i < timeline.samples.size(); ++i) {
    const WorkloadSample* sample = sampleOf(timeline.samples[i], workload);
    if (!sample) continue;
    if (!reference) {
      reference = sample->demandCores;
      continue;
    }
    const double base = std::max(*reference, options.minimumDemandCores);
    if (std::abs(sample->demandCores - *reference) > options.loadChangeThreshold * base) {
      changes.push_back({timeline.samples[i].seconds, *reference, sample->demandCores, {}, {}});
      at.push_back(i);
      reference = sample->demandCores;
    }
  }
  const auto capacity = options.replicaCapacityCores.find(workload);
  const std::vector<double> liveDesired = liveDesiredAfterActions(timeline, workload);
  for (std::size_t c = 0; c < changes.size(); ++c) {
    LoadChange& change = changes[c];
    const double until =
        c + 1 < changes.size() ? changes[c + 1].seconds : std::numeric_limits<double>::infinity();
    // Replicas the level before the change needed: requests within it are not this change's.
    std::optional<double> needBefore;
    if (capacity != options.replicaCapacityCores.end() && capacity->second > 0) {
      needBefore = std::ceil(change.fromCores / capacity->second - kEpsilon);
    }
    for (std::size_t a = 0; a < timeline.actions.size(); ++a) {
      const ScaleAction& action = timeline.actions[a];
      if (action.workload != workload || action.seconds < change.seconds) continue;
      if (action.seconds >= until) break;
      if ((action.to > action.from) != change.rise()) continue;
      if (needBefore &&
          (change.rise() ? liveDesired[a] <= *needBefore : liveDesired[a] >= *needBefore)) {
        continue;
      }
      change.firstRequestSeconds = action.seconds - change.seconds;
      break;
    }
    const WorkloadSample* atChange = sampleOf(timeline.samples[at[c]], workload);
    const int readyAtChange = totalReady(*atChange);
    for (std::size_t j = at[c]; j < timeline.samples.size(); ++j) {
      const WorkloadSample* sample = sampleOf(timeline.samples[j], workload);
      if (!sample) continue;
      const bool done = change.rise() ? sample->readyCapacityCores + kEpsilon >= sample->demandCores
                                      : totalReady(*sample) < readyAtChange;
      if (done) {
        change.readySeconds = timeline.samples[j].seconds - change.seconds;
        break;
      }
    }
  }
  return changes;
}

std::vector<FailoverResult> findFailovers(const Timeline& timeline, const std::string& workload) {
  std::vector<FailoverResult> results;
  for (std::size_t f = 0; f < timeline.faults.size(); ++f) {
    const FaultEvent& kill = timeline.faults[f];
    if (kill.kind != FaultKind::kKillCluster || kill.ending) continue;
    // Only workloads that had replicas in the cluster fail over.
    bool hadReplicas = false;
    for (const auto& sample : timeline.samples) {
      if (sample.seconds > kill.seconds) break;
      const WorkloadSample* s = sampleOf(sample, workload);
      if (!s) continue;
      const auto it = s->clusters.find(kill.cluster);
      hadReplicas = it != s->clusters.end() && it->second.desired > 0;
    }
    if (!hadReplicas) continue;
    FailoverResult result;
    result.cluster = kill.cluster;
    result.killedAt = kill.seconds;
    for (std::size_t g = f + 1; g < timeline.faults.size(); ++g) {
      const FaultEvent& event = timeline.faults[g];
      if (event.cluster != kill.cluster) continue;
      if (event.kind == FaultKind::kReviveCluster ||
          (event.kind == FaultKind::kKillCluster && event.ending)) {
        result.revivedAt = event.seconds;
        break;
      }
      if (event.kind == FaultKind::kKillCluster) break;  // killed again without a revival
    }
    for (const auto& action : timeline.actions) {
      if (action.seconds < kill.seconds || action.workload != workload) continue;
      if (result.revivedAt && action.seconds >= *result.revivedAt) break;
      if (action.cluster != kill.cluster && action.to > action.from) {
        result.survivorRequestSeconds = action.seconds - kill.seconds;
        break;
      }
    }
    for (const auto& sample : timeline.samples) {
      if (sample.seconds < kill.seconds) continue;
      if (result.revivedAt && sample.seconds >= *result.revivedAt) break;
      const WorkloadSample* s = sampleOf(sample, workload);
      if (s && s->readyCapacityCores + kEpsilon >= s->demandCores) {
        result.failoverSeconds = sample.seconds - kill.seconds;
        break;
      }
    }
    if (result.revivedAt) {
      for (const auto& sample : timeline.samples) {
        if (sample.seconds < *result.revivedAt) continue;
        const WorkloadSample* s = sampleOf(sample, workload);
        if (!s) continue;
        const auto it = s->clusters.find(kill.cluster);
        if (it == s->clusters.end()) continue;
        const ClusterReplicas& replicas = it->second;
        if (replicas.alive && replicas.ready >= 1 && replicas.ready >= replicas.desired) {
          result.failbackSeconds = sample.seconds - *result.revivedAt;
          break;
        }
      }
    }
    results.push_back(std::move(result));
  }
  return results;
}

// Nearest-rank percentile of sorted values; absent when there are none.
std::optional<double> percentile(const std::vector<double>& sorted, double share) {
  if (sorted.empty()) return std::nullopt;
  const auto rank = static_cast<std::size_t>(std::ceil(share * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

RiseSummary summarizeRises(const std::vector<LoadChange>& changes) {
  RiseSummary summary;
  std::vector<double> requests;
  std::vector<double> ready;
  for (const auto& change : changes) {
    if (!change.rise()) continue;
    ++summary.rises;
    if (change.firstRequestSeconds) requests.push_back(*change.firstRequestSeconds);
    if (change.readySeconds) ready.push_back(*change.readySeconds);
  }
  std::sort(requests.begin(), requests.end());
  std::sort(ready.begin(), ready.end());
  summary.answered = static_cast<int>(requests.size());
  summary.covered = static_cast<int>(ready.size());
  summary.firstRequestMedian = percentile(requests, 0.5);
  summary.firstRequestP90 = percentile(requests, 0.9);
  summary.firstRequestP99 = percentile(requests, 0.99);
  summary.readyMedian = percentile(ready, 0.5);
  summary.readyP90 = percentile(ready, 0.9);
  return summary;
}

std::string seconds(std::optional<double> value) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", *value);
  return text;
}

std::string fixed(double value, int decimals = 2) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string percent(double share) { return fixed(share * 100, 1) + "%"; }

json optionalJson(std::optional<double> value) { return value ? json(*value) : json(nullptr); }

// The fewest replicas that cover `demand` within the bounds; the tolerance keeps a demand of
// exactly n replicas' worth at n.
int replicasCovering(double demand, double perReplica, const ReplicaBounds& bounds) {
  const double needed = std::ceil(demand / perReplica - 1e-9);
  return static_cast<int>(
      std::clamp(needed, static_cast<double>(bounds.minReplicas),
                 static_cast<double>(std::max(bounds.minReplicas, bounds.maxReplicas))));
}

void addClairvoyant(ClairvoyantFigures& figures, double capacity, double demand, double dt) {
  figures.capacityCoreSeconds += capacity * dt;
  figures.slackCoreSeconds += std::max(0.0, capacity - demand) * dt;
}

// Both clairvoyant scalers of WorkloadReport over the workload's samples.
std::pair<ClairvoyantFigures, ClairvoyantFigures> clairvoyantFigures(const Timeline& timeline,
                                                                     const std::string& workload,
                                                                     double perReplica,
                                                                     const ReplicaBounds& bounds) {
  ClairvoyantFigures instant;
  ClairvoyantFigures windowed;
  // The window's candidates for its maximum: (seconds, replicas), replicas strictly falling.
  std::deque<std::pair<double, int>> window;
  for (std::size_t i = 0; i < timeline.samples.size(); ++i) {
    const WorkloadSample* s = sampleOf(timeline.samples[i], workload);
    if (!s) continue;
    const double now = timeline.samples[i].seconds;
    const double dt = widthAt(timeline, i);
    const int needed = replicasCovering(s->demandCores, perReplica, bounds);
    while (!window.empty() && window.back().second <= needed) window.pop_back();
    window.emplace_back(now, needed);
    while (window.front().first < now - bounds.scaleDownWindowSeconds) window.pop_front();
    addClairvoyant(instant, needed * perReplica, s->demandCores, dt);
    addClairvoyant(windowed, window.front().second * perReplica, s->demandCores, dt);
  }
  return {instant, windowed};
}

json clairvoyantJson(const std::optional<ClairvoyantFigures>& figures) {
  if (!figures) return nullptr;
  return {{"capacity_core_seconds", figures->capacityCoreSeconds},
          {"slack_core_seconds", figures->slackCoreSeconds}};
}

}  // namespace

MeasurementOptions measurementOptions(const Scenario& scenario) {
  MeasurementOptions options;
  options.loadChangeThreshold = scenario.loadChangeThreshold;
  for (const auto& workload : scenario.workloads) {
    const std::string name = workload.namespaceName + "/" + workload.name;
    options.replicaCapacityCores[name] = workload.replicaCapacity();
    if (workload.autoscale) {
      options.replicaBounds[name] = {workload.autoscale->minReplicas,
                                     workload.autoscale->maxReplicas,
                                     workload.autoscale->scaleDownWindowSeconds};
    }
  }
  return options;
}

Report computeReport(const std::string& scenario, const Timeline& timeline,
                     const MeasurementOptions& options) {
  Report report;
  report.scenario = scenario;
  report.samples = timeline.samples.size();
  if (timeline.samples.size() >= 2) {
    report.durationSeconds = timeline.samples.back().seconds - timeline.samples.front().seconds;
  }
  std::set<std::string> workloads;
  for (const auto& sample : timeline.samples) {
    for (const auto& [name, value] : sample.workloads) workloads.insert(name);
  }
  for (const std::string& workload : workloads) {
    WorkloadReport w;
    w.workload = workload;
    double covered = 0;       // seconds with a sample for this workload
    double withCapacity = 0;  // seconds with ready capacity > 0
    double slackShareIntegral = 0;
    double demandIntegral = 0;
    double capacityIntegral = 0;
    const auto perReplica = options.replicaCapacityCores.find(workload);
    const auto bounds = options.replicaBounds.find(workload);
    if (perReplica != options.replicaCapacityCores.end() && perReplica->second > 0 &&
        bounds != options.replicaBounds.end()) {
      std::tie(w.clairvoyant, w.clairvoyantWindowed) =
          clairvoyantFigures(timeline, workload, perReplica->second, bounds->second);
    }
    for (std::size_t i = 0; i < timeline.samples.size(); ++i) {
      const WorkloadSample* s = sampleOf(timeline.samples[i], workload);
      if (!s) continue;
      w.demandPeakCores = std::max(w.demandPeakCores, s->demandCores);
      const double dt = widthAt(timeline, i);
      covered += dt;
      demandIntegral += s->demandCores * dt;
      capacityIntegral += s->readyCapacityCores * dt;
      const double gap = s->demandCores - s->readyCapacityCores;
      if (gap > kEpsilon) {
        w.underProvisionedSeconds += dt;
        w.shortfallCoreSeconds += gap * dt;
      } else {
        w.slackCoreSeconds += -gap * dt;
      }
      if (s->readyCapacityCores > kEpsilon) {
        withCapacity += dt;
        slackShareIntegral += std::max(0.0, -gap) / s->readyCapacityCores * dt;
      }
    }
    if (covered > 0) {
      w.demandMeanCores = demandIntegral / covered;
      w.capacityMeanCores = capacityIntegral / covered;
      w.underProvisionedShare = w.underProvisionedSeconds / covered;
    }
    if (withCapacity > 0) w.slackShareMean = slackShareIntegral / withCapacity;
    for (const auto& action : timeline.actions) {
      if (action.workload != workload) continue;
      ++w.scaleActions;
      ++w.scaleActionsByCluster[action.cluster];
    }
    w.loadChanges = findLoadChanges(timeline, workload, options);
    w.riseSummary = summarizeRises(w.loadChanges);
    w.failovers = findFailovers(timeline, workload);
    for (auto it = timeline.samples.rbegin(); it != timeline.samples.rend(); ++it) {
      if (const WorkloadSample* last = sampleOf(*it, workload)) {
        w.oomKills = last->oomKills;
        break;
      }
    }
    report.workloads.push_back(std::move(w));
  }
  return report;
}

json reportJson(const Report& report, const Timeline& timeline, double seriesEverySeconds) {
  json workloads = json::array();
  for (const auto& w : report.workloads) {
    json changes = json::array();
    for (const auto& c : w.loadChanges) {
      changes.push_back({{"at_seconds", c.seconds},
                         {"from_cores", c.fromCores},
                         {"to_cores", c.toCores},
                         {"direction", c.rise() ? "up" : "down"},
                         {"first_request_seconds", optionalJson(c.firstRequestSeconds)},
                         {"ready_seconds", optionalJson(c.readySeconds)}});
    }
    json failovers = json::array();
    for (const auto& f : w.failovers) {
      failovers.push_back({{"cluster", f.cluster},
                           {"killed_at_seconds", f.killedAt},
                           {"survivor_request_seconds", optionalJson(f.survivorRequestSeconds)},
                           {"failover_seconds", optionalJson(f.failoverSeconds)},
                           {"revived_at_seconds", optionalJson(f.revivedAt)},
                           {"failback_seconds", optionalJson(f.failbackSeconds)}});
    }
    json series = {{"t", json::array()},
                   {"demand_cores", json::array()},
                   {"ready_capacity_cores", json::array()},
                   {"served_cores", json::array()},
                   {"requested_cpu_cores", json::array()},
                   {"requested_memory_bytes", json::array()},
                   {"used_memory_bytes", json::array()},
                   {"oom_kills", json::array()},
                   {"crash_looping", json::array()},
                   {"clusters", json::object()}};
    std::optional<double> nextKept;
    for (const auto& sample : timeline.samples) {
      const auto it = sample.workloads.find(w.workload);
      if (it == sample.workloads.end()) continue;
      if (seriesEverySeconds > 0) {
        if (nextKept && sample.seconds < *nextKept) continue;
        nextKept = (std::floor(sample.seconds / seriesEverySeconds) + 1) * seriesEverySeconds;
      }
      series["t"].push_back(sample.seconds);
      series["demand_cores"].push_back(it->second.demandCores);
      series["ready_capacity_cores"].push_back(it->second.readyCapacityCores);
      series["served_cores"].push_back(it->second.servedCores);
      series["requested_cpu_cores"].push_back(it->second.requestedCpuCores);
      series["requested_memory_bytes"].push_back(it->second.requestedMemoryBytes);
      series["used_memory_bytes"].push_back(it->second.usedMemoryBytes);
      series["oom_kills"].push_back(it->second.oomKills);
      series["crash_looping"].push_back(it->second.crashLooping);
      for (const auto& [cluster, replicas] : it->second.clusters) {
        json& c = series["clusters"][cluster];
        c["desired"].push_back(replicas.desired);
        c["ready"].push_back(replicas.ready);
        c["pods"].push_back(replicas.pods);
        c["alive"].push_back(replicas.alive);
      }
    }
    workloads.push_back(
        {{"workload", w.workload},
         {"demand_mean_cores", w.demandMeanCores},
         {"demand_peak_cores", w.demandPeakCores},
         {"ready_capacity_mean_cores", w.capacityMeanCores},
         {"under_provisioned_seconds", w.underProvisionedSeconds},
         {"under_provisioned_share", w.underProvisionedShare},
         {"shortfall_core_seconds", w.shortfallCoreSeconds},
         {"slack_share_mean", w.slackShareMean},
         {"slack_core_seconds", w.slackCoreSeconds},
         {"clairvoyant", clairvoyantJson(w.clairvoyant)},
         {"clairvoyant_windowed", clairvoyantJson(w.clairvoyantWindowed)},
         {"scale_actions", w.scaleActions},
         {"oom_kills", w.oomKills},
         {"scale_actions_by_cluster", w.scaleActionsByCluster},
         {"rises",
          {{"count", w.riseSummary.rises},
           {"answered", w.riseSummary.answered},
           {"covered", w.riseSummary.covered},
           {"first_request_median_seconds", optionalJson(w.riseSummary.firstRequestMedian)},
           {"first_request_p90_seconds", optionalJson(w.riseSummary.firstRequestP90)},
           {"first_request_p99_seconds", optionalJson(w.riseSummary.firstRequestP99)},
           {"ready_median_seconds", optionalJson(w.riseSummary.readyMedian)},
           {"ready_p90_seconds", optionalJson(w.riseSummary.readyP90)}}},
         {"load_changes", std::move(changes)},
         {"failovers", std::move(failovers)},
         {"series", std::move(series)}});
  }
  json actions = json::array();
  for (const auto& a : timeline.actions) {
    actions.push_back({{"at_seconds", a.seconds},
                       {"cluster", a.cluster},
                       {"workload", a.workload},
                       {"from", a.from},
                       {"to", a.to},
                       {"user", a.user}});
  }
  json faults = json::array();
  for (const auto& f : timeline.faults) {
    faults.push_back({{"at_seconds", f.seconds},
                      {"fault", std::string(toString(f.kind))},
                      {"cluster", f.cluster},
                      {"ending", f.ending}});
  }
  json out = {{"scenario", report.scenario},         {"duration_seconds", report.durationSeconds},
              {"samples", report.samples},           {"workloads", std::move(workloads)},
              {"scale_actions", std::move(actions)}, {"faults", std::move(faults)}};
  if (seriesEverySeconds > 0) out["series_every_seconds"] = seriesEverySeconds;
  return out;
}

std::string reportTable(const Report& report) {
  std::string out = "Scenario " + report.scenario + ": " + fixed(report.durationSeconds, 1) +
                    " s, " + std::to_string(report.samples) + " samples\n\n";
  std::vector<std::vector<std::string>> rows = {{"WORKLOAD", "DEMAND MEAN/PEAK", "CAPACITY MEAN",
                                                 "UNDER-PROVISIONED", "SHORTFALL", "SLACK",
                                                 "SCALE ACTIONS"}};
  for (const auto& w : report.workloads) {
    std::string actions = std::to_string(w.scaleActions);
    if (!w.scaleActionsByCluster.empty()) {
      std::string detail;
      for (const auto& [cluster, count] : w.scaleActionsByCluster) {
        detail += (detail.empty() ? "" : ", ") + cluster + " " + std::to_string(count);
      }
      actions += " (" + detail + ")";
    }
    rows.push_back(
        {w.workload, fixed(w.demandMeanCores) + "/" + fixed(w.demandPeakCores) + " cores",
         fixed(w.capacityMeanCores) + " cores",
         fixed(w.underProvisionedSeconds, 1) + " s (" + percent(w.underProvisionedShare) + ")",
         fixed(w.shortfallCoreSeconds, 1) + " core-s", percent(w.slackShareMean), actions});
  }
  out += renderTextTable(rows);
  for (const auto& w : report.workloads) {
    if (!w.loadChanges.empty()) {
      out += "\nLoad changes, " + w.workload + ":\n";
      std::vector<std::vector<std::string>> changes = {
          {"AT", "DEMAND", "FIRST REPLICA REQUEST", "READY CAPACITY"}};
      constexpr std::size_t kShown = 12;  // the JSON report has them all
      for (std::size_t i = 0; i < w.loadChanges.size() && i < kShown; ++i) {
        const LoadChange& c = w.loadChanges[i];
        changes.push_back(
            {fixed(c.seconds, 1) + " s",
             fixed(c.fromCores) + " -> " + fixed(c.toCores) + (c.rise() ? " up" : " down"),
             seconds(c.firstRequestSeconds), seconds(c.readySeconds)});
      }
      out += renderTextTable(changes);
      if (w.loadChanges.size() > kShown) {
        out += "  ... and " + std::to_string(w.loadChanges.size() - kShown) +
               " more in the JSON report\n";
      }
      const RiseSummary& r = w.riseSummary;
      if (r.rises > 0) {
        out += "  rises " + std::to_string(r.rises) + ", answered " + std::to_string(r.answered) +
               ": first request median " + seconds(r.firstRequestMedian) + ", p90 " +
               seconds(r.firstRequestP90) + ", p99 " + seconds(r.firstRequestP99) +
               "; ready capacity median " + seconds(r.readyMedian) + ", p90 " +
               seconds(r.readyP90) + "\n";
      }
    }
    if (!w.failovers.empty()) {
      out += "\nFailover, " + w.workload + ":\n";
      std::vector<std::vector<std::string>> failovers = {
          {"CLUSTER", "KILLED AT", "SURVIVOR REQUEST", "FAILOVER", "REVIVED AT", "FAILBACK"}};
      for (const auto& f : w.failovers) {
        failovers.push_back({f.cluster, fixed(f.killedAt, 1) + " s",
                             seconds(f.survivorRequestSeconds), seconds(f.failoverSeconds),
                             f.revivedAt ? fixed(*f.revivedAt, 1) + " s" : "-",
                             seconds(f.failbackSeconds)});
      }
      out += renderTextTable(failovers);
    }
  }
  return out;
}

}  // namespace fleetscale::sim
