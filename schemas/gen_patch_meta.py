#!/usr/bin/env python3
"""Generate schemas/patch-meta.json: strategic-merge list metadata per built-in kind.

Source: the Kubernetes OpenAPI definitions shipped (as JSON schema) by the PyPI package
`kubernetes-validate` (Apache-2.0). The oldest bundled Kubernetes version is used, as the
closest available to the v1.21 schema kustomize embeds. See schemas/README.md.

Usage: pip install kubernetes-validate && python3 schemas/gen_patch_meta.py
"""

import json
import os
import sys

import kubernetes_validate

MAX_DEPTH = 16
# Recursive CRD/schema internals: never descend into these.
SKIP_DEFS = ("JSONSchemaProps", "JSON", "JSONSchemaPropsOrArray", "JSONSchemaPropsOrBool",
             "JSONSchemaPropsOrStringArray")
# Kinds kustomize's v1.21 schema still knows but the oldest bundled schema has dropped:
# (removed apiVersion, kind) -> (successor apiVersion) whose definition is structurally the same.
ALIASES = {
    ("batch/v1beta1", "CronJob"): "batch/v1",
    ("policy/v1beta1", "PodDisruptionBudget"): "policy/v1",
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): "autoscaling/v2",
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): "autoscaling/v2",
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): "discovery.k8s.io/v1",
    ("networking.k8s.io/v1beta1", "Ingress"): "networking.k8s.io/v1",
    ("extensions/v1beta1", "Ingress"): "networking.k8s.io/v1",
}


def schema_dir():
    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    versions = [v for v in os.listdir(base) if v.endswith("-local")]  # non-strict variants

    def key(v):
        return tuple(int(x) for x in v[1:].split("-")[0].split("."))

    oldest = min(versions, key=key)
    return os.path.join(base, oldest), oldest


def ref_name(node):
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def walk(defs, name, path, depth, out):
    if depth > MAX_DEPTH or name.rsplit(".", 1)[-1] in SKIP_DEFS:
        return
    for prop, sch in sorted(defs.get(name, {}).get("properties", {}).items()):
        p = path + [prop]
        strategy = sch.get("x-kubernetes-patch-strategy")
        types = sch.get("type", [])
        is_list = "array" in (types if isinstance(types, list) else [types])
        # A merge key on a scalar (LabelSelectorRequirement.key) means nothing to a merge.
        if strategy and (is_list or "retainKeys" in strategy.split(",")):
            entry = {"strategy": strategy}
            if "x-kubernetes-patch-merge-key" in sch:
                entry["mergeKey"] = sch["x-kubernetes-patch-merge-key"]
            keys = sch.get("x-kubernetes-list-map-keys")
            if keys and len(keys) > 1:
                entry["keys"] = keys
            if "retainKeys" in strategy.split(","):
                entry["retainKeys"] = True
            out[".".join(p)] = entry
        target = ref_name(sch) or ref_name(sch.get("items", {}) or {})
        if target:
            walk(defs, target, p, depth + 1, out)


def main():
    d, version = schema_dir()
    with open(os.path.join(d, "_definitions.json")) as f:
        defs = json.load(f)["$defs"]
    kinds = {}
    by_gvk = {}
    for name, sch in defs.items():
        for gvk in sch.get("x-kubernetes-group-version-kind", []):
            group, ver, kind = gvk["group"], gvk["version"], gvk["kind"]
            if kind.endswith("List"):  # kustomize flattens lists into their items
                continue
            api = f"{group}/{ver}" if group else ver
            by_gvk[(api, kind)] = name
    for (api, kind), name in sorted(by_gvk.items()):
        out = {}
        walk(defs, name, [], 0, out)
        if out:
            kinds[f"{api}/{kind}"] = out
    for (api, kind), succ in sorted(ALIASES.items()):
        if (api, kind) not in by_gvk and f"{succ}/{kind}" in kinds:
            kinds[f"{api}/{kind}"] = kinds[f"{succ}/{kind}"]
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "patch-meta.json")
    with open(dest, "w") as f:
        # One kind per line: compact, yet diffs stay readable when regenerated.
        f.write('{"source":%s,\n"kinds":{\n' % json.dumps(f"kubernetes-validate schema {version}"))
        lines = [json.dumps(k) + ":" + json.dumps(v, sort_keys=True, separators=(",", ":"))
                 for k, v in sorted(kinds.items())]
        f.write(",\n".join(lines))
        f.write("\n}}\n")
    print(f"wrote {dest}: {len(kinds)} kinds from {version}", file=sys.stderr)


if __name__ == "__main__":
    main()
