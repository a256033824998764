//! The check stage: every object of one rendered entry point through schema, policy and
//! admission checks, with a renderer crash contained to its entry point; and the checks of the
//! Flux graph as a whole.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::check::memo::ObjectMemo;
use crate::check::objects;
use crate::config::Config;
use crate::finding::{Finding, ObjectRef, location};
use crate::flux;
use crate::flux::tree::FluxEntry;
use crate::helm::release::{HelmEntry, HelmInfo, HelmRun};
use crate::kustomize::build::{Failed, Rendered, kustomization_file};
use crate::kustomize::diag::{BuildFlag, Diag};
use crate::kustomize::resource::{Resource, is_cluster_scoped};
use crate::policy::admission::AdmissionPolicies;
use crate::rules::Rule;
use crate::schema::registry::Registry;
use crate::source::{Loc, RelPath, Repo};

use super::Progress;
use super::model::{EntryPointKind, EntryPointReport};
use super::reach::FluxReach;
use super::render::Renders;
use super::select::Scope;

/// Turns a render diagnostic into a finding of an entry point.
pub fn diag_finding(repo: &Repo, d: &Diag, entry_point: &str) -> Finding {
    let mut f = Finding::new(d.rule, d.message.clone()).at(location(repo, d.loc)).entry_point(entry_point);
    f.help = d.help.clone();
    f
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
pub(super) struct Checked {
    pub report: EntryPointReport,
    /// Objects carrying one of the config's team labels, with its value.
    pub teams: Vec<(ObjectRef, String)>,
    pub findings: Vec<Finding>,
    pub checked: usize,
    pub total: usize,
    pub cel_skipped: usize,
    pub unchecked: BTreeMap<(String, String), usize>,
    /// Objects checked against a schema, per (apiVersion, kind).
    pub checked_kinds: BTreeMap<(String, String), usize>,
    /// Which `fluxgate.io/ignore` annotations matched (merged over the run).
    pub suppressions: crate::policy::suppress::Usage,
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
            checked_kinds: BTreeMap::new(),
            suppressions: Default::default(),
        }
    }
}

/// What is being checked: an entry point's name, kind and rendered directory.
pub(super) struct Ep<'a> {
    pub name: &'a str,
    pub kind: EntryPointKind,
    pub path: &'a str,
}

/// What every entry point's check reads: the repository, its schemas, the config and the
/// admission policies, loaded once per run.
#[derive(Clone, Copy)]
pub(super) struct Checker<'a> {
    pub repo: &'a Repo,
    pub registry: &'a Registry,
    pub config: &'a Config,
    pub admission: &'a AdmissionPolicies,
    /// Whether to record each object's team (see [`super::RunOptions::teams`]).
    pub teams: bool,
    /// Per-object outcomes under this registry: an object many renders share is checked once.
    pub memo: &'a ObjectMemo,
}

impl Checker<'_> {
    /// Checks one entry point's render (`None`: the renderer crashed). A panic while checking
    /// becomes an internal-error finding of this entry point only; the run goes on.
    pub(super) fn check(&self, ep: &Ep, result: Option<&Result<Rendered, Failed>>, is_leaf: bool) -> Checked {
        match result {
            Some(r) => catch_unwind(AssertUnwindSafe(|| check_rendered(*self, ep, r, is_leaf)))
                .unwrap_or_else(|_| internal_error(ep)),
            None => internal_error(ep),
        }
    }

    /// Resolves (compiles, once) the schemas of `resources`' kinds ahead of their checks (see
    /// [`Registry::prepare`]). Also called for a render whose check must wait for helm's chart
    /// CRDs: done while the tree walk keeps every core busy, it spares the run's serial tail.
    /// A chart CRD that joins the registry later empties its cache, so no check reads a stale
    /// schema; the work is then lost.
    pub(super) fn prepare_schemas(&self, resources: &[Resource]) {
        self.registry.prepare(resources.iter().map(|r| (r.api_version(), r.kind())));
    }

    /// Checks a Flux entry point, with the notes about children it could not render.
    pub(super) fn flux(&self, e: &FluxEntry) -> Checked {
        let FluxEntry { name, dir, result, .. } = e;
        let mut c = self.check(&Ep { name, kind: EntryPointKind::Flux, path: dir }, Some(result), true);
        c.findings.extend(child_note_findings(self.repo, e));
        c
    }

    /// Checks what one HelmRelease rendered, like any entry point; values from Secrets are
    /// masked in every finding.
    fn helm(&self, e: HelmEntry) -> Checked {
        let HelmEntry { name, path, result, secrets, object, .. } = e;
        let mut c =
            self.check(&Ep { name: &name, kind: EntryPointKind::HelmRelease, path: &path }, Some(&result), true);
        for f in &mut c.findings {
            crate::helm::values::redact_finding(f, &secrets);
            if f.object.is_none() {
                f.object = Some(object.clone());
            }
        }
        c
    }
}

