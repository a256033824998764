#!/usr/bin/env python3
"""Regenerates schemas/flux/flux-crds.json.gz from the Flux controllers' own CRDs.

Each argument is `GIT_DIR@REF`: a git directory of a Flux controller (source-controller,
kustomize-controller, helm-controller, notification-controller, image-reflector-controller,
image-automation-controller, source-watcher) and a release tag to read, the current release
first, then the last releases that served older API versions (the first to serve a
kind/version wins). Every `config/crd/bases/*.yaml` at that tag gives one entry per served API
version:
`{"group", "version", "kind", "schema"}` with the version's `openAPIV3Schema` (descriptions
dropped for size; CEL rules, defaults, patterns and enums kept). Kind/version pairs the given
CRDs no longer serve are kept from the existing file (the releases that last served them).
Output is byte-reproducible: sorted keys, entries sorted, gzip mtime 0.

Usage: with no argument, the controllers and tags are the `[[flux]]` entries of
schemas/catalog-sources.toml, read from git mirrors at `$FLUXGATE_MIRRORS/<owner>+<name>/repo`
(default /work/.mirror):
  python3 schemas/gen_flux_crds.py
or explicitly:
  python3 schemas/gen_flux_crds.py /path/source-controller.git@v1.9.1 ...
"""

import gzip
import io
import json
import os
import subprocess
import sys
import tomllib

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "flux", "flux-crds.json.gz")
MIRRORS = os.environ.get("FLUXGATE_MIRRORS", "/work/.mirror")


def pinned():
    """`GIT_DIR@TAG` for every `[[flux]]` pin in catalog-sources.toml: each release's tag in
    order (current release first), controller by controller."""
    with open(os.path.join(HERE, "catalog-sources.toml"), "rb") as f:
        pins = tomllib.load(f).get("flux", [])
    return [f"{os.path.join(MIRRORS, p['repo'].replace('/', '+'), 'repo')}@{t}" for p in pins for t in p["tags"]]


def strip_descriptions(node):
    """Drops `description` texts of schema nodes (a property *named* description is a map and
    stays)."""
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def crd_entries(git_dir, ref):
    """The served versions of every CRD under config/crd/bases at `ref`."""
    names = subprocess.run(
        ["git", "--git-dir", git_dir, "ls-tree", "--name-only", ref, "config/crd/bases/"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    out = []
    for name in names:
        if not name.endswith(".yaml"):
            continue
        text = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{ref}:{name}"], check=True, capture_output=True, text=True
        ).stdout
        for doc in yaml.safe_load_all(text):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for v in spec["versions"]:
                if not v.get("served", True):
                    continue
                schema = strip_descriptions(v["schema"]["openAPIV3Schema"])
                # metadata and status come from the converter (as in the previous generator).
                schema.get("properties", {}).pop("status", None)
                schema.get("properties", {}).pop("metadata", None)
                out.append({"group": spec["group"], "version": v["name"], "kind": spec["names"]["kind"], "schema": schema})
    return out


def main(args):
    args = args or pinned()
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    fresh = {}
    for arg in args:
        git_dir, _, ref = arg.rpartition("@")
        for e in crd_entries(git_dir, ref):
            # Newest release first: an older tag only adds the versions newer ones stopped serving.
            fresh.setdefault((e["group"], e["version"], e["kind"]), e)
    old = json.load(gzip.open(OUT)) if os.path.exists(OUT) else []
    kept = [e for e in old if (e["group"], e["version"], e["kind"]) not in fresh]
    for e in kept:
        print(f"kept from the previous file: {e['group']}/{e['version']} {e['kind']}", file=sys.stderr)
    entries = sorted(list(fresh.values()) + kept, key=lambda e: (e["group"], e["version"], e["kind"]))
    raw = json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    with open(OUT, "wb") as f:
        f.write(buf.getvalue())
    print(f"{len(entries)} schemas, {len(raw) // 1024} KB JSON / {len(buf.getvalue()) // 1024} KB gzip", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
