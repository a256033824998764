#!/usr/bin/env python3
"""Independent reference render of a Flux entry point, for tests/flux.rs.

It does what kustomize-controller documents, with the real kustomize (`kubectl kustomize`):
copy the repository to a temporary directory, generate a kustomization.yaml where spec.path
has none (every .yaml/.yml file below it, a sub-directory with a kustomization file as one
resource), amend it with the Flux fields (targetNamespace, namePrefix/nameSuffix, patches,
images, components), build with LoadRestrictionsNone, then per object: post-build
substitution (substituteFrom ConfigMaps/Secrets found in the repository, then substitute,
then --var values underneath), owner labels and commonMetadata.

The Flux Kustomization is read as written in its file (found by namespace/name under the
cluster directory): valid for repositories whose parents do not patch their children.

Usage:
  flux_reference.py render ROOT ENTRY_POINT [--var NAME=VALUE ...]   -> JSON lines
  flux_reference.py normalize < rendered.yaml                        -> JSON lines
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

GROUP = "kustomize.toolkit.fluxcd.io"
KFILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def yaml_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.endswith((".yaml", ".yml")):
                yield os.path.join(dirpath, f)


def docs_of(path):
    try:
        with open(path) as fh:
            return [d for d in yaml.safe_load_all(fh) if isinstance(d, dict)]
    except Exception:
        return []


def find_kustomization(root, entry):
    cluster, ns, name = entry.rsplit("/", 2)
    base = root if cluster == "." else os.path.join(root, cluster)
    for f in yaml_files(base):
        for d in docs_of(f):
            api = str(d.get("apiVersion", ""))
            meta = d.get("metadata") or {}
            if (d.get("kind") == "Kustomization" and api.startswith(GROUP + "/")
                    and meta.get("name") == name and meta.get("namespace", "default") == ns):
                return d
    sys.exit(f"no Flux Kustomization {ns}/{name} under {base}")


def generate(d):
    """The controller's generator: walk in name order, stop at kustomization dirs."""
    res = []

    def walk(cur):
        for n in sorted(os.listdir(cur)):
            p = os.path.join(cur, n)
            if os.path.isdir(p) and not os.path.islink(p):
                if any(os.path.isfile(os.path.join(p, k)) for k in KFILES):
                    res.append("./" + os.path.relpath(p, d))
                else:
                    walk(p)
            elif n.endswith((".yaml", ".yml")):
                res.append("./" + os.path.relpath(p, d))

    walk(d)
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": res}


def amend(d, spec):
    kfile = next((os.path.join(d, k) for k in KFILES if os.path.isfile(os.path.join(d, k))), None)
    if kfile is None:
        k = generate(d)
        kfile = os.path.join(d, "kustomization.yaml")
    else:
        with open(kfile) as fh:
            k = yaml.safe_load(fh) or {}
    if spec.get("targetNamespace"):
        k["namespace"] = spec["targetNamespace"]
    for f in ("namePrefix", "nameSuffix"):
        if spec.get(f):
            k[f] = spec[f]
    for f in ("patches", "patchesStrategicMerge", "patchesJson6902", "components"):
        if spec.get(f):
            k.setdefault(f, []).extend(spec[f])
    for img in spec.get("images") or []:
        imgs = k.setdefault("images", [])
        for i, old in enumerate(imgs):
            if old.get("name") == img.get("name"):
                imgs[i] = img
                break
        else:
            imgs.append(img)
    with open(kfile, "w") as fh:
        yaml.safe_dump(k, fh)


VAR = re.compile(r"\$\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[=-])([^}]*))?\}")


def envsubst(text, env, where):
    def rep(m):
        name, op, default = m.group(1), m.group(2), m.group(3)
        if name in env and not (op and op.startswith(":") and env[name] == ""):
            return env[name]
        if op is not None:
            return default
        sys.exit(f"{where}: variable {name} unset")

    return VAR.sub(rep, text)


def variables(root, spec, ns, cli):
    env = dict(cli)
    pb = spec.get("postBuild") or {}
    for ref in pb.get("substituteFrom") or []:
        obj = None
        for f in yaml_files(root):
            for d in docs_of(f):
                m = d.get("metadata") or {}
                if d.get("kind") == ref["kind"] and m.get("name") == ref["name"] and m.get("namespace") == ns:
                    obj = obj or d
        if obj is None:
            if ref.get("optional"):
                continue
            sys.exit(f"substituteFrom {ref['kind']}/{ref['name']} not found")
        for k, v in (obj.get("data") or {}).items():
            env[k] = base64.b64decode(v).decode() if ref["kind"] == "Secret" else str(v)
        for k, v in (obj.get("stringData") or {}).items():
            env[k] = str(v)
    for k, v in (pb.get("substitute") or {}).items():
        env[k] = str(v)
    return {k: v.replace("\n", "") for k, v in env.items()}


def disabled(obj):
    m = obj.get("metadata") or {}
    key = GROUP + "/substitute"
    return (m.get("labels") or {}).get(key) == "disabled" or (m.get("annotations") or {}).get(key) == "disabled"


def render(root, entry, cli):
    fk = find_kustomization(root, entry)
    spec = fk.get("spec") or {}
    meta = fk["metadata"]
    ns = meta.get("namespace", "default")
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "src")
        shutil.copytree(root, work, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        d = os.path.normpath(os.path.join(work, spec.get("path") or "."))
        amend(d, spec)
        out = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", d],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stderr)
    objs = [o for o in yaml.safe_load_all(out.stdout) if o]
    env = variables(root, spec, ns, cli) if "postBuild" in spec else None
    result = []
    for o in objs:
        if env is not None and not disabled(o):
            text = yaml.safe_dump(o, width=1 << 30, default_flow_style=False)
            o = yaml.safe_load(envsubst(text, env, o["metadata"]["name"]))
        labels = o.setdefault("metadata", {}).setdefault("labels", {})
        labels[GROUP + "/name"] = meta["name"]
        labels[GROUP + "/namespace"] = ns
        cm = spec.get("commonMetadata") or {}
        for field in ("labels", "annotations"):
            if cm.get(field):
                o["metadata"].setdefault(field, {}).update({k: str(v) for k, v in cm[field].items()})
        result.append(o)
    return result


def emit(objs):
    for o in objs:
        print(json.dumps(o, sort_keys=True, default=str))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "normalize":
        emit(o for o in yaml.safe_load_all(sys.stdin) if o)
        return
    if len(sys.argv) < 4 or sys.argv[1] != "render":
        sys.exit(__doc__)
    cli = {}
    args = sys.argv[4:]
    while args:
        if args[0] == "--var" and len(args) > 1:
            k, _, v = args[1].partition("=")
            cli[k] = v
            args = args[2:]
        else:
            sys.exit(f"unknown argument {args[0]}")
    emit(render(sys.argv[2], sys.argv[3], cli))


if __name__ == "__main__":
    main()