fn check_rendered(checker: Checker, ep: &Ep, result: &Result<Rendered, Failed>, is_leaf: bool) -> Checked {
    let Checker { repo, registry, config, admission, teams, memo } = checker;
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
            // Exact: every entry point's list is held until the report (on huge, 372,000
            // objects; grown by pushes, a sixth of the room was empty).
            c.report.objects.reserve_exact(rendered.resources.len());
            checker.prepare_schemas(&rendered.resources);
            c.findings.extend(rendered.notes.iter().map(|d| diag_finding(repo, d, &name)));
            for r in &rendered.resources {
                let obj = r.object_ref();
                // Built-in kinds have no CEL rules: their checks read labels for syntax only.
                let labels_syntax_only = registry.is_builtin(r.api_version());
                let oc =
                    memo.get_or(&r.node, labels_syntax_only, || objects::check(r, registry, config.schema_missing));
                c.total += 1;
                c.cel_skipped += oc.cel_skipped;
                if oc.checked {
                    c.checked += 1;
                    *c.checked_kinds.entry((r.api_version().to_string(), r.kind().to_string())).or_default() += 1;
                } else {
                    *c.unchecked.entry((r.api_version().to_string(), r.kind().to_string())).or_default() += 1;
                }
                for l in &oc.findings {
                    let loc = l.key.as_deref().map_or(l.loc, |k| key_loc(repo, l.loc, k));
                    let mut f = l.finding.clone().at(location(repo, loc)).entry_point(&name);
                    // Chart output has no lines of its own: the message names the field.
                    if let (EntryPointKind::HelmRelease, Some(p)) = (ep.kind, &l.path) {
                        f.message = format!("{p}: {}", f.message);
                    }
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
            c.suppressions = crate::policy::check_entry_point(repo, config, &pe, rendered, &mut c.findings);
        }
    }
    c.findings.shrink_to_fit();
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

/// An object-level finding seen identically (rule, location, message, object) under a plain
/// overlay and a Flux entry point is reported once, under the Flux entry point: that is
/// what the cluster gets.
pub(super) fn drop_double_reports(findings: &mut Vec<Finding>, flux_names: &BTreeSet<String>) {
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

/// Everything the check stage produced, for the report to assemble.
pub(super) struct CheckedRun {
    /// The entry points in scope, checked: plain overlays, Flux Kustomizations, HelmReleases.
    pub results: Vec<Checked>,
    /// Findings of entry points outside the scope, kept only until the scope-independent
    /// decisions of the report are made.
    pub outside: Vec<Finding>,
    /// The graph's findings, without those helm's own values check replaced.
    pub graph_findings: Vec<Finding>,
    /// The helm binary that rendered HelmReleases.
    pub helm: Option<HelmInfo>,
    /// The HelmReleases the change selects (every shard's) that were not rendered because no
    /// helm binary was found.
    pub helm_skipped: BTreeSet<String>,
}

/// Checks every rendered entry point in scope, in parallel; entry points outside it only
/// contribute their render findings (and a Flux entry point is still checked when a plain
/// overlay's object finding points into a file it read, so de-duplication stays exact). A Flux
/// entry point with a [`FluxEntry::ticket`] was checked as it rendered: `early[ticket]`.
/// `reach`: how the Flux tree reaches each plain overlay, as the caller computed it once.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_all(
    checker: &Checker,
    all: Renders,
    helm_run: HelmRun,
    graph_findings: Vec<Finding>,
    scope: &Scope,
    progress: Option<&Progress>,
    early: Vec<Checked>,
    reach: &FluxReach,
) -> CheckedRun {
    let repo = checker.repo;
    let Renders { plain: renders, flux: entries, .. } = all;
    let mut outside: Vec<Finding> = Vec::new();
    let mut results = check_plain(checker, renders, scope, progress, reach, &mut outside);
    results.extend(check_flux(checker, entries, scope, progress, &results, &mut outside, early));
    let HelmRun { entries: helm_entries, helm } = helm_run;
    let helm_skipped = helm_entries
        .iter()
        .filter(|e| matches!(&e.result, Err(f) if f.error.rule == Rule::HelmSkipped) && scope.is_selected(&e.name))
        .map(|e| e.name.clone())
        .collect();
    let graph_findings = without_helm_validated(graph_findings, &helm_entries);
    let (mine, others): (Vec<HelmEntry>, Vec<HelmEntry>) =
        helm_entries.into_iter().partition(|e| scope.in_scope(&e.name));
    for e in &others {
        outside.extend(render_diag_findings(repo, &e.name, &e.result));
    }
    results.extend(mine.into_par_iter().map(|e| checker.helm(e)).collect::<Vec<_>>());
    CheckedRun { results, outside, graph_findings, helm, helm_skipped }
}

/// Applies the Pod Security levels of the run's namespaces to every checked finding. Both run
/// orders check first and adjust after: the levels need every render, which the streamed order
/// no longer holds while it checks.
pub(super) fn apply_pod_security(levels: &crate::policy::pod_security::PodSecurity, results: &mut [Checked]) {
    for f in results.iter_mut().flat_map(|c| c.findings.iter_mut()) {
        levels.adjust(f);
    }
}

/// The plain overlays in scope, checked; an overlay whose kustomization another one reads is
/// a base (or component), not a leaf. How far an overlay's own render is believed depends on
/// how the Flux tree reaches it ([`FluxReach::judge`]).
fn check_plain(
    checker: &Checker,
    renders: Vec<(RelPath, Option<Result<Rendered, Failed>>)>,
    scope: &Scope,
    progress: Option<&Progress>,
    reach: &FluxReach,
    outside: &mut Vec<Finding>,
) -> Vec<Checked> {
    let repo = checker.repo;
    let mut used: BTreeSet<RelPath> = BTreeSet::new();
    for (dir, r) in &renders {
        let own = kustomization_file(repo, dir);
        let files = match r {
            Some(Ok(x)) => &x.files,
            // A render that failed still uses its bases: one broken overlay does not turn
            // them into leaves (with leaf-only checks) until it is fixed.
            Some(Err(f)) => &f.files,
            None => continue,
        };
        used.extend(files.iter().filter(|f| Some(*f) != own.as_ref()).cloned());
    }
    // Names, not paths: the root overlay is named `.` (its path is empty).
    let (mine, others): (Vec<_>, Vec<_>) = renders.into_iter().partition(|(dir, _)| scope.in_scope(&dir.to_string()));
    for (dir, r) in &others {
        if let Some(r) = r {
            outside.extend(render_diag_findings(repo, dir.as_str(), r));
        }
    }
    mine.into_par_iter()
        .map(|(dir, r)| {
            let own = kustomization_file(repo, &dir);
            let is_leaf = own.as_ref().is_none_or(|k| !used.contains(k));
            let name = dir.to_string();
            let ep = Ep { name: &name, kind: EntryPointKind::Kustomize, path: &name };
            let r = r.map(|r| r.map_err(needs_flag_skipped));
            let mut checked = checker.check(&ep, r.as_ref(), is_leaf);
            reach.judge(repo, &dir, &mut checked);
            Progress::tick(progress);
            checked
        })
        .collect()
}

/// The Flux entry points in scope, checked. A plain overlay's object finding is dropped when
/// a Flux entry point reports it too, so a Flux entry point outside the scope is still checked
/// (not reported) when it read a file that one of the in-scope plain findings points into.
fn check_flux(
    checker: &Checker,
    entries: Vec<FluxEntry>,
    scope: &Scope,
    progress: Option<&Progress>,
    plain: &[Checked],
    outside: &mut Vec<Finding>,
    early: Vec<Checked>,
) -> Vec<Checked> {
    let repo = checker.repo;
    let mut early: Vec<Option<Checked>> = early.into_iter().map(Some).collect();
    // Checked as it rendered, before the walk read its children: their notes come after.
    let mut take = |e: &FluxEntry| {
        let mut c = e.ticket.and_then(|t| early.get_mut(t)?.take())?;
        c.findings.extend(child_note_findings(repo, e));
        Some(c)
    };
    let plain_files: BTreeSet<&str> = plain
        .iter()
        .flat_map(|c| c.findings.iter())
        .filter(|f| f.object.is_some())
        .filter_map(|f| f.location.as_ref().map(|l| l.file.as_str()))
        .collect();
    let (mine, others): (Vec<FluxEntry>, Vec<FluxEntry>) = entries.into_iter().partition(|e| scope.in_scope(&e.name));
    let (needed, rest): (Vec<FluxEntry>, Vec<FluxEntry>) = others
        .into_iter()
        .partition(|e| e.result.as_ref().is_ok_and(|r| r.files.iter().any(|f| plain_files.contains(f.as_str()))));
    for e in &rest {
        outside.extend(render_diag_findings(repo, &e.name, &e.result));
        outside.extend(child_note_findings(repo, e));
    }
    let needed: Vec<(FluxEntry, Option<Checked>)> =
        needed.into_iter().map(|e| (take(&e), e)).map(|(c, e)| (e, c)).collect();
    let mine: Vec<(FluxEntry, Option<Checked>)> =
        mine.into_iter().map(|e| (take(&e), e)).map(|(c, e)| (e, c)).collect();
    outside.extend(
        needed
            .into_par_iter()
            .map(|(e, c)| c.unwrap_or_else(|| checker.flux(&e)))
            .flat_map_iter(|c| c.findings)
            .collect::<Vec<_>>(),
    );
    mine.into_par_iter()
        .map(|(e, c)| match c {
            // Counted on the progress bar when it was checked.
            Some(c) => c,
            None => {
                let checked = checker.flux(&e);
                Progress::tick(progress);
                checked
            }
        })
        .collect()
}

/// The findings of a Flux entry point's notes about children it could not render, each on
/// the child's object.
fn child_note_findings<'e>(repo: &'e Repo, e: &'e FluxEntry) -> impl Iterator<Item = Finding> + 'e {
    e.child_notes.iter().map(|(d, res)| {
        let mut f = diag_finding(repo, d, &e.name);
        f.object = Some(res.object_ref());
        f
    })
}

/// A plain overlay that fails only because kustomize was run without `--enable-helm`
/// (`helmCharts`) is built with that flag by whoever uses it (a bootstrap script, Argo CD's
/// build options): not a certain failure, so a `render-skipped` warning. Flux never passes the
/// flag, so a Flux Kustomization that builds the directory keeps its error. Exec and KRM
/// plugins stay errors: they run code, which kustomize refuses by default.
pub(super) fn needs_flag_skipped(mut failed: Failed) -> Failed {
    // Plugins run code fluxgate never vouches for: kustomize's own default (refuse) stays.
    if let Some(flag) = failed.error.needs_flag.filter(|f| *f == BuildFlag::Helm).map(|f| f.flags()) {
        let e = &mut failed.error;
        e.rule = Rule::RenderSkipped;
        e.message = format!("{}: not rendered; `kustomize build {flag}` builds it, Flux never does", e.message);
        e.help = Some(format!(
            "its objects are not checked; a Flux Kustomization that builds this directory fails (an error there), and a build with {flag} is outside what fluxgate runs"
        ));
    }
    failed
}

/// helm validated these releases' values itself: its findings replace the graph check's.
fn without_helm_validated(mut graph_findings: Vec<Finding>, helm_entries: &[HelmEntry]) -> Vec<Finding> {
    let helm_validated: BTreeSet<(String, ObjectRef)> = helm_entries
        .iter()
        .filter(|e| e.helm_validated)
        .map(|e| (flux::entry::cluster_of(&e.parent).to_string(), e.object.clone()))
        .collect();
    graph_findings.retain(|f| {
        f.rule != Rule::FluxHelmValuesInvalid
            || !f
                .entry_point
                .as_deref()
                .zip(f.object.as_ref())
                .is_some_and(|(ep, o)| helm_validated.contains(&(flux::entry::cluster_of(ep).to_string(), o.clone())))
    });
    graph_findings
}
