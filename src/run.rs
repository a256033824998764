//! One `validate` run: discover, render every entry point in parallel, check every object, and
//! collect findings into a [`RunReport`]. Library code: it never prints and never exits.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::check::objects;
use crate::config::{Config, EntryPoints};
use crate::discover::{Discovery, Needle, affected, changes, discover, static_deps};
use crate::finding::{Finding, Location, ObjectRef};
use crate::flux;
use crate::flux::render::Settings;
use crate::flux::tree::FluxEntry;
use crate::helm::release::{HelmEntry, HelmRun};
use crate::kustomize::build::{Engine, Failed, LoadRestrictor, Rendered, kustomization_file};
use crate::kustomize::diag::Diag;
use crate::kustomize::resource::is_cluster_scoped;
use crate::policy::admission::AdmissionPolicies;
use crate::report::{
    ChangeScope, EntryPointKind, EntryPointReport, RunReport, SchemaCoverage, SourceText, UncheckedKind,
};
use crate::rules::Rule;
use crate::schema::registry::Registry;
use crate::shard::Shard;
use crate::source::{Loc, RelPath, Repo};

/// Turns a [`Loc`] into a report location (root-relative path, 1-based line and column).
pub fn location(repo: &Repo, loc: Loc) -> Option<Location> {
    let f = repo.file_of(loc)?;
    Some(Location { file: f.path.to_string(), line: loc.line.max(1), column: loc.col.max(1) })
}

/// Turns a render diagnostic into a finding of an entry point.
pub fn diag_finding(repo: &Repo, d: &Diag, entry_point: &str) -> Finding {
    let mut f = Finding::new(d.rule, d.message.clone()).at(location(repo, d.loc)).entry_point(entry_point);
    f.help = d.help.clone();
    f
}

impl SourceText for Repo {
    fn line(&self, file: &str, line: u32) -> Option<String> {
        let p = RelPath::parse(file)?;
        self.read(&p).ok()?.line_text(line).map(str::to_string)
    }
}

/// Builds the schema registry: bundled schemas for the target version, every CRD in the
/// repository's YAML files (and `schemas.crds`), and the schema catalog.
pub fn build_registry(repo: &Repo, config: &Config, d: &Discovery) -> Result<Registry, String> {
    let mut reg = Registry::new(config.kubernetes_version.as_deref())?;
    if flux::version::installed(repo, d).iter().any(|i| i.by_operator) {
        reg.accept_flux_operator_kinds();
    }
    let mut files: BTreeSet<RelPath> = d.files_with(&[Needle::Crd]).into_iter().collect();
    let mut extra_files = Vec::new();
    for extra in &config.crds {
        let p = RelPath::parse(extra).ok_or_else(|| format!("schemas.crds path '{extra}' leaves the repository"))?;
        if repo.is_dir(&p) {
            crate::discover::walk_yaml(repo, &p, &mut extra_files);
        } else if repo.is_file(&p) {
            extra_files.push(p);
        } else {
            return Err(format!("schemas.crds path '{extra}' does not exist"));
        }
    }
    extra_files.retain(|p| !d.yaml_files.contains(p));
    files.extend(Discovery::of_files(repo, extra_files).files_with(&[Needle::Crd]));
    for p in &files {
        let Ok(f) = repo.read(p) else { continue };
        if !f.text.contains("CustomResourceDefinition") {
            continue;
        }
        if let Ok(parsed) = repo.load_yaml(p) {
            for doc in &parsed.docs {
                reg.add_repo_crd(doc, p.as_str());
            }
        }
    }
    if let Some(catalog) = RelPath::parse(&config.schema_catalog) {
        reg.load_catalog(repo, &catalog);
    }
    Ok(reg)
}

/// Moves a location from a map value to its key when the key is on the same line (`key: v`),
/// so an unknown field's caret sits under the field name.
fn key_loc(repo: &Repo, loc: Loc, key: &str) -> Loc {
    let Some(line) = repo.file_of(loc).and_then(|f| f.line_text(loc.line).map(str::to_string)) else { return loc };
    let upto = line.get(..(loc.col as usize).saturating_sub(1)).unwrap_or(&line);
    for candidate in [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")] {
        if let Some(i) = upto.rfind(&candidate) {
            return Loc { col: line[..i].chars().count() as u32 + 1, ..loc };
        }
    }
    if let Some(i) = line.find(&format!("{key}:")) {
        return Loc { col: line[..i].chars().count() as u32 + 1, ..loc };
    }
    loc
}

/// The checked result of one entry point.
struct Checked {
    report: EntryPointReport,
    /// Objects carrying one of the config's team labels, with its value.
    teams: Vec<(ObjectRef, String)>,
    findings: Vec<Finding>,
    checked: usize,
    total: usize,
    cel_skipped: usize,
    unchecked: BTreeMap<(String, String), usize>,
    /// Which `fluxgate.io/ignore` annotations matched (merged over the run).
    suppressions: crate::policy::suppress::Usage,
}

