// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`):
//  1. every object against its Kubernetes OpenAPI schema (kubernetes-models; ServiceMonitor and
//     PrometheusRule against the prometheus-operator CRD schemas);
//  2. the promises deploy/ makes (docs/install-kubernetes.md): containers non-root without
//     capabilities, read-only root and host mounts, requests and limits, probes;
//  3. the wiring between objects: Services select pods and name their ports, ServiceMonitors select
//     Services, ConfigMaps, ServiceAccounts, PriorityClasses and ClusterRoles referenced exist.
//   node tools/validate-manifests.mjs <rendered.yaml> [--external-secret NAME]...
// Exits 0 and prints a summary when everything holds, else 1 with one line per problem.
import { readFileSync } from "node:fs";
import YAML from "yaml";

const args = process.argv.slice(2);
const file = args.shift();
const externalSecrets = new Set();
while (args.length) {
  const flag = args.shift();
  if (flag !== "--external-secret" || !args.length) usage();
  externalSecrets.add(args.shift());
}
if (!file) usage();

function usage() {
  console.error("usage: validate-manifests.mjs <rendered.yaml> [--external-secret NAME]...");
  process.exit(2);
}

const problems = [];
const problem = (object, text) =>
  problems.push(`${object.kind}/${object.metadata?.name ?? "?"}: ${text}`);

const objects = [];
for (const document of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
  if (document.errors.length) {
    problems.push(`YAML: ${document.errors.map((e) => e.message).join("; ")}`);
    continue;
  }
  const object = document.toJS();
  if (object !== null) objects.push(object);
}
if (objects.length === 0) problems.push("no objects in the input");

// --- 1. Schemas --------------------------------------------------------------------------------

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "PriorityClass",
  "StorageClass",
  "CustomResourceDefinition",
]);

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module =
    group === "monitoring.coreos.com"
      ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
      : `kubernetes-models/${group ? `${group}/${version}` : version}/${kind}`;
  try {
    return (await import(module))[kind];
  } catch {
    return undefined;
  }
}

