//! The report stage: the checked entry points and every finding merged into one sorted,
//! de-duplicated [`RunReport`], kept to this run's scope, with schema coverage and the change
//! scope of `--base`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Level};
use crate::finding::{Finding, Location, Severity};
use crate::gate::{affected, changes};
use crate::rules::Rule;
use crate::schema::registry::{Registry, Resolved};
use crate::source::{RelPath, Repo};

use super::check::{CheckedRun, drop_double_reports};
use super::model::{ChangeScope, CheckedKind, EntryPointReport, RunReport, SchemaCoverage, UncheckedKind};
use super::select::Scope;

/// Builds the run's report.
pub(super) fn report(
    repo: &Repo,
    config: &Config,
    registry: &Registry,
    checked: CheckedRun,
    flux_names: &BTreeSet<String>,
    scope: &Scope,
    change: Option<&(changes::Changes, affected::Selection)>,
) -> RunReport {
    let CheckedRun { results, outside, graph_findings, helm, helm_skipped } = checked;
    let mut coverage =
        SchemaCoverage { kubernetes_version: registry.kubernetes_version().to_string(), ..SchemaCoverage::default() };
    let mut unchecked: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut checked_kinds: BTreeMap<(String, String), usize> = BTreeMap::new();
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
        for (k, n) in c.checked_kinds {
            *checked_kinds.entry(k).or_default() += n;
        }
        eps.push(c.report);
        findings.extend(c.findings);
    }
    findings.extend(outside);
    drop_double_reports(&mut findings, flux_names);
    merge_run_findings(&mut findings, graph_findings, config, registry);
    findings.retain(|f| match f.entry_point.as_deref() {
        Some(n) if scope.owners.contains_key(n) || flux_names.contains(n) || scope.shard.is_none() => scope.in_scope(n),
        other => scope.in_shard(other),
    });
    (coverage.unchecked, coverage.checked_kinds) = kinds_with_sources(registry, unchecked, checked_kinds);
    let skipped = collapse_helm_skipped(&helm_skipped, scope, &mut eps, &mut findings);
    let change_scope = change.map(|(c, sel)| change_scope(repo, config, c, sel, scope, flux_names, &mut findings));
    let complete = scope.shard.is_none() && change.is_none_or(|(_, sel)| sel.everything.is_some());
    crate::policy::finish(config, &mut findings, suppressions, complete);
    let mut report = RunReport::new(eps, findings);
    report.summary.entry_points_skipped = skipped;
    report.schema_coverage = Some(coverage);
    report.changes = change_scope;
    report.helm = helm;
    report.teams = teams;
    report
}

/// A missing helm binary is one finding for the run (in the shard that owns repo-wide
/// findings), not one per HelmRelease, and the HelmReleases it skipped are not entry points that
/// failed to render (nothing was tried): they leave the entry point list. Returns how many
/// were skipped, as this shard counts them.
fn collapse_helm_skipped(
    skipped: &BTreeSet<String>,
    scope: &Scope,
    eps: &mut Vec<EntryPointReport>,
    findings: &mut Vec<Finding>,
) -> usize {
    if skipped.is_empty() {
        return 0;
    }
    findings.retain(|f| f.rule != Rule::HelmSkipped);
    eps.retain(|e| !skipped.contains(&e.name));
    if !scope.in_shard(None) {
        return 0;
    }
    let n = skipped.len();
    const SHOWN: usize = 10;
    let names: Vec<&str> = skipped.iter().map(String::as_str).take(SHOWN).collect();
    let more = n.saturating_sub(SHOWN);
    let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
    findings.push(
        Finding::new(
            Rule::HelmSkipped,
            format!(
                "{n} HelmRelease{} not rendered: helm not found; install helm or set helm.binary",
                if n == 1 { "" } else { "s" }
            ),
        )
        .help(format!(
            "their charts' output is not checked ({}{tail}); helm is looked up as helm.binary, FLUXGATE_HELM, then PATH",
            names.join(", ")
        )),
    );
    n
}

/// The coverage's kind lists: unchecked kinds (most frequent first) with a hint each, and
/// checked kinds with where their schema came from.
fn kinds_with_sources(
    registry: &Registry,
    unchecked: BTreeMap<(String, String), usize>,
    checked: BTreeMap<(String, String), usize>,
) -> (Vec<UncheckedKind>, Vec<CheckedKind>) {
    let mut list: Vec<UncheckedKind> = unchecked
        .into_iter()
        .map(|((api_version, kind), count)| {
            let hint = match &*registry.lookup(&api_version, &kind) {
                Resolved::Removed { removed_in, replacement } => {
                    format!("removed in Kubernetes 1.{removed_in}: use apiVersion {replacement}")
                }
                Resolved::UnknownBuiltin { .. } => {
                    format!("Kubernetes {} serves no such kind at this apiVersion", registry.kubernetes_version())
                }
                _ => registry.missing_hint(&api_version, &kind),
            };
            UncheckedKind { api_version, kind, count, hint }
        })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)).then(a.api_version.cmp(&b.api_version)));
    let checked = checked
        .into_iter()
        .filter_map(|((api_version, kind), count)| {
            let Resolved::Schema { origin, .. } = &*registry.lookup(&api_version, &kind) else { return None };
            let (source_type, source) = (origin.source_type().to_string(), origin.to_string());
            Some(CheckedKind { api_version, kind, count, source_type, source })
        })
        .collect();
    (list, checked)
}

