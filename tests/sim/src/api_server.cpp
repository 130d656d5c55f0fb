#include "fleetscale/sim/api_server.h"

#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/sim/admission_objects.h"
#include "fleetscale/sim/autoscaler_objects.h"
#include "fleetscale/sim/kube_objects.h"
#include "fleetscale/sim/label_selector.h"
#include "fleetscale/sim/lease_object.h"
#include "fleetscale/sim/patch.h"

namespace fleetscale::sim {
namespace {

using nlohmann::json;

constexpr std::size_t kLoggedBodyBytes = 4096;

HttpResponse respond(int status, const json& body) {
  return HttpResponse::json(status, body.dump());
}

HttpResponse fail(const ApiError& error) { return respond(error.code, statusJson(error)); }

ApiError error(int code, const std::string& reason, const std::string& message,
               json details = json::object()) {
  return {code, reason, message, std::move(details)};
}

ApiError injected(int status) {
  switch (status) {
    case 429:
      return error(429, "TooManyRequests",
                   "the server has received too many requests and has asked us to try again later",
                   {{"retryAfterSeconds", 1}});
    case 500:
      return error(500, "InternalError", "Internal error occurred: etcdserver: request timed out");
    case 504:
      return error(504, "Timeout",
                   "the server was unable to return a response in the time allotted, but may still "
                   "be processing the request");
    default:
      return error(status, "ServiceUnavailable",
                   "the server is currently unable to handle the request");
  }
}

std::string verbOf(const HttpRequest& request, bool named) {
  if (request.method == "GET" || request.method == "HEAD") {
    if (request.queryParam("watch") == "true" || request.queryParam("watch") == "1") return "watch";
    return named ? "get" : "list";
  }
  if (request.method == "PUT") return "update";
  if (request.method == "PATCH") return "patch";
  if (request.method == "POST") return "create";
  if (request.method == "DELETE") return named ? "delete" : "deletecollection";
  return request.method;
}

bool isWrite(const std::string& method) {
  return method == "PUT" || method == "PATCH" || method == "POST" || method == "DELETE";
}

bool wantsTable(const HttpRequest& request) {
  return request.header("accept").find("as=Table") != std::string::npos;
}

ApiError forbidden(const Identity& identity, const std::string& verb, const std::string& resource,
                   const std::string& group, const std::string& namespaceName,
                   const std::string& name) {
  const std::string plain = resource.substr(0, resource.find('/'));
  const std::string qualified = group.empty() ? plain : plain + "." + group;
  const std::string scope =
      namespaceName.empty() ? "at the cluster scope" : "in the namespace \"" + namespaceName + "\"";
  std::string message = qualified + (name.empty() ? "" : " \"" + name + "\"") +
                        " is forbidden: User \"" + identity.user + "\" cannot " + verb +
                        " resource \"" + resource + "\" in API group \"" + group + "\" " + scope;
  json details = {{"group", group}, {"kind", plain}};
  if (!name.empty()) details["name"] = name;
  return error(403, "Forbidden", message, details);
}

ApiError unknownBodyFormat() {
  return error(400, "BadRequest",
               "the body of the request was in an unknown format - accepted media types include: "
               "application/json, application/yaml");
}

ApiError methodNotAllowed(const std::string& verb, const std::string& resource) {
  return error(405, "MethodNotAllowed",
               "the server does not allow this method on the requested resource (" + verb + " " +
                   resource + ")",
               {{"kind", resource}});
}

// fieldSelector for lists: metadata.name, metadata.namespace and spec.nodeName (pods), '=' only.
std::optional<std::map<std::string, std::string>> parseFieldSelector(std::string_view text) {
  std::map<std::string, std::string> fields;
  for (std::string_view raw : splitFields(text, ",")) {
    const std::string_view term = trim(raw);
    const auto eq = term.find('=');
    if (eq == std::string_view::npos || term.find("!=") != std::string_view::npos)
      return std::nullopt;
    const std::string key(term.substr(0, eq));
    if (key != "metadata.name" && key != "metadata.namespace" && key != "spec.nodeName") {
      return std::nullopt;
    }
    fields[key] = std::string(term.substr(term.substr(eq, 2) == "==" ? eq + 2 : eq + 1));
  }
  return fields;
}

bool fieldsMatch(const std::map<std::string, std::string>& fields, const json& object) {
  for (const auto& [key, value] : fields) {
    std::string actual;
    if (key == "metadata.name") actual = object["metadata"].value("name", "");
    if (key == "metadata.namespace") actual = object["metadata"].value("namespace", "");
    if (key == "spec.nodeName")
      actual = object.contains("spec") ? object["spec"].value("nodeName", "") : "";
    if (actual != value) return false;
  }
  return true;
}

struct ListFilter {
  LabelSelector labels;
  std::map<std::string, std::string> fields;
  bool matches(const json& object) const {
    return labels.matches(object["metadata"].value("labels", json::object())) &&
           fieldsMatch(fields, object);
  }
};

std::optional<ListFilter> listFilterOf(const HttpRequest& request, ApiError& problem) {
  ListFilter filter;
  auto labels = LabelSelector::parse(request.queryParam("labelSelector"));
  if (!labels) {
    problem = error(400, "BadRequest", labels.error().message);
    return std::nullopt;
  }
  auto fields = parseFieldSelector(request.queryParam("fieldSelector"));
  if (!fields) {
    problem =
        error(400, "BadRequest",
              "\"" + request.queryParam("fieldSelector") + "\" is not a known field selector");
    return std::nullopt;
  }
  filter.labels = std::move(*labels);
  filter.fields = std::move(*fields);
  return filter;
}

// The object a PUT (the body) or PATCH (`current` with the body's patch applied) asks to store.
// A patch is a precondition only when it names a resourceVersion itself; otherwise the result
// carries current's, which the caller, holding the lock, knows to be current.
// `custom`: the object is a custom resource's, which has no strategic merge patch.
ApiResult desiredObject(const HttpRequest& request, bool isPatch, const json& current,
                        bool custom = false) {
  if (!isPatch) {
    json desired = json::parse(request.body, nullptr, false);
    if (desired.is_discarded() || !desired.is_object()) return ApiResult::fail(unknownBodyFormat());
    return ApiResult{std::nullopt, std::move(desired)};
  }
  const PatchType type = patchTypeOf(request.header("content-type"));
  if (custom && type == PatchType::kStrategicMerge) {
    return ApiResult::fail(error(415, "UnsupportedMediaType",
                                 "the body of the request was in an unknown format - accepted "
                                 "media types include: application/json-patch+json, "
                                 "application/merge-patch+json, application/apply-patch+yaml"));
  }
  if (type == PatchType::kApply || type == PatchType::kUnknown) {
    return ApiResult::fail(error(415, "UnsupportedMediaType",
                                 "the body of the request was in an unknown format - accepted "
                                 "media types include: application/json-patch+json, "
                                 "application/merge-patch+json, "
                                 "application/strategic-merge-patch+json"));
  }
  auto patched = applyPatch(current, request.body, type);
  if (!patched) return ApiResult::fail(error(400, "BadRequest", patched.error().message));
  json desired = std::move(*patched);
  const json patch = json::parse(request.body, nullptr, false);
  const bool patchHasVersion = patch.is_object() && patch.contains("metadata") &&
                               patch["metadata"].is_object() &&
                               patch["metadata"].contains("resourceVersion");
  if (!patchHasVersion && desired.is_object() && desired.contains("metadata") &&
      desired["metadata"].is_object()) {
    desired["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"];
  }
  return ApiResult{std::nullopt, std::move(desired)};
}

}  // namespace

void ApiFaultState::set(const ApiFaults& faults) {
  std::lock_guard lock(mutex_);
  faults_ = faults;
}

ApiFaults ApiFaultState::get() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

std::optional<int> ApiFaultState::injectedFailure(bool write) {
  std::lock_guard lock(mutex_);
  std::uniform_real_distribution<double> roll(0.0, 1.0);
  if (faults_.errorRate > 0 && roll(rng_) < faults_.errorRate) return faults_.errorStatus;
  if (write && faults_.conflictRate > 0 && roll(rng_) < faults_.conflictRate) return 409;
  return std::nullopt;
}

struct ApiHandler::Write {
  std::string workload;
  std::string kind;
  std::optional<int> before;
  std::optional<int> after;
};

ApiHandler::ApiHandler(SharedFleet& fleet, std::string cluster,
                       std::shared_ptr<const TokenBook> tokens, std::shared_ptr<WriteLog> writes,
                       std::shared_ptr<ApiFaultState> faults)
    : fleet_(fleet),
      cluster_(std::move(cluster)),
      tokens_(std::move(tokens)),
      writes_(std::move(writes)),
      faults_(std::move(faults)) {}

void ApiHandler::setServerAddress(std::string address) {
  std::lock_guard lock(addressMutex_);
  serverAddress_ = std::move(address);
}

HttpResponse ApiHandler::handle(HttpRequest& request) {
  // A client certificate counts when no token authenticated.
  std::optional<Identity> identity = tokens_->authenticate(request.header("authorization"));
  if (!identity && !request.clientCommonName.empty()) {
    identity = tokens_->certificateIdentity(request.clientCommonName);
  }
  Write write;
  HttpResponse response;
  const std::string& path = request.path;
  const bool publicInfo = path == "/version" || path == "/healthz" || path == "/livez" ||
                          path == "/readyz" || path.rfind("/livez/", 0) == 0 ||
                          path.rfind("/readyz/", 0) == 0;
  const std::optional<int> failure = faults_->injectedFailure(isWrite(request.method));
  if (failure && *failure != 409) {
    response = fail(injected(*failure));
    if (*failure == 429) response.headers.emplace_back("Retry-After", "1");
  } else if (!identity && !publicInfo) {
    response = fail(error(401, "Unauthorized", "Unauthorized"));
    unauthorized_.fetch_add(1, std::memory_order_relaxed);
    if (tokens_->wasRevoked(request.header("authorization"))) {
      revokedTokenRefusals_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (failure && *failure == 409 && isWrite(request.method)) {
    // A 409 storm: another writer always seems to have got there first.
    const auto segments = splitFields(path, "/");
    const std::string group = segments.size() >= 2 ? std::string(segments[1]) : "apps";
    const std::string name = segments.size() >= 7 ? std::string(segments[6]) : "";
    const std::string resource = segments.size() >= 6 ? std::string(segments[5]) : "objects";
    response =
        fail(error(409, "Conflict",
                   "Operation cannot be fulfilled on " + resource + "." + group + " \"" + name +
                       "\": the object has been modified; please apply your changes to "
                       "the latest version and try again",
                   {{"name", name}, {"group", group}, {"kind", resource}}));
  } else {
    static const Identity kAnonymous{"system:anonymous", Role::kNone};
    try {
      response = route(request, identity ? *identity : kAnonymous, write);
    } catch (const nlohmann::json::exception& e) {
      // A body of the wrong shape (a name that is a number, a spec that is a list, ...).
      response =
          fail(error(400, "BadRequest", std::string("the object is malformed: ") + e.what()));
    }
  }
  if (isWrite(request.method)) {
    WriteRecord record;
    record.cluster = cluster_;
    record.seconds = toSeconds(fleet_.clock.now());
    record.method = request.method;
    record.path = request.target;
    record.user = identity ? identity->user : "";
    record.contentType = request.header("content-type");
    record.userAgent = request.header("user-agent");
    record.fencingToken = request.header("x-fleetscale-fencing-token");
    record.status = response.status;
    record.workload = write.workload;
    record.kind = write.kind;
    record.replicasBefore = write.before;
    record.replicasAfter = write.after;
    record.body = request.body.substr(0, kLoggedBodyBytes);
    writes_->append(std::move(record));
  }
  componentLogger("sim.api")->debug("{} {} {} -> {}", cluster_, request.method, request.target,
                                    response.status);
  return response;
}

HttpResponse ApiHandler::route(HttpRequest& request, const Identity& identity, Write& write) {
  const std::string& path = request.path;
  if (path == "/healthz" || path == "/livez" || path == "/readyz" ||
      path.rfind("/livez/", 0) == 0 || path.rfind("/readyz/", 0) == 0) {
    return HttpResponse::text(200, "ok");
  }
  std::vector<std::string> s;
  for (std::string_view segment : splitFields(path, "/")) s.emplace_back(segment);
  std::lock_guard lock(fleet_.mutex);
  ClusterModel* cluster = fleet_.model.findCluster(cluster_);
  if (!cluster) return fail(error(500, "InternalError", "no cluster " + cluster_));
  if (path == "/version") return respond(200, versionJson(cluster->spec()));
  if (s.empty()) {
    return respond(
        200, {{"paths", json::array({"/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1",
                                     "/apis/autoscaling", "/apis/autoscaling/v2",
                                     "/apis/coordination.k8s.io", "/apis/coordination.k8s.io/v1",
                                     "/apis/keda.sh", "/apis/keda.sh/v1alpha1", "/healthz",
                                     "/livez", "/readyz", "/version"})}});
  }
  if (request.method == "GET" || request.method == "HEAD") {
    if (s == std::vector<std::string>{"api"}) {
      std::lock_guard addressLock(addressMutex_);
      return respond(200, apiVersionsJson(serverAddress_));
    }
    if (s == std::vector<std::string>{"api", "v1"}) {
      return respond(
          200, coreResourceListJson(cluster->servesResize() && !faults_->get().resizeUnsupported));
    }
    if (s == std::vector<std::string>{"apis"}) return respond(200, apiGroupListJson());
    if (s.size() == 2 && s[0] == "apis") {
      const json groups = apiGroupListJson()["groups"];
      for (json group : groups) {
        if (group["name"] != s[1]) continue;
        group["kind"] = "APIGroup";
        group["apiVersion"] = "v1";
        return respond(200, group);
      }
    }
    if (s == std::vector<std::string>{"apis", "apps", "v1"}) {
      return respond(200, appsResourceListJson());
    }
    if (s == std::vector<std::string>{"apis", std::string(kLeaseGroup), "v1"}) {
      return respond(200, coordinationResourceListJson());
    }
    if (s == std::vector<std::string>{"apis", "autoscaling", "v2"}) {
      return respond(200, autoscalingResourceListJson());
    }
    if (s == std::vector<std::string>{"apis", "keda.sh", "v1alpha1"}) {
      return respond(200, kedaResourceListJson());
    }
  }
  // /api/v1/<resource>[/<name>] and /api/v1/namespaces/<ns>/<resource>[/<name>]
  if (s.size() >= 3 && s[0] == "api" && s[1] == "v1") {
    // The core kinds stored whole: LimitRanges, ResourceQuotas.
    for (const ResourceType* type : {&kLimitRangeResource, &kResourceQuotaResource}) {
      if (s.size() == 3 && s[2] == type->plural) {
        return storedObjects(request, identity, *type, "", "", write);
      }
      if (s.size() >= 5 && s.size() <= 6 && s[2] == "namespaces" && s[4] == type->plural) {
        return storedObjects(request, identity, *type, s[3], s.size() == 6 ? s[5] : "", write);
      }
    }
    if (s.size() == 3) return core(request, identity, s[2], "", "");
    if (s.size() == 4) return core(request, identity, s[2], "", s[3]);
    if (s.size() == 5 && s[2] == "namespaces") return core(request, identity, s[4], s[3], "");
    if (s.size() == 6 && s[2] == "namespaces") return core(request, identity, s[4], s[3], s[5]);
    if (s.size() == 7 && s[2] == "namespaces" && s[4] == "pods" && s[6] == "resize") {
      return podResize(request, identity, s[3], s[5], write);
    }
  }
  // /apis/apps/v1/<resource> and /apis/apps/v1/namespaces/<ns>/<resource>[/<name>[/<sub>]]
  if (s.size() >= 4 && s[0] == "apis" && s[1] == "apps" && s[2] == "v1") {
    auto kindOf = [](const std::string& resource) -> std::optional<WorkloadKind> {
      if (resource == "deployments") return WorkloadKind::kDeployment;
      if (resource == "statefulsets") return WorkloadKind::kStatefulSet;
      return std::nullopt;
    };
    if (s.size() == 4) {
      if (auto kind = kindOf(s[3])) return workloads(request, identity, *kind, "", "", "", write);
    } else if (s[3] == "namespaces" && s.size() >= 6 && s.size() <= 8) {
      if (auto kind = kindOf(s[5])) {
        return workloads(request, identity, *kind, s[4], s.size() >= 7 ? s[6] : "",
                         s.size() == 8 ? s[7] : "", write);
      }
    }
  }
  // /apis/<group>/<version>/<plural> and .../namespaces/<ns>/<plural>[/<name>] of the kinds
  // stored whole: Leases, HorizontalPodAutoscalers, ScaledObjects.
  for (const ResourceType* type :
       {&kLeaseResource, &kHorizontalPodAutoscalerResource, &kScaledObjectResource}) {
    if (s.size() < 4 || s[0] != "apis" || s[1] != type->group || s[2] != type->version) continue;
    if (s.size() == 4 && s[3] == type->plural) {
      return storedObjects(request, identity, *type, "", "", write);
    }
    if (s.size() >= 6 && s.size() <= 7 && s[3] == "namespaces" && s[5] == type->plural) {
      return storedObjects(request, identity, *type, s[4], s.size() == 7 ? s[6] : "", write);
    }
  }
  return fail(error(404, "NotFound", "the server could not find the requested resource",
                    {{"causes", json::array({{{"reason", "UnexpectedServerResponse"},
                                              {"message", "404 page not found"}}})}}));
}

HttpResponse ApiHandler::core(HttpRequest& request, const Identity& identity,
                              const std::string& resource, const std::string& namespaceName,
                              const std::string& name) {
  // Called with fleet_.mutex held.
  const ClusterModel& cluster = *fleet_.model.findCluster(cluster_);
  const SimTime now = fleet_.model.lastStep();
  const std::string verb = verbOf(request, !name.empty());
  if (resource != "pods" && resource != "nodes" && resource != "namespaces") {
    return fail(error(404, "NotFound", "the server could not find the requested resource"));
  }
  if ((resource == "nodes" || resource == "namespaces") && !namespaceName.empty()) {
    return fail(error(404, "NotFound", "the server could not find the requested resource"));
  }
  if (!mayAccessApi(identity.role, verb, resource)) {
    return fail(forbidden(identity, verb, resource, "", namespaceName, name));
  }
  if (resource == "pods" && !name.empty() && (verb == "patch" || verb == "update")) {
    // Since v1.33 a pod's resources change only through pods/{name}/resize; the simulator keeps
    // everything else of a pod fixed too.
    const std::string detail =
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
        "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
        "`spec.tolerations` (only additions to existing tolerations), "
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative); resources are changed through the resize subresource";
    return fail(error(422, "Invalid", "Pod \"" + name + "\" is invalid: spec: " + detail,
                      {{"name", name},
                       {"kind", "Pod"},
                       {"causes", json::array({{{"reason", "FieldValueForbidden"},
                                                {"message", detail},
                                                {"field", "spec"}}})}}));
  }
  if (verb != "get" && verb != "list") return fail(methodNotAllowed(verb, resource));

  std::vector<json> objects;
  if (resource == "pods") {
    for (const auto& pod : cluster.pods()) {
      if (!namespaceName.empty() && pod.namespaceName != namespaceName) continue;
      objects.push_back(podJson(cluster, pod, now));
      objects.back()["kind"] = "Pod";
      objects.back()["apiVersion"] = "v1";
    }
  } else if (resource == "nodes") {
    for (const auto& node : cluster.nodes()) {
      objects.push_back(nodeJson(cluster, node));
      objects.back()["kind"] = "Node";
      objects.back()["apiVersion"] = "v1";
    }
  } else {
    for (const auto& ns : cluster.namespaces()) {
      objects.push_back(namespaceJson(cluster, ns));
      objects.back()["kind"] = "Namespace";
      objects.back()["apiVersion"] = "v1";
    }
  }
  const std::string singular = resource.substr(0, resource.size() - 1);
  const WallTime wallNow = wallAt(cluster, now);
  auto cellsOf = [&](const json& object) {
    if (resource == "pods") return podCells(object, wallNow);
    if (resource == "nodes") return nodeCells(object, wallNow);
    return namespaceCells(object, wallNow);
  };
  if (!name.empty()) {
    for (auto& object : objects) {
      if (object["metadata"]["name"] != name) continue;
      if (wantsTable(request)) {
        return respond(
            200, tableJson(resource, cluster.resourceVersion(), {TableRow{cellsOf(object), object}},
                           tableObjectOf(request.queryParam("includeObject"))));
      }
      return respond(200, object);
    }
    return fail(error(404, "NotFound", resource + " \"" + name + "\" not found",
                      {{"name", name}, {"kind", resource}}));
  }
  ApiError problem;
  const auto filter = listFilterOf(request, problem);
  if (!filter) return fail(problem);
  std::erase_if(objects, [&](const json& object) { return !filter->matches(object); });
  if (wantsTable(request)) {
    std::vector<TableRow> rows;
    for (auto& object : objects) rows.push_back({cellsOf(object), object});
    return respond(200, tableJson(resource, cluster.resourceVersion(), rows,
                                  tableObjectOf(request.queryParam("includeObject"))));
  }
  std::string kind = singular;
  kind[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(kind[0])));
  return respond(200, listJson(kind + "List", "v1", cluster.resourceVersion(), std::move(objects)));
}

HttpResponse ApiHandler::podResize(HttpRequest& request, const Identity& identity,
                                   const std::string& namespaceName, const std::string& name,
                                   Write& write) {
  // Called with fleet_.mutex held.
  ClusterModel& cluster = *fleet_.model.findCluster(cluster_);
  const SimTime now = fleet_.model.lastStep();
  const ApiFaults faults = faults_->get();
  const std::string verb = verbOf(request, true);
  write.workload = namespaceName + "/" + name;
  write.kind = "Pod";
  if (!cluster.servesResize() || faults.resizeUnsupported) {
    // What an API server without the subresource answers (before v1.33).
    return fail(error(404, "NotFound", "the server could not find the requested resource"));
  }
  if (faults.resizeForbidden || !mayAccessApi(identity.role, verb, "pods/resize")) {
    return fail(forbidden(identity, verb, "pods/resize", "", namespaceName, name));
  }
  if (verb != "get" && verb != "patch" && verb != "update") {
    return fail(methodNotAllowed(verb, "pods/resize"));
  }
  const PodState* pod = cluster.findPod(namespaceName, name);
  if (!pod) {
    return fail(error(404, "NotFound", "pods \"" + name + "\" not found",
                      {{"name", name}, {"kind", "pods"}}));
  }
  auto current = [&] {
    json object = podJson(cluster, *cluster.findPod(namespaceName, name), now);
    object["kind"] = "Pod";
    object["apiVersion"] = "v1";
    return object;
  };
  if (verb == "get") return respond(200, current());
  ApiResult desired = desiredObject(request, verb == "patch", current());
  if (!desired.ok()) return fail(*desired.error);
  // The validating admission plugins that handle pods/resize, in the API server's order.
  const auto admit = [&](const PodState& stored,
                         const ContainerResources& resized) -> std::optional<ApiError> {
    const auto limitRanges = fleet_.objectStore(kLimitRangeResource, cluster_)->list(namespaceName);
    if (auto refused = limitRangeRefusal(name, resized, limitRanges)) return refused;
    return quotaRefusal(name, stored.container.resources, resized,
                        fleet_.objectStore(kResourceQuotaResource, cluster_)->list(namespaceName),
                        namespaceUsage(cluster, namespaceName));
  };
  const ApiResult result = cluster.resizePod(namespaceName, name, desired.object, admit);
  if (!result.ok()) return fail(*result.error);
  return respond(200, current());
}

HttpResponse ApiHandler::workloads(HttpRequest& request, const Identity& identity,
                                   WorkloadKind kind, const std::string& namespaceName,
                                   const std::string& name, const std::string& subresource,
                                   Write& write) {
  // Called with fleet_.mutex held.
  ClusterModel& cluster = *fleet_.model.findCluster(cluster_);
  const SimTime now = fleet_.model.lastStep();
  const std::string resource = std::string(resourceName(kind));
  const std::string verb = verbOf(request, !name.empty());
  const std::string rbacResource = subresource.empty() ? resource : resource + "/" + subresource;
  if (!subresource.empty() && subresource != "scale" && subresource != "status") {
    return fail(error(404, "NotFound", "the server could not find the requested resource"));
  }
  if (!mayAccessApi(identity.role, verb, rbacResource)) {
    return fail(forbidden(identity, verb, rbacResource, "apps", namespaceName, name));
  }
  const WallTime wallNow = wallAt(cluster, now);
  if (verb == "list") {
    ApiError problem;
    const auto filter = listFilterOf(request, problem);
    if (!filter) return fail(problem);
    std::vector<const WorkloadObject*> found;
    for (const WorkloadObject* workload : cluster.list(kind, namespaceName)) {
      if (filter->matches(workload->object)) found.push_back(workload);
    }
    if (wantsTable(request)) {
      std::vector<TableRow> rows;
      for (const WorkloadObject* workload : found) {
        rows.push_back({workloadCells(*workload, wallNow), workload->object});
      }
      return respond(200, tableJson(resource, cluster.resourceVersion(), rows,
                                    tableObjectOf(request.queryParam("includeObject"))));
    }
    std::vector<json> items;
    for (const WorkloadObject* workload : found) items.push_back(workload->object);
    return respond(200, listJson(std::string(toString(kind)) + "List", "apps/v1",
                                 cluster.resourceVersion(), std::move(items)));
  }
  if (name.empty() || (verb != "get" && verb != "update" && verb != "patch") ||
      (subresource == "status" && verb != "get")) {
    return fail(methodNotAllowed(verb, rbacResource));
  }
  const WorkloadObject* current = cluster.find(kind, namespaceName, name);
  if (!current) {
    return fail(error(404, "NotFound", resource + ".apps \"" + name + "\" not found",
                      {{"name", name}, {"group", "apps"}, {"kind", resource}}));
  }
  write.workload = namespaceName + "/" + name;
  write.kind = std::string(toString(kind));
  write.before = current->replicas;
  const bool scale = subresource == "scale";

  if (verb == "get") {
    if (scale) return respond(200, scaleJson(*current));
    if (wantsTable(request)) {
      return respond(200, tableJson(resource, cluster.resourceVersion(),
                                    {TableRow{workloadCells(*current, wallNow), current->object}},
                                    tableObjectOf(request.queryParam("includeObject"))));
    }
    return respond(200, current->object);
  }

  // update or patch: compute the object the client wants stored.
  ApiResult desiredResult =
      desiredObject(request, verb == "patch", scale ? scaleJson(*current) : current->object);
  if (!desiredResult.ok()) return fail(*desiredResult.error);
  json desired = std::move(desiredResult.object);

  ApiResult result;
  if (scale) {
    if (!desired.contains("metadata") || !desired["metadata"].is_object()) {
      return fail(error(400, "BadRequest", "the Scale has no metadata"));
    }
    if (desired.value("kind", std::string("Scale")) != "Scale") {
      return fail(error(400, "BadRequest", "expected a Scale, got " + desired["kind"].dump()));
    }
    if (desired["metadata"].value("name", name) != name) {
      return fail(error(400, "BadRequest",
                        "the name of the object (" + desired["metadata"].value("name", "") +
                            ") does not match the name on the URL (" + name + ")"));
    }
    const json replicas = desired.contains("spec") && desired["spec"].is_object()
                              ? desired["spec"].value("replicas", json(0))
                              : json(0);
    if (!replicas.is_number_integer()) {
      return fail(error(422, "Invalid",
                        "Scale.autoscaling \"" + name +
                            "\" is invalid: spec.replicas: Invalid value: " + replicas.dump() +
                            ": must be an integer",
                        {{"name", name}, {"group", "autoscaling"}, {"kind", "Scale"}}));
    }
    const json& rv = desired["metadata"].contains("resourceVersion")
                         ? desired["metadata"]["resourceVersion"]
                         : json("");
    result = cluster.setReplicas(kind, namespaceName, name, replicas.get<long long>(),
                                 rv.is_string() ? rv.get<std::string>() : rv.dump(), now);
  } else {
    result = cluster.update(kind, namespaceName, name, desired, now);
  }
  if (!result.ok()) return fail(*result.error);
  const WorkloadObject* stored = cluster.find(kind, namespaceName, name);
  write.after = stored->replicas;
  return respond(200, scale ? scaleJson(*stored) : stored->object);
}

namespace {

// How each kind stored whole is decoded and shown; the store (object_store.h) does the rest.
struct StoredKind {
  ApiResult (*decode)(const json& body, const std::string& namespaceName,
                      const std::string& urlName, const json* current);
  std::vector<json> (*cells)(const json& object, WallTime now);
};

StoredKind storedKindOf(const ResourceType& type) {
  if (type.kind == kHorizontalPodAutoscalerResource.kind) {
    return {decodeHorizontalPodAutoscaler, horizontalPodAutoscalerCells};
  }
  if (type.kind == kScaledObjectResource.kind) return {decodeScaledObject, scaledObjectCells};
  if (type.kind == kLimitRangeResource.kind) return {decodeLimitRange, limitRangeCells};
  if (type.kind == kResourceQuotaResource.kind) return {decodeResourceQuota, resourceQuotaCells};
  return {[](const json& body, const std::string& namespaceName, const std::string& urlName,
             const json*) { return decodeLease(body, namespaceName, urlName); },
          leaseCells};
}

}  // namespace

HttpResponse ApiHandler::storedObjects(HttpRequest& request, const Identity& identity,
                                       const ResourceType& type, const std::string& namespaceName,
                                       const std::string& name, Write& write) {
  // Called with fleet_.mutex held.
  ClusterModel& cluster = *fleet_.model.findCluster(cluster_);
  ObjectStore& store = *fleet_.objectStore(type, cluster_);
  const StoredKind kind = storedKindOf(type);
  const std::string group(type.group);
  const std::string resource(type.plural);
  const std::string verb = verbOf(request, !name.empty());
  // Logged whatever the answer, refusals included.
  if (!name.empty()) {
    write.workload = namespaceName + "/" + name;
    write.kind = std::string(type.kind);
  }
  if (!mayAccessApi(identity.role, verb, resource)) {
    return fail(forbidden(identity, verb, resource, group, namespaceName, name));
  }
  const WallTime wallNow = wallAt(cluster, fleet_.model.lastStep());
  const ObjectStore::NextVersion nextVersion = [&cluster] { return cluster.nextResourceVersion(); };
  // A ResourceQuota shows what the quota controller keeps in its status, as of now.
  auto shown = [&](json object) {
    if (type.kind != kResourceQuotaResource.kind) return object;
    const std::string objectNamespace = object["metadata"].value("namespace", "");
    return withQuotaStatus(std::move(object), namespaceUsage(cluster, objectNamespace));
  };
  auto table = [&](const std::vector<json>& objects) {
    std::vector<TableRow> rows;
    for (const auto& object : objects) rows.push_back({kind.cells(object, wallNow), object});
    return respond(200, tableJson(resource, cluster.resourceVersion(), rows,
                                  tableObjectOf(request.queryParam("includeObject"))));
  };
  if (verb == "list") {
    ApiError problem;
    const auto filter = listFilterOf(request, problem);
    if (!filter) return fail(problem);
    std::vector<json> found = store.list(namespaceName);
    std::erase_if(found, [&](const json& object) { return !filter->matches(object); });
    for (auto& object : found) object = shown(std::move(object));
    if (wantsTable(request)) return table(found);
    return respond(200, listJson(std::string(type.kind) + "List", type.apiVersion(),
                                 cluster.resourceVersion(), std::move(found)));
  }
  if (verb == "get") {
    const json* object = store.find(namespaceName, name);
    if (!object) return fail(objectNotFound(type, name));
    return wantsTable(request) ? table({shown(*object)}) : respond(200, shown(*object));
  }
  if (verb == "create" && name.empty() && !namespaceName.empty()) {
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return fail(unknownBodyFormat());
    ApiResult decoded = kind.decode(body, namespaceName, "", nullptr);
    if (!decoded.ok()) return fail(*decoded.error);
    const auto namespaces = cluster.namespaces();
    if (std::find(namespaces.begin(), namespaces.end(), namespaceName) == namespaces.end()) {
      // The NamespaceLifecycle admission plugin's answer.
      return fail(error(404, "NotFound", "namespaces \"" + namespaceName + "\" not found",
                        {{"name", namespaceName}, {"kind", "namespaces"}}));
    }
    ApiResult created = store.create(namespaceName, decoded.object, wallNow, nextVersion);
    const json& meta = created.ok() ? created.object["metadata"] : decoded.object["metadata"];
    write.workload = namespaceName + "/" + meta.value("name", meta.value("generateName", ""));
    write.kind = std::string(type.kind);
    if (!created.ok()) return fail(*created.error);
    return respond(201, shown(created.object));
  }
  if (verb == "update" || verb == "patch") {
    // A missing object is a 404 after the body's checks (store.update), not a create.
    const json* current = store.find(namespaceName, name);
    if (verb == "patch" && !current) return fail(objectNotFound(type, name));
    const ApiResult desired =
        desiredObject(request, verb == "patch", current ? *current : json(), type.custom);
    if (!desired.ok()) return fail(*desired.error);
    ApiResult decoded = kind.decode(desired.object, namespaceName, name, current);
    if (!decoded.ok()) return fail(*decoded.error);
    ApiResult updated = store.update(namespaceName, name, decoded.object, nextVersion);
    if (!updated.ok()) return fail(*updated.error);
    return respond(200, shown(updated.object));
  }
  if (verb == "delete") {
    const json options = request.body.empty() ? json() : json::parse(request.body, nullptr, false);
    ApiResult deleted = store.remove(namespaceName, name, options, nextVersion);
    if (!deleted.ok()) return fail(*deleted.error);
    if (type.deleteReturnsObject) return respond(200, deleted.object);
    return respond(200, {{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", json::object()},
                         {"status", "Success"},
                         {"details",
                          {{"name", name},
                           {"group", group},
                           {"kind", resource},
                           {"uid", deleted.object["metadata"]["uid"]}}}});
  }
  return fail(methodNotAllowed(verb, resource));
}

namespace {

HttpServerOptions apiServerOptions(std::shared_ptr<boost::asio::ssl::context> tls,
                                   std::shared_ptr<ApiFaultState> faults) {
  HttpServerOptions options;
  options.tls = std::move(tls);
  options.maxBodyBytes = 3 * 1024 * 1024;  // the API server's own limit for a request body
  options.responseDelay = [faults = std::move(faults)] { return faults->get().latency; };
  return options;
}

}  // namespace

FakeApiServer::FakeApiServer(boost::asio::io_context& io,
                             std::shared_ptr<boost::asio::ssl::context> tls, SharedFleet& fleet,
                             std::string cluster, std::shared_ptr<const TokenBook> tokens,
                             std::uint64_t seed)
    : writes_(std::make_shared<WriteLog>()),
      faults_(std::make_shared<ApiFaultState>(seed)),
      handler_(std::make_shared<ApiHandler>(fleet, std::move(cluster), std::move(tokens), writes_,
                                            faults_)),
      server_(
          io, [handler = handler_](HttpRequest& request) { return handler->handle(request); },
          apiServerOptions(std::move(tls), faults_)) {}

void FakeApiServer::start(std::uint16_t port) {
  server_.start(port);
  handler_->setServerAddress("127.0.0.1:" + std::to_string(server_.port()));
}

AuthRefusals ApiHandler::authRefusals() const {
  return {unauthorized_.load(std::memory_order_relaxed),
          revokedTokenRefusals_.load(std::memory_order_relaxed)};
}

std::string FakeApiServer::url() const { return "https://127.0.0.1:" + std::to_string(port()); }

}  // namespace fleetscale::sim
