//! One `validate` run: discover, render every entry point in parallel, check every object, and
//! collect findings into a [`RunReport`]. Library code: it never prints and never exits.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::check::objects;
use crate::config::{Config, EntryPoints};
use crate::discover::{Discovery, affected, changes, discover};
use crate::finding::{Finding, Location};
use crate::flux;
use crate::flux::render::Settings;
use crate::flux::tree::FluxEntry;
use crate::kustomize::build::{Engine, Failed, LoadRestrictor, Rendered, kustomization_file};
use crate::kustomize::diag::Diag;
use crate::kustomize::resource::is_cluster_scoped;
use crate::report::{
    ChangeScope, EntryPointKind, EntryPointReport, RunReport, SchemaCoverage, SourceText, UncheckedKind,
};
use crate::rules::Rule;
use crate::schema::registry::Registry;
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
    let mut files: BTreeSet<RelPath> = d.yaml_files.iter().cloned().collect();
    for extra in &config.crds {
        let p = RelPath::parse(extra).ok_or_else(|| format!("schemas.crds path '{extra}' leaves the repository"))?;
        if repo.is_dir(&p) {
            let mut sub = Discovery::default();
            crate::discover::walk_yaml(repo, &p, &mut sub.yaml_files);
            files.extend(sub.yaml_files);
        } else if repo.is_file(&p) {
            files.insert(p);
        } else {
            return Err(format!("schemas.crds path '{extra}' does not exist"));
        }
    }
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
    findings: Vec<Finding>,
    checked: usize,
    total: usize,
    cel_skipped: usize,
    unchecked: BTreeMap<(String, String), usize>,
}

/// What is being checked: an entry point's name, kind and rendered directory.
struct Ep<'a> {
    name: &'a str,
    kind: EntryPointKind,
    path: &'a str,
}

fn check_rendered(
    repo: &Repo,
    registry: &Registry,
    config: &Config,
    ep: &Ep,
    result: Result<Rendered, Failed>,
    is_leaf: bool,
) -> Checked {
    let name = ep.name.to_string();
    let mut c = Checked {
        report: EntryPointReport {
            name: name.clone(),
            kind: ep.kind,
            path: ep.path.to_string(),
            rendered: false,
            objects: Vec::new(),
        },
        findings: Vec::new(),
        checked: 0,
        total: 0,
        cel_skipped: 0,
        unchecked: BTreeMap::new(),
    };
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
                c.report.objects.push(obj);
            }
        }
    }
    c
}

