// Generates schemas/flux/flux-crds.json.gz: one openAPIV3Schema-shaped schema per Flux kind and
// API version, for `src/schema/bundled.rs`. See schemas/README.md ("Flux CRD schemas").
//
// No registry reachable from here ships Flux's CRD YAML, so the schemas are rebuilt from npm
// `@kubernetes-models/flux-cd`, which was generated from the real CRDs of Flux 2.8 (and older
// releases for the older API versions):
//   1. its TypeScript declarations (`<group>/<version>/<Kind>.d.ts`) give the structure: fields,
//      required, maps, string-literal enums; `ts-json-schema-generator` turns them into JSON Schema;
//   2. its compiled ajv validators (`_schemas/*.js`) still enforce the CRDs' patterns, lengths,
//      minimums, item limits, formats and integer types, which the declarations have lost. They are
//      recovered by probing: the validator is run on objects that fill every declared field with a
//      value that breaks such constraints, and each error (data path, keyword, limit) is written back
//      to the field's schema.
//
// Usage (from the repository root; installs pinned packages into a temporary directory):
//   node schemas/gen_flux.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const FLUX_CD_MODELS_VERSION = "3.0.1";
const TS_JSON_SCHEMA_GENERATOR_VERSION = "2.10.0";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(repo, "schemas", "flux", "flux-crds.json.gz");

