#!/usr/bin/env python3
"""Differential check of fluxgate's Flux render against an emulation of kustomize-controller.

For every Flux Kustomization of a repository, the emulation does what the controller does, with
the real kustomize (`kubectl kustomize`), and the set of objects (group, kind, namespace, name)
it applies is compared with what `fluxgate validate --format json` lists for that entry point.

The emulation, independent of fluxgate's code:
- roots: Flux Kustomizations in the repository that no other one renders; a root's own source
  is the repository (or, when its path is not there, the one ancestor directory of its file
  where the path exists: an artifact of a sub-directory); `--map KIND/NS/NAME=DIR` overrides;
- per Kustomization, in a scratch copy of its source: generate kustomization.yaml where the path
  has none, amend it with targetNamespace, namePrefix/nameSuffix, patches, images, components,
  build with LoadRestrictionsNone, then post-build substitution (substituteFrom looked up in the
  child's namespace among the objects the tree has rendered so far, then repository files);
  unknown variables and SOPS-encrypted values are left as written;
- children are the Flux Kustomizations in the parent's rendered output, read from there (the
  parent's patches, namespace and substitution applied);
- an ExternalArtifact is built the way Flux 2.7's ArtifactGenerator (source-watcher) builds it,
  in a scratch directory, with its cp-like copy rules (see `copy_op`).

Usage: flux-parity.py REPO_DIR [--fluxgate BIN] [--map KIND/NS/NAME=DIR ...] [--verbose]
Prints one line per Flux Kustomization (agree / differ / failed) and a summary.
"""

import argparse
import base64
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

# The controller's kustomization generator and the file walk are the reference's (one copy).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from flux_reference import KFILES, generate, yaml_files  # noqa: E402

GROUP = "kustomize.toolkit.fluxcd.io"


class Loader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, except that `=` stays a string (as in Go's YAML)."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load_all(text):
    return yaml.load_all(text, Loader=Loader)


def docs_of(path):
    try:
        with open(path) as fh:
            return [d for d in load_all(fh) if isinstance(d, dict)]
    except Exception:
        return []


def is_flux_ks(d):
    return d.get("kind") == "Kustomization" and str(d.get("apiVersion", "")).startswith(GROUP + "/")


def meta(d):
    return d.get("metadata") or {}


def ident(o):
    api = str(o.get("apiVersion", ""))
    group = api.rsplit("/", 1)[0] if "/" in api else ""
    return (group, o.get("kind", ""), meta(o).get("namespace") or "", meta(o).get("name", ""))


class Repo:
    """The repository on disk: a scratch copy to amend, and its raw documents."""

    def __init__(self, root, tmp):
        self.root = root
        self.work = os.path.join(tmp, "src")
        shutil.copytree(root, self.work, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        self.docs_files = [os.path.relpath(f, root) for f in yaml_files(root)]
        self.docs = [(p, d) for p in self.docs_files for d in docs_of(os.path.join(root, p))]
        self.tmp = tmp


def build(d, spec):
    """Amends the kustomization at d for spec, builds it, restores the file."""
    kfile = next((os.path.join(d, k) for k in KFILES if os.path.isfile(os.path.join(d, k))), None)
    original = None
    if kfile is None:
        k = generate(d)
        kfile = os.path.join(d, "kustomization.yaml")
    else:
        with open(kfile) as fh:
            original = fh.read()
        k = yaml.load(original, Loader=Loader) or {}
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
    try:
        out = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", d],
                             capture_output=True, text=True)
    finally:
        if original is None:
            os.remove(kfile)
        else:
            with open(kfile, "w") as fh:
                fh.write(original)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or "kustomize failed")
    return [o for o in load_all(out.stdout) if isinstance(o, dict)]


def is_sops(o):
    return isinstance(o.get("sops"), dict) or any(
        isinstance(v, str) and v.startswith("ENC[") for f in ("data", "stringData") for v in (o.get(f) or {}).values())


