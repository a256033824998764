//! One run: discover, render every entry point in parallel, select what this run reports
//! (`--base`, `--shard`), check every object, and collect findings into a [`RunReport`]. Each
//! stage is a module of its own; [`validate_with`] reads as the list of stages. Library code:
//! it never prints and never exits.

mod assemble;
mod check;
#[cfg(test)]
mod gate_tests;
mod graph;
pub mod model;
mod reach;
mod registry;
mod render;
mod select;
mod stream;

use std::collections::BTreeSet;

use crate::check::memo::ObjectMemo;
use crate::config::{Config, EntryPoints};
use crate::discover::discover;
use crate::gate::shard::Shard;
use crate::helm::release::HelmRun;
use crate::policy::admission::AdmissionPolicies;
use crate::source::Repo;

pub use check::diag_finding;
pub use model::RunReport;
pub use registry::build_registry;
pub use render::{Renders, flux_entries, render_entry_points, render_flux, render_some};
pub use select::{change_selection, selected_names};

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
    /// The process ends with this run (the command line): the schema registry, whose compiled
    /// schemas take a few milliseconds to free piece by piece at the end of a small run, is
    /// left to the process exit.
    pub exit_after: bool,
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
/// `base`, the plain overlays and Flux leaves that a static reading shows the change cannot
/// affect; only the entry points in scope are checked and reported. The base side is never
/// validated, so what was already broken there does not fail the change; the union of all N
/// shards' reports is the unsharded report. A full run (neither) renders, checks and drops
/// each entry point in turn ([`stream`]), with the same report.
pub fn validate_with(repo: &Repo, config: &Config, options: &RunOptions) -> Result<RunReport, String> {
    // Discover: the change set, the files, the schemas and the admission policies. The change
    // set is git's answer (processes that mostly wait on the disk): asked on a thread of its
    // own while the walk of the repository runs, its error still comes first. The bundled
    // Kubernetes schemas (tens of milliseconds to decode) load meanwhile on a third thread.
    let (change, discovery) = std::thread::scope(|s| {
        let change = options.base.as_ref().map(|base| s.spawn(|| change_selection(repo, config, base)));
        let version = config.kubernetes_version.as_deref().unwrap_or(crate::schema::bundled::default_version());
        s.spawn(move || crate::schema::bundled::kubernetes(version));
        let discovery = discover(repo, config);
        let change = change.map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        (change, discovery)
    });
    let change = change.transpose()?;
    match change {
        None if options.shard.is_none() => {
            // The registry and the Flux index each read and parse their own files: side by side.
            let (registry, flux_index) = rayon::join(
                || build_registry(repo, config, &discovery),
                || render::flux_index(repo, config, &discovery),
            );
            let registry = registry?;
            let (admission, admission_findings) = AdmissionPolicies::load(repo, &config.admission);
            let loaded = Loaded { discovery, registry, flux_index, admission, admission_findings };
            Ok(validate_streamed(repo, config, options, loaded))
        }
        _ => validate_staged(repo, config, options, discovery, change),
    }
}

/// What the discover stage loaded for a run.
struct Loaded {
    discovery: crate::discover::Discovery,
    registry: crate::schema::registry::Registry,
    flux_index: crate::flux::entry::RepoIndex,
    admission: AdmissionPolicies,
    admission_findings: Vec<crate::finding::Finding>,
}

/// Sets the number of entry points a progress bar counts towards.
fn set_total(progress: Option<&Progress>, n: usize) {
    if let Some(p) = progress {
        p.total.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }
}

/// The warning of a run that found nothing to render: a green gate that checked nothing.
fn no_entry_points() -> crate::finding::Finding {
    crate::finding::Finding::new(
        crate::rules::Rule::NoEntryPoints,
        "no kustomization file and no Flux object under the root: nothing was rendered or checked",
    )
    .help("run fluxgate at the GitOps repository's root, or narrow the `ignore` globs of .fluxgate.yaml")
}

