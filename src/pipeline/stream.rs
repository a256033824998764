//! A full run (no `--base`, no `--shard`) in the order that keeps memory to the largest render
//! rather than the repository: the Flux tree is rendered and its HelmReleases with it (their
//! charts' CRDs must join the schemas before any object is checked), the Flux graph is checked
//! and every Flux entry point is checked and dropped; then each plain overlay is rendered,
//! checked and dropped at once, keeping only its findings and the files it read. The report
//! is the same as the staged order's, byte for byte.
//!
//! A Flux entry point whose objects all belong to built-in API groups is checked the moment
//! the tree walk is done with it ([`EarlyFlux`]): no CRD that helm's charts bring can change
//! its check. It then keeps only what the graph and helm read of its objects
//! ([`crate::flux::summary::graph_view`]); the others are checked once helm has run.
//!
//! The one decision that needs every plain render is whether an overlay is a leaf (no other
//! overlay reads its kustomization): it switches on [`LEAF_ONLY`] checks. Each overlay is
//! checked as a leaf; only when that raised a leaf-only finding is it also checked as a base,
//! and the files of all renders pick the right result at the end.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::flux::tree::FluxEntry;
use crate::kustomize::build::{Engine, Failed, Rendered, kustomization_file};
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::RelPath;

use super::Progress;
use super::check::{Checked, Checker, Ep, needs_flag_skipped};
use super::model::EntryPointKind;
use super::reach::FluxReach;

/// The rules whose checks run only on leaves (a base legitimately leaves them to its
/// overlays): without one of their findings, an overlay's check as a leaf and as a base agree.
pub(super) const LEAF_ONLY: [Rule; 3] = [Rule::NamespaceMissing, Rule::DanglingService, Rule::PdbMissing];

/// Whether a rendered object is a core Namespace with a Pod Security enforce label (the only
/// objects [`crate::policy::pod_security::PodSecurity`] reads).
pub(super) fn labelled_namespace(r: &Resource) -> bool {
    r.kind() == "Namespace"
        && r.api_version() == "v1"
        && r.node.str_at(&["metadata", "labels", crate::policy::pod_security::ENFORCE_LABEL]).is_some()
}

/// Flux entry points checked as soon as the tree walk is done with them, before helm's chart
/// CRDs join the registry: only those whose objects all belong to built-in API groups (their
/// kinds resolve against Kubernetes' schemas alone, see
/// [`crate::schema::registry::Registry::is_builtin`]), each checked as [`super::check`]
/// checks a Flux entry point and then shrunk to what the graph and helm read.
pub(super) struct EarlyFlux<'a> {
    checker: Checker<'a>,
    progress: Option<&'a Progress>,
    checked: Mutex<Vec<Checked>>,
}

impl<'a> EarlyFlux<'a> {
    pub(super) fn new(checker: Checker<'a>, progress: Option<&'a Progress>) -> Self {
        EarlyFlux { checker, progress, checked: Mutex::new(Vec::new()) }
    }

    /// The tree walk's [`crate::flux::tree::Finish`] hook.
    pub(super) fn finish(&self, e: &mut FluxEntry) {
        let builtin = |r: &Resource| self.checker.registry.is_builtin(r.api_version());
        if !e.result.as_ref().is_ok_and(|r| r.resources.iter().all(builtin)) {
            if let Ok(r) = &e.result {
                self.checker.prepare_schemas(&r.resources);
            }
            return;
        }
        let c = self.checker.flux(e);
        Progress::tick(self.progress);
        {
            let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
            e.ticket = Some(checked.len());
            checked.push(c);
        }
        if let Ok(r) = &mut e.result {
            r.resources = std::mem::take(&mut r.resources).into_iter().map(crate::flux::summary::graph_view).collect();
            // Held until the graph is checked: no room for more.
            r.resources.shrink_to_fit();
        }
    }

