#!/usr/bin/env python3
"""Regenerates the bundled CRD catalog from the pinned releases in catalog-sources.toml.

Reads each project's CRD files at its release tag from a git mirror of its repository
(`$FLUXGATE_MIRRORS/<owner>+<name>/repo`, default /work/.mirror), keeps every served version's
openAPIV3Schema (descriptions and examples dropped; CEL rules, defaults, enums, patterns and
x-kubernetes-* markers kept) and writes:

  schemas/catalog/index.json   one entry per CRD (project, release, group, kind, plural, scope,
                               served versions, and where its schemas sit in schemas.bin)
  schemas/catalog/schemas.bin  one gzip member per CRD: JSON {"<version>": openAPIV3Schema}

Output is byte-reproducible (sorted keys, gzip mtime 0). Needs python3 >= 3.11 and PyYAML.
"""

import fnmatch
import gzip
import json
import os
import subprocess
import sys
import tomllib

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
MIRRORS = os.environ.get("FLUXGATE_MIRRORS", "/work/.mirror")
# Schema keywords that never validate: dropped for size.
DROP = {"description", "example", "examples", "externalDocs", "title", "$schema"}


def git(repo, *args):
    gitdir = os.path.join(MIRRORS, repo.replace("/", "+"), "repo")
    return subprocess.run(["git", "--git-dir", gitdir, *args], check=True, capture_output=True).stdout


def files_at(repo, tag, globs):
    names = git(repo, "ls-tree", "-r", "--name-only", tag).decode().splitlines()
    out = sorted({n for n in names for g in globs if fnmatch.fnmatchcase(n, g) and n.count("/") == g.count("/")})
    if not out:
        sys.exit(f"{repo}@{tag}: no file matches {globs}")
    return out


def strip(schema, undo_additional_false=False):
    """Drops documentation keywords from a schema (never from a `properties` map, whose keys are
    field names: a field may be called `description`)."""
    if isinstance(schema, list):
        return [strip(s, undo_additional_false) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k in DROP:
            continue
        if undo_additional_false and k == "additionalProperties" and v is False:
            continue
        if k in ("properties", "patternProperties", "definitions", "$defs") and isinstance(v, dict):
            out[k] = {n: strip(p, undo_additional_false) for n, p in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, (dict, list)):
            out[k] = strip(v, undo_additional_false)
        elif k in ("allOf", "anyOf", "oneOf") and isinstance(v, list):
            out[k] = [strip(s, undo_additional_false) for s in v]
        elif k == "x-kubernetes-validations" and isinstance(v, list):
            out[k] = [{rk: rv for rk, rv in r.items()} for r in v]
        else:
            out[k] = v
    return out


class Loader(yaml.CSafeLoader):
    """PyYAML's safe loader, also reading `=` (the YAML 1.1 "value" tag) as a plain string."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def crds_from_yaml(text, origin):
    """Every CRD in a multi-document YAML file, as (group, kind, plural, scope, versions)."""
    out = []
    for doc in yaml.load_all(text, Loader=Loader):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        if not str(doc.get("apiVersion", "")).startswith("apiextensions.k8s.io/"):
            continue
        spec = doc["spec"]
        versions = []
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                schema = (spec.get("validation") or {}).get("openAPIV3Schema")
            entry = {"name": v["name"], "schema": strip(schema) if schema is not None else None}
            if v.get("deprecated"):
                entry["deprecated"] = True
                if v.get("deprecationWarning"):
                    entry["deprecationWarning"] = v["deprecationWarning"]
            versions.append(entry)
        if not versions:
            print(f"  {origin}: {spec['names']['kind']} serves no version, skipped", file=sys.stderr)
            continue
        out.append((spec["group"], spec["names"]["kind"], spec["names"]["plural"], spec.get("scope", "Namespaced"), versions))
    return out


def crds_from_openapi_json(project, files):
    """CRDs from a catalog of `<group>/<kind>_<version>.json` files (one openAPIV3Schema each)."""
    by_lower = {k.lower(): k for k in project["kinds"]}
    cluster = set(project.get("cluster_scoped", []))
    grouped = {}
    for f in files:
        group, base = f.rsplit("/", 1)
        kind_l, version = base[: -len(".json")].rsplit("_", 1)
        kind = by_lower.get(kind_l)
        if kind is None:
            sys.exit(f"{f}: kind '{kind_l}' not in the project's `kinds` list")
        schema = json.loads(git(project["repo"], "show", f"{project['tag']}:{f}"))
        grouped.setdefault((group, kind), []).append({"name": version, "schema": strip(schema, undo_additional_false=True)})
    out = []
    for (group, kind), versions in sorted(grouped.items()):
        # The API machinery's pluralisation (what controller-gen writes for these kinds).
        lower = kind.lower()
        plural = lower + "es" if lower.endswith("s") else lower[:-1] + "ies" if lower.endswith("y") else lower + "s"
        out.append((group, kind, plural, "Cluster" if kind in cluster else "Namespaced", versions))
    return out


def main():
    with open(os.path.join(HERE, "catalog-sources.toml"), "rb") as f:
        sources = tomllib.load(f)
    index = {"projects": [], "crds": []}
    blob = bytearray()
    seen_default = set()
    for p in sources["project"]:
        files = files_at(p["repo"], p["tag"], p["paths"])
        if p.get("format") == "openapi-json":
            crds = crds_from_openapi_json(p, files)
        else:
            crds = []
            for f in files:
                crds.extend(crds_from_yaml(git(p["repo"], "show", f"{p['tag']}:{f}").decode(), f))
        crds.sort(key=lambda c: (c[0], c[1]))
        older = bool(p.get("older", False))
        opt_in = bool(p.get("opt_in", False))
        default = p["name"] not in seen_default and not older and not opt_in
        seen_default.add(p["name"])
        index["projects"].append({
            "name": p["name"], "release": p["release"], "repo": p["repo"], "tag": p["tag"],
            "licence": p["licence"], "default": default, "older": older, "opt_in": opt_in,
        })
        kinds = set()
        for group, kind, plural, scope, versions in crds:
            if (group, kind) in kinds:
                sys.exit(f"{p['name']} {p['release']}: {group} {kind} defined twice")
            kinds.add((group, kind))
            data = json.dumps({v["name"]: v["schema"] for v in versions}, sort_keys=True, separators=(",", ":")).encode()
            member = gzip.compress(data, compresslevel=9, mtime=0)
            entry = {
                "project": p["name"], "release": p["release"], "group": group, "kind": kind, "plural": plural,
                "namespaced": scope != "Cluster",
                "versions": [{k: v[k] for k in ("name", "deprecated", "deprecationWarning") if k in v} for v in versions],
                "offset": len(blob), "length": len(member),
            }
            blob.extend(member)
            index["crds"].append(entry)
        print(f"{p['name']} {p['release']}: {len(crds)} CRDs, {sum(len(c[4]) for c in crds)} versions", file=sys.stderr)
    out = os.path.join(HERE, "catalog")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "schemas.bin"), "wb") as f:
        f.write(blob)
    print(f"{len(index['crds'])} CRDs, schemas.bin {len(blob)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