for (const object of objects) {
  if (typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    problems.push(`object without apiVersion/kind: ${JSON.stringify(object).slice(0, 80)}`);
    continue;
  }
  const Model = await modelFor(object.apiVersion, object.kind);
  if (!Model) {
    problem(object, `no schema for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    problem(object, `schema: ${error.message}`);
  }
  if (!CLUSTER_SCOPED.has(object.kind) && !object.metadata?.namespace) {
    problem(object, "namespaced object without metadata.namespace");
  }
}

// --- 2. Pod security and resources ---------------------------------------------------------------

const podTemplate = (object) =>
  ["Deployment", "DaemonSet", "StatefulSet"].includes(object.kind)
    ? object.spec?.template
    : undefined;
const workloads = objects.filter(podTemplate);

for (const workload of workloads) {
  const pod = podTemplate(workload).spec ?? {};
  if (pod.securityContext?.runAsNonRoot !== true) problem(workload, "pod: runAsNonRoot is not true");
  if (pod.securityContext?.seccompProfile?.type !== "RuntimeDefault") {
    problem(workload, "pod: seccompProfile is not RuntimeDefault");
  }
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problem(workload, "pod shares a host namespace");
  const hostPathVolumes = new Set(
    (pod.volumes ?? []).filter((volume) => volume.hostPath).map((volume) => volume.name),
  );
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    const where = `container ${container.name}`;
    const security = container.securityContext ?? {};
    if (security.allowPrivilegeEscalation !== false) {
      problem(workload, `${where}: allowPrivilegeEscalation is not false`);
    }
    if (security.readOnlyRootFilesystem !== true) {
      problem(workload, `${where}: readOnlyRootFilesystem is not true`);
    }
    if (security.privileged === true) problem(workload, `${where}: privileged`);
    if (!(security.capabilities?.drop ?? []).includes("ALL")) {
      problem(workload, `${where}: capabilities are not dropped (drop: [ALL])`);
    }
    if ((security.capabilities?.add ?? []).length) {
      problem(workload, `${where}: adds capabilities ${security.capabilities.add.join(",")}`);
    }
    for (const kind of ["requests", "limits"]) {
      for (const resource of ["cpu", "memory"]) {
        if (container.resources?.[kind]?.[resource] === undefined) {
          problem(workload, `${where}: no ${resource} ${kind}`);
        }
      }
    }
    for (const probe of ["livenessProbe", "readinessProbe"]) {
      if (!container[probe]) problem(workload, `${where}: no ${probe}`);
    }
    for (const mount of container.volumeMounts ?? []) {
      if (hostPathVolumes.has(mount.name) && mount.readOnly !== true) {
        problem(workload, `${where}: host path volume ${mount.name} is mounted writable`);
      }
    }
  }
}

// --- 3. References between objects ---------------------------------------------------------------

const named = (kind, namespace) =>
  new Set(
    objects
      .filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace))
      .map((o) => o.metadata.name),
  );
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);

for (const workload of workloads) {
  const namespace = workload.metadata.namespace;
  const template = podTemplate(workload);
  const pod = template.spec ?? {};
  if (!matches(workload.spec.selector?.matchLabels, template.metadata?.labels)) {
    problem(workload, "selector does not match the pod template's labels");
  }
  if (pod.serviceAccountName && !named("ServiceAccount", namespace).has(pod.serviceAccountName)) {
    problem(workload, `ServiceAccount ${pod.serviceAccountName} is not in the manifests`);
  }
  if (pod.priorityClassName && !named("PriorityClass").has(pod.priorityClassName)) {
    problem(workload, `PriorityClass ${pod.priorityClassName} is not in the manifests`);
  }
  const configMaps = named("ConfigMap", namespace);
  const secrets = named("Secret", namespace);
  const needConfigMap = (name) =>
    configMaps.has(name) || problem(workload, `ConfigMap ${name} is not in the manifests`);
  const needSecret = (name, optional) =>
    optional ||
    secrets.has(name) ||
    externalSecrets.has(name) ||
    problem(workload, `Secret ${name} is neither in the manifests nor declared external`);
  for (const volume of pod.volumes ?? []) {
    if (volume.configMap) needConfigMap(volume.configMap.name);
    if (volume.secret) needSecret(volume.secret.secretName, volume.secret.optional);
    if (
      volume.persistentVolumeClaim &&
      !named("PersistentVolumeClaim", namespace).has(volume.persistentVolumeClaim.claimName)
    ) {
      problem(workload, `PersistentVolumeClaim ${volume.persistentVolumeClaim.claimName} missing`);
    }
  }
  for (const container of pod.containers ?? []) {
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) needConfigMap(source.configMapRef.name);
      if (source.secretRef) needSecret(source.secretRef.name, source.secretRef.optional);
    }
    const volumes = new Set((pod.volumes ?? []).map((volume) => volume.name));
    for (const mount of container.volumeMounts ?? []) {
      if (!volumes.has(mount.name)) problem(workload, `mount of undeclared volume ${mount.name}`);
    }
  }
}

const podsSelectedBy = (service) =>
  workloads.filter(
    (workload) =>
      workload.metadata.namespace === service.metadata.namespace &&
      matches(service.spec.selector, podTemplate(workload).metadata?.labels),
  );
for (const service of objects.filter((o) => o.kind === "Service")) {
  const selected = podsSelectedBy(service);
  if (selected.length === 0) {
    problem(service, "selects no pod template in the manifests");
    continue;
  }
  for (const port of service.spec.ports ?? []) {
    if (typeof port.targetPort !== "string") continue;
    const found = selected.some((workload) =>
      (podTemplate(workload).spec.containers ?? []).some((container) =>
        (container.ports ?? []).some((containerPort) => containerPort.name === port.targetPort),
      ),
    );
    if (!found) problem(service, `targetPort ${port.targetPort} is no container port`);
  }
}

for (const monitor of objects.filter((o) => o.kind === "ServiceMonitor")) {
  const services = objects.filter(
    (o) =>
      o.kind === "Service" &&
      o.metadata.namespace === monitor.metadata.namespace &&
      matches(monitor.spec.selector?.matchLabels, o.metadata.labels),
  );
  if (services.length !== 1) {
    problem(monitor, `selects ${services.length} Services; expected exactly one`);
    continue;
  }
  for (const endpoint of monitor.spec.endpoints ?? []) {
    if (!(services[0].spec.ports ?? []).some((port) => port.name === endpoint.port)) {
      problem(monitor, `port ${endpoint.port} is not a port of Service ${services[0].metadata.name}`);
    }
  }
}

for (const binding of objects.filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding")) {
  const roleKind = binding.roleRef?.kind;
  if (!named(roleKind, roleKind === "Role" ? binding.metadata.namespace : undefined).has(binding.roleRef?.name)) {
    problem(binding, `${roleKind} ${binding.roleRef?.name} is not in the manifests`);
  }
  for (const subject of binding.subjects ?? []) {
    if (subject.kind === "ServiceAccount" && !named("ServiceAccount", subject.namespace).has(subject.name)) {
      problem(binding, `ServiceAccount ${subject.namespace}/${subject.name} is not in the manifests`);
    }
  }
}

if (problems.length) {
  for (const line of problems) console.error(line);
  console.error(`${file}: ${problems.length} problem(s) in ${objects.length} objects`);
  process.exit(1);
}
const kinds = [...new Set(objects.map((o) => o.kind))].sort().join(", ");
console.log(`${file}: ${objects.length} objects valid (${kinds})`);