def variables(repo, pool, spec, ns, here="."):
    env = {}
    pb = spec.get("postBuild") or {}
    for ref in pb.get("substituteFrom") or []:
        cands = [o for o in pool if o.get("kind") == ref.get("kind") and meta(o).get("namespace") == ns
                 and meta(o).get("name") == ref.get("name")]
        raw = [(p, d) for p, d in repo.docs if d.get("kind") == ref.get("kind") and meta(d).get("namespace") == ns
               and meta(d).get("name") == ref.get("name")]
        # Several clusters may each define it: the one nearest this cluster's directory.
        shared = lambda p: len(os.path.commonpath([p, here])) if here != "." else 0  # noqa: E731
        cands += [d for _, d in sorted(raw, key=lambda pd: -shared(pd[0]))]
        if not cands:
            continue
        obj = cands[0]
        sops = is_sops(obj)
        for field in ("data", "stringData"):
            for k, v in (obj.get(field) or {}).items():
                if sops:
                    env[k] = "${%s}" % k
                elif ref["kind"] == "Secret" and field == "data":
                    try:
                        env[k] = base64.b64decode(str(v)).decode(errors="replace")
                    except Exception:
                        env[k] = str(v)
                else:
                    env[k] = str(v)
    for k, v in (pb.get("substitute") or {}).items():
        env[k] = str(v)
    return {k: v.replace("\n", "") for k, v in env.items()}


NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def envsubst(text, env):
    """`${VAR}`, `${VAR:=d}`, `${VAR:-d}`, `${VAR=d}`, `${VAR-d}` with nested defaults; an
    unknown variable with no default is left as written ($$ is a literal $)."""
    out, i = [], 0
    while i < len(text):
        j = text.find("$", i)
        if j < 0 or j + 1 >= len(text):
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text[j + 1] == "$":
            out.append("$")
            i = j + 2
            continue
        if text[j + 1] != "{":
            out.append("$")
            i = j + 1
            continue
        depth, k = 0, j + 1
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if k >= len(text):
            out.append(text[j:])
            break
        body = text[j + 2:k]
        m = NAME.match(body)
        if not m:
            out.append(text[j:k + 1])
        else:
            name, rest = m.group(0), body[m.end():]
            op = next((o for o in (":=", ":-", "=", "-") if rest.startswith(o)), None)
            if rest and op is None:
                out.append(text[j:k + 1])
            elif name in env and not (op and op.startswith(":") and env[name] == ""):
                out.append(env[name])
            elif op is not None:
                out.append(envsubst(rest[len(op):], env))
            else:
                out.append(text[j:k + 1])
        i = k + 1
    return "".join(out)


def substitute(objs, env):
    out = []
    key = GROUP + "/substitute"
    for o in objs:
        m = meta(o)
        if (m.get("labels") or {}).get(key) == "disabled" or (m.get("annotations") or {}).get(key) == "disabled":
            out.append(o)
            continue
        text = yaml.safe_dump(o, width=1 << 30, default_flow_style=False)
        try:
            out.append(yaml.load(envsubst(text, env), Loader=Loader))
        except Exception:
            out.append(o)
    return out


def copy_tree(src, dest):
    """Copies file or directory src to dest (a directory is copied whole, merged into dest)."""
    if os.path.isdir(src):
        shutil.copytree(src, dest, dirs_exist_ok=True, symlinks=True)
    else:
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        shutil.copy(src, dest)


def copy_op(src_root, pattern, dest_root, to):
    """One `copy` entry of an ArtifactGenerator, with source-watcher's cp-like rules: a path
    without glob characters copies a directory as `<to>/<its name>/` and a file to `to` (or
    into it when `to` ends with `/`); a glob matches one level (Go's fs.Glob, where `**` is
    `*`), and each match keeps its path below the pattern's `dir/**` prefix, else its whole
    source path."""
    dest = os.path.join(dest_root, to.replace("@artifact", "", 1).strip("/"))
    if not any(ch in pattern for ch in "*?[]"):
        src = os.path.join(src_root, os.path.normpath(pattern))
        if os.path.isdir(src):
            copy_tree(src, os.path.join(dest, os.path.basename(os.path.normpath(pattern))))
        elif os.path.isfile(src):
            into = to.endswith("/") or os.path.isdir(dest)
            copy_tree(src, os.path.join(dest, os.path.basename(src)) if into else dest)
        return
    one_level = re.sub(r"\*\*+", "*", pattern)
    prefix = pattern[:-3] if pattern.endswith("/**") else None
    for m in sorted(glob.glob(os.path.join(src_root, one_level))):
        rel = os.path.relpath(m, src_root)
        if prefix is not None and rel.startswith(prefix.rstrip("/") + "/"):
            rel = rel[len(prefix.rstrip("/")) + 1:]
        copy_tree(m, os.path.join(dest, rel))


