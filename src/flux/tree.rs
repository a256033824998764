//! The Flux entry points of a repository, rendered top-down as the controllers do: a cluster
//! root renders its path, the Flux Kustomizations in that output (their effective spec, after
//! the parent's patches, substitution and targetNamespace) are its children, and so on.
//!
//! Cluster roots are the Kustomizations whose own file lies under their own `spec.path`
//! (`flux-system`, which applies itself), then any Kustomization that no other one's render
//! contains. Each level of a cluster's tree is rendered in parallel; levels run in order so
//! that `substituteFrom` sees exactly the objects of the levels above, whatever the threads do.

use std::collections::BTreeSet;

use rayon::prelude::*;

use super::entry::{FluxKustomization, ObjKey, RepoIndex, SourceRef, is_flux_kustomization};
use super::render::{Settings, render};
use crate::kustomize::build::{Engine, Failed, Rendered};
use crate::kustomize::diag::Diag;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::{Loc, Node, RelPath};

pub use crate::config::SourceMapping;

/// One rendered (or failed) Flux Kustomization.
#[derive(Clone, Debug)]
pub struct FluxEntry {
    /// `<cluster dir>/<namespace>/<name>`, e.g. `clusters/production/flux-system/apps`.
    pub name: String,
    pub key: ObjKey,
    /// The directory that was built (its `spec.path` in the source).
    pub dir: String,
    pub result: Result<Rendered, Failed>,
    /// Problems with the Flux Kustomizations in this entry's output that keep them from being
    /// rendered (a source outside the repository, an unreadable spec), with the object.
    pub child_notes: Vec<(Diag, Resource)>,
}

/// Everything a tree walk needs, shared by all clusters.
struct Ctx<'a, 'r> {
    engine: &'a Engine<'r>,
    index: &'a RepoIndex,
    sources: &'a [SourceMapping],
    settings: &'a Settings,
    wanted: Wanted<'a>,
}

/// Whether a child Flux Kustomization (with the directory it would build) must be rendered.
/// `validate --base` answers from a static reading of the kustomization files, so that the
/// leaves a change cannot affect are not built at all.
pub type Wanted<'a> = &'a (dyn Fn(&FluxKustomization, &RelPath) -> bool + Sync);

fn loc_key(l: Loc) -> (u32, u32, u32) {
    (l.file.0, l.line, l.col)
}

/// Finds and renders every Flux entry point of the repository.
pub fn render_all(
    engine: &Engine,
    index: &RepoIndex,
    sources: &[SourceMapping],
    settings: &Settings,
) -> Vec<FluxEntry> {
    render_wanted(engine, index, sources, settings, &|_, _| true)
}