    /// The checks made so far, by ticket.
    pub(super) fn into_checked(self) -> Vec<Checked> {
        self.checked.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// Once the tree walk is done (no level below reads them any more), shrinks the ConfigMaps
/// and Secrets of the entry points [`EarlyFlux`] checked that only a `valuesFrom` would read
/// whole ([`crate::flux::summary::after_walk`]): on huge, 27,000 whole objects held through
/// the Flux graph's checks. One kept whole anywhere (an entry point not checked yet keeps
/// its objects whole) is kept whole everywhere, so that the graph's duplicate check compares
/// like with like.
pub(super) fn shrink_after_walk(flux: &mut [FluxEntry]) {
    fn objects(e: &FluxEntry) -> &[Resource] {
        e.result.as_ref().map_or(&[], |r| r.resources.as_slice())
    }
    let mut keep = crate::flux::summary::values_sources(flux.iter().flat_map(objects));
    for e in flux.iter().filter(|e| e.ticket.is_none()) {
        let sources = objects(e).iter().filter(|r| matches!(r.kind(), "ConfigMap" | "Secret"));
        keep.extend(sources.map(|r| (r.kind().to_string(), r.name().to_string())));
    }
    flux.par_iter_mut().filter(|e| e.ticket.is_some()).for_each(|e| {
        if let Ok(r) = &mut e.result {
            let views = std::mem::take(&mut r.resources).into_iter();
            r.resources = views.map(|x| crate::flux::summary::after_walk(x, &keep)).collect();
        }
    });
}

/// The files the plain overlays' renders read, each overlay's own kustomization file left out:
/// an overlay whose kustomization file is among them is a base, not a leaf. Gathered as each
/// overlay is checked, rather than kept per overlay until every one is (on huge, 4,006 sets of
/// about 60 paths, most of them the same files). Every overlay [`EarlyPlain`] checks is one of
/// [`check_plain_streamed`]'s (it never sees a Component), so the set is the same.
#[derive(Default)]
pub(super) struct UsedFiles(Mutex<BTreeSet<RelPath>>);

impl UsedFiles {
    /// Adds what a render read (`None`: the renderer crashed, it read nothing), but for the
    /// overlay's `own` kustomization file.
    fn add(&self, own: Option<&RelPath>, r: Option<&Result<Rendered, Failed>>) {
        // A render that failed still uses its bases (see `check::check_plain`).
        let Some(files) = r.map(|r| match r {
            Ok(x) => &x.files,
            Err(f) => &f.files,
        }) else {
            return;
        };
        let mut used = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for f in files.iter().filter(|f| Some(*f) != own) {
            if !used.contains(f) {
                used.insert(f.clone());
            }
        }
    }

    /// Whether a render gathered so far read an overlay's `own` kustomization file: it is then
    /// a base.
    fn reads(&self, own: Option<&RelPath>) -> bool {
        own.is_some_and(|own| self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(own))
    }

    fn into_inner(self) -> BTreeSet<RelPath> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// One plain overlay, checked as soon as it rendered (not yet judged by the Flux reach).
struct PlainChecked {
    /// Its kustomization file, if it has one.
    own: Option<RelPath>,
    /// Its check as a leaf; as a base when another overlay's render was already known to read
    /// its kustomization file (then it is no leaf, whatever else renders, and `base` is `None`).
    leaf: Checked,
    /// Its check as a base, when that differs (a leaf-only finding was raised): only its
    /// findings and suppressions, the rest of a check does not depend on leaf-ness (a base
    /// renders tens of objects, and every overlay is kept checked until the end of the run).
    base: Option<AsBase>,
    /// Its Namespaces with a Pod Security level.
    namespaces: Vec<Resource>,
}

/// An overlay's check as a base, kept beside its check as a leaf.
enum AsBase {
    /// What it changes in the check as a leaf: the findings and the suppressions they used
    /// (checking as a base only leaves out the leaf-only checks).
    Findings { findings: Vec<crate::finding::Finding>, suppressions: crate::policy::suppress::Usage },
    /// A check that crashed (an internal error) one way and not the other: kept whole.
    Whole(Checked),
}

impl AsBase {
    fn of(base: Checked, leaf: &Checked) -> AsBase {
        if base.report.rendered != leaf.report.rendered || base.total != leaf.total {
            return AsBase::Whole(base);
        }
        AsBase::Findings { findings: base.findings, suppressions: base.suppressions }
    }

    fn findings_mut(&mut self) -> &mut Vec<crate::finding::Finding> {
        match self {
            AsBase::Findings { findings, .. } => findings,
            AsBase::Whole(c) => &mut c.findings,
        }
    }

    /// The check as a base, given the check as a leaf.
    fn into_checked(self, leaf: Checked) -> Checked {
        match self {
            AsBase::Findings { findings, suppressions } => Checked { findings, suppressions, ..leaf },
            AsBase::Whole(c) => c,
        }
    }
}

impl PlainChecked {
    /// Checks one plain overlay's render (`None`: the renderer crashed) as a leaf, and as a
    /// base when that differs; the files it read go to `used`.
    fn of(checker: &Checker, dir: &RelPath, r: Option<&Result<Rendered, Failed>>, used: &UsedFiles) -> PlainChecked {
        let name = dir.to_string();
        let ep = Ep { name: &name, kind: EntryPointKind::Kustomize, path: &name };
        // A base's check as a leaf would be kept until every overlay is checked, for nothing (on
        // huge, 44,000 namespace-missing findings of the bases' objects): checked as a base only.
        let own = kustomization_file(checker.repo, dir);
        let known_base = used.reads(own.as_ref());
        let leaf = checker.check(&ep, r, !known_base);
        let base = (!known_base && leaf.findings.iter().any(|f| LEAF_ONLY.contains(&f.rule)))
            .then(|| AsBase::of(checker.check(&ep, r, false), &leaf));
        let namespaces = match r {
            Some(Ok(x)) => x.resources.iter().filter(|r| labelled_namespace(r)).cloned().collect(),
            _ => Vec::new(),
        };
        used.add(own.as_ref(), r);
        PlainChecked { own, leaf, base, namespaces }
    }
}

/// Plain overlays checked from the render a Flux Kustomization made of the same directory
/// while the tree walk ran (the engine's [`crate::kustomize::build::Observer`]): Flux builds
/// an unamended directory exactly as the overlay's own build, so the overlay is not built a
/// second time. Only renders whose objects all belong to built-in API groups are taken (no
/// chart CRD that helm brings later can change their check, as for [`EarlyFlux`]); the
/// others, and failed renders, are built again by [`check_plain_streamed`].
pub(super) struct EarlyPlain<'a> {
    checker: Checker<'a>,
    wanted: BTreeSet<&'a RelPath>,
    done: Mutex<HashMap<RelPath, PlainChecked>>,
    used: UsedFiles,
}

impl<'a> EarlyPlain<'a> {
    pub(super) fn new(checker: Checker<'a>, dirs: &[&'a RelPath]) -> Self {
        EarlyPlain {
            checker,
            wanted: dirs.iter().copied().collect(),
            done: Mutex::new(HashMap::new()),
            used: UsedFiles::default(),
        }
    }

    /// The engine's observer.
    pub(super) fn observe(&self, dir: &RelPath, r: &Result<Rendered, Failed>) {
        let builtin = |x: &Resource| self.checker.registry.is_builtin(x.api_version());
        if !self.wanted.contains(dir) {
            return;
        }
        if !r.as_ref().is_ok_and(|x| x.resources.iter().all(builtin)) {
            if let Ok(x) = r {
                self.checker.prepare_schemas(&x.resources);
            }
            return;
        }
        if self.done.lock().unwrap_or_else(|p| p.into_inner()).contains_key(dir) {
            return;
        }
        let checked = PlainChecked::of(&self.checker, dir, Some(r), &self.used);
        self.done.lock().unwrap_or_else(|p| p.into_inner()).entry(dir.clone()).or_insert(checked);
    }

    /// The overlays checked so far (this drops the checker, and with it the registry borrow,
    /// before helm's chart CRDs join the registry).
    pub(super) fn into_done(self) -> PlainDone {
        PlainDone(self.done.into_inner().unwrap_or_else(|p| p.into_inner()), self.used)
    }
}

/// The plain overlays [`EarlyPlain`] checked, by directory, and the files they read.
pub(super) struct PlainDone(HashMap<RelPath, PlainChecked>, UsedFiles);

/// Renders and checks every plain overlay in `dirs`, in parallel, dropping each render once it
/// is checked (each directory's memoised build is taken, not copied: this is its last user),
/// unless `early` checked it already. Returns the checked overlays in the order of `dirs`, and
/// their labelled Namespaces. An overlay is judged by how the Flux tree reaches it
/// ([`FluxReach::judge`]).
pub(super) fn check_plain_streamed(
    checker: &Checker,
    engine: &Engine,
    dirs: &[&RelPath],
    reach: &FluxReach,
    progress: Option<&Progress>,
    early: PlainDone,
) -> (Vec<Checked>, Vec<Resource>) {
    let repo = checker.repo;
    let PlainDone(mut early, used) = early;
    let early: Vec<Option<PlainChecked>> = dirs.iter().map(|d| early.remove(*d)).collect();
    let done: Vec<PlainChecked> = dirs
        .par_iter()
        .zip(early)
        .map(|(dir, early)| {
            let mut p = early.unwrap_or_else(|| {
                let r = catch_unwind(AssertUnwindSafe(|| engine.render_last(dir))).ok();
                let r = r.map(|r| r.map_err(needs_flag_skipped));
                PlainChecked::of(checker, dir, r.as_ref(), &used)
            });
            reach.judge(repo, dir, &mut p.leaf);
            if let Some(b) = &mut p.base {
                let rendered = match b {
                    AsBase::Whole(c) => c.report.rendered,
                    AsBase::Findings { .. } => p.leaf.report.rendered,
                };
                reach.judge_findings(repo, dir, rendered, b.findings_mut());
            }
            Progress::tick(progress);
            p
        })
        .collect();
    let used = used.into_inner();
    let is_leaf: Vec<bool> = done.iter().map(|p| p.own.as_ref().is_none_or(|k| !used.contains(k))).collect();
    let mut namespaces = Vec::new();
    let checked = done
        .into_iter()
        .zip(is_leaf)
        .map(|(p, leaf)| {
            namespaces.extend(p.namespaces);
            match p.base {
                Some(base) if !leaf => base.into_checked(p.leaf),
                _ => p.leaf,
            }
        })
        .collect();
    (checked, namespaces)
}
