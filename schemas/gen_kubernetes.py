#!/usr/bin/env python3
"""Generate schemas/kubernetes/v1.NN.json.gz: strict Kubernetes JSON schemas per minor version.

Sources (see schemas/README.md):
- PyPI `kubernetes-validate` (Apache-2.0): the `-local-strict` `_definitions.json` of the newest
  KUBE_VERSIONS_COUNT minor versions it bundles.
- npm `kubernetes-models` (MIT): its `.d.ts` doc comments keep the upstream OpenAPI v3 text
  "Possible enum values: - `"X"` ..."; `kubernetes-validate` (built from the v2 spec) lost it. That
  text becomes a JSON Schema `enum` on the property, because the API server enforces it.

Usage: pip install kubernetes-validate==1.37.0 && python3 schemas/gen_kubernetes.py
(needs `npm` on PATH; it runs `npm pack kubernetes-models@KUBERNETES_MODELS_VERSION`).
"""

import glob
import gzip
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

import kubernetes_validate

KUBE_VERSIONS_COUNT = 4
KUBERNETES_MODELS_VERSION = "5.1.0"
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kubernetes")
REF_PREFIX = "/api/_definitions.json#/$defs/"
DROP_KEYS = {"description", "$schema", "$id", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy"}


def camel(name):
    """`io.k8s.api.core.v1.ServicePort` -> `IoK8sApiCoreV1ServicePort` (kubernetes-models' naming)."""
    return "".join(s[:1].upper() + s[1:] for s in re.split(r"[.\-]", name))


def norm_text(s):
    return re.sub(r"\s+", " ", s.replace("\\", "")).strip()


def fetch_kubernetes_models(tmp):
    subprocess.run(["npm", "pack", "--silent", f"kubernetes-models@{KUBERNETES_MODELS_VERSION}"],
                   cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    (tgz,) = glob.glob(os.path.join(tmp, "kubernetes-models-*.tgz"))
    with tarfile.open(tgz) as t:
        t.extractall(tmp, filter="data")
    return os.path.join(tmp, "package")


JSDOC_PROP = re.compile(r'/\*\*((?:(?!\*/).)*)\*/\s*"([^"]+)"\??: ([^;\n]*)', re.S)
ENUM_LINE = re.compile(r'^\s*-\s*`"((?:[^"\\]|\\.)*)"`', re.M)


def enums_from_models(pkg):
    """{camel def name: {property: (is_array, [values], description without enum text)}}."""
    out = {}
    for path in glob.glob(os.path.join(pkg, "**", "*.d.ts"), recursive=True):
        text = open(path, encoding="utf-8").read()
        m = re.search(r"export type \{ I\w+ as I(\w+),", text)
        iface = re.search(r"export interface I\w+ \{(.*?)\n\}", text, re.S)
        if not m or not iface:
            continue
        props = {}
        for doc, prop, ts_type in JSDOC_PROP.findall(iface.group(1)):
            doc = "\n".join(re.sub(r"^\s*\* ?", "", line) for line in doc.strip().splitlines())
            # Upstream marks enums twice: a union of string literals in the type (also on list items,
            # where the doc often lacks the text) and "Possible enum values:" in the doc.
            literal_union = re.fullmatch(r'(Array<)?("(?:[^"\\]|\\.)*"(?: \| "(?:[^"\\]|\\.)*")*)>?', ts_type)
            if not literal_union:
                if "Possible enum values:" in doc:
                    print(f"warning: {path}: {prop}: enum text but type {ts_type}", file=sys.stderr)
                continue
            values = [json.loads(v) for v in re.findall(r'"(?:[^"\\]|\\.)*"', literal_union.group(2))]
            if prop in ("apiVersion", "kind") and len(values) == 1:
                continue  # the object's own type tag, already an enum in kubernetes-validate
            head, _, tail = doc.partition("Possible enum values:")
            documented = [re.sub(r"\\(.)", r"\1", v) for v in ENUM_LINE.findall(tail)]
            if documented and sorted(documented) != sorted(values):
                print(f"warning: {path}: {prop}: doc {documented} != type {values}", file=sys.stderr)
            props[prop] = (bool(literal_union.group(1)), values, norm_text(head))
        if props:
            out[m.group(1)] = props
    return out


def strip(node):
    """Drops descriptions and patch metadata (not needed for validation), rewrites refs to `#/$defs/`."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in DROP_KEYS and not (k == "description" and isinstance(v, dict)):
                continue
            if k == "$ref" and isinstance(v, str) and v.startswith(REF_PREFIX):
                v = "#/$defs/" + v[len(REF_PREFIX):]
            out[k] = v if k in ("enum", "x-kubernetes-list-map-keys", "required") else strip(v)
        return out
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def with_enum(schema, values):
    types = schema.get("type")
    allows_null = isinstance(types, list) and "null" in types
    schema["enum"] = values + ([None] if allows_null else [])


def apply_enums(defs, enums, stats):
    for name, schema in defs.items():
        for prop, (is_array, values, model_desc) in enums.get(camel(name), {}).items():
            target = schema.get("properties", {}).get(prop)
            if target is None:
                stats["missing"] += 1
                continue
            if norm_text(target.get("description", "")) != model_desc:
                # The text changed between kubernetes-models' Kubernetes version and this one: the
                # set of values may have changed too, so enforce nothing rather than a stale set.
                stats["skipped_changed"].append(f"{name}.{prop}")
                continue
            if is_array:
                if target.get("type") not in ("array", ["array", "null"]) or "$ref" in target.get("items", {}):
                    stats["missing"] += 1
                    continue
                with_enum(target["items"], values)
            else:
                if "$ref" in target:
                    stats["missing"] += 1
                    continue
                with_enum(target, values)
            stats["applied"] += 1


def kind_index(defs):
    index = {}
    for name, schema in defs.items():
        if name.startswith("io.k8s.apimachinery.pkg.apis.meta.v1."):
            continue  # DeleteOptions, WatchEvent, Status: API call payloads, never stored objects
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            # Several definitions may claim one GVK (e.g. DeleteOptions/WatchEvent): keep the
            # definition whose own apiVersion enum names it, i.e. a real top-level kind.
            props = schema.get("properties", {})
            if api_version not in props.get("apiVersion", {}).get("enum", []):
                continue
            if gvk["kind"] not in props.get("kind", {}).get("enum", []):
                continue
            index[f"{api_version}/{gvk['kind']}"] = name
    return dict(sorted(index.items()))


def main():
    root = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    found = []
    for d in os.listdir(root):
        m = re.fullmatch(r"v1\.(\d+)\.(\d+)-local-strict", d)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), d))
    newest = {}
    for minor, patch, d in sorted(found):
        newest[minor] = d
    minors = sorted(newest)[-KUBE_VERSIONS_COUNT:]

    with tempfile.TemporaryDirectory() as tmp:
        enums = enums_from_models(fetch_kubernetes_models(tmp))
    os.makedirs(OUT_DIR, exist_ok=True)
    for old in glob.glob(os.path.join(OUT_DIR, "v1.*.json.gz")):
        os.remove(old)
    for minor in minors:
        src = os.path.join(root, newest[minor], "_definitions.json")
        with open(src, encoding="utf-8") as f:
            raw_defs = json.load(f)["$defs"]
        stats = {"applied": 0, "missing": 0, "skipped_changed": []}
        apply_enums(raw_defs, enums, stats)
        defs = strip(raw_defs)
        doc = {"kubernetesVersion": newest[minor].split("-")[0], "kinds": kind_index(raw_defs), "$defs": defs}
        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        out = os.path.join(OUT_DIR, f"v1.{minor}.json.gz")
        with open(out, "wb") as f:
            # mtime=0 and no file name: byte-identical output on every run.
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as gz:
                gz.write(data)
        print(f"{out}: {len(doc['kinds'])} kinds, {len(defs)} definitions, {len(data)} bytes raw, "
              f"{os.path.getsize(out)} compressed; enums applied {stats['applied']}, "
              f"skipped (text changed) {len(stats['skipped_changed'])}: {stats['skipped_changed']}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