/// Like [`render_all`], leaving out the children (below the roots) that `wanted` declines:
/// they get no entry at all.
pub fn render_wanted(
    engine: &Engine,
    index: &RepoIndex,
    sources: &[SourceMapping],
    settings: &Settings,
    wanted: Wanted,
) -> Vec<FluxEntry> {
    let ctx = Ctx { engine, index, sources, settings, wanted };
    let parsed: Vec<(RelPath, Loc, Result<FluxKustomization, Diag>)> = index
        .kustomizations
        .iter()
        .map(|f| {
            let ns = f.doc.str_at(&["metadata", "namespace"]).unwrap_or("default");
            (f.file.clone(), f.doc.loc, FluxKustomization::parse(&f.doc, ns))
        })
        .collect();
    // Roots that apply themselves: their own file is under their own spec.path.
    let mut roots: Vec<FluxKustomization> = Vec::new();
    let mut rest: Vec<(Loc, FluxKustomization)> = Vec::new();
    for (file, loc, fk) in &parsed {
        let Ok(fk) = fk else { continue };
        match fk.dir_in(&RelPath::root()) {
            Some(d) if file.starts_with(&d) => roots.push(fk.clone()),
            _ => rest.push((*loc, fk.clone())),
        }
    }
    let mut out: Vec<FluxEntry> = roots.par_iter().flat_map_iter(|r| walk_tree(&ctx, r.clone())).collect();
    let contained = |entries: &[FluxEntry]| -> BTreeSet<(u32, u32, u32)> {
        let mut s = BTreeSet::new();
        for e in entries {
            if let Ok(r) = &e.result {
                s.extend(r.resources.iter().filter(|r| is_flux_kustomization(&r.node)).map(|r| loc_key(r.node.loc)));
            }
        }
        s
    };
    let seen = contained(&out);
    let candidates: Vec<(Loc, FluxKustomization)> =
        rest.into_iter().filter(|(l, _)| !seen.contains(&loc_key(*l))).collect();
    if !candidates.is_empty() {
        // Which of the remaining ones another remaining one renders: those are not roots.
        let one_level: Vec<FluxEntry> =
            candidates.par_iter().map(|(_, fk)| render_one(&ctx, fk, &cluster_of(fk), &[], &source_of(fk))).collect();
        let inner = contained(&one_level);
        let more: Vec<FluxEntry> = candidates
            .par_iter()
            .filter(|(l, _)| !inner.contains(&loc_key(*l)))
            .flat_map_iter(|(_, fk)| walk_tree(&ctx, fk.clone()))
            .collect();
        out.extend(more);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The cluster directory of a root: its `spec.path` without `./` (`.` for the repository root).
fn cluster_of(root: &FluxKustomization) -> String {
    let p = root.path.trim_start_matches("./").trim_end_matches('/');
    if p.is_empty() || p == "." { ".".to_string() } else { p.to_string() }
}

fn source_of(root: &FluxKustomization) -> SourceRef {
    root.source.clone()
}

/// Where a Kustomization's source artifact is rooted in this repository, if it is here.
fn source_root(ctx: &Ctx, own: &SourceRef, fk: &FluxKustomization) -> Option<RelPath> {
    if fk.source == *own {
        return Some(RelPath::root());
    }
    ctx.sources
        .iter()
        .find(|m| m.kind == fk.source.kind && m.namespace == fk.source.namespace && m.name == fk.source.name)
        .and_then(|m| {
            if m.path.trim_matches(['.', '/']).is_empty() {
                Some(RelPath::root())
            } else {
                RelPath::parse(m.path.trim_start_matches("./"))
            }
        })
}

fn render_one(ctx: &Ctx, fk: &FluxKustomization, cluster: &str, pool: &[Resource], own: &SourceRef) -> FluxEntry {
    let name = format!("{cluster}/{}/{}", fk.key.namespace, fk.key.name);
    let root = source_root(ctx, own, fk).unwrap_or_else(RelPath::root);
    let lookup = |kind: &str, ns: &str, n: &str| -> Option<Node> {
        pool.iter()
            .rev()
            .find(|r| r.kind() == kind && r.namespace() == ns && r.name() == n)
            .map(|r| r.node.clone())
            .or_else(|| ctx.index.config.get(&(kind.to_string(), ns.to_string(), n.to_string())).cloned())
    };
    let (dir, result) = match fk.dir_in(&root) {
        Some(dir) => {
            let r = render(ctx.engine, &dir, fk, &lookup, ctx.settings);
            (dir.to_string(), r)
        }
        None => (
            fk.path.clone(),
            Err(Failed {
                error: Diag::fatal(
                    Rule::PathOutsideRoot,
                    fk.path_loc,
                    format!("spec.path '{}' leaves the source artifact", fk.path),
                ),
                notes: Vec::new(),
                files: Default::default(),
            }),
        ),
    };
    FluxEntry { name, key: fk.key.clone(), dir, result, child_notes: Vec::new() }
}

/// Renders one cluster's tree, level by level.
fn walk_tree(ctx: &Ctx, root: FluxKustomization) -> Vec<FluxEntry> {
    let cluster = cluster_of(&root);
    let own = source_of(&root);
    let mut visited: BTreeSet<ObjKey> = BTreeSet::from([root.key.clone()]);
    let mut pool: Vec<Resource> = Vec::new();
    let mut level = vec![root];
    let mut out = Vec::new();
    while !level.is_empty() {
        let mut entries: Vec<FluxEntry> =
            level.par_iter().map(|fk| render_one(ctx, fk, &cluster, &pool, &own)).collect();
        let mut next = Vec::new();
        for e in entries.iter_mut() {
            let Ok(r) = &e.result else { continue };
            pool.extend(r.resources.iter().filter(|r| matches!(r.kind(), "ConfigMap" | "Secret")).cloned());
            for res in r.resources.iter().filter(|r| is_flux_kustomization(&r.node)) {
                let ns = if res.namespace().is_empty() { "default" } else { res.namespace() };
                let child = match FluxKustomization::parse(&res.node, ns) {
                    Ok(c) => c,
                    Err(d) => {
                        e.child_notes.push((d, res.clone()));
                        continue;
                    }
                };
                if !visited.insert(child.key.clone()) {
                    continue;
                }
                if source_root(ctx, &own, &child).is_none() {
                    let s = &child.source;
                    let d = Diag::note(
                        Rule::FluxSourceOutOfScope,
                        res.node.path(&["spec", "sourceRef"]).map_or(res.node.loc, |n| n.loc),
                        format!(
                            "Kustomization {} uses {} '{}/{}', which is not this repository: its path is not rendered",
                            child.key, s.kind, s.namespace, s.name
                        ),
                    )
                    .help("map it to a directory of this repository with `flux.sources` in .fluxgate.yaml");
                    e.child_notes.push((d, res.clone()));
                    continue;
                }
                let root = source_root(ctx, &own, &child);
                if root.and_then(|r| child.dir_in(&r)).is_some_and(|dir| !(ctx.wanted)(&child, &dir)) {
                    continue;
                }
                next.push(child);
            }
        }
        out.extend(entries);
        level = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kustomize::build::LoadRestrictor;
    use crate::source::Repo;

    fn write(root: &std::path::Path, files: &[(&str, &str)]) {
        for (p, text) in files {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    const SYNC: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: flux-system, namespace: flux-system}\nspec: {path: ./clusters/a, sourceRef: {kind: GitRepository, name: flux-system}}\n";

    #[test]
    fn tree_is_rendered_top_down_with_parent_effects_and_foreign_sources_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("clusters/a/flux-system/sync.yaml", SYNC),
                (
                    "clusters/a/apps.yaml",
                    "apiVersion: kustomize.toolkit.fluxcd.io/v1beta2\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps\n  targetNamespace: web\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild: {substituteFrom: [{kind: ConfigMap, name: vars}]}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: other, namespace: flux-system}\nspec: {path: ./x, sourceRef: {kind: OCIRepository, name: elsewhere}}\n",
                ),
                (
                    "clusters/a/vars.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars, namespace: flux-system}\ndata: {N: '3'}\n",
                ),
                ("apps/b/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {n: '${N}'}\n"),
                ("apps/a.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: ${N}\n"),
                ("apps/notes.txt", "not yaml"),
            ],
        );
        let repo = Repo::open(dir.path()).unwrap();
        let mut files = Vec::new();
        crate::discover::walk_yaml(&repo, &RelPath::root(), &mut files);
        let index = super::super::entry::index(&repo, &crate::discover::Discovery::of_files(&repo, files));
        let engine = Engine::new(&repo, LoadRestrictor::None);
        let settings = Settings { strict: true, variables: Vec::new(), ..Settings::default() };
        let entries = render_all(&engine, &index, &[], &settings);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["clusters/a/flux-system/apps", "clusters/a/flux-system/flux-system"]);
        let apps = entries[0].result.as_ref().unwrap();
        assert!(apps.notes.is_empty(), "{:?}", apps.notes);
        let svc = apps.resources.iter().find(|r| r.kind() == "Service").unwrap();
        assert_eq!(svc.namespace(), "web");
        assert_eq!(
            svc.node
                .path(&["spec", "ports"])
                .and_then(|p| p.as_seq())
                .and_then(|s| s[0].get("port"))
                .and_then(Node::as_i64),
            Some(3)
        );
        assert_eq!(svc.node.str_at(&["metadata", "labels", "kustomize.toolkit.fluxcd.io/name"]), Some("apps"));
        let root = &entries[1];
        assert_eq!(root.child_notes.len(), 1);
        assert_eq!(root.child_notes[0].0.rule, Rule::FluxSourceOutOfScope);
    }
}