fn internal_error(ep: &Ep) -> Checked {
    let name = ep.name.to_string();
    Checked {
        report: EntryPointReport {
            name: name.clone(),
            kind: ep.kind,
            path: ep.path.to_string(),
            rendered: false,
            objects: Vec::new(),
        },
        findings: vec![
            Finding::new(
                Rule::InternalError,
                "fluxgate crashed while checking this entry point; the rest of the run went on",
            )
            .entry_point(name)
            .help("please report this with the repository layout that triggers it"),
        ],
        checked: 0,
        total: 0,
        cel_skipped: 0,
        unchecked: BTreeMap::new(),
    }
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
    let mut out: Vec<Finding> = clusters
        .par_iter()
        .flat_map_iter(|(dir, objects)| {
            let mut sources = BTreeSet::new();
            for o in objects.iter().map(|o| o.resource) {
                let ns = if o.namespace().is_empty() { "default" } else { o.namespace() };
                let is_rendered = o.kind() == "Kustomization"
                    && o.gvk().group == flux::graph::KUSTOMIZE_GROUP
                    && rendered.contains(format!("{dir}/{ns}/{}", o.name()).as_str());
                if is_rendered && o.node.str_at(&["spec", "sourceRef", "kind"]) == Some("GitRepository") {
                    let src_ns = o.node.str_at(&["spec", "sourceRef", "namespace"]).unwrap_or(ns);
                    if let Some(name) = o.node.str_at(&["spec", "sourceRef", "name"]) {
                        sources.insert((src_ns.to_string(), name.to_string()));
                    }
                }
            }
            let opts = flux::graph::GraphOptions { repo_sources: Some(sources) };
            let dir = RelPath::parse(dir).unwrap_or_default();
            flux::graph::check_cluster_with(repo, &dir, objects, &opts).into_iter().map(|g| g.finding)
        })
        .collect();
    let mut policies = flux::markers::image_policies(
        entries.iter().filter_map(|e| e.result.as_ref().ok()).flat_map(|r| r.resources.iter()),
    );
    for p in &discovery.yaml_files {
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
    out.extend(flux::markers::check_markers(repo, &discovery.yaml_files, &policies).into_iter().map(|g| g.finding));
    out
}

/// The Flux entry points of the repository, rendered (shares the engine's built bases).
pub fn flux_entries(repo: &Repo, config: &Config, engine: &Engine, discovery: &Discovery) -> Vec<FluxEntry> {
    let index = flux::entry::index(repo, &discovery.yaml_files);
    let settings = Settings { strict: config.flux.strict, variables: config.flux.variables.clone() };
    flux::tree::render_all(engine, &index, &config.flux.sources, &settings)
}

/// Renders the Flux entry points of a repository on their own (for `fluxgate render --flux`).
pub fn render_flux(repo: &Repo, config: &Config) -> Vec<FluxEntry> {
    let discovery = discover(repo, config);
    let engine = Engine::new(repo, LoadRestrictor::None);
    flux_entries(repo, config, &engine, &discovery)
}

fn check_flux(repo: &Repo, registry: &Registry, config: &Config, e: FluxEntry) -> Checked {
    let ep = Ep { name: &e.name, kind: EntryPointKind::Flux, path: &e.dir };
    let mut c = catch_unwind(AssertUnwindSafe(|| check_rendered(repo, registry, config, &ep, e.result.clone(), true)))
        .unwrap_or_else(|_| internal_error(&ep));
    for (d, res) in &e.child_notes {
        let mut f = diag_finding(repo, d, &e.name);
        f.object = Some(res.object_ref());
        c.findings.push(f);
    }
    c
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

/// Options of one run beyond the repository's config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--base REF`: check only the entry points whose inputs differ between
    /// `git merge-base REF HEAD` and the working tree.
    pub base: Option<String>,
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
    let engine = Engine::new(repo, LoadRestrictor::None);
    let plain_dirs: &[RelPath] =
        if config.flux.entry_points == EntryPoints::Flux { &[] } else { &discovery.kustomize_dirs };
    let plain = plain_dirs
        .par_iter()
        .map(|dir| (dir.clone(), catch_unwind(AssertUnwindSafe(|| engine.render(dir))).ok()))
        .collect();
    let (flux, flux_index) = if config.flux.entry_points == EntryPoints::Kustomize {
        (Vec::new(), flux::entry::RepoIndex::default())
    } else {
        let index = flux::entry::index(repo, &discovery.yaml_files);
        let settings = Settings { strict: config.flux.strict, variables: config.flux.variables.clone() };
        (flux::tree::render_all(&engine, &index, &config.flux.sources, &settings), index)
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

/// Validates a whole repository. Fails only when the run cannot be set up (unknown Kubernetes
/// version, bad `schemas.crds` path): every problem in the repository is a finding.
pub fn validate(repo: &Repo, config: &Config) -> Result<RunReport, String> {
    validate_with(repo, config, &RunOptions::default())
}

/// Validates a repository, or with `options.base` only what a change affects. Head's entry
/// points are all rendered (cheap: shared bases are built once) and only the affected ones are
/// checked; the base side is never validated, so what was already broken there does not fail
/// the change.
pub fn validate_with(repo: &Repo, config: &Config, options: &RunOptions) -> Result<RunReport, String> {
    let scope = match &options.base {
        Some(base) => Some(change_selection(repo, config, base)?),
        None => None,
    };
    let discovery = discover(repo, config);
    let registry = build_registry(repo, config, &discovery)?;
    let Renders { plain: renders, flux: entries, flux_index } = render_entry_points(repo, config, &discovery);
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
    let mut all = Renders { plain: renders, flux: entries, flux_index };
    let selected = scope.as_ref().map(|(_, sel)| selected_names(repo, &all, sel));
    let is_selected = |name: &str| selected.as_ref().is_none_or(|s| s.contains(name));
    all.plain.retain(|(dir, _)| is_selected(dir.as_str()));
    let mut results: Vec<Checked> = std::mem::take(&mut all.plain)
        .into_par_iter()
        .map(|(dir, r)| {
            let is_leaf = kustomization_file(repo, &dir).is_none_or(|k| !used.contains(&k));
            let name = dir.to_string();
            let ep = Ep { name: &name, kind: EntryPointKind::Kustomize, path: &name };
            match r {
                Some(r) => catch_unwind(AssertUnwindSafe(|| check_rendered(repo, &registry, config, &ep, r, is_leaf)))
                    .unwrap_or_else(|_| internal_error(&ep)),
                None => internal_error(&ep),
            }
        })
        .collect();
    let mut flux_names: BTreeSet<String> = BTreeSet::new();
    let mut graph_findings = Vec::new();
    if config.flux.entry_points != EntryPoints::Kustomize {
        let entries = std::mem::take(&mut all.flux);
        flux_names.extend(entries.iter().map(|e| e.name.clone()));
        graph_findings = graph_checks(repo, &discovery, &entries);
        if let Some((_, sel)) = &scope {
            // Graph findings of unselected entry points, and run-level ones in unchanged
            // files, belong to the base's state, not to this change.
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
        let entries: Vec<FluxEntry> = entries.into_iter().filter(|e| is_selected(&e.name)).collect();
        results.extend(entries.into_par_iter().map(|e| check_flux(repo, &registry, config, e)).collect::<Vec<_>>());
    }
    let mut coverage =
        SchemaCoverage { kubernetes_version: registry.kubernetes_version().to_string(), ..SchemaCoverage::default() };
    let mut unchecked: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut eps, mut findings) = (Vec::new(), Vec::new());
    for c in results {
        coverage.checked += c.checked;
        coverage.total += c.total;
        coverage.cel_rules_skipped += c.cel_skipped;
        for (k, n) in c.unchecked {
            *unchecked.entry(k).or_default() += n;
        }
        eps.push(c.report);
        findings.extend(c.findings);
    }
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
    for (file, err) in &registry.load_errors {
        findings.push(Finding::new(Rule::SchemaMissing, format!("cannot load schema catalog file {file}: {err}")));
    }
    let mut list: Vec<UncheckedKind> =
        unchecked.into_iter().map(|((api_version, kind), count)| UncheckedKind { api_version, kind, count }).collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)).then(a.api_version.cmp(&b.api_version)));
    coverage.unchecked = list;
    let mut change_scope = None;
    if let Some((c, sel)) = &scope {
        let removed = affected::removed_dirs(repo, config, c);
        for dir in &removed {
            findings.push(
                Finding::new(Rule::EntryPointRemoved, format!("the change removes the entry point {dir}"))
                    .entry_point(dir.to_string())
                    .help("check that no Flux Kustomization or overlay still points at this directory"),
            );
        }
        change_scope = Some(ChangeScope {
            base: c.base.clone(),
            merge_base: c.merge_base.clone(),
            changed_files: c.files.iter().map(|f| f.to_string()).collect(),
            everything: sel.everything.clone(),
            removed_entry_points: removed.iter().map(|d| d.to_string()).collect(),
        });
    }
    let mut report = RunReport::new(eps, findings);
    report.schema_coverage = Some(coverage);
    report.changes = change_scope;
    Ok(report)
}
