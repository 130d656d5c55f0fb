// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`):
//  1. every object against its Kubernetes OpenAPI schema (kubernetes-models; ServiceMonitor and
//     PrometheusRule against the prometheus-operator CRD schemas);
//  2. the promises deploy/ makes (docs/install-kubernetes.md): containers non-root without
//     capabilities, read-only root and host mounts, requests and limits, probes; the one
//     exception, an init container that owns a host directory of fleetscale's to the agent's
//     user, as root with CHOWN and FOWNER only;
//  3. the wiring between objects: Services select pods and name their ports, ServiceMonitors select
//     Services, ConfigMaps, ServiceAccounts, PriorityClasses and ClusterRoles referenced exist;
//     cert-manager objects (no schema here) structurally: Certificates name an Issuer of the
//     manifests and a Secret, which then counts as present.
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
  "ClusterIssuer",
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

// cert-manager.io (no schema package here): the fields cert-manager needs, and their types.
const CERT_MANAGER_ISSUER_TYPES = ["selfSigned", "ca", "acme", "vault", "venafi"];
function checkCertManager(object) {
  const spec = object.spec ?? {};
  const isString = (value) => typeof value === "string" && value.length > 0;
  if (object.apiVersion !== "cert-manager.io/v1") {
    problem(object, `cert-manager: apiVersion ${object.apiVersion} is not cert-manager.io/v1`);
  } else if (object.kind === "Issuer" || object.kind === "ClusterIssuer") {
    const types = CERT_MANAGER_ISSUER_TYPES.filter((type) => spec[type] !== undefined);
    if (types.length !== 1) problem(object, `cert-manager: needs exactly one issuer type, has ${types.length}`);
    if (spec.ca !== undefined && !isString(spec.ca.secretName)) problem(object, "cert-manager: ca.secretName missing");
  } else if (object.kind === "Certificate") {
    if (!isString(spec.secretName)) problem(object, "cert-manager: spec.secretName missing");
    if (!isString(spec.issuerRef?.name)) problem(object, "cert-manager: spec.issuerRef.name missing");
    if (!isString(spec.commonName) && !(spec.dnsNames ?? []).length && !(spec.ipAddresses ?? []).length) {
      problem(object, "cert-manager: no commonName, dnsNames or ipAddresses");
    }
    for (const field of ["dnsNames", "ipAddresses", "usages"]) {
      if (spec[field] !== undefined && !(Array.isArray(spec[field]) && spec[field].every(isString))) {
        problem(object, `cert-manager: spec.${field} must be a list of strings`);
      }
    }
    for (const field of ["duration", "renewBefore"]) {
      if (spec[field] !== undefined && !/^([0-9]+(\.[0-9]+)?(h|m|s))+$/.test(spec[field])) {
        problem(object, `cert-manager: spec.${field} ${spec[field]} is not a duration (e.g. 2160h)`);
      }
    }
    if (spec.isCA !== undefined && typeof spec.isCA !== "boolean") problem(object, "cert-manager: spec.isCA must be boolean");
    const key = spec.privateKey ?? {};
    if (key.algorithm !== undefined && !["RSA", "ECDSA", "Ed25519"].includes(key.algorithm)) {
      problem(object, `cert-manager: privateKey.algorithm ${key.algorithm}`);
    }
  } else {
    problem(object, `no schema for ${object.apiVersion} ${object.kind}`);
  }
}

for (const object of objects) {
  if (typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    problems.push(`object without apiVersion/kind: ${JSON.stringify(object).slice(0, 80)}`);
    continue;
  }
  if (object.apiVersion.startsWith("cert-manager.io/")) {
    checkCertManager(object);
  } else {
    const Model = await modelFor(object.apiVersion, object.kind);
    if (!Model) {
      problem(object, `no schema for ${object.apiVersion} ${object.kind}`);
    } else {
      try {
        new Model(object).validate();
      } catch (error) {
        problem(object, `schema: ${error.message}`);
      }
    }
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
  const hostPathVolumes = new Map(
    (pod.volumes ?? []).filter((volume) => volume.hostPath).map((volume) => [volume.name, volume.hostPath.path]),
  );
  const initContainers = new Set((pod.initContainers ?? []).map((container) => container.name));
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    const init = initContainers.has(container.name);
    const where = `${init ? "init container" : "container"} ${container.name}`;
    const security = container.securityContext ?? {};
    // Root only in an init container that changes ownership: CHOWN and FOWNER, nothing else.
    const root = security.runAsUser === 0 || security.runAsNonRoot === false;
    const added = security.capabilities?.add ?? [];
    if (root && !init) problem(workload, `${where}: runs as root`);
    if (root && init) {
      const extra = added.filter((capability) => !["CHOWN", "FOWNER"].includes(capability));
      if (extra.length) problem(workload, `${where}: adds capabilities ${extra.join(",")}`);
    } else if (added.length) {
      problem(workload, `${where}: adds capabilities ${added.join(",")}`);
    }
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
    for (const kind of ["requests", "limits"]) {
      for (const resource of ["cpu", "memory"]) {
        if (container.resources?.[kind]?.[resource] === undefined) {
          problem(workload, `${where}: no ${resource} ${kind}`);
        }
      }
    }
    // Init containers run to completion: the API refuses probes on them.
    for (const probe of init ? [] : ["livenessProbe", "readinessProbe"]) {
      if (!container[probe]) problem(workload, `${where}: no ${probe}`);
    }
    for (const mount of container.volumeMounts ?? []) {
      const hostPath = hostPathVolumes.get(mount.name);
      // Writable: only a directory of fleetscale's own (the agent's spool), never the host's.
      if (hostPath !== undefined && mount.readOnly !== true && !hostPath.startsWith("/var/lib/fleetscale-")) {
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
  for (const certificate of objects.filter(
    (o) => o.kind === "Certificate" && o.metadata.namespace === namespace,
  )) {
    secrets.add(certificate.spec?.secretName);
  }
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

for (const certificate of objects.filter((o) => o.kind === "Certificate")) {
  const ref = certificate.spec?.issuerRef ?? {};
  const kind = ref.kind ?? "Issuer";
  if (ref.group !== undefined && ref.group !== "cert-manager.io") continue;  // external issuers
  const issuers = named(kind, kind === "Issuer" ? certificate.metadata.namespace : undefined);
  if (!issuers.has(ref.name)) problem(certificate, `${kind} ${ref.name} is not in the manifests`);
}
for (const issuer of objects.filter((o) => o.kind === "Issuer" && o.spec?.ca?.secretName)) {
  const made = objects.some(
    (o) =>
      o.kind === "Certificate" &&
      o.metadata.namespace === issuer.metadata.namespace &&
      o.spec?.secretName === issuer.spec.ca.secretName,
  );
  if (!made && !externalSecrets.has(issuer.spec.ca.secretName)) {
    problem(issuer, `CA Secret ${issuer.spec.ca.secretName} is neither made by a Certificate nor declared external`);
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