/// The HelmReleases the Flux tree names, rendered; their charts may hold CRDs, which join the
/// registry before any object is checked.
fn helm_releases(
    repo: &Repo,
    config: &Config,
    flux: &[crate::flux::tree::FluxEntry],
    registry: &mut crate::schema::registry::Registry,
) -> HelmRun {
    let helm_run = if config.flux.entry_points == EntryPoints::Kustomize {
        HelmRun::default()
    } else {
        crate::helm::release::render_all(repo, config, flux, registry)
    };
    for e in &helm_run.entries {
        for crd in &e.crds {
            registry.add_repo_crd(crd, &format!("the chart of HelmRelease {}", e.name));
        }
    }
    helm_run
}

/// A full run (every entry point, one shard) in the memory-lean order of [`stream`]: the Flux
/// tree and its HelmReleases rendered, checked and dropped, then each plain overlay rendered,
/// checked and dropped in turn. The report is byte-identical to [`validate_staged`]'s.
fn validate_streamed(repo: &Repo, config: &Config, options: &RunOptions, loaded: Loaded) -> RunReport {
    let Loaded { discovery, mut registry, flux_index, admission, admission_findings } = loaded;
    let progress = options.progress.as_deref();
    // Before helm: the entry points it checks do not depend on the CRDs helm's charts bring.
    let early_memo = ObjectMemo::default();
    let early_checker = check::Checker {
        repo,
        registry: &registry,
        config,
        admission: &admission,
        teams: options.teams,
        memo: &early_memo,
    };
    let early = stream::EarlyFlux::new(early_checker, progress);
    let plain_candidates: Vec<&crate::source::RelPath> = match config.flux.entry_points {
        EntryPoints::Flux => Vec::new(),
        _ => discovery.kustomize_dirs.iter().collect(),
    };
    let early_plain = stream::EarlyPlain::new(early_checker, &plain_candidates);
    let observer = |dir: &crate::source::RelPath, r: &_| early_plain.observe(dir, r);
    let engine =
        crate::kustomize::build::Engine::new(repo, crate::kustomize::build::LoadRestrictor::None).observed(&observer);
    // Each base is dropped once the overlays listing it are built: none is kept for the run.
    engine.expect_users(&discovery.kustomize_dirs);
    let (mut flux, flux_index) =
        render::flux_tree(repo, config, &discovery, flux_index, &engine, None, &|e| early.finish(e));
    stream::shrink_after_walk(&mut flux);
    let early = early.into_checked();
    let engine = engine.unobserved();
    let early_plain = early_plain.into_done();
    // The early checks' outcomes are not read again (the later checks run under a registry
    // with helm's chart CRDs, with a memo of their own): on huge, 36 MiB freed before the
    // Flux graph's checks, where the run peaks.
    drop(early_memo);
    let helm_run = helm_releases(repo, config, &flux, &mut registry);
    let flux_renders = Renders { plain: Vec::new(), flux, flux_index };
    let scope = select::Scope::new(None, None, &flux_renders, &helm_run);
    let flux_names: BTreeSet<String> = flux_renders.flux.iter().map(|e| e.name.clone()).collect();
    let plain_dirs = render::plain_dirs(config, &discovery, &engine);
    set_total(progress, plain_dirs.len() + flux_renders.flux.len());
    let memo = ObjectMemo::default();
    let checker =
        check::Checker { repo, registry: &registry, config, admission: &admission, teams: options.teams, memo: &memo };
    let mut namespaces: Vec<crate::kustomize::resource::Resource> =
        flux_renders.resources().filter(|r| stream::labelled_namespace(r)).cloned().collect();
    let reach = reach::FluxReach::of(repo, &flux_renders.flux);
    let nothing = plain_dirs.is_empty() && flux_renders.flux.is_empty() && helm_run.entries.is_empty();
    // The graph checks (whole clusters at once, a few of them) and the plain overlays no Flux
    // tree checked side by side: each alone leaves cores idle.
    let (graph_findings, (mut results, plain_namespaces)) = rayon::join(
        || graph::graph_findings(repo, config, &discovery, &flux_renders.flux, admission_findings, &scope, None),
        || stream::check_plain_streamed(&checker, &engine, &plain_dirs, &reach, progress, early_plain),
    );
    let flux_checked =
        check::check_all(&checker, flux_renders, helm_run, graph_findings, &scope, progress, early, &reach);
    drop(engine);
    namespaces.extend(plain_namespaces);
    // The staged order's: plain overlays, then Flux entry points, then HelmReleases.
    results.extend(flux_checked.results);
    check::apply_pod_security(&crate::policy::pod_security::PodSecurity::from_resources(&namespaces), &mut results);
    let mut checked = check::CheckedRun { results, ..flux_checked };
    if nothing {
        checked.outside.push(no_entry_points());
    }
    let report = assemble::report(repo, config, &registry, checked, &flux_names, &scope, None);
    release(registry, options);
    report
}

