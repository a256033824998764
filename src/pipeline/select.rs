//! The select stage: which rendered entry points this run checks and reports, from the
//! change set of `--base` and the shard of `--shard`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Config;
use crate::flux::tree::FluxEntry;
use crate::gate::shard::Shard;
use crate::gate::{affected, changes};
use crate::kustomize::build::{Failed, Rendered, kustomization_file};
use crate::source::{RelPath, Repo};

use super::render::Renders;
use crate::helm::release::HelmRun;

/// The names of the entry points a change set selects, among those rendered.
pub fn selected_names(repo: &Repo, renders: &Renders, sel: &affected::Selection) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (dir, r) in &renders.plain {
        let inputs = affected::plain_inputs(repo, dir, r.as_ref());
        if sel.selects(&inputs, dir, !matches!(r, Some(Ok(_)))) || sel.referenced.contains(dir) {
            out.insert(dir.to_string());
        }
    }
    let flux_inputs = affected::flux_inputs(repo, &renders.flux_index, &renders.flux);
    let substitutes = affected::flux_substitutes(&renders.flux_index, &renders.flux);
    for e in &renders.flux {
        let dir = RelPath::parse(&e.dir).unwrap_or_default();
        let empty = BTreeSet::new();
        let inputs = flux_inputs.get(&e.name).unwrap_or(&empty);
        let source_changed = substitutes.get(&e.name).is_some_and(|s| !s.is_disjoint(&sel.config_names));
        if sel.selects(inputs, &dir, e.result.is_err()) || source_changed {
            out.insert(e.name.clone());
        }
    }
    // Whether a Kustomization is read on its own depends on what every tree includes: when the
    // change touches a tree, each such entry point may appear, vanish or change.
    if renders.flux.iter().any(|e| out.contains(&e.name)) {
        out.extend(renders.flux.iter().filter(|e| e.unapplied).map(|e| e.name.clone()));
    }
    select_subsumed_plain(repo, renders, sel, &mut out);
    out
}

/// A plain overlay that a Flux entry point builds is judged by it (its object findings are
/// the Flux entry point's): which overlays those are moves with the Flux trees. When the change
/// may move what the trees read (a selected Flux entry point fails, or a Flux Kustomization's
/// definition changed), the overlays a selected Flux entry point reads are selected, and so is
/// every overlay no Flux entry point reads now (one may have read it before).
fn select_subsumed_plain(repo: &Repo, renders: &Renders, sel: &affected::Selection, out: &mut BTreeSet<String>) {
    let selected_failed = renders.flux.iter().any(|e| e.result.is_err() && out.contains(&e.name));
    if renders.plain.is_empty() || !(selected_failed || sel.touches_flux_definitions(&renders.flux_index)) {
        return;
    }
    let read: Vec<(&FluxEntry, &BTreeSet<RelPath>)> =
        renders.flux.iter().filter_map(|e| Some((e, &e.result.as_ref().ok()?.files))).collect();
    for (dir, _) in &renders.plain {
        let Some(own) = kustomization_file(repo, dir) else { continue };
        let readers: Vec<&FluxEntry> = read.iter().filter(|(_, files)| files.contains(&own)).map(|(e, _)| *e).collect();
        if readers.is_empty() || readers.iter().any(|e| out.contains(&e.name)) {
            out.insert(dir.to_string());
        }
    }
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

/// A shard's split weight: the objects an entry point rendered (checking cost grows with them).
fn weight(result: &Result<Rendered, Failed>) -> usize {
    1 + result.as_ref().map_or(0, |r| r.resources.len())
}

/// The entry points a change set selects, with the HelmReleases whose parent it selects or
/// whose in-repo chart it changes.
pub(super) fn selected_with_helm(
    repo: &Repo,
    all: &Renders,
    helm_run: &HelmRun,
    sel: &affected::Selection,
) -> BTreeSet<String> {
    let mut names = selected_names(repo, all, sel);
    // A HelmRelease's chart source is often another Kustomization's object: when a selected
    // Flux entry point fails, renders a source, or a Flux Kustomization's definition changed,
    // every HelmRelease may have lost or changed its source.
    let sources_moved = sel.touches_flux_definitions(&all.flux_index)
        || all.flux.iter().filter(|e| names.contains(&e.name)).any(|e| match &e.result {
            Ok(r) => r.resources.iter().any(|x| x.api_version().starts_with("source.toolkit.fluxcd.io/")),
            Err(_) => true,
        });
    for e in &helm_run.entries {
        let chart_changed = e.chart_dir.as_ref().is_some_and(|d| sel.changed.iter().any(|f| f.starts_with(d)));
        if names.contains(&e.parent) || chart_changed || sources_moved || sel.everything.is_some() {
            names.insert(e.name.clone());
        }
    }
    names
}

/// Which entry points this run checks and reports: those the change selects (all without
/// `--base`) that its shard owns (all without `--shard`).
pub(super) struct Scope {
    pub shard: Option<Shard>,
    /// The shard that owns each entry point; repo-wide findings and unknown names go to shard 1.
    pub owners: BTreeMap<String, usize>,
    /// The names a change set selects; `None`: every entry point.
    selected: Option<BTreeSet<String>>,
}

impl Scope {
    pub fn new(shard: Option<Shard>, selected: Option<BTreeSet<String>>, all: &Renders, helm_run: &HelmRun) -> Scope {
        let owners = match shard {
            None => BTreeMap::new(),
            Some(s) => {
                let mut weights = BTreeMap::new();
                for (dir, r) in &all.plain {
                    weights.insert(dir.to_string(), r.as_ref().map_or(1, weight));
                }
                for e in &all.flux {
                    weights.insert(e.name.clone(), weight(&e.result));
                }
                for e in &helm_run.entries {
                    weights.insert(e.name.clone(), weight(&e.result));
                }
                crate::gate::shard::assign(&weights, s.count())
            }
        };
        Scope { shard, owners, selected }
    }

    /// Whether the change set selects this entry point.
    pub fn is_selected(&self, name: &str) -> bool {
        self.selected.as_ref().is_none_or(|s| s.contains(name))
    }

    /// Whether this run's shard owns an entry point (`None`: a repo-wide finding).
    pub fn in_shard(&self, name: Option<&str>) -> bool {
        match self.shard {
            None => true,
            Some(s) => name.and_then(|n| self.owners.get(n)).map_or(s.owns_repo_wide(), |i| *i == s.index()),
        }
    }

    /// Whether this run checks and reports an entry point.
    pub fn in_scope(&self, name: &str) -> bool {
        self.in_shard(Some(name)) && self.is_selected(name)
    }
}