def generated_artifact(repo, pool, sref, roots, n):
    """Builds an ExternalArtifact from its ArtifactGenerator; returns its directory or None."""
    for g in pool:
        if g.get("kind") != "ArtifactGenerator" or meta(g).get("namespace") != sref[1]:
            continue
        spec = g.get("spec") or {}
        for a in spec.get("artifacts") or []:
            if a.get("name") != sref[2]:
                continue
            dest_root = tempfile.mkdtemp(prefix=f"artifact-{n}-", dir=repo.tmp)
            aliases = {s.get("alias"): ("GitRepository" if not s.get("kind") else s["kind"],
                                        s.get("namespace") or sref[1], s.get("name")) for s in spec.get("sources") or []}
            for c in a.get("copy") or []:
                alias, _, rest = c.get("from", "").lstrip("@").partition("/")
                src_root = roots.get(aliases.get(alias))
                if src_root is None:
                    return None
                copy_op(src_root, rest, dest_root, c.get("to", ""))
            return dest_root
    return None


def walk(repo, roots_in, cluster, maps, results, built=None):
    """Renders the trees of roots_in [(doc, own_root)] as one cluster, level by level;
    records per entry (cluster/ns/name) its object set."""
    roots = dict(maps)
    for root_doc, own_root in roots_in:
        rspec = root_doc.get("spec") or {}
        rsrc = rspec.get("sourceRef") or {}
        own = (rsrc.get("kind"), rsrc.get("namespace") or meta(root_doc).get("namespace", "default"), rsrc.get("name"))
        if own_root is not None:
            roots.setdefault(own, own_root)
    pool, level, seen, n = [], [(d, cluster) for d, _ in roots_in], set(), 0
    while level:
        nxt = []
        for fk, here in level:
            m, spec = meta(fk), fk.get("spec") or {}
            ns = m.get("namespace") or "default"
            if (ns, m.get("name")) in seen:
                continue
            seen.add((ns, m.get("name")))
            src = spec.get("sourceRef") or {}
            sref = (src.get("kind"), src.get("namespace") or ns, src.get("name"))
            base = roots.get(sref)
            if base is None and sref[0] == "ExternalArtifact":
                n += 1
                base = generated_artifact(repo, pool, sref, roots, n)
            if base is not None and spec.get("kubeConfig") and (spec.get("path") or ".").strip("./"):
                # Applied to another cluster (hub and spoke): a cluster of its own.
                here = os.path.normpath(os.path.relpath(os.path.join(base, spec.get("path")), base))
            key = f"{here}/{ns}/{m.get('name')}"
            if base is None:
                results[key] = ("skipped", None, f"source {sref} not in this repository")
                continue
            d = os.path.normpath(os.path.join(base, spec.get("path") or "."))
            if not os.path.isdir(d):
                results[key] = ("failed", None, f"path {spec.get('path')} not found")
                continue
            try:
                objs = build(d, spec)
            except RuntimeError as e:
                remote = "no such host" in str(e) or "Could not resolve host" in str(e)
                results[key] = ("skipped" if remote else "failed", None, str(e))
                continue
            if "postBuild" in spec:
                objs = substitute(objs, variables(repo, pool, spec, ns, here))
            results[key] = ("ok", {ident(o) for o in objs if isinstance(o, dict)}, "")
            if built is not None and os.path.normpath(d) != os.path.normpath(repo.work):
                built.append(os.path.relpath(d, repo.work))
            pool.extend(o for o in objs if isinstance(o, dict))
            nxt.extend((o, here) for o in objs if isinstance(o, dict) and is_flux_ks(o))
        level = nxt


