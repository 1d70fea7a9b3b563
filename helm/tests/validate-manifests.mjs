// Validates every object of a rendered chart (helm template output) against the Kubernetes API
// schemas compiled into kubernetes-models (core/apps/policy/rbac...) and
// @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule CRDs).
// Usage: node validate-manifests.mjs TOOLS_DIR RENDERED.yaml
// Prints one JSON line per object ({kind, name, errors}) and exits 1 when any object is invalid.
// The generated validators check types, required fields, enums and formats; like the API's
// OpenAPI schema they do not reject unknown fields, so names and labels get the API server's
// own syntax rules below.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [toolsDir, file] = process.argv.slice(2);
if (!toolsDir || !file) {
  console.error("usage: node validate-manifests.mjs TOOLS_DIR RENDERED.yaml");
  process.exit(2);
}
const modules = join(toolsDir, "node_modules");
const load = async (path) => import(pathToFileURL(path).href);
const YAML = (await load(join(modules, "yaml", "dist", "index.js"))).default;

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") {
    return join(modules, "@kubernetes-models", "prometheus-operator", group, version, `${kind}.js`);
  }
  return join(modules, "kubernetes-models", group === "" ? version : group, group === "" ? "" : version, `${kind}.js`);
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function metadataErrors(obj) {
  const errors = [];
  const name = obj.metadata?.name;
  // Services, and the pods a StatefulSet names after itself, need DNS labels; the rest subdomains.
  const asLabel = obj.kind === "Service" || obj.kind === "StatefulSet";
  if (typeof name !== "string" || !(asLabel ? dns1123Label : dns1123Subdomain).test(name) || name.length > (asLabel ? 63 : 253)) {
    errors.push(`metadata.name '${name}' is not a DNS-1123 ${asLabel ? "label" : "subdomain"}`);
  }
  const labelSets = [["metadata.labels", obj.metadata?.labels], ["spec.template.metadata.labels", obj.spec?.template?.metadata?.labels]];
  for (const [where, labels] of labelSets) {
    for (const [k, v] of Object.entries(labels ?? {})) {
      if (!labelName.test(k) || k.split("/").pop().length > 63) errors.push(`${where}: bad label name '${k}'`);
      if (typeof v !== "string" || v.length > 63 || !labelValue.test(v)) errors.push(`${where}.${k}: bad label value '${v}'`);
    }
  }
  return errors;
}

let failed = 0;
let count = 0;
for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" })) {
  if (doc.errors.length > 0) {
    console.log(JSON.stringify({ kind: "?", name: "?", errors: doc.errors.map((e) => `YAML: ${e.message}`) }));
    failed++;
    continue;
  }
  const obj = doc.toJS();
  if (obj === null || obj === undefined) continue;
  count++;
  const errors = [];
  const path = obj.apiVersion && obj.kind ? modelPath(obj.apiVersion, obj.kind) : null;
  if (!path || !existsSync(path)) {
    errors.push(`no schema for apiVersion '${obj.apiVersion}' kind '${obj.kind}'`);
  } else {
    const Model = (await load(path))[obj.kind];
    try {
      new Model(obj).validate();
    } catch (e) {
      errors.push(...String(e.message).split(", "));
    }
    errors.push(...metadataErrors(obj));
  }
  if (errors.length > 0) failed++;
  console.log(JSON.stringify({ kind: obj.kind, name: obj.metadata?.name, errors }));
}
console.log(JSON.stringify({ objects: count, invalid: failed }));
process.exit(failed > 0 || count === 0 ? 1 : 0);