/// Frees the run's registry, or leaves it to the process exit ([`RunOptions::exit_after`]).
fn release(registry: crate::schema::registry::Registry, options: &RunOptions) {
    if options.exit_after {
        std::mem::forget(registry);
    }
}

/// A run in stages: every entry point rendered first, then selected (`--base`, `--shard`, which
/// need every render), then checked.
fn validate_staged(
    repo: &Repo,
    config: &Config,
    options: &RunOptions,
    discovery: crate::discover::Discovery,
    change: Option<(crate::gate::changes::Changes, crate::gate::affected::Selection)>,
) -> Result<RunReport, String> {
    // Render: plain overlays and the Flux tree (beside the schema registry, which only the
    // checks need), then the HelmReleases the tree names (the CRDs their charts yield join
    // the registry before any object is checked).
    let (registry, all) = rayon::join(
        || build_registry(repo, config, &discovery),
        || render::for_change(repo, config, &discovery, change.as_ref().map(|(_, sel)| sel)),
    );
    let mut registry = registry?;
    let (admission, admission_findings) = AdmissionPolicies::load(repo, &config.admission);
    let helm_run = helm_releases(repo, config, &all.flux, &mut registry);
    // Select: which entry points this run checks and reports.
    let selected = change.as_ref().map(|(_, sel)| select::selected_with_helm(repo, &all, &helm_run, sel));
    let scope = select::Scope::new(options.shard, selected, &all, &helm_run);
    // Check: every entry point in scope; the rest only for cross-entry-point decisions.
    let graph_findings =
        graph::graph_findings(repo, config, &discovery, &all.flux, admission_findings, &scope, change.as_ref());
    let flux_names: BTreeSet<String> = all.flux.iter().map(|e| e.name.clone()).collect();
    let nothing = all.plain.is_empty() && all.flux.is_empty() && helm_run.entries.is_empty();
    let levels = crate::policy::pod_security::PodSecurity::from_resources(all.resources());
    let memo = ObjectMemo::default();
    let checker =
        check::Checker { repo, registry: &registry, config, admission: &admission, teams: options.teams, memo: &memo };
    let progress = options.progress.as_deref();
    set_total(
        progress,
        all.plain.iter().filter(|(d, _)| scope.in_scope(&d.to_string())).count()
            + all.flux.iter().filter(|e| scope.in_scope(&e.name)).count(),
    );
    let reach = reach::FluxReach::of(repo, &all.flux);
    let mut checked = check::check_all(&checker, all, helm_run, graph_findings, &scope, progress, Vec::new(), &reach);
    check::apply_pod_security(&levels, &mut checked.results);
    if nothing && scope.in_shard(None) {
        checked.outside.push(no_entry_points());
    }
    // Report: one sorted, de-duplicated model.
    let report = assemble::report(repo, config, &registry, checked, &flux_names, &scope, change.as_ref());
    release(registry, options);
    Ok(report)
}