def own_root_of(repo, path, doc):
    """Where a root's own source is rooted: None for an ExternalArtifact (its generator is
    in no tree that reaches this root, so nothing here makes it)."""
    spec = doc.get("spec") or {}
    if (spec.get("sourceRef") or {}).get("kind") == "ExternalArtifact":
        return None
    p = spec.get("path") or "."
    if os.path.isdir(os.path.join(repo.work, p)):
        return repo.work
    if (spec.get("sourceRef") or {}).get("kind") not in ("OCIRepository", "Bucket"):
        return repo.work
    fits = []
    d = os.path.dirname(path)
    while d:
        if os.path.isdir(os.path.join(repo.work, d, p)):
            fits.append(os.path.join(repo.work, d))
        d = os.path.dirname(d)
    return fits[0] if len(fits) == 1 else repo.work


def bootstrap_roots(repo, kss):
    """`flux bootstrap` layouts (DIR/flux-system/gotk-*.yaml) whose sync Kustomization is not on disk."""
    dirs = sorted({os.path.dirname(os.path.dirname(p)) for p in repo.docs_files
                   if os.path.basename(p) in ("gotk-sync.yaml", "gotk-components.yaml")
                   and os.path.basename(os.path.dirname(p)) == "flux-system"})
    have = {os.path.normpath((d.get("spec") or {}).get("path") or ".") for _, d in kss}
    return [(os.path.join(d, "flux-system", "gotk-sync.yaml"), {
        "apiVersion": GROUP + "/v1", "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"path": "./" + d, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}})
        for d in dirs if os.path.normpath(d) not in have]


def one_level_names(repo, path, doc):
    """The Flux Kustomizations (namespace, name) that doc's own render holds."""
    spec = doc.get("spec") or {}
    root = own_root_of(repo, path, doc)
    if root is None:
        return set()
    d = os.path.normpath(os.path.join(root, spec.get("path") or "."))
    try:
        objs = build(d, spec) if os.path.isdir(d) else []
    except RuntimeError:
        objs = []
    names = set()
    if objs and os.path.normpath(d) != os.path.normpath(repo.work):
        names.add(("dir", os.path.relpath(d, repo.work)))
    for o in objs:
        if is_flux_ks(o):
            names.add((meta(o).get("namespace") or "default", meta(o).get("name")))
            names.add((None, meta(o).get("name")))
    return names


def emulate(repo, maps):
    results = {}
    kss = [(p, d) for p, d in repo.docs if is_flux_ks(d)]
    rendered_names = set()

    def self_applying(pd):
        path = os.path.normpath((pd[1].get("spec") or {}).get("path") or ".")
        root = own_root_of(repo, *pd)
        if root is None:
            return False
        top = os.path.normpath(os.path.join(root, path))
        return path != "." and os.path.join(repo.work, pd[0]).startswith(top + "/")

    # Bootstrapped cluster directories and self-applying roots first, then any Kustomization
    # with a source that neither a tree nor another such candidate renders (by namespace/name).
    firsts = bootstrap_roots(repo, kss) + [pd for pd in kss if self_applying(pd)]
    cands = [pd for pd in kss if not self_applying(pd) and (pd[1].get("spec") or {}).get("sourceRef")]
    inner = [one_level_names(repo, p, d) for p, d in cands]

    def record(before):
        for k in set(results) - before:
            ns, n = k.rsplit("/", 2)[1:]
            rendered_names.add((ns, n))
            rendered_names.add((None, n))

    built = []
    for p, d in firsts:
        root = own_root_of(repo, p, d)
        cluster = os.path.normpath(os.path.relpath(os.path.join(root, (d.get("spec") or {}).get("path") or "."), repo.work))
        before = set(results)
        walk(repo, [(d, root)], cluster, maps, results, built)
        record(before)

    def under(p, dirs):
        return any(p.startswith(b.rstrip("/") + "/") for b in dirs)

    # The rest are applied by something outside the repository (a FluxInstance syncing their
    # directory): the roots of one directory form one cluster, named after it.
    forests = {}
    for j, (p, d) in enumerate(cands):
        name = (meta(d).get("namespace"), meta(d).get("name"))
        keys = [name, (None, name[1])]
        if any(k in rendered_names for k in keys) or any(
                k in names for o, names in enumerate(inner) if o != j for k in keys):
            continue
        # Its path is not in its source (an archived copy of a manifest): no cluster builds it.
        root = own_root_of(repo, p, d)
        if root is not None and not os.path.isdir(os.path.join(root, (d.get("spec") or {}).get("path") or ".")):
            continue
        # Below a directory some cluster builds without it: nothing applies it.
        if under(p, built) or under(p, [n[1] for o, names in enumerate(inner) if o != j
                                         for n in names if n[0] == "dir"]):
            continue
        forests.setdefault(os.path.dirname(p) or ".", []).append((d, own_root_of(repo, p, d)))
    for cluster, roots in sorted(forests.items()):
        before = set(results)
        walk(repo, roots, cluster, maps, results)
        record(before)
    return results


def fluxgate_entries(binary, root):
    out = subprocess.run([binary, "validate", root, "--offline", "--format", "json", "--color", "never"],
                         capture_output=True, text=True)
    data = json.loads(out.stdout)
    entries = {}
    for e in data["entry_points"]:
        if e.get("kind") != "flux":
            continue
        objs = {ident({"apiVersion": o.get("apiVersion", ""), "kind": o.get("kind"),
                       "metadata": {"namespace": o.get("namespace"), "name": o.get("name")}}) for o in e["objects"]}
        entries[e["name"]] = (e.get("rendered"), objs)
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("repo")
    ap.add_argument("--fluxgate", default=os.path.join(os.path.dirname(__file__), "..", "target", "debug", "fluxgate"))
    ap.add_argument("--map", action="append", default=[], help="KIND/NS/NAME=DIR: a source rooted at DIR")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--cache", help="JSON file keeping the emulation's result (reused when present)")
    a = ap.parse_args()
    root = os.path.abspath(a.repo)
    if a.cache and os.path.exists(a.cache):
        with open(a.cache) as fh:
            ref = {k: (st, None if objs is None else {tuple(o) for o in objs}, why)
                   for k, (st, objs, why) in json.load(fh).items()}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Repo(root, tmp)
            maps = {}
            for m in a.map:
                k, _, d = m.partition("=")
                maps[tuple(k.split("/", 2))] = os.path.join(repo.work, d)
            ref = emulate(repo, maps)
        if a.cache:
            with open(a.cache, "w") as fh:
                json.dump({k: (st, None if objs is None else sorted(objs), why)
                           for k, (st, objs, why) in ref.items()}, fh)
    got = fluxgate_entries(a.fluxgate, root)
    agree = total = 0
    for key in sorted(set(ref) | set(got)):
        status, objs, why = ref.get(key, ("absent", None, "not in the emulation"))
        if status == "absent" and key in got and got[key][0] and not got[key][1]:
            # fluxgate lists it without objects (not applied, or its source is elsewhere).
            status, objs = "ok", set()
        if status == "skipped":
            if a.verbose:
                print(f"skipped  {key}: {why}")
            continue
        total += 1
        g = got.get(key)
        if g is None:
            print(f"MISSING  {key}: fluxgate has no such entry ({status})")
        elif status != "ok":
            ok = not g[0]
            agree += ok
            print(f"{'agree   ' if ok else 'DIFFER  '} {key}: emulation {status}: {why}; fluxgate rendered={g[0]}")
        elif not g[0]:
            print(f"DIFFER   {key}: fluxgate failed to render; emulation has {len(objs)} objects")
        elif g[1] == objs:
            agree += 1
            if a.verbose:
                print(f"agree    {key}: {len(objs)} objects")
        else:
            only_ref, only_got = sorted(objs - g[1]), sorted(g[1] - objs)
            print(f"DIFFER   {key}: only emulation {only_ref[:3]}{'...' if len(only_ref) > 3 else ''} "
                  f"({len(only_ref)}), only fluxgate {only_got[:3]}{'...' if len(only_got) > 3 else ''} ({len(only_got)})")
    print(f"SUMMARY {os.path.basename(root)}: {agree} of {total} Flux Kustomizations agree")


if __name__ == "__main__":
    sys.exit(main())
