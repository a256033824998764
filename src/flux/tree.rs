//! The Flux entry points of a repository, rendered top-down as the controllers do: a cluster
//! root renders its path, the Flux Kustomizations in that output (their effective spec, after
//! the parent's patches, substitution and targetNamespace) are its children, and so on.
//!
//! Cluster roots are the Kustomizations whose own file lies under their own `spec.path`
//! (`flux-system`, which applies itself), then any Kustomization that no other one's render
//! contains. Each level of a cluster's tree is rendered in parallel; levels run in order so
//! that `substituteFrom` sees exactly the objects of the levels above, whatever the threads do.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::entry::{FluxKustomization, ObjKey, RepoIndex, SourceRef, is_flux_kustomization};
use super::render::{Found, Settings, render};
use super::sources::{external_artifact, infer_own_root, mapped_message};
use crate::kustomize::build::{Engine, Failed, Rendered};
use crate::kustomize::diag::Diag;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::{Loc, RelPath};

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
    /// Read on its own, not applied by a tree of this repository (a root something outside
    /// syncs, or a Kustomization no tree includes): whether it is one depends on every tree,
    /// so a change to any Flux entry point may add or remove it.
    pub unapplied: bool,
    /// Set by a caller's [`Finish`] hook: the index of what it made of this entry (its check,
    /// when the caller checked it as soon as it rendered).
    pub ticket: Option<usize>,
    /// For a Kustomization that no controller applies: the directory that is dead with it,
    /// whose plain overlays nothing applies either. Its own directory (an app's `ks.yaml`
    /// beside the app's manifests), or, when its path exists only below an ancestor of its
    /// file, that ancestor: a copy of the repository's layout moved there (an archive).
    pub disabled: Option<RelPath>,
}

/// Called on each rendered entry of a tree walk as soon as it rendered, on the thread that
/// rendered it, once the walk has copied out its child Kustomizations: a caller checks it
/// there and keeps only what the run's later stages read, so the run holds no more full
/// renders at once than there are threads. It must keep the objects [`pooled`] selects as
/// they are: the levels below read them from the finished entries. The entry's
/// [`FluxEntry::child_notes`] are not known yet: they are added after the hook returns.
pub type Finish<'a> = &'a (dyn Fn(&mut FluxEntry) + Sync);

/// Everything a tree walk needs, shared by all clusters.
struct Ctx<'a, 'r> {
    engine: &'a Engine<'r, 'a>,
    index: &'a RepoIndex,
    sources: &'a [SourceMapping],
    settings: &'a Settings,
    wanted: Wanted<'a>,
    finish: Finish<'a>,
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
    render_wanted(engine, index, sources, settings, &|_, _| true, &|_| {})
}

/// A cluster's own source (the one its root Kustomization syncs) and the directory of this
/// repository its artifact is rooted at.
#[derive(Clone, Debug)]
struct Own {
    source: SourceRef,
    root: RelPath,
    /// How the root was found, when it is not simply the repository root (for the info).
    inferred: Option<Diag>,
    /// Whether the source is known to be this repository: a GitRepository, a configured
    /// mapping, or an artifact whose paths exist here.
    resolved: bool,
}