impl Checked {
    /// Nothing rendered or checked yet for this entry point.
    fn empty(ep: &Ep) -> Checked {
        Checked {
            report: EntryPointReport {
                name: ep.name.to_string(),
                kind: ep.kind,
                path: ep.path.to_string(),
                rendered: false,
                objects: Vec::new(),
            },
            teams: Vec::new(),
            findings: Vec::new(),
            checked: 0,
            total: 0,
            cel_skipped: 0,
            unchecked: BTreeMap::new(),
            suppressions: Default::default(),
        }
    }
}

/// What is being checked: an entry point's name, kind and rendered directory.
struct Ep<'a> {
    name: &'a str,
    kind: EntryPointKind,
    path: &'a str,
}

/// What every entry point's check reads: the repository, its schemas, the config and the
/// admission policies, loaded once per run.
#[derive(Clone, Copy)]
struct Checker<'a> {
    repo: &'a Repo,
    registry: &'a Registry,
    config: &'a Config,
    admission: &'a AdmissionPolicies,
    /// Whether to record each object's team (see [`RunOptions::teams`]).
    teams: bool,
}

impl Checker<'_> {
    /// Checks one entry point's render (`None`: the renderer crashed). A panic while checking
    /// becomes an internal-error finding of this entry point only; the run goes on.
    fn check(&self, ep: &Ep, result: Option<Result<Rendered, Failed>>, is_leaf: bool) -> Checked {
        match result {
            Some(r) => catch_unwind(AssertUnwindSafe(|| check_rendered(*self, ep, r, is_leaf)))
                .unwrap_or_else(|_| internal_error(ep)),
            None => internal_error(ep),
        }
    }

    /// Checks a Flux entry point, with the notes about children it could not render.
    fn flux(&self, e: FluxEntry) -> Checked {
        let FluxEntry { name, dir, result, child_notes, .. } = e;
        let mut c = self.check(&Ep { name: &name, kind: EntryPointKind::Flux, path: &dir }, Some(result), true);
        for (d, res) in &child_notes {
            let mut f = diag_finding(self.repo, d, &name);
            f.object = Some(res.object_ref());
            c.findings.push(f);
        }
        c
    }

    /// Checks what one HelmRelease rendered, like any entry point; values from Secrets are
    /// masked in every finding.
    fn helm(&self, e: HelmEntry) -> Checked {
        let HelmEntry { name, path, result, secrets, object, .. } = e;
        let mut c = self.check(&Ep { name: &name, kind: EntryPointKind::HelmRelease, path: &path }, Some(result), true);
        for f in &mut c.findings {
            crate::helm::values::redact_finding(f, &secrets);
            if f.object.is_none() {
                f.object = Some(object.clone());
            }
        }
        c
    }
}

fn check_rendered(checker: Checker, ep: &Ep, result: Result<Rendered, Failed>, is_leaf: bool) -> Checked {
    let Checker { repo, registry, config, admission, teams } = checker;
    let name = ep.name.to_string();
    panic_for_test(&name);
    let mut c = Checked::empty(ep);
    match result {
        Err(failed) => {
            c.findings.extend(failed.notes.iter().map(|d| diag_finding(repo, d, &name)));
            c.findings.push(diag_finding(repo, &failed.error, &name));
        }
        Ok(rendered) => {
            c.report.rendered = true;
            c.findings.extend(rendered.notes.iter().map(|d| diag_finding(repo, d, &name)));
            for r in &rendered.resources {
                let obj = r.object_ref();
                let oc = objects::check(r, registry, config.schema_missing);
                c.total += 1;
                c.cel_skipped += oc.cel_skipped;
                if oc.checked {
                    c.checked += 1;
                } else {
                    *c.unchecked.entry((r.api_version().to_string(), r.kind().to_string())).or_default() += 1;
                }
                for l in oc.findings {
                    let loc = l.key.as_deref().map_or(l.loc, |k| key_loc(repo, l.loc, k));
                    let mut f = l.finding.at(location(repo, loc)).entry_point(&name);
                    f.object = Some(obj.clone());
                    c.findings.push(f);
                }
                // Bases legitimately leave the namespace to their overlays.
                if is_leaf
                    && r.namespace().is_empty()
                    && !is_cluster_scoped(r.kind())
                    && oc.checked
                    && registry.is_namespaced(r.api_version(), r.kind())
                {
                    let mut f = Finding::new(
                        Rule::NamespaceMissing,
                        format!("{} '{}' has no namespace after rendering", r.kind(), r.name()),
                    )
                    .at(location(repo, r.node.loc))
                    .entry_point(&name)
                    .help("set `namespace:` in the kustomization (or metadata.namespace), or Flux's targetNamespace");
                    f.object = Some(obj.clone());
                    c.findings.push(f);
                }
                // The first team label present (labels first, then the same keys as annotations).
                let team =
                    |field: &str| config.audit.team_labels.iter().find_map(|k| r.node.str_at(&["metadata", field, k]));
                if teams && let Some(team) = team("labels").or_else(|| team("annotations")) {
                    c.teams.push((obj.clone(), team.to_string()));
                }
                c.report.objects.push(obj);
            }
            c.findings.extend(admission.evaluate(registry, &rendered.resources).into_iter().map(|(i, loc, f)| {
                f.at(location(repo, loc)).entry_point(&name).object(Some(rendered.resources[i].object_ref()))
            }));
            // Keep last: built-in rules, then suppressions over every finding of the objects.
            let pe = crate::policy::EntryPoint { name: ep.name, path: ep.path, kind: ep.kind, complete: is_leaf };
            c.suppressions = crate::policy::check_entry_point(repo, config, &pe, &rendered, &mut c.findings);
        }
    }
    c
}

