//! The render stage: every entry point the config asks for, in parallel, sharing one engine
//! (and so every base built once): plain kustomize overlays and the Flux tree.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::config::{Config, EntryPoints};
use crate::discover::{Discovery, discover};
use crate::flux;
use crate::flux::render::Settings;
use crate::flux::tree::FluxEntry;
use crate::gate::static_deps;
use crate::kustomize::build::{Engine, Failed, LoadRestrictor, Rendered};
use crate::source::{RelPath, Repo};

/// Every entry point of a repository rendered once: plain overlays (a `None` result is a
/// renderer crash) and the Flux tree.
pub struct Renders {
    pub plain: Vec<(RelPath, Option<Result<Rendered, Failed>>)>,
    pub flux: Vec<FluxEntry>,
    pub flux_index: flux::entry::RepoIndex,
}

impl Renders {
    /// Every object that a plain overlay or Flux entry point rendered.
    pub fn resources(&self) -> impl Iterator<Item = &crate::kustomize::resource::Resource> {
        let plain = self.plain.iter().filter_map(|(_, r)| r.as_ref()?.as_ref().ok());
        let flux = self.flux.iter().filter_map(|e| e.result.as_ref().ok());
        plain.chain(flux).flat_map(|r| r.resources.iter())
    }
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
pub(super) fn render_scoped(
    repo: &Repo,
    config: &Config,
    discovery: &Discovery,
    only: Option<&BTreeSet<RelPath>>,
    change: Option<(&static_deps::StaticGraph, &BTreeSet<RelPath>)>,
) -> Renders {
    let engine = Engine::new(repo, LoadRestrictor::None);
    let plain = render_plain(config, discovery, &engine, |dir| only.is_none_or(|o| o.contains(dir)));
    let (flux, flux_index) =
        flux_tree(repo, config, discovery, flux_index(repo, config, discovery), &engine, change, &|_| {});
    Renders { plain, flux, flux_index }
}

/// The plain overlays `wanted` accepts, rendered with `engine`.
#[allow(clippy::type_complexity)]
fn render_plain(
    config: &Config,
    discovery: &Discovery,
    engine: &Engine,
    wanted: impl Fn(&RelPath) -> bool + Sync,
) -> Vec<(RelPath, Option<Result<Rendered, Failed>>)> {
    let plain_dirs: &[RelPath] =
        if config.flux.entry_points == EntryPoints::Flux { &[] } else { &discovery.kustomize_dirs };
    // A `kind: Component` directory is not an entry point: its patches and resources are meant
    // for the kustomizations that include it, and it is checked there.
    plain_dirs
        .par_iter()
        .filter(|dir| wanted(dir))
        .filter(|dir| !engine.is_component(dir))
        .map(|dir| (dir.clone(), catch_unwind(AssertUnwindSafe(|| engine.render(dir))).ok()))
        .collect()
}

/// The Flux tree the config asks for (none with `flux.entryPoints: kustomize`), rendered on
/// `engine`; with a static graph and a change set, without the entry points below the cluster
/// roots that the change cannot affect, when [`static_deps::FluxScope`] finds that safe.
/// `finish` sees each entry once the walk is done with it ([`flux::tree::Finish`]).
pub(super) fn flux_tree(
    repo: &Repo,
    config: &Config,
    discovery: &Discovery,
    index: flux::entry::RepoIndex,
    engine: &Engine,
    change: Option<(&static_deps::StaticGraph, &BTreeSet<RelPath>)>,
    finish: flux::tree::Finish,
) -> (Vec<FluxEntry>, flux::entry::RepoIndex) {
    if config.flux.entry_points == EntryPoints::Kustomize {
        return (Vec::new(), index);
    }
    let settings = flux_settings(repo, config, discovery);
    let scope = change.and_then(|(graph, changed)| {
        static_deps::FluxScope::new(repo, graph, changed, discovery, &index, &config.flux.sources)
    });
    let wanted =
        |fk: &flux::entry::FluxKustomization, dir: &RelPath| scope.as_ref().is_none_or(|s| s.wants(repo, fk, dir));
    let flux = flux::tree::render_wanted(engine, &index, &config.flux.sources, &settings, &wanted, finish);
    (flux, index)
}

/// The Flux index [`flux_tree`] walks (empty with `flux.entryPoints: kustomize`): computed on
/// its own so that a run can build it beside the schema registry.
pub(super) fn flux_index(repo: &Repo, config: &Config, discovery: &Discovery) -> flux::entry::RepoIndex {
    if config.flux.entry_points == EntryPoints::Kustomize {
        return flux::entry::RepoIndex::default();
    }
    flux::entry::index(repo, discovery)
}

/// The plain overlays a full run renders and checks: every kustomization directory that is
/// not a Component (none with `flux.entryPoints: flux`).
pub(super) fn plain_dirs<'d>(config: &Config, discovery: &'d Discovery, engine: &Engine) -> Vec<&'d RelPath> {
    if config.flux.entry_points == EntryPoints::Flux {
        return Vec::new();
    }
    discovery.kustomize_dirs.iter().filter(|dir| !engine.is_component(dir)).collect()
}