/// Adds the run-level findings: the graph's (without a second report of an unreadable
/// `spec.path` the tree already reported where it failed to render), helm's unavailable
/// charts at the configured level, and schema catalog files that did not load.
fn merge_run_findings(findings: &mut Vec<Finding>, graph_findings: Vec<Finding>, config: &Config, registry: &Registry) {
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
            Level::Error => f.severity = Severity::Error,
            Level::Warning => f.severity = Severity::Warning,
            Level::Off => return false,
        }
        true
    });
    for (file, err) in &registry.load_errors {
        findings.push(Finding::new(Rule::SchemaMissing, format!("cannot load schema catalog file {file}: {err}")));
    }
}

/// What a `--base` run compared, with a finding for every entry point the change removes.
fn change_scope(
    repo: &Repo,
    config: &Config,
    c: &changes::Changes,
    sel: &affected::Selection,
    scope: &Scope,
    flux_names: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
) -> ChangeScope {
    let mut removed: Vec<String> = affected::removed_dirs(repo, config, c).iter().map(|d| d.to_string()).collect();
    if scope.in_shard(None) {
        for dir in &removed {
            findings.push(
                Finding::new(Rule::EntryPointRemoved, format!("the change removes the entry point {dir}"))
                    .entry_point(dir.to_string())
                    .help("check that no Flux Kustomization or overlay still points at this directory"),
            );
        }
    }
    let flux_removed = removed_flux_entries(sel, flux_names);
    if scope.in_shard(None) {
        for (name, (ns, ks)) in &flux_removed {
            findings.push(
                Finding::new(
                    Rule::EntryPointRemoved,
                    format!("the change removes Flux Kustomization {ns}/{ks}: with prune enabled, Flux deletes what it applied"),
                )
                .entry_point(name.clone())
                .help("if it was renamed, its objects are deleted and created again under the new name"),
            );
        }
    }
    let moved = moved_flux_roots(sel, flux_names);
    if scope.in_shard(None) {
        for (old, file) in &moved {
            findings.push(
                Finding::new(
                    Rule::EntryPointRemoved,
                    format!(
                        "the change moves this cluster root's spec.path in {file}: Flux no longer builds it from here"
                    ),
                )
                .entry_point(old.clone())
                .help("objects the old path applied and the new one does not are pruned by Flux"),
            );
        }
    }
    removed.extend(flux_removed.into_keys());
    removed.extend(moved.into_keys());
    ChangeScope {
        base: c.base.clone(),
        merge_base: c.merge_base.clone(),
        changed_files: c.files.iter().map(|f| f.to_string()).collect(),
        everything: sel.everything.clone(),
        removed_entry_points: removed,
    }
}

/// The old names of cluster roots whose `spec.path` the change moved, with their file: a
/// Kustomization whose base path held its own file synced itself, and a root is named after
/// its path (`<path>/<namespace>/<name>`); when no entry point of that name remains, the old
/// one is gone.
fn moved_flux_roots(sel: &affected::Selection, flux_names: &BTreeSet<String>) -> BTreeMap<String, RelPath> {
    let mut out = BTreeMap::new();
    for ((ns, name), (file, base_path)) in &sel.flux_moved {
        let Some(dir) = RelPath::parse(base_path.trim_start_matches("./").trim_end_matches('/')) else { continue };
        if !dir.is_root() && !file.starts_with(&dir) {
            continue;
        }
        let cluster = if dir.is_root() { ".".to_string() } else { dir.to_string() };
        let old = format!("{cluster}/{ns}/{name}");
        if !flux_names.contains(&old) {
            out.insert(old, file.clone());
        }
    }
    out
}

/// The Flux entry points a change removes, by name: a Kustomization a changed file defined at
/// the base and no longer does, in the cluster whose directory holds that file (else the only
/// cluster; else, for a root read on its own, the file's directory), when no entry point of
/// that name remains.
fn removed_flux_entries(
    sel: &affected::Selection,
    flux_names: &BTreeSet<String>,
) -> BTreeMap<String, (String, String)> {
    let clusters: BTreeSet<&str> = flux_names.iter().map(|n| crate::flux::entry::cluster_of(n)).collect();
    let mut out = BTreeMap::new();
    for ((ns, name), file) in &sel.flux_removed {
        let suffix = format!("/{ns}/{name}");
        let holder = clusters.iter().filter(|k| !k.is_empty() && file.as_str().starts_with(&format!("{k}/"))).max();
        let cluster = match (holder, clusters.len()) {
            (Some(k), _) => k.to_string(),
            (None, 1) => clusters.first().map(|k| k.to_string()).unwrap_or_default(),
            _ => file.parent().to_string(),
        };
        if !flux_names.iter().any(|n| n.ends_with(&suffix)) {
            out.insert(format!("{cluster}{suffix}"), (ns.clone(), name.clone()));
        }
    }
    out
}