/// Test hook, compiled into debug builds only: `FLUXGATE_TEST_PANIC=<entry point>` makes that
/// entry point's check panic, so a test can prove the `catch_unwind` boundary turns a crash
/// into an `internal-error` finding for that entry point while the run goes on.
#[doc(hidden)]
fn panic_for_test(entry_point: &str) {
    if cfg!(debug_assertions) && std::env::var_os("FLUXGATE_TEST_PANIC").is_some_and(|v| v == entry_point) {
        panic!("FLUXGATE_TEST_PANIC: simulated crash while checking {entry_point}");
    }
}

fn internal_error(ep: &Ep) -> Checked {
    let mut c = Checked::empty(ep);
    c.findings.push(
        Finding::new(
            Rule::InternalError,
            "fluxgate crashed while checking this entry point; the rest of the run went on",
        )
        .entry_point(ep.name)
        .help("please report this with the repository layout that triggers it"),
    );
    c
}

/// Graph checks per cluster (dependsOn, sourceRef, paths, duplicates, valuesFrom, chart values)
/// and image automation markers across the repository.
fn graph_checks(repo: &Repo, discovery: &Discovery, entries: &[FluxEntry]) -> Vec<Finding> {
    let mut clusters: BTreeMap<&str, Vec<flux::graph::ClusterObject>> = BTreeMap::new();
    for e in entries {
        let objects = clusters.entry(affected::cluster_of(&e.name)).or_default();
        if let Ok(r) = &e.result {
            objects.extend(
                r.resources.iter().map(|resource| flux::graph::ClusterObject { entry_point: &e.name, resource }),
            );
        }
    }
    // The GitRepositories whose Kustomizations were rendered from this repository.
    let rendered: BTreeSet<&str> = entries.iter().filter(|e| e.result.is_ok()).map(|e| e.name.as_str()).collect();
    let repo_objects = std::sync::Arc::new(flux::provenance::RepoObjects::new(
        clusters.iter().flat_map(|(d, objs)| objs.iter().map(move |o| (*d, o.resource))),
    ));
    let mut out: Vec<Finding> = clusters
        .par_iter()
        .flat_map_iter(|(dir, objects)| {
            let sources = flux::graph::this_repo_sources(dir, objects, &rendered);
            let provenance = cluster_provenance(dir, objects, &repo_objects, entries);
            let opts = flux::graph::GraphOptions { repo_sources: Some(sources), provenance };
            let dir = RelPath::parse(dir).unwrap_or_default();
            flux::graph::check_cluster_with(repo, &dir, objects, &opts).into_iter().map(|g| g.finding)
        })
        .collect();
    let mut policies = flux::markers::image_policies(
        entries.iter().filter_map(|e| e.result.as_ref().ok()).flat_map(|r| r.resources.iter()),
    );
    for p in &discovery.files_with(&[Needle::ImagePolicy]) {
        if let Ok(parsed) = repo.load_yaml(p) {
            for doc in &parsed.docs {
                if doc.str_at(&["kind"]) == Some("ImagePolicy")
                    && doc.str_at(&["apiVersion"]).is_some_and(|a| a.starts_with("image.toolkit.fluxcd.io/"))
                    && let Some(name) = doc.str_at(&["metadata", "name"])
                {
                    let ns = doc.str_at(&["metadata", "namespace"]).unwrap_or("default");
                    policies.insert((ns.to_string(), name.to_string()));
                }
            }
        }
    }
    out.extend(
        flux::markers::check_markers(repo, &discovery.files_with(&[Needle::ImageMarker]), &policies)
            .into_iter()
            .map(|g| g.finding),
    );
    out
}