/// How Flux entry points are rendered: substitution is strict or lenient as `flux.substitution`
/// says, else as the Flux version the repository installs does.
fn flux_settings(repo: &Repo, config: &Config, discovery: &Discovery) -> Settings {
    let configured = config.flux.strict_configured.then_some(config.flux.strict);
    let s = flux::version::substitution(configured, &flux::version::installed(repo, discovery));
    Settings {
        strict: s.strict,
        variables: config.flux.variables.clone(),
        strict_why: s.why,
        injecting_webhook: flux::version::injecting_webhook(repo, discovery),
        cluster: config.cluster.clone(),
    }
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

/// Renders what a run with this change set needs. With a change set, only the plain overlays
/// whose static inputs meet it are rendered (a superset of the exact selection), plus the
/// overlays that may read their kustomization files (so whether a selected overlay is a base
/// stays exact); Flux entry points below the cluster roots likewise, when that is safe
/// ([`static_deps::FluxScope`]). A change inside a Helm chart of the repository reaches the
/// HelmReleases that use it, which only a rendered Flux tree finds: then every Flux entry
/// point is rendered.
pub(super) fn for_change(
    repo: &Repo,
    config: &Config,
    discovery: &Discovery,
    sel: Option<&crate::gate::affected::Selection>,
) -> Renders {
    let graph = match sel {
        Some(sel) if sel.everything.is_none() => Some(static_deps::StaticGraph::build(repo, &discovery.kustomize_dirs)),
        _ => None,
    };
    let only = graph.as_ref().filter(|_| config.flux.entry_points != EntryPoints::Flux).map(|graph| {
        let changed = sel.map(|sel| &sel.changed);
        let mut only = changed.map(|c| graph.candidates(c)).unwrap_or_default();
        only.extend(sel.into_iter().flat_map(|s| s.referenced.iter().cloned()));
        only.extend(graph.users_of(repo, &only));
        only
    });
    let chart_changed = sel.is_some_and(|sel| sel.changed.iter().any(|f| in_chart_dir(repo, f)));
    let change = graph.as_ref().zip(sel.map(|sel| &sel.changed)).filter(|_| !chart_changed);
    let mut renders = render_scoped(repo, config, discovery, only.as_ref(), change);
    // Which overlays a Flux entry point builds (and so judges) may move when a Flux entry point
    // fails or a Flux Kustomization's definition changed: every overlay is then a candidate.
    let flux_moved = sel.is_some_and(|sel| {
        sel.touches_flux_definitions(&renders.flux_index) || renders.flux.iter().any(|e| e.result.is_err())
    });
    if let (Some(only), true) = (&only, flux_moved) {
        let engine = Engine::new(repo, LoadRestrictor::None);
        renders.plain.extend(render_plain(config, discovery, &engine, |dir| !only.contains(dir)));
        renders.plain.sort_by(|a, b| a.0.cmp(&b.0));
    }
    renders
}
