// Wraps a Prometheus rules file into a prometheus-operator PrometheusRule, so the rules Prometheus
// loads from deploy/prometheus/rules and the ones the operator loads are the same text.
//   node tools/render-prometheusrule.mjs <rules.yml> <name>   (prints the PrometheusRule)
// `make test` (tests/deploy) checks that the committed PrometheusRules equal this output;
// docs/monitoring.md shows how to regenerate them.
import { readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";

const [rulesPath, name] = process.argv.slice(2);
if (!rulesPath || !name) {
  console.error("usage: render-prometheusrule.mjs <rules.yml> <name>");
  process.exit(2);
}
const rules = YAML.parse(readFileSync(rulesPath, "utf8"));
if (!rules || !Array.isArray(rules.groups)) {
  console.error(`${rulesPath}: no "groups" list`);
  process.exit(1);
}
const source = path.relative(path.resolve(path.dirname(process.argv[1]), ".."), path.resolve(rulesPath));
const rule = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: {
    name,
    labels: { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "fleetscale" },
  },
  spec: { groups: rules.groups },
};
process.stdout.write(
  `# Generated from ${source} by tools/render-prometheusrule.mjs; do not edit.\n` +
    YAML.stringify(rule, { lineWidth: 0 }),
);