const tmp = mkdtempSync(join(tmpdir(), "gen-flux-"));
try {
  writeFileSync(join(tmp, "package.json"), JSON.stringify({ name: "gen-flux", private: true }));
  execFileSync(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      `@kubernetes-models/flux-cd@${FLUX_CD_MODELS_VERSION}`,
      `ts-json-schema-generator@${TS_JSON_SCHEMA_GENERATOR_VERSION}`,
    ],
    { cwd: tmp, stdio: ["ignore", "ignore", "inherit"] },
  );
  const require = createRequire(join(tmp, "package.json"));
  const { createGenerator } = require("ts-json-schema-generator");
  const pkg = join(tmp, "node_modules", "@kubernetes-models", "flux-cd");

  const entries = [];
  for (const group of readdirSync(pkg).filter((d) => d.endsWith(".fluxcd.io")).sort()) {
    for (const version of readdirSync(join(pkg, group)).sort()) {
      if (!statSync(join(pkg, group, version)).isDirectory()) continue;
      for (const file of readdirSync(join(pkg, group, version)).sort()) {
        if (!file.endsWith(".d.ts") || file === "index.d.ts") continue;
        const kind = file.slice(0, -".d.ts".length);
        const generated = createGenerator({
          path: join(pkg, group, version, file),
          type: `I${kind}`,
          expose: "none",
          jsDoc: "none",
          skipTypeCheck: true,
          additionalProperties: true,
          topRef: false,
        }).createSchema(`I${kind}`);
        const schema = toOpenApi(generated, generated.definitions ?? {});
        const props = schema.properties;
        // ObjectMeta and status belong to the API server and the controller; the converter
        // (crd_to_json_schema) supplies both, so they are not carried.
        delete props.metadata;
        delete props.status;
        props.apiVersion = { type: "string" };
        props.kind = { type: "string" };
        schema.required = (schema.required ?? []).filter((r) => !["apiVersion", "kind", "metadata"].includes(r));
        if (schema.required.length === 0) delete schema.required;
        const validatorFile = join(pkg, "_schemas", `${pascal(group)}${pascal(version)}${kind}.js`);
        const { validate } = await import(pathToFileURL(validatorFile).href);
        const found = probe(schema, validate, group, version, kind);
        entries.push({ group, version, kind, schema: sortKeys(schema) });
        console.error(`${group}/${version} ${kind}: ${found} constraints recovered`);
      }
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  const json = Buffer.from(JSON.stringify(entries));
  // Node writes mtime 0 in the gzip header, so the output is byte-reproducible.
  const gz = gzipSync(json, { level: 9 });
  writeFileSync(out, gz);
  console.error(`${entries.length} kinds, ${json.length} bytes JSON, ${gz.length} bytes gzip -> ${out}`);
} finally {
  if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
}

function pascal(s) {
  return s
    .split(".")
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");
}

/** ts-json-schema-generator output → the structural openAPIV3Schema subset CRDs use. */
function toOpenApi(s, defs, depth = 0) {
  if (depth > 100) throw new Error("schema too deep");
  if (s === true || s === undefined) return { "x-kubernetes-preserve-unknown-fields": true };
  if (s.$ref) {
    const name = decodeURIComponent(s.$ref.replace(/^#\/definitions\//, ""));
    if (!defs[name]) throw new Error(`unresolved ${s.$ref}`);
    return toOpenApi(defs[name], defs, depth + 1);
  }
  const out = {};
  if ("const" in s) {
    out.type = s.type ?? typeof s.const;
    out.enum = [s.const];
  } else if (s.enum) {
    out.type = s.type ?? typeof s.enum[0];
    out.enum = [...s.enum];
  } else if (Array.isArray(s.type)) {
    const t = [...s.type].sort().join(",");
    // `number | string` is how the declarations spell IntOrString.
    if (t === "number,string" || t === "integer,string") out["x-kubernetes-int-or-string"] = true;
    else throw new Error(`unsupported type union ${t}`);
  } else if (s.anyOf) {
    throw new Error(`unsupported anyOf ${JSON.stringify(s.anyOf).slice(0, 200)}`);
  } else if (!s.type) {
    // `any` / `unknown`: free-form JSON (HelmRelease values, JSON patch values).
    out["x-kubernetes-preserve-unknown-fields"] = true;
  } else {
    out.type = s.type;
  }
  if (s.properties) {
    out.properties = {};
    for (const [k, v] of Object.entries(s.properties)) out.properties[k] = toOpenApi(v, defs, depth + 1);
  }
  if (s.required?.length) out.required = [...s.required];
  if (s.items) out.items = toOpenApi(s.items, defs, depth + 1);
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
    const ap = toOpenApi(s.additionalProperties, defs, depth + 1);
    if (s.properties || Object.keys(ap).some((k) => k !== "x-kubernetes-preserve-unknown-fields")) {
      out.additionalProperties = ap;
    } else {
      // `Record<string, any>`: an object with any fields.
      out["x-kubernetes-preserve-unknown-fields"] = true;
    }
  }
  if (out.type === "object" && !out.properties && !out.additionalProperties) {
    // A declared but field-less object (`type: object` in the CRD) takes any fields.
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  return out;
}

/**
 * Runs the package's compiled validator on objects whose every declared leaf breaks typical
 * constraints, and copies each reported constraint onto the field's schema. Returns how many
 * were recovered.
 */
function probe(schema, validate, group, version, kind) {
  const apiVersion = `${group}/${version}`;
  const variants = [
    // Empty strings break minLength and most patterns/formats; 1.5 shows integer fields
    // (and int64 formats); -1e15 breaks minimum; empty arrays break minItems.
    { str: "", num: 1.5, arrayLen: 0 },
    { str: "", num: -1e15, arrayLen: 1 },
    // A long control-character string breaks maxLength and the patterns "" satisfies; 30 items
    // break maxItems (the shared element keeps the object small).
    { str: "\u0001".repeat(70000), num: 1e15, arrayLen: 30 },
    { str: "\u0001", num: 0, arrayLen: 1 },
  ];
  let found = 0;
  for (const v of variants) {
    const obj = sample(schema, v);
    obj.apiVersion = apiVersion;
    obj.kind = kind;
    obj.metadata = { name: "probe" };
    validate(obj);
    for (const err of validate.errors ?? []) {
      const node = nodeAt(schema, err.instancePath);
      if (!node) continue;
      found += apply(node, err);
    }
  }
  return found;
}

function sample(s, v) {
  if (s["x-kubernetes-int-or-string"]) return v.str;
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case "string":
      return v.str;
    case "number":
    case "integer":
      return v.num;
    case "boolean":
      return true;
    case "array": {
      const item = sample(s.items ?? {}, v);
      return Array.from({ length: v.arrayLen }, () => item);
    }
    case "object": {
      const o = {};
      for (const [k, p] of Object.entries(s.properties ?? {})) o[k] = sample(p, v);
      if (s.additionalProperties) o.k = sample(s.additionalProperties, v);
      return o;
    }
    default:
      return {};
  }
}

function nodeAt(schema, path) {
  let node = schema;
  for (const raw of path.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node.properties && seg in node.properties) node = node.properties[seg];
    else if (node.additionalProperties && seg === "k") node = node.additionalProperties;
    else if (node.items && /^\d+$/.test(seg)) node = node.items;
    else return undefined;
  }
  return node;
}

function apply(node, err) {
  const p = err.params ?? {};
  const set = (k, val) => {
    if (node[k] === val) return 0;
    node[k] = val;
    return 1;
  };
  switch (err.keyword) {
    case "type":
      return p.type === "integer" && node.type === "number" ? set("type", "integer") : 0;
    case "pattern":
      return set("pattern", p.pattern);
    case "format":
      return set("format", p.format);
    case "minLength":
    case "maxLength":
    case "minItems":
    case "maxItems":
    case "minimum":
    case "maximum":
    case "minProperties":
    case "maxProperties":
      return set(err.keyword, p.limit);
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return set(err.keyword, p.limit);
    default:
      return 0;
  }
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}