/// Like [`render_all`], leaving out the children (below the roots) that `wanted` declines:
/// they get no entry at all; `finish` sees each rendered entry of a walk as soon as the walk
/// is done with it (see [`Finish`]).
pub fn render_wanted(
    engine: &Engine,
    index: &RepoIndex,
    sources: &[SourceMapping],
    settings: &Settings,
    wanted: Wanted,
    finish: Finish,
) -> Vec<FluxEntry> {
    let ctx = Ctx { engine, index, sources, settings, wanted, finish };
    // Roots that apply themselves: their own file is under their own spec.path.
    let mut roots: Vec<(FluxKustomization, Own)> = Vec::new();
    let mut rest: Vec<(Loc, FluxKustomization, Own, RelPath)> = Vec::new();
    for f in &index.kustomizations {
        let ns = f.doc.str_at(&["metadata", "namespace"]).unwrap_or("default");
        let Ok(fk) = FluxKustomization::parse(&f.doc, ns) else { continue };
        let own = own_source(&ctx, &fk, &f.file);
        match fk.dir_in(&own.root) {
            // A path at the source root holds every file: such a Kustomization is a root only
            // when no other tree applies it (a tenant's sync with no path is not).
            Some(d) if f.file.starts_with(&d) && !d.is_root() && applies_itself(&ctx, &d, &f.file) => {
                roots.push((fk, own))
            }
            _ => rest.push((f.doc.loc, fk, own, f.file.clone())),
        }
    }
    // A bootstrapped cluster directory whose sync Kustomization the repository does not hold.
    for dir in &index.bootstrap_dirs {
        let syncs_it = |fk: &FluxKustomization, own: &Own| fk.dir_in(&own.root).as_ref() == Some(dir);
        if !roots.iter().any(|(fk, own)| syncs_it(fk, own))
            && !rest.iter().any(|(_, fk, own, _)| syncs_it(fk, own))
            && !moved_bootstrap(&ctx, dir, &rest)
        {
            let fk = FluxKustomization::bootstrap(dir);
            let own = Own { source: fk.source.clone(), root: RelPath::root(), inferred: None, resolved: true };
            roots.push((fk, own));
        }
    }
    let trees = roots
        .iter()
        .map(|(r, own)| Roots { roots: vec![(r.clone(), own.clone())], cluster: cluster_of(r, own), unapplied: false })
        .collect();
    let mut out: Vec<FluxEntry> = walk_forests(&ctx, trees);
    let seen = contained(&out);
    // A Kustomization below a directory a cluster built, that the build did not include, is
    // left out on purpose (a disabled app): nothing applies it.
    let built: Vec<RelPath> = out
        .iter()
        .filter(|e| e.result.is_ok())
        .filter_map(|e| RelPath::parse(&e.dir))
        .filter(|d| !d.is_root())
        .collect();
    // While a cluster root fails to build, what it applies is unknown: a Kustomization no other
    // tree holds may be one of its own, so it is not read as a root of its own (the root's
    // failure is the finding; once it builds, the rest is checked again).
    let a_root_failed = out.iter().any(|e| e.result.is_err());
    // A Kustomization below a directory whose build fails keeps its entry (named as when the
    // build succeeds and leaves it out), so the change that breaks the build is seen to touch it.
    let broken: Vec<RelPath> = out
        .iter()
        .filter(|e| e.result.is_err())
        .filter_map(|e| RelPath::parse(&e.dir))
        .filter(|d| !d.is_root())
        .collect();
    let mut candidates: Vec<(Loc, FluxKustomization, Own, RelPath)> = Vec::new();
    for (l, fk, own, file) in rest.into_iter().filter(|(l, _, _, file)| !seen.holds(*l, file)) {
        match (built.iter().find(|d| file.starts_with(d)), broken.iter().find(|d| file.starts_with(d))) {
            (Some(d), _) => out.push(not_applied(&fk, &file, d)),
            (None, Some(d)) => out.push(below_failed(&fk, &file, d)),
            (None, None) if a_root_failed => {}
            (None, None) => candidates.push((l, fk, own, file)),
        }
    }
    if !candidates.is_empty() {
        // Which of the remaining ones another remaining one renders: those are not roots.
        let one_level: Vec<FluxEntry> =
            candidates.par_iter().map(|(_, fk, own, _)| render_one(&ctx, fk, &cluster_of(fk, own), &[], own)).collect();
        let inner: Vec<Contained> = one_level.iter().map(|e| contained(std::slice::from_ref(e))).collect();
        // The remaining roots are applied by something the repository does not show (a
        // FluxInstance's sync of their directory): the roots of one directory are one cluster.
        let mut forests: BTreeMap<String, Vec<(FluxKustomization, Own)>> = BTreeMap::new();
        let inner_dirs: Vec<Option<RelPath>> = one_level
            .iter()
            .map(|e| e.result.as_ref().ok().and_then(|_| RelPath::parse(&e.dir)).filter(|d| !d.is_root()))
            .collect();
        let mut excluded = Vec::new();
        for (i, (l, fk, own, file)) in candidates.iter().enumerate() {
            if inner.iter().enumerate().any(|(j, c)| j != i && c.holds(*l, file)) {
                continue;
            }
            let builder =
                inner_dirs.iter().enumerate().find_map(|(j, d)| d.as_ref().filter(|d| j != i && file.starts_with(d)));
            let dir = fk.dir_in(&own.root);
            let path_here = dir.as_ref().is_some_and(|d| ctx.engine.repo().is_dir(d));
            // A path that leaves the repository stays a root: its render reports the escape.
            let escapes = dir.is_none();
            match builder {
                Some(d) => excluded.push(not_applied(fk, file, d)),
                // Nothing here applies it and its path is not here (an archived or copied
                // manifest): no controller would build it from this repository.
                None if !path_here && !escapes && own.resolved => excluded.push(pathless(&ctx, fk, file, dir.as_ref())),
                // Named after its path when its file lies there (a sync whose directory's
                // kustomization does not list it), else after the directory of its file.
                None => {
                    let cluster = match &dir {
                        Some(d) if file.starts_with(d) && !d.is_root() => d.to_string(),
                        _ => file.parent().to_string(),
                    };
                    forests.entry(cluster).or_default().push((fk.clone(), own.clone()))
                }
            }
        }
        out.extend(excluded);
        let forests = forests.into_iter().map(|(cluster, roots)| Roots { roots, cluster, unapplied: true }).collect();
        let more: Vec<FluxEntry> = walk_forests(&ctx, forests);
        out.extend(more);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What some trees rendered: the Flux Kustomization documents among their objects, and every
/// file they read. A Kustomization document in a file a tree read is that tree's (applied by
/// it, or a patch of one of its children), never a root read on its own from disk.
struct Contained {
    docs: BTreeSet<(u32, u32, u32)>,
    files: BTreeSet<RelPath>,
}

impl Contained {
    fn holds(&self, loc: Loc, file: &RelPath) -> bool {
        self.docs.contains(&loc_key(loc)) || self.files.contains(file)
    }
}

fn contained(entries: &[FluxEntry]) -> Contained {
    let mut c = Contained { docs: BTreeSet::new(), files: BTreeSet::new() };
    for e in entries {
        if let Ok(r) = &e.result {
            c.docs.extend(r.resources.iter().filter(|r| is_flux_kustomization(&r.node)).map(|r| loc_key(r.node.loc)));
            c.files.extend(r.files.iter().cloned());
        }
    }
    c
}

/// The own source of a Kustomization taken as a root, defined in `file`: rooted where config
/// says, else at the repository root, else at the one directory where its path exists.
fn own_source(ctx: &Ctx, fk: &FluxKustomization, file: &RelPath) -> Own {
    let source = fk.source.clone();
    if let Some(root) = configured_root(ctx, &source) {
        return Own { source, root, inferred: None, resolved: true };
    }
    let git = matches!(fk.source.kind.as_str(), "GitRepository" | "");
    if git && foreign_git(ctx, fk, file) {
        return Own { source, root: RelPath::root(), inferred: None, resolved: false };
    }
    match infer_own_root(ctx.engine.repo(), fk, file) {
        Some(root) if !root.is_root() => {
            let d = Diag::note(
                Rule::FluxSourceMapped,
                fk.path_loc,
                mapped_message(fk, &root, &format!("the only directory where spec.path '{}' exists", fk.path)),
            )
            .help(
                "an artifact of a sub-directory (`flux push artifact --path=...`); set `flux.sources` to say otherwise",
            );
            Own { source, root, inferred: Some(d), resolved: true }
        }
        Some(root) => Own { source, root, inferred: None, resolved: true },
        None => Own { source, root: RelPath::root(), inferred: None, resolved: git },
    }
}

/// Whether a root's GitRepository, defined next to it in `file`, is another repository: its
/// `spec.url` is none of the URLs of the `flux-system` GitRepositories the repository's
/// bootstrap files define (which are this repository). A third-party source paired with its
/// Kustomization (`https://github.com/rook/rook.git` for its CRDs) is not rendered from here.
fn foreign_git(ctx: &Ctx, fk: &FluxKustomization, file: &RelPath) -> bool {
    let repo = ctx.engine.repo();
    let urls_in = |f: &RelPath, name: Option<&str>| -> Vec<String> {
        let Ok(parsed) = repo.load_yaml(f) else { return Vec::new() };
        parsed
            .docs
            .iter()
            .filter(|d| d.str_at(&["kind"]) == Some("GitRepository"))
            .filter(|d| name.is_none_or(|n| d.str_at(&["metadata", "name"]) == Some(n)))
            .filter_map(|d| {
                d.str_at(&["spec", "url"]).map(|u| u.trim_end_matches('/').trim_end_matches(".git").to_string())
            })
            .collect()
    };
    let Some(url) = urls_in(file, Some(fk.source.name.as_str())).into_iter().next() else { return false };
    let files: BTreeSet<&RelPath> = ctx.index.kustomizations.iter().map(|k| &k.file).collect();
    let own: BTreeSet<String> = files.into_iter().flat_map(|f| urls_in(f, Some("flux-system"))).collect();
    !own.is_empty() && !own.contains(&url)
}

/// Whether building `dir` reads `file` (below it): a Kustomization in `file` whose path is
/// `dir` then applies itself (a cluster's sync). Without a kustomization file the generated
/// one takes every file; a build that fails counts what it read before failing (if that is
/// not the file, the Kustomization is still rendered as a root of its own when nothing else
/// applies it). An app directory holding its `ks.yaml` beside a kustomization that does not
/// list it is not a root: its `ks.yaml` is applied (or left out) by the tree above.
fn applies_itself(ctx: &Ctx, dir: &RelPath, file: &RelPath) -> bool {
    if crate::kustomize::build::kustomization_file(ctx.engine.repo(), dir).is_none() {
        return true;
    }
    match ctx.engine.render(dir) {
        Ok(r) => r.files.contains(file),
        Err(f) => f.files.contains(file),
    }
}

/// Whether bootstrap directory `dir` is a moved copy: its own `flux-system` sync Kustomization
/// names a path that does not exist at the repository root but does below an ancestor, where
/// it is `dir` itself (`archive/cluster/base` syncing `./cluster/base`). No cluster syncs it.
fn moved_bootstrap(ctx: &Ctx, dir: &RelPath, rest: &[(Loc, FluxKustomization, Own, RelPath)]) -> bool {
    let repo = ctx.engine.repo();
    rest.iter().any(|(_, fk, own, file)| {
        let Some(path) = fk.dir_in(&own.root) else { return false };
        file.parent().parent() == *dir
            && own.root.is_root()
            && !repo.is_dir(&path)
            && moved_below(repo, file, &path).and_then(|m| m.join(path.as_str())).as_ref() == Some(dir)
    })
}

/// The info entry of a Kustomization in `file`, below directory `dir` that a cluster builds
/// without it.
fn not_applied(fk: &FluxKustomization, file: &RelPath, dir: &RelPath) -> FluxEntry {
    let d = Diag::note(
        Rule::FluxNotApplied,
        fk.loc,
        format!("Kustomization {} is in {dir}, which a cluster builds without it: no controller applies it", fk.key),
    )
    .help("list it in that directory's kustomization.yaml to apply it, or delete it");
    FluxEntry { disabled: Some(file.parent()), ..info_entry(fk, &file.parent().to_string(), d) }
}

/// The ancestor directory of `file` below which a Git Kustomization's `spec.path` (`path`,
/// which does not exist at the repository root) exists: the layout it was written for was
/// moved there (an `archive/` copy of an old tree), so nothing syncs it from this repository.
fn moved_below(repo: &crate::source::Repo, file: &RelPath, path: &RelPath) -> Option<RelPath> {
    let mut dir = file.parent();
    while !dir.is_root() {
        if dir.join(path.as_str()).is_some_and(|d| repo.is_dir(&d)) {
            return Some(dir);
        }
        dir = dir.parent();
    }
    None
}

/// A Kustomization that nothing here applies and whose `spec.path` does not exist here (an
/// archived or copied manifest): an info, dead with its directory (or with the whole copy of
/// the layout it was written for, see [`moved_below`]).
fn pathless(ctx: &Ctx, fk: &FluxKustomization, file: &RelPath, dir: Option<&RelPath>) -> FluxEntry {
    let moved = dir.and_then(|d| moved_below(ctx.engine.repo(), file, d));
    let (why, help) = match &moved {
        Some(m) => (
            format!("exists only below {m}, a copy of the layout it was written for"),
            "nothing syncs this copy: a Git source is rooted at the repository root; delete it, or fix the path if a cluster should apply it",
        ),
        None => (
            "does not exist here".to_string(),
            "if a cluster syncs it directly, fix the path; otherwise it is dead and can be deleted",
        ),
    };
    let d = Diag::note(
        Rule::FluxNotApplied,
        fk.path_loc,
        format!(
            "Kustomization {} is applied by no Flux Kustomization of this repository and its spec.path '{}' {why}",
            fk.key, fk.path
        ),
    )
    .help(help);
    FluxEntry {
        disabled: Some(moved.unwrap_or_else(|| file.parent())),
        ..info_entry(fk, &file.parent().to_string(), d)
    }
}

/// The info entry of a Kustomization in `file`, below directory `dir` whose Flux build fails.
fn below_failed(fk: &FluxKustomization, file: &RelPath, dir: &RelPath) -> FluxEntry {
    let d = Diag::note(
        Rule::FluxNotApplied,
        fk.loc,
        format!("Kustomization {} is in {dir}, whose Flux build fails: no cluster applies it from there", fk.key),
    )
    .help("fix the failing build of that directory; it is checked again then");
    info_entry(fk, &file.parent().to_string(), d)
}

/// An entry that renders nothing and holds one informational note.
fn info_entry(fk: &FluxKustomization, cluster: &str, d: Diag) -> FluxEntry {
    FluxEntry {
        name: format!("{cluster}/{}/{}", fk.key.namespace, fk.key.name),
        key: fk.key.clone(),
        dir: fk.path.clone(),
        result: Ok(Rendered { resources: Vec::new(), notes: vec![d], files: Default::default() }),
        child_notes: Vec::new(),
        unapplied: true,
        ticket: None,
        disabled: None,
    }
}

/// A root whose source cannot be this repository (an ExternalArtifact no rendered generator
/// makes, a source of another kind whose path is not here): an empty entry with an info,
/// since nothing shows what the controller would build.
fn unrendered_root(fk: &FluxKustomization, own: &Own, cluster: &str) -> Option<FluxEntry> {
    if own.resolved {
        return None;
    }
    let s = &fk.source;
    let d = Diag::note(
        Rule::FluxSourceOutOfScope,
        fk.path_loc,
        format!(
            "Kustomization {} uses {} '{}/{}', which nothing rendered here maps to a directory of this repository: its path is not rendered",
            fk.key, s.kind, s.namespace, s.name
        ),
    )
    .help("map it to a directory of this repository with `flux.sources` in .fluxgate.yaml");
    Some(info_entry(fk, cluster, d))
}

/// The cluster directory of a root: its `spec.path` in its source (`.` for the repository root).
fn cluster_of(root: &FluxKustomization, own: &Own) -> String {
    match root.dir_in(&own.root) {
        Some(d) if !d.is_root() => d.to_string(),
        _ => ".".to_string(),
    }
}

/// Where `flux.sources` roots a source, if it names it.
fn configured_root(ctx: &Ctx, s: &SourceRef) -> Option<RelPath> {
    ctx.sources.iter().find(|m| m.kind == s.kind && m.namespace == s.namespace && m.name == s.name).and_then(|m| {
        if m.path.trim_matches(['.', '/']).is_empty() {
            Some(RelPath::root())
        } else {
            RelPath::parse(m.path.trim_start_matches("./"))
        }
    })
}

/// Where a child Kustomization's source artifact is rooted in this repository: the cluster's
/// own source, a configured mapping, or an ExternalArtifact whose ArtifactGenerator (in the
/// cluster's render so far) copies from those. `Err` is the reason it is out of scope.
fn source_root(
    ctx: &Ctx,
    owns: &[Own],
    fk: &FluxKustomization,
    pool: &[Resource],
) -> Result<(RelPath, Option<Diag>), String> {
    let own_root = |s: &SourceRef| owns.iter().find(|o| o.source == *s).map(|o| o.root.clone());
    if let Some(root) = own_root(&fk.source) {
        return Ok((root, None));
    }
    if let Some(root) = configured_root(ctx, &fk.source) {
        return Ok((root, None));
    }
    if fk.source.kind == "ExternalArtifact" {
        let base = |s: &SourceRef| own_root(s).or_else(|| configured_root(ctx, s));
        match external_artifact(pool, &fk.source, &base) {
            Some(Ok(g)) => {
                let how = format!("copied by ArtifactGenerator '{}'", g.generator);
                let d = Diag::note(Rule::FluxSourceMapped, fk.path_loc, mapped_message(fk, &g.root, &how))
                    .help("set `flux.sources` to map it otherwise");
                return Ok((g.root, Some(d)));
            }
            Some(Err(why)) => return Err(format!("its ArtifactGenerator cannot be mapped to a directory: {why}")),
            None => {}
        }
    }
    Err("which is not this repository".to_string())
}

fn render_one(ctx: &Ctx, fk: &FluxKustomization, cluster: &str, pool: &[Resource], root: &Own) -> FluxEntry {
    render_at(ctx, fk, cluster, pool, &root.root)
}

fn render_at(ctx: &Ctx, fk: &FluxKustomization, cluster: &str, pool: &[Resource], root: &RelPath) -> FluxEntry {
    let name = format!("{cluster}/{}/{}", fk.key.namespace, fk.key.name);
    let lookup = |kind: &str, ns: &str, n: &str| lookup(ctx, pool, cluster, kind, ns, n);
    // A live cluster (`--cluster`) answers only for the tree it syncs.
    let other_tree;
    let settings = match &ctx.settings.cluster {
        Some(live) if !live.syncs(cluster) => {
            other_tree = Settings { cluster: None, ..ctx.settings.clone() };
            &other_tree
        }
        _ => ctx.settings,
    };
    let (dir, result) = match fk.dir_in(root) {
        Some(dir) => {
            let r = render(ctx.engine, &dir, fk, &lookup, settings);
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
    FluxEntry {
        name,
        key: fk.key.clone(),
        dir,
        result,
        child_notes: Vec::new(),
        unapplied: false,
        ticket: None,
        disabled: None,
    }
}

/// Finds a `substituteFrom` object as the controller would: in the cluster's render so far,
/// then in a repository file naming that namespace (the one nearest the cluster directory); then something that makes it in the
/// cluster (an ExternalSecret's target), then a repository object of that name outside the
/// tree (a bootstrap Secret, namespaced by a kustomization nobody syncs).
fn lookup(ctx: &Ctx, pool: &[Resource], cluster: &str, kind: &str, ns: &str, name: &str) -> Option<Found> {
    let key = |k: &str, ns: &str| (k.to_string(), ns.to_string(), name.to_string());
    if let Some(r) = pool.iter().rev().find(|r| r.kind() == kind && r.namespace() == ns && r.name() == name) {
        return Some(Found::Object(r.node.clone()));
    }
    if let Some(n) = ctx.index.config_near(&key(kind, ns), cluster) {
        return Some(Found::Object(n.clone()));
    }
    if kind == "Secret" {
        let es = pool.iter().find(|r| {
            r.kind() == "ExternalSecret"
                && r.group() == "external-secrets.io"
                && r.namespace() == ns
                && r.node.str_at(&["spec", "target", "name"]).unwrap_or(r.name()) == name
        });
        if let Some(es) = es {
            return Some(Found::Generated { by: format!("ExternalSecret '{ns}/{}'", es.name()), node: None });
        }
    }
    let outside = ctx.index.config.get(&key(kind, ""))?;
    let file = ctx.engine.repo().file_of(outside.loc).map(|f| f.path.to_string()).unwrap_or_default();
    Some(Found::Generated {
        by: format!("whatever applies {file} (outside this cluster's Flux Kustomizations)"),
        node: Some(outside.clone()),
    })
}

/// The kinds a tree keeps from each level for the levels below: `substituteFrom` objects,
/// what makes them, and what produces ExternalArtifacts.
/// Read from the finished entries, only for a level that has children: a copy per entry
/// held a second ConfigMap and Secret of every leaf until its whole level was done.
pub fn pooled(r: &Resource) -> bool {
    matches!(r.kind(), "ConfigMap" | "Secret" | "ExternalSecret" | "ArtifactGenerator")
}

/// The roots of one forest: one cluster's root, or several roots that one cluster applies
/// together (the Kustomizations of a directory that something outside the repository syncs,
/// e.g. a FluxInstance), with the cluster's name and whether the roots are read on their own
/// (see [`FluxEntry::unapplied`]).
struct Roots {
    roots: Vec<(FluxKustomization, Own)>,
    cluster: String,
    unapplied: bool,
}

/// A child Kustomization to render: its effective spec, the directory its source is rooted
/// at, the note on how that root was found, and its cluster.
type Job = (FluxKustomization, RelPath, Option<Diag>, String);

/// One forest's walk so far: level by level, so that each level sees what every tree above it
/// rendered.
struct Forest {
    cluster: String,
    out: Vec<FluxEntry>,
    visited: BTreeSet<ObjKey>,
    owns: Vec<Own>,
    /// The objects of the levels so far that the levels below may read ([`pooled`]).
    pool: Vec<Resource>,
    /// The level just rendered.
    pending: Vec<(FluxEntry, Read)>,
}

impl Forest {
    /// Renders the roots of a forest.
    fn start(ctx: &Ctx, r: Roots) -> Forest {
        let Roots { roots, cluster, unapplied } = r;
        let mut f = Forest {
            cluster,
            out: Vec::new(),
            visited: BTreeSet::new(),
            owns: Vec::new(),
            pool: Vec::new(),
            pending: Vec::new(),
        };
        for (root, own) in roots {
            if let Some(e) = unrendered_root(&root, &own, &f.cluster) {
                f.out.push(e);
                continue;
            }
            if !f.visited.insert(root.key.clone()) {
                continue;
            }
            let mut first = render_one(ctx, &root, &f.cluster, &[], &own);
            first.unapplied = unapplied;
            if let Some(d) = &own.inferred {
                push_note(&mut first, d.clone());
            }
            f.pending.push(read_and_finish(ctx, first));
            f.owns.push(own);
        }
        f
    }

    /// Reads the level just rendered (its pooled objects, then its children, in order) and
    /// moves it to the output; returns the children to render next.
    fn level(&mut self, ctx: &Ctx) -> Vec<Job> {
        let mut next = Vec::new();
        if self.pending.iter().any(|(_, read)| !read.children.is_empty()) {
            for (e, _) in &self.pending {
                if let Ok(r) = &e.result {
                    self.pool.extend(r.resources.iter().filter(|r| pooled(r)).cloned());
                }
            }
        }
        for (e, read) in self.pending.iter_mut() {
            for res in std::mem::take(&mut read.children) {
                let ns = if res.namespace().is_empty() { "default" } else { res.namespace() };
                let child = match FluxKustomization::parse(&res.node, ns) {
                    Ok(c) => c,
                    Err(d) => {
                        e.child_notes.push((d, res));
                        continue;
                    }
                };
                if !self.visited.insert(child.key.clone()) {
                    continue;
                }
                let (root, mapped) = match source_root(ctx, &self.owns, &child, &self.pool) {
                    Ok(found) => found,
                    Err(why) => {
                        let s = &child.source;
                        let d = Diag::note(
                            Rule::FluxSourceOutOfScope,
                            res.node.path(&["spec", "sourceRef"]).map_or(res.node.loc, |n| n.loc),
                            format!(
                                "Kustomization {} uses {} '{}/{}', {why}: its path is not rendered",
                                child.key, s.kind, s.namespace, s.name
                            ),
                        )
                        .help("map it to a directory of this repository with `flux.sources` in .fluxgate.yaml");
                        e.child_notes.push((d, res));
                        continue;
                    }
                };
                if child.dir_in(&root).is_some_and(|dir| !(ctx.wanted)(&child, &dir)) {
                    continue;
                }
                // A Kustomization applying to another cluster (kubeConfig) starts a cluster.
                let cluster = match child.dir_in(&root) {
                    Some(d) if child.remote && !d.is_root() => d.to_string(),
                    _ => e.name.rsplitn(3, '/').nth(2).unwrap_or(&self.cluster).to_string(),
                };
                next.push((child, root, mapped, cluster));
            }
        }
        self.out.extend(self.pending.drain(..).map(|(e, _)| e));
        next
    }
}

/// Renders several forests, their levels in step: level N of every forest is rendered
/// together, the forests' children taken in turn (the first child of each, then the second of
/// each...). Clusters that apply the same apps in the same order (one per environment) then
/// build the overlays of one shared base one after the other, so the engine drops the base
/// after its last user soon, rather than holding every base until the slowest cluster gets
/// there. Each entry is finished on the thread that rendered it, so a level holds no more full
/// renders at once than there are threads, however wide it is. The entries come out forest
/// by forest, each in its own walk order, whatever the threads do.
fn walk_forests(ctx: &Ctx, forests: Vec<Roots>) -> Vec<FluxEntry> {
    let mut walks: Vec<Forest> = forests.into_par_iter().map(|r| Forest::start(ctx, r)).collect();
    loop {
        let jobs: Vec<Vec<Job>> = walks.iter_mut().map(|w| w.level(ctx)).collect();
        let widths: Vec<usize> = jobs.iter().map(Vec::len).collect();
        let widest = widths.iter().copied().max().unwrap_or(0);
        if widest == 0 {
            break;
        }
        let order: Vec<(usize, usize)> = (0..widest)
            .flat_map(|i| widths.iter().enumerate().filter(move |(_, w)| i < **w).map(move |(f, _)| (f, i)))
            .collect();
        let walks_now = &walks;
        let rendered: Vec<(FluxEntry, Read)> = order
            .par_iter()
            .map(|&(f, i)| {
                let (fk, root, mapped, cluster) = &jobs[f][i];
                let mut e = render_at(ctx, fk, cluster, &walks_now[f].pool, root);
                if let Some(d) = mapped {
                    push_note(&mut e, d.clone());
                }
                read_and_finish(ctx, e)
            })
            .collect();
        // In turn, each forest's children in their order: its level is in its own order.
        for (&(f, _), r) in order.iter().zip(rendered) {
            walks[f].pending.push(r);
        }
    }
    walks.into_iter().flat_map(|w| w.out).collect()
}

/// What a tree walk reads of one rendered entry besides its pooled objects (which the
/// finished entry keeps): its child Flux Kustomizations, copied out so that the entry itself
/// can be finished (checked and shrunk) at once.
#[derive(Default)]
struct Read {
    children: Vec<Resource>,
}

/// Copies out what the walk reads of a freshly rendered entry, then hands the entry to the
/// caller's [`Finish`] hook.
fn read_and_finish(ctx: &Ctx, mut e: FluxEntry) -> (FluxEntry, Read) {
    let read = match &e.result {
        Ok(r) => Read { children: r.resources.iter().filter(|r| is_flux_kustomization(&r.node)).cloned().collect() },
        Err(_) => Read::default(),
    };
    (ctx.finish)(&mut e);
    (e, read)
}

/// Adds an informational note to an entry, rendered or not.
fn push_note(e: &mut FluxEntry, d: Diag) {
    match &mut e.result {
        Ok(r) => r.notes.push(d),
        Err(f) => f.notes.push(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kustomize::build::LoadRestrictor;
    use crate::source::{Node, Repo};

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

    #[test]
    fn kustomizations_of_a_root_that_fails_are_not_read_as_roots_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                // A bootstrapped cluster whose flux-system kustomization names a missing file.
                ("clusters/a/flux-system/gotk-sync.yaml", "# made by flux bootstrap\n"),
                ("clusters/a/flux-system/kustomization.yaml", "resources: [gotk-components.yaml, gotk-sync.yaml]\n"),
                (
                    "clusters/a/apps.yaml",
                    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {path: ./apps, sourceRef: {kind: GitRepository, name: flux-system}}\n",
                ),
                ("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
            ],
        );
        let repo = Repo::open(dir.path()).unwrap();
        let mut files = Vec::new();
        crate::discover::walk_yaml(&repo, &RelPath::root(), &mut files);
        let index = super::super::entry::index(&repo, &crate::discover::Discovery::of_files(&repo, files));
        let engine = Engine::new(&repo, LoadRestrictor::None);
        let entries = render_all(&engine, &index, &[], &Settings::default());
        let names: Vec<(&str, bool)> = entries.iter().map(|e| (e.name.as_str(), e.result.is_ok())).collect();
        // The root's failure is the finding; `apps` is not rendered as if something else applied
        // it: an entry with only a note that the build it is in fails (named as its child).
        assert_eq!(names, [("clusters/a/flux-system/apps", true), ("clusters/a/flux-system/flux-system", false)]);
        let apps = entries[0].result.as_ref().unwrap();
        assert!(apps.resources.is_empty() && apps.notes[0].message.contains("whose Flux build fails"));
    }

    #[test]
    fn a_wide_level_holds_no_more_full_renders_at_once_than_there_are_threads() {
        // One root applying 24 apps: each app's render is finished (checked and shrunk by the
        // caller) before its thread renders the next, rather than the level all at once.
        const APPS: usize = 24;
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<(String, String)> = vec![("clusters/a/flux-system/sync.yaml".into(), SYNC.into())];
        let mut apps = String::new();
        for i in 0..APPS {
            apps.push_str(&format!(
                "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: app{i}, namespace: flux-system}}\nspec: {{path: ./apps/{i}, sourceRef: {{kind: GitRepository, name: flux-system}}}}\n"
            ));
            files.push((format!("apps/{i}/kustomization.yaml"), "resources: [cm.yaml]\n".into()));
            files.push((
                format!("apps/{i}/cm.yaml"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: a}}\n"),
            ));
        }
        files.push(("clusters/a/apps.yaml".into(), apps));
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        write(dir.path(), &files);
        let repo = Repo::open(dir.path()).unwrap();
        let mut found = Vec::new();
        crate::discover::walk_yaml(&repo, &RelPath::root(), &mut found);
        let index = super::super::entry::index(&repo, &crate::discover::Discovery::of_files(&repo, found));
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let (rendered, finished, most) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
        // The engine sees each app's render as it is made (they are built unamended).
        let observer = |_: &RelPath, _: &Result<Rendered, Failed>| {
            let alive = rendered.fetch_add(1, SeqCst) + 1 - finished.load(SeqCst);
            most.fetch_max(alive, SeqCst);
        };
        let finish = |e: &mut FluxEntry| {
            if e.name.contains("/app") {
                finished.fetch_add(1, SeqCst);
            }
        };
        let engine = Engine::new(&repo, LoadRestrictor::None).observed(&observer);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let entries = pool.install(|| render_wanted(&engine, &index, &[], &Settings::default(), &|_, _| true, &finish));
        assert_eq!(entries.len(), APPS + 1);
        assert!(entries.iter().all(|e| e.result.is_ok()));
        assert_eq!((rendered.load(SeqCst), finished.load(SeqCst)), (APPS, APPS));
        assert!(most.load(SeqCst) <= 2, "{} renders alive at once", most.load(SeqCst));
    }
}
