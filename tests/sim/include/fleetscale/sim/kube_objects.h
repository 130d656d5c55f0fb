// JSON the simulated API server and kubelets send, shaped like Kubernetes' own: Status objects
// for errors, pods (as the kubelet's /pods and the API server return them), nodes, Scale,
// lists, discovery documents and the server-side printing Tables kubectl asks for (Leases
// themselves: lease_object.h).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleetscale/sim/cluster_model.h"

namespace fleetscale::sim {

nlohmann::json statusJson(const ApiError& error);

WallTime wallAt(const ClusterModel& cluster, SimTime time);

nlohmann::json podJson(const ClusterModel& cluster, const PodState& pod, SimTime now);
nlohmann::json nodeJson(const ClusterModel& cluster, const NodeState& node);
nlohmann::json namespaceJson(const ClusterModel& cluster, const std::string& name);
// autoscaling/v1 Scale of a Deployment or StatefulSet.
nlohmann::json scaleJson(const WorkloadObject& workload);

// "<Kind>List": items lose their kind and apiVersion, as in the API server's lists.
nlohmann::json listJson(const std::string& listKind, const std::string& apiVersion,
                        std::uint64_t resourceVersion, std::vector<nlohmann::json> items);

// --- discovery ----------------------------------------------------------------------------
nlohmann::json versionJson(const ClusterSpec& spec);
nlohmann::json apiVersionsJson(const std::string& serverAddress);
nlohmann::json apiGroupListJson();
// `podResize`: the pods/resize subresource is served (v1.33 and later).
nlohmann::json coreResourceListJson(bool podResize);
nlohmann::json appsResourceListJson();
nlohmann::json coordinationResourceListJson();
nlohmann::json autoscalingResourceListJson();  // autoscaling/v2: horizontalpodautoscalers
nlohmann::json kedaResourceListJson();         // keda.sh/v1alpha1: scaledobjects

// --- server-side printing (Accept: application/json;as=Table;g=meta.k8s.io;v=v1) -------------
enum class TableObject { kNone, kMetadata, kObject };         // ?includeObject=
TableObject tableObjectOf(const std::string& includeObject);  // default: Metadata

struct TableRow {
  std::vector<nlohmann::json> cells;
  nlohmann::json object;  // the full object, cut down by TableObject
};
nlohmann::json tableJson(const std::string& resource, std::uint64_t resourceVersion,
                         const std::vector<TableRow>& rows, TableObject include);

// Cells for one object, in the column order of tableJson(resource, ...).
std::vector<nlohmann::json> workloadCells(const WorkloadObject& workload, WallTime now);
std::vector<nlohmann::json> podCells(const nlohmann::json& pod, WallTime now);
std::vector<nlohmann::json> nodeCells(const nlohmann::json& node, WallTime now);
std::vector<nlohmann::json> namespaceCells(const nlohmann::json& ns, WallTime now);
std::vector<nlohmann::json> leaseCells(const nlohmann::json& lease, WallTime now);
// NAME, REFERENCE, TARGETS, MINPODS, MAXPODS, REPLICAS, AGE, as kubectl get hpa shows them.
std::vector<nlohmann::json> horizontalPodAutoscalerCells(const nlohmann::json& hpa, WallTime now);
// NAME, SCALETARGETKIND, SCALETARGETNAME, MIN, MAX, TRIGGERS, AGE: KEDA's printer columns
// (null where the object has no value, as the API server sends them).
std::vector<nlohmann::json> scaledObjectCells(const nlohmann::json& scaledObject, WallTime now);

// NAME, CREATED AT, as kubectl get limitranges shows them.
std::vector<nlohmann::json> limitRangeCells(const nlohmann::json& limitRange, WallTime now);
// NAME, AGE, REQUEST, LIMIT ("requests.cpu: 1500m/2, ..." from the status), as kubectl get
// resourcequotas shows them.
std::vector<nlohmann::json> resourceQuotaCells(const nlohmann::json& quota, WallTime now);

// kubectl's AGE format (apimachinery's HumanDuration): "45s", "3m20s", "5h", "12d".
std::string humanDuration(std::chrono::seconds age);

}  // namespace fleetscale::sim