/// What may supply one cluster's objects beyond its render: operators fed by its objects,
/// the other cluster trees of the repository, and the gaps of its own render (entry points
/// that did not render, children whose source is not this repository).
fn cluster_provenance(
    dir: &str,
    objects: &[flux::graph::ClusterObject],
    repo_objects: &std::sync::Arc<flux::provenance::RepoObjects>,
    entries: &[FluxEntry],
) -> flux::provenance::Provenance {
    let mut gaps = Vec::new();
    // A failed render whose directory holds this tree's root directory: this "cluster" is
    // then most likely a child of that tree, whose other objects fluxgate has not seen.
    let inside = |d: &str| d == "." || d.is_empty() || dir == d || dir.starts_with(&format!("{d}/"));
    for e in entries.iter().filter(|e| e.result.is_err() && affected::cluster_of(&e.name) != dir && inside(&e.dir)) {
        gaps.push(format!("Flux Kustomization {}, which builds {} around this tree, did not render", e.key, e.dir));
    }
    for e in entries.iter().filter(|e| affected::cluster_of(&e.name) == dir) {
        if e.result.is_err() {
            gaps.push(format!("Flux Kustomization {} did not render", e.key));
        }
        for (d, child) in &e.child_notes {
            if d.rule == Rule::FluxSourceOutOfScope {
                gaps.push(format!(
                    "Kustomization '{}/{}' is built from a source that is not this repository",
                    child.namespace(),
                    child.name()
                ));
            }
        }
    }
    flux::provenance::Provenance::new(dir, objects.iter().map(|o| o.resource), repo_objects.clone(), gaps)
}

/// How Flux entry points are rendered: substitution is strict or lenient as `flux.substitution`
/// says, else as the Flux version the repository installs does.
fn flux_settings(repo: &Repo, config: &Config, discovery: &Discovery) -> Settings {
    let configured = config.flux.strict_configured.then_some(config.flux.strict);
    let s = flux::version::substitution(configured, &flux::version::installed(repo, discovery));
    Settings { strict: s.strict, variables: config.flux.variables.clone(), strict_why: s.why }
}

/// The Flux entry points of the repository, rendered (shares the engine's built bases).
pub fn flux_entries(repo: &Repo, config: &Config, engine: &Engine, discovery: &Discovery) -> Vec<FluxEntry> {
    let index = flux::entry::index(repo, discovery);
    let settings = flux_settings(repo, config, discovery);
    flux::tree::render_all(engine, &index, &config.flux.sources, &settings)
}

/// Renders the Flux entry points of a repository on their own (for `fluxgate render --flux`).
pub fn render_flux(repo: &Repo, config: &Config) -> Vec<FluxEntry> {
    let discovery = discover(repo, config);
    let engine = Engine::new(repo, LoadRestrictor::None);
    flux_entries(repo, config, &engine, &discovery)
}

/// An object-level finding seen identically (rule, location, message, object) under a plain
/// overlay and a Flux entry point is reported once, under the Flux entry point: that is
/// what the cluster gets.
fn drop_double_reports(findings: &mut Vec<Finding>, flux_names: &BTreeSet<String>) {
    if flux_names.is_empty() {
        return;
    }
    let is_flux = |f: &Finding| f.entry_point.as_ref().is_some_and(|n| flux_names.contains(n));
    let key = |f: &Finding| (f.rule, f.location.clone(), f.message.clone(), f.object.clone());
    let seen: BTreeSet<_> = findings.iter().filter(|f| f.object.is_some() && is_flux(f)).map(key).collect();
    findings.retain(|f| is_flux(f) || f.object.is_none() || !seen.contains(&key(f)));
}

/// The findings a render produced by itself (notes, the failure, children it could not render),
/// without checking any object: cheap, so entry points outside a shard still contribute them
/// to the cross-entry-point decisions that must not depend on the shard.
fn render_diag_findings(repo: &Repo, name: &str, result: &Result<Rendered, Failed>) -> Vec<Finding> {
    match result {
        Ok(r) => r.notes.iter().map(|d| diag_finding(repo, d, name)).collect(),
        Err(f) => f.notes.iter().chain(std::iter::once(&f.error)).map(|d| diag_finding(repo, d, name)).collect(),
    }
}

/// A shard's split weight: the objects an entry point rendered (checking cost grows with them).
fn weight(result: &Result<Rendered, Failed>) -> usize {
    1 + result.as_ref().map_or(0, |r| r.resources.len())
}

/// Options of one run beyond the repository's config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--base REF`: check only the entry points whose inputs differ between
    /// `git merge-base REF HEAD` and the working tree.
    pub base: Option<String>,
    /// `--shard I/N`: check and report only this shard's entry points.
    pub shard: Option<Shard>,
    /// Counts checked entry points as the run goes, for a progress bar (`fluxgate audit`).
    pub progress: Option<std::sync::Arc<Progress>>,
    /// Record each object's team (`audit.teamLabels`) in [`RunReport::teams`]; only the audit
    /// reads it, so `validate` does not pay for it.
    pub teams: bool,
}

/// Progress of a run, polled by the command line from another thread: `total` is 0 while
/// entry points are still being rendered, then the number to check; `done` counts checked ones.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: std::sync::atomic::AtomicUsize,
    pub done: std::sync::atomic::AtomicUsize,
}

impl Progress {
    fn tick(progress: Option<&Progress>) {
        if let Some(p) = progress {
            p.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Every entry point of a repository rendered once: plain overlays (a `None` result is a
/// renderer crash) and the Flux tree.
pub struct Renders {
    pub plain: Vec<(RelPath, Option<Result<Rendered, Failed>>)>,
    pub flux: Vec<FluxEntry>,
    pub flux_index: flux::entry::RepoIndex,
}

/// Renders every entry point the config asks for, sharing one engine (and its built bases).
pub fn render_entry_points(repo: &Repo, config: &Config, discovery: &Discovery) -> Renders {
    render_some(repo, config, discovery, None)
}

/// Like [`render_entry_points`], rendering only the plain overlays in `only` (when given);
/// the Flux tree is always rendered whole.
pub fn render_some(repo: &Repo, config: &Config, discovery: &Discovery, only: Option<&BTreeSet<RelPath>>) -> Renders {
    render_scoped(repo, config, discovery, only, None)
}

/// Like [`render_some`]; with a static graph and a change set, also leaves out the Flux
/// entry points below the cluster roots that the change cannot affect, when
/// [`static_deps::FluxScope`] finds that safe.
fn render_scoped(
    repo: &Repo,
    config: &Config,
    discovery: &Discovery,
    only: Option<&BTreeSet<RelPath>>,
    change: Option<(&static_deps::StaticGraph, &BTreeSet<RelPath>)>,
) -> Renders {
    let engine = Engine::new(repo, LoadRestrictor::None);
    let plain_dirs: &[RelPath] =
        if config.flux.entry_points == EntryPoints::Flux { &[] } else { &discovery.kustomize_dirs };
    // A `kind: Component` directory is not an entry point: its patches and resources are meant
    // for the kustomizations that include it, and it is checked there.
    let plain = plain_dirs
        .par_iter()
        .filter(|dir| only.is_none_or(|o| o.contains(*dir)))
        .filter(|dir| !engine.is_component(dir))
        .map(|dir| (dir.clone(), catch_unwind(AssertUnwindSafe(|| engine.render(dir))).ok()))
        .collect();
    let (flux, flux_index) = if config.flux.entry_points == EntryPoints::Kustomize {
        (Vec::new(), flux::entry::RepoIndex::default())
    } else {
        let index = flux::entry::index(repo, discovery);
        let settings = flux_settings(repo, config, discovery);
        let scope = change.and_then(|(graph, changed)| {
            static_deps::FluxScope::new(repo, graph, changed, discovery, &index, &config.flux.sources)
        });
        let flux = match &scope {
            Some(scope) => flux::tree::render_wanted(&engine, &index, &config.flux.sources, &settings, &|fk, dir| {
                scope.wants(repo, fk, dir)
            }),
            None => flux::tree::render_all(&engine, &index, &config.flux.sources, &settings),
        };
        (flux, index)
    };
    Renders { plain, flux, flux_index }
}

/// The names of the entry points a change set selects, among those rendered.
pub fn selected_names(repo: &Repo, renders: &Renders, sel: &affected::Selection) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (dir, r) in &renders.plain {
        let inputs = affected::plain_inputs(repo, dir, r.as_ref());
        if sel.selects(&inputs, dir, !matches!(r, Some(Ok(_)))) {
            out.insert(dir.to_string());
        }
    }
    let flux_inputs = affected::flux_inputs(repo, &renders.flux_index, &renders.flux);
    for e in &renders.flux {
        let dir = RelPath::parse(&e.dir).unwrap_or_default();
        let empty = BTreeSet::new();
        let inputs = flux_inputs.get(&e.name).unwrap_or(&empty);
        if sel.selects(inputs, &dir, e.result.is_err()) {
            out.insert(e.name.clone());
        }
    }
    out
}

/// The change set of `--base REF` and its selection, or why it cannot be computed.
pub fn change_selection(
    repo: &Repo,
    config: &Config,
    base: &str,
) -> Result<(changes::Changes, affected::Selection), String> {
    let c = changes::changes(repo.root(), base).map_err(|e| e.to_string())?;
    let root = repo.root().to_path_buf();
    let base_text = |p: &RelPath| changes::show(&root, &c.merge_base, &c.prefix, p);
    let sel = affected::selection(repo, config, &c, &base_text);
    Ok((c, sel))
}

/// Whether a path lies in a Helm chart directory (one of its ancestors holds `Chart.yaml`).
fn in_chart_dir(repo: &Repo, path: &RelPath) -> bool {
    let mut dir = path.parent();
    loop {
        if dir.join("Chart.yaml").is_some_and(|c| repo.is_file(&c)) {
            return true;
        }
        if dir.is_root() {
            return false;
        }
        dir = dir.parent();
    }
}

/// Validates a whole repository. Fails only when the run cannot be set up (unknown Kubernetes
/// version, bad `schemas.crds` path): every problem in the repository is a finding.
pub fn validate(repo: &Repo, config: &Config) -> Result<RunReport, String> {
    validate_with(repo, config, &RunOptions::default())
}

/// Validates one shard of a repository (all of it with `None`).
pub fn validate_shard(repo: &Repo, config: &Config, shard: Option<Shard>) -> Result<RunReport, String> {
    validate_with(repo, config, &RunOptions { shard, ..RunOptions::default() })
}

/// Validates a repository, optionally only what a change affects (`base`) and only one shard
/// (`shard`). Every entry point is rendered (bases are shared and memoised; leaf detection, the
/// Flux graph and cross-entry-point de-duplication need the whole picture) except, with
/// `base`, the plain overlays that a static reading of the kustomization files shows the
/// change cannot affect; only the entry points in scope are checked and reported. The base side is never validated, so what
/// was already broken there does not fail the change; the union of all N shards' reports is the
/// unsharded report.
pub fn validate_with(repo: &Repo, config: &Config, options: &RunOptions) -> Result<RunReport, String> {
    let scope = match &options.base {
        Some(base) => Some(change_selection(repo, config, base)?),
        None => None,
    };
    let shard = options.shard;
    let discovery = discover(repo, config);
    let mut registry = build_registry(repo, config, &discovery)?;
    let (admission, admission_findings) = AdmissionPolicies::load(repo, &config.admission);
    // With a change set, only the plain overlays whose static inputs meet it are rendered (a
    // superset of the exact selection), plus the overlays that may read their kustomization
    // files (so whether a selected overlay is a base stays exact).
    // Flux entry points below the cluster roots likewise, when that is safe (FluxScope).
    let graph = match &scope {
        Some((_, sel)) if sel.everything.is_none() => {
            Some(static_deps::StaticGraph::build(repo, &discovery.kustomize_dirs))
        }
        _ => None,
    };
    let only = graph.as_ref().filter(|_| config.flux.entry_points != EntryPoints::Flux).map(|graph| {
        let changed = scope.as_ref().map(|(_, sel)| &sel.changed);
        let mut only = changed.map(|c| graph.candidates(c)).unwrap_or_default();
        only.extend(graph.users_of(repo, &only));
        only
    });
    // A change inside a Helm chart of the repository reaches the HelmReleases that use it, which
    // only a rendered Flux tree finds: then every Flux entry point is rendered.
    let chart_changed = scope.as_ref().is_some_and(|(_, sel)| sel.changed.iter().any(|f| in_chart_dir(repo, f)));
    let change = graph.as_ref().zip(scope.as_ref().map(|(_, sel)| &sel.changed)).filter(|_| !chart_changed);
    let all = render_scoped(repo, config, &discovery, only.as_ref(), change);
    // HelmReleases render after the Flux tree (their values come from it); the CRDs their
    // charts yield join the registry before any object is checked.
    let helm_run = if config.flux.entry_points == EntryPoints::Kustomize {
        HelmRun::default()
    } else {
        crate::helm::release::render_all(repo, config, &all.flux, &registry)
    };
    for e in &helm_run.entries {
        for crd in &e.crds {
            registry.add_repo_crd(crd, &format!("the chart of HelmRelease {}", e.name));
        }
    }
    let mut selected = scope.as_ref().map(|(_, sel)| selected_names(repo, &all, sel));
    if let (Some(names), Some((_, sel))) = (&mut selected, &scope) {
        for e in &helm_run.entries {
            let chart_changed = e.chart_dir.as_ref().is_some_and(|d| sel.changed.iter().any(|f| f.starts_with(d)));
            if names.contains(&e.parent) || chart_changed || sel.everything.is_some() {
                names.insert(e.name.clone());
            }
        }
    }
    let is_selected = |name: &str| selected.as_ref().is_none_or(|s| s.contains(name));
    let Renders { plain: renders, flux: entries, .. } = all;
    // An entry point whose kustomization another one reads is a base (or component).
    let mut used: BTreeSet<RelPath> = BTreeSet::new();
    for (dir, r) in &renders {
        let own = kustomization_file(repo, dir);
        let files = match r {
            Some(Ok(x)) => &x.files,
            _ => continue,
        };
        used.extend(files.iter().filter(|f| Some(*f) != own.as_ref()).cloned());
    }
    let flux_names: BTreeSet<String> = entries.iter().map(|e| e.name.clone()).collect();
    let mut graph_findings = if entries.is_empty() { Vec::new() } else { graph_checks(repo, &discovery, &entries) };
    graph_findings.extend(admission_findings);
    if let Some((_, sel)) = &scope {
        // Graph findings of unselected entry points, and run-level ones in unchanged files,
        // belong to the base's state, not to this change.
        graph_findings.retain(|f| match &f.entry_point {
            Some(ep) => is_selected(ep),
            None => {
                sel.everything.is_some()
                    || f.location
                        .as_ref()
                        .and_then(|l| RelPath::parse(&l.file))
                        .is_none_or(|p| sel.changed.contains(&p))
            }
        });
    }

    // Which shard owns each entry point; `None` name (repo-wide) and unknown names go to shard 1.
    let owners: BTreeMap<String, usize> = match shard {
        None => BTreeMap::new(),
        Some(s) => {
            let mut weights = BTreeMap::new();
            for (dir, r) in &renders {
                weights.insert(dir.to_string(), r.as_ref().map_or(1, weight));
            }
            for e in &entries {
                weights.insert(e.name.clone(), weight(&e.result));
            }
            for e in &helm_run.entries {
                weights.insert(e.name.clone(), weight(&e.result));
            }
            crate::shard::assign(&weights, s.count())
        }
    };
    let in_shard = |name: Option<&str>| match shard {
        None => true,
        Some(s) => name.and_then(|n| owners.get(n)).map_or(s.owns_repo_wide(), |i| *i == s.index()),
    };
    let in_scope = |name: &str| in_shard(Some(name)) && is_selected(name);

    // Findings of entry points outside the scope, kept only until the scope-independent
    // decisions below are made, then dropped.
    let mut outside: Vec<Finding> = Vec::new();
    let progress = options.progress.as_deref();
    if let Some(p) = progress {
        let n = renders.iter().filter(|(d, _)| in_scope(d.as_str())).count()
            + entries.iter().filter(|e| in_scope(&e.name)).count();
        p.total.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }
    let (mine, others): (Vec<_>, Vec<_>) = renders.into_iter().partition(|(dir, _)| in_scope(dir.as_str()));
    for (dir, r) in &others {
        if let Some(r) = r {
            outside.extend(render_diag_findings(repo, dir.as_str(), r));
        }
    }
    let checker = Checker { repo, registry: &registry, config, admission: &admission, teams: options.teams };
    let mut results: Vec<Checked> = mine
        .into_par_iter()
        .map(|(dir, r)| {
            let is_leaf = kustomization_file(repo, &dir).is_none_or(|k| !used.contains(&k));
            let name = dir.to_string();
            let ep = Ep { name: &name, kind: EntryPointKind::Kustomize, path: &name };
            let checked = checker.check(&ep, r, is_leaf);
            Progress::tick(progress);
            checked
        })
        .collect();
    // A plain overlay's object finding is dropped when a Flux entry point reports it too, so a
    // Flux entry point outside the scope is still checked (not reported) when it read a file
    // that one of the in-scope plain-overlay object findings points into.
    let plain_files: BTreeSet<&str> = results
        .iter()
        .flat_map(|c| c.findings.iter())
        .filter(|f| f.object.is_some())
        .filter_map(|f| f.location.as_ref().map(|l| l.file.as_str()))
        .collect();
    let (mine, others): (Vec<FluxEntry>, Vec<FluxEntry>) = entries.into_iter().partition(|e| in_scope(&e.name));
    let (needed, rest): (Vec<FluxEntry>, Vec<FluxEntry>) = others
        .into_iter()
        .partition(|e| e.result.as_ref().is_ok_and(|r| r.files.iter().any(|f| plain_files.contains(f.as_str()))));
    drop(plain_files);
    for e in &rest {
        outside.extend(render_diag_findings(repo, &e.name, &e.result));
        outside.extend(e.child_notes.iter().map(|(d, res)| {
            let mut f = diag_finding(repo, d, &e.name);
            f.object = Some(res.object_ref());
            f
        }));
    }
    outside.extend(needed.into_par_iter().map(|e| checker.flux(e)).flat_map_iter(|c| c.findings).collect::<Vec<_>>());
    results.extend(
        mine.into_par_iter()
            .map(|e| {
                let checked = checker.flux(e);
                Progress::tick(progress);
                checked
            })
            .collect::<Vec<_>>(),
    );
    let HelmRun { entries: helm_entries, helm: helm_info } = helm_run;
    // helm validated these releases' values itself: its findings replace the graph check's.
    let helm_validated: BTreeSet<(String, crate::finding::ObjectRef)> = helm_entries
        .iter()
        .filter(|e| e.helm_validated)
        .map(|e| (affected::cluster_of(&e.parent).to_string(), e.object.clone()))
        .collect();
    graph_findings.retain(|f| {
        f.rule != Rule::FluxHelmValuesInvalid
            || !f
                .entry_point
                .as_deref()
                .zip(f.object.as_ref())
                .is_some_and(|(ep, o)| helm_validated.contains(&(affected::cluster_of(ep).to_string(), o.clone())))
    });
    let (mine, others): (Vec<HelmEntry>, Vec<HelmEntry>) = helm_entries.into_iter().partition(|e| in_scope(&e.name));
    for e in &others {
        outside.extend(render_diag_findings(repo, &e.name, &e.result));
    }
    results.extend(mine.into_par_iter().map(|e| checker.helm(e)).collect::<Vec<_>>());
    let mut coverage =
        SchemaCoverage { kubernetes_version: registry.kubernetes_version().to_string(), ..SchemaCoverage::default() };
    let mut unchecked: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut eps, mut findings, mut teams) = (Vec::new(), Vec::new(), BTreeMap::new());
    let mut suppressions = crate::policy::suppress::Usage::default();
    for c in results {
        suppressions.merge(c.suppressions);
        for (obj, team) in c.teams {
            teams.insert((c.report.name.clone(), obj), team);
        }
        coverage.checked += c.checked;
        coverage.total += c.total;
        coverage.cel_rules_skipped += c.cel_skipped;
        for (k, n) in c.unchecked {
            *unchecked.entry(k).or_default() += n;
        }
        eps.push(c.report);
        findings.extend(c.findings);
    }
    findings.extend(outside);
    drop_double_reports(&mut findings, &flux_names);
    // The tree already reports an unreadable spec.path (missing, or leaving the repository)
    // where it failed to render: the graph check's finding at that line would say it twice.
    let path_missing: BTreeSet<Option<Location>> = findings
        .iter()
        .filter(|f| matches!(f.rule, Rule::FluxPathMissing | Rule::PathOutsideRoot))
        .map(|f| f.location.clone())
        .collect();
    findings.extend(
        graph_findings.into_iter().filter(|f| f.rule != Rule::FluxPathMissing || !path_missing.contains(&f.location)),
    );
    findings.retain_mut(|f| {
        if f.rule != Rule::HelmChartUnavailable {
            return true;
        }
        match config.helm.unavailable {
            crate::config::Level::Error => f.severity = crate::finding::Severity::Error,
            crate::config::Level::Warning => f.severity = crate::finding::Severity::Warning,
            crate::config::Level::Off => return false,
        }
        true
    });
    for (file, err) in &registry.load_errors {
        findings.push(Finding::new(Rule::SchemaMissing, format!("cannot load schema catalog file {file}: {err}")));
    }
    findings.retain(|f| match f.entry_point.as_deref() {
        Some(n) if owners.contains_key(n) || flux_names.contains(n) || shard.is_none() => in_scope(n),
        other => in_shard(other),
    });
    let mut list: Vec<UncheckedKind> =
        unchecked.into_iter().map(|((api_version, kind), count)| UncheckedKind { api_version, kind, count }).collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)).then(a.api_version.cmp(&b.api_version)));
    coverage.unchecked = list;
    let mut change_scope = None;
    if let Some((c, sel)) = &scope {
        let removed = affected::removed_dirs(repo, config, c);
        if in_shard(None) {
            for dir in &removed {
                findings.push(
                    Finding::new(Rule::EntryPointRemoved, format!("the change removes the entry point {dir}"))
                        .entry_point(dir.to_string())
                        .help("check that no Flux Kustomization or overlay still points at this directory"),
                );
            }
        }
        change_scope = Some(ChangeScope {
            base: c.base.clone(),
            merge_base: c.merge_base.clone(),
            changed_files: c.files.iter().map(|f| f.to_string()).collect(),
            everything: sel.everything.clone(),
            removed_entry_points: removed.iter().map(|d| d.to_string()).collect(),
        });
    }
    let complete = shard.is_none() && scope.as_ref().is_none_or(|(_, sel)| sel.everything.is_some());
    crate::policy::finish(config, &mut findings, suppressions, complete);
    let mut report = RunReport::new(eps, findings);
    report.schema_coverage = Some(coverage);
    report.changes = change_scope;
    report.helm = helm_info;
    report.teams = teams;
    Ok(report)
}
